"""The Verdicts table (one row per claim of the seed) and the at-a-glance speedups."""

from __future__ import annotations

from harness.analyse.run import Analysis
from harness.publish.report import judge as v
from harness.publish.report import verdicts
from harness.publish.report.cells import ns_mark, ratio_ci, table
from harness.publish.report.seed import CONTRADICTED, HOLDS, NOT_JUDGED
from harness.vocabulary import LATENCY_KINDS, PARALLEL_MODES


def verdicts_section(a: Analysis) -> str:
    rows = []
    for row in verdicts.verdict_rows(a):
        claim = f"**{row.claim.question}**<br>{row.claim.measured_by}"
        if row.rule:
            claim += f"<br>judged {row.rule}"
        cells = []
        for rid in a.runtime_ids:
            mark = row.seed[rid]
            cells.append(f"{row.cells[rid]}<br>{mark}" if mark else str(row.cells[rid]))
        rows.append([claim, *cells])
    seed = "\n".join(
        f"- **{c.question}** — seed: {c.seed} Measured by {c.measured_by}." for c in verdicts.CLAIMS
        if c.needs is None or c.needs in a.workloads
    )
    usual = v.usual_invocations(a)
    over = ""
    if usual == 1:
        over = "One invocation: every interval is the range of its repetitions. "
    elif usual:
        over = (
            f"Intervals are over the run's {usual} invocations; a cell names its count only "
            "where it has another. "
        )
    thresholds = (
        f"{over}Thresholds, each judged on the whole interval: *scales* = a speedup realising ≥ "
        f"{v.SCALE_GAIN_FRACTION:.0%} of the possible gain (speedup ≥ 1 + "
        f"{v.SCALE_GAIN_FRACTION} × (ceiling − 1)); *partly* = a gain of at least "
        f"{v.PRACTICAL_DIFF:.0%} but below that; *no* = below that threshold; differences under "
        f"{v.PRACTICAL_DIFF:.0%} are not called faster or slower; *convoy* = mean I/O latency "
        f"at least {v.CONVOY_INFLATION:g}× with busy "
        f"threads; *needs warm-up* = first run ≥ {v.WARMUP_NOTABLE:g}× the steady time; "
        f"*impossible* = a CPU-bound speedup whose whole interval is over {v.BEYOND_CEILING:g}× "
        "its ceiling (the host's speed changed during the run). "
        "Verdicts on parallel modes are judged at the largest N that fits the cores (any N for "
        "I/O), named under each claim with its rule; the other Ns are in the scaling tables. "
        f"Under each verdict, apart from it: whether the seed's sentence holds for that runtime "
        f"({HOLDS} / {CONTRADICTED} / {NOT_JUDGED}, see *Symbols*)."
    )
    return "\n\n".join(
        [
            "## Verdicts",
            table(rows, ["claim", *a.runtime_ids]),
            thresholds,
            "The claims, from the seed post on Python implementations and the GIL:\n\n" + seed,
        ]
    )


def at_a_glance(a: Analysis) -> str:
    rows = []
    for workload in a.workloads:
        if a.kinds.get(workload) in LATENCY_KINDS:
            continue
        for mode in PARALLEL_MODES:
            n = a.verdict_workers.get((workload, mode))
            if n is None:
                continue
            s = next((s for k, s in a.speedups.items() if k[1:] == (workload, mode, n)), None)
            ceiling = s.ceiling if s else n
            label = f"`{workload}` {mode}, N={n} (ceiling {ceiling})"
            cells = []
            for info in a.runtimes:
                if not info.available:
                    cells.append(f"{v.UNAVAILABLE}")
                    continue
                sp = a.speedups.get((info.id, workload, mode, n))
                if sp is None:
                    verdict = v.absent_verdict(a, info.id, workload, mode, n)
                    cells.append(f"{verdict.symbol} {verdict.text.split(':')[0]}")
                    continue
                verdict = v.judge_speedup(sp, a.cpus)
                mark = "" if verdict.symbol == v.INCONCLUSIVE else ns_mark(sp.comparison)
                cells.append(f"{verdict.symbol} {ratio_ci(sp.comparison)}{mark}")
            rows.append([label, *cells])
    if not rows:
        return ""
    return "\n\n".join(
        [
            "## At a glance: does parallelism help, and by how much?",
            "Speedup over serial (95% CI) at the verdict N. Details and every N per workload in "
            "[Scaling per workload](#scaling-per-workload).",
            table(rows, ["workload · mode", *a.runtime_ids]),
        ]
    )
