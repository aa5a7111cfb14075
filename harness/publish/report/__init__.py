"""The run's markdown report (``report.md`` + PNGs in the run folder) and ``reports/latest.md``.

Everything comes from ``results.jsonl`` + ``meta.json``; same input, byte-identical output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.analyse import stats
from harness.analyse.run import Analysis, RuntimeInfo, Speedup, analyse
from harness.publish import charts
from harness.publish import markdown as f
from harness.publish.report import verdicts as v
from harness.store import layout
from harness.store.layout import REPORT_FILE
from harness.store.meta import COMPLETE, RunMeta
from harness.vocabulary import (
    LATENCY_KINDS,
    LATENCY_METRIC,
    NOT_SPEED_KINDS,
    PARALLEL_MODES,
)

FAILURES_HEADING = "Failed, unsupported and unavailable cells"


def write_report(run_dir: Path, baseline: str | None = None) -> Path:
    """Write ``report.md`` and its PNG charts into ``run_dir``; returns the report's path.

    ``baseline`` defaults to meta.json's ``baseline``, else ``cpython-3.13``.
    """
    return write(analyse(Path(run_dir), baseline))


def write(a: Analysis) -> Path:
    """Write the report and charts of an existing analysis into its run folder."""
    images = charts.write_charts(a, a.run_dir)
    path = a.run_dir / REPORT_FILE
    layout.write_text_atomic(path, render(a, images))
    return path


def write_latest(run_dir: Path, reports_dir: Path) -> Path:
    """Write ``reports_dir/latest.md``: the run's report with its relative links pointing into
    the run folder (``runs/<run-id>/...``). Generates the report first if it is missing."""
    run_dir = Path(run_dir)
    source = run_dir / REPORT_FILE
    if not source.is_file():
        write_report(run_dir)
    return layout.write_latest(reports_dir, run_dir, source.read_text(encoding="utf-8"))


def render(a: Analysis, images: dict[str, str]) -> str:
    """The whole report as markdown."""
    parts = [
        _headline(a),
        _how_to_read(a),
        _verdicts(a),
        _at_a_glance(a),
        _scaling(a, images),
        _serial(a, images),
        _free_threading(a),
        _convoy(a),
        _warmup(a, images),
        _failures(a),
        _environment(a),
        _reproduce(a),
    ]
    text = "\n\n".join(p.strip("\n") for p in parts if p)
    return text + "\n"


# --- helpers ----------------------------------------------------------------------------------


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """A markdown table via pandas/tabulate; cells are pre-formatted strings."""
    frame = pd.DataFrame([[f.cell_text(x) for x in row] for row in rows], columns=list(headers))
    return frame.to_markdown(index=False, disable_numparse=True)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
    return f"#{slug}"


def _or(value: object, default: str) -> object:
    return default if value is None else value


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _time_span(meta: RunMeta) -> str:
    start = str(meta.started_at or "")
    end = str(meta.finished_at or "")
    if not start:
        return "date unknown"
    s_date, _, s_time = start.rstrip("Z").partition("T")
    e_date, _, e_time = end.rstrip("Z").partition("T")
    if not end:
        return f"{s_date} {s_time[:5]} UTC"
    if e_date == s_date:
        return f"{s_date} {s_time[:5]}–{e_time[:5]} UTC"
    return f"{s_date} {s_time[:5]} – {e_date} {e_time[:5]} UTC"


def gil_label(info: RuntimeInfo) -> str:
    """The probed GIL state in words (no GIL notion on the JVM and .NET)."""
    if info.gil_enabled is None:
        label = {
            "jython": "no GIL (JVM)",
            "ironpython": "no GIL (.NET)",
            "pypy": "GIL (PyPy; not probeable)",
        }.get(info.implementation or "", "unknown")
    else:
        label = "GIL on" if info.gil_enabled else "GIL off (free-threaded)"
        if info.expected_gil is not None and info.expected_gil != info.gil_enabled:
            label += f" ⚠️ expected {'on' if info.expected_gil else 'off'}"
    return label


def _cell_status(row: dict[str, Any] | None) -> str:
    if row is None:
        return f.DASH
    status = row["status"]
    if status == "unsupported":
        return f"{v.NA} n/a"
    if status == "failed":
        return f"{v.FAILED} failed"
    if status == "inconclusive":
        return f"{v.INCONCLUSIVE} {_plural(int(row['n']), 'sample')}"
    return ""


def _significance(c: stats.Comparison) -> str:
    if not c.testable:
        return f"untestable ({c.n_a}+{c.n_b})"
    mark = "✔" if c.significant else "n.s."
    p = "p_adj<0.001" if c.p_adjusted < 0.001 else f"p_adj={c.p_adjusted:.3f}"
    return f"{mark} {p}, δ={c.effect:+.2f}"


def _ratio_ci(c: stats.Comparison) -> str:
    span = f.interval(c.ci_low, c.ci_high)
    return f"{f.times(c.ratio)} ({'no CI' if span == f.DASH else span})"


def _mark(c: stats.Comparison) -> str:
    """Nothing for a real difference; ``n.s.`` or ``untestable`` (too few samples) otherwise."""
    if c.significant:
        return ""
    return " n.s." if c.testable else " untestable"


def _beyond(a: Analysis, s: Speedup) -> str:
    return " (N > cores)" if a.cpus and s.workers > a.cpus and s.ceiling < s.workers else ""


# --- sections ---------------------------------------------------------------------------------


def _headline(a: Analysis) -> str:
    meta = a.meta
    host = meta.host
    suite = meta.suite_name or "?"
    backend = meta.backend or _first_value(a.df, "backend") or "?"
    if backend == "local":
        where = "local: **not containerised** (host interpreters, no cpuset pinning)"
    else:
        where = f"{backend} (containerised)"
    pinning = []
    if meta.cpuset is not None:
        pinning.append(f"cpuset `{meta.cpuset}`")
    if meta.cpus is not None:
        pinning.append(f"{meta.cpus} CPUs")
    if meta.memory_limit:
        pinning.append(f"memory limit {meta.memory_limit}")
    pinned = (
        f"; containers pinned to {', '.join(pinning)}" if pinning and backend != "local" else ""
    )
    machine = (
        f"{_or(host.cpu_model, 'unknown CPU')} ({_or(host.cores, '?')} cores{pinned}), "
        f"{_or(host.os, '')} kernel {_or(host.kernel, '?')}".replace(" ,", ",")
    )
    lines = [
        f"# gilbench report: `{meta.run_id or a.run_dir.name}`",
        "",
        f"**Suite:** `{suite}` · **date:** {_time_span(meta)} · **backend:** {where} · "
        f"**status:** {meta.status}",
        "",
        f"**Machine:** {machine}.",
    ]
    total, inside = meta.wall_total_s, meta.workload_wall_s
    if isinstance(total, int | float) and isinstance(inside, int | float) and total > 0:
        over = total - inside
        lines += [
            "",
            f"**Harness overhead:** {f.seconds(over)} of {f.seconds(total)} wall time "
            f"({over / total:.0%}) was spent outside timed regions (image checks, container "
            "start-up, warm-ups, reporting).",
        ]
    if meta.status not in (None, COMPLETE):
        lines += ["", f"> {v.WARN} The run is **{meta.status}**: some cells may be missing."]
    max_n = int(a.cells["workers"].max()) if len(a.cells) else 0
    if a.cpus and max_n > a.cpus:
        lines += [
            "",
            f"> {v.WARN} Only {a.cpus} CPUs: CPU-bound work cannot run faster than {a.cpus}× "
            f"however many workers there are, so scaling beyond {a.cpus} cannot be measured "
            f"here. Rows with N > {a.cpus} show that ceiling; they are not failures to scale.",
        ]
    rows = []
    for info in a.runtimes:
        name = f"{info.id} (baseline)" if info.id == a.baseline else info.id
        if not info.available:
            status = f"{v.UNAVAILABLE} unavailable: {info.reason or '?'}"
        elif (a.cells["runtime"] == info.id).any():
            status = "ran"
        else:
            status = f"{v.WARN} no results recorded"
        rows.append(
            [
                name,
                info.implementation or f.DASH,
                info.version or f.DASH,
                gil_label(info) if info.available else f.DASH,
                info.pool or f.DASH,
                status,
            ]
        )
    lines += [
        "",
        table(
            rows, ["runtime", "implementation", "Python", "GIL (probed)", "process pool", "status"]
        ),
    ]
    return "\n".join(lines)


def _first_value(df: pd.DataFrame, column: str) -> Any:
    values = df[column].dropna() if column in df.columns else []
    return values.iloc[0] if len(values) else None


def _how_to_read(a: Analysis) -> str:
    cores = f"{a.cpus} cores here" if a.cpus else "core count unknown"
    items = [
        "**Cell**: one runtime × workload × mode × N workers. Serial runs N units of work one "
        "after another; threads, processes and asyncio run the same N units at once. Times are "
        "medians of the steady repetitions (warm-ups excluded) with their interquartile range "
        "(IQR).",
        "**Speedup** = serial time ÷ parallel time for the same N units. Its **ceiling** is the "
        f"most physics allows: min(N, cores) for work that needs a CPU ({cores}), N for waiting "
        "(I/O). **CPU/wall** ≈ how many cores were busy: about 1 means one core did all the work.",
        "**Intervals**: every ratio has a 95% bootstrap confidence interval (CI).",
        "**Significance**: a difference counts as real only if a two-sided Mann–Whitney U test "
        "says so after a Benjamini–Hochberg correction over all "
        f"{_plural(a.n_tests, 'testable comparison')} in this report (adjusted p < "
        f"{stats.ALPHA}); the others are marked *n.s.* and not ranked. δ is Cliff's delta "
        "(−1…+1): how much more often one sample is the larger.",
        f"**Inconclusive**: fewer than {stats.MIN_STEADY_SAMPLES} steady samples, or too few to "
        "ever reach significance (3 + 3 samples: the smallest possible p is 0.1; use ≥ 5 reps).",
        f"**Symbols**: {v.LEGEND}.",
    ]
    return "## How to read this report\n\n" + "\n".join(f"- {item}" for item in items)


def _verdicts(a: Analysis) -> str:
    rows = []
    for row in v.verdict_rows(a):
        claim = f"**{row.claim.question}**<br>{row.claim.measured_by}"
        rows.append([claim] + [str(row.cells[rid]) for rid in a.runtime_ids])
    seed = "\n".join(
        f"- **{c.question}** — seed: {c.seed} Measured by {c.measured_by}." for c in v.CLAIMS
    )
    thresholds = (
        f"Thresholds: *scales* = significant speedup realising ≥ {v.SCALE_GAIN_FRACTION:.0%} of "
        f"the possible gain (speedup − 1 ≥ {v.SCALE_GAIN_FRACTION} × (ceiling − 1)); *partly* = "
        f"significant but less; differences under {v.PRACTICAL_DIFF:.0%} are not called "
        f"faster or slower; *convoy* = mean I/O latency at least {v.CONVOY_INFLATION:g}× with busy "
        f"threads; *needs warm-up* = first run ≥ {v.WARMUP_NOTABLE:g}× the steady time; "
        f"*impossible* = a CPU-bound speedup whose whole interval is over {v.BEYOND_CEILING:g}× "
        "its ceiling (the host's speed changed during the run). "
        "Verdicts on parallel modes are judged at the largest N that fits the cores (any N for "
        "I/O); the other Ns are in the scaling tables."
    )
    return "\n\n".join(
        [
            "## Verdicts",
            table(rows, ["claim", *a.runtime_ids]),
            thresholds,
            "The claims, from the seed post on Python implementations and the GIL:\n\n" + seed,
        ]
    )


def _at_a_glance(a: Analysis) -> str:
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
                mark = "" if verdict.symbol == v.INCONCLUSIVE else _mark(sp.comparison)
                cells.append(f"{verdict.symbol} {_ratio_ci(sp.comparison)}{mark}")
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


def _scaling(a: Analysis, images: dict[str, str]) -> str:
    parts = ["## Scaling per workload"]
    if not a.workloads:
        parts.append("No measurements in this run.")
    for workload in a.workloads:
        kind = a.kinds.get(workload)
        if kind in LATENCY_KINDS:
            parts.append(
                f"### `{workload}` (kind {kind})\n\nA latency workload: see "
                f"[Convoy effect]({anchor('Convoy effect')})."
            )
            continue
        sizes = sorted({str(x) for x in a.cells.loc[a.cells["workload"] == workload, "size"]})
        parts.append(f"### `{workload}` (kind {kind or 'unknown'}, size {', '.join(sizes)})")
        if f"speedup:{workload}" in images:
            parts.append(f"![speedup of {workload}]({images[f'speedup:{workload}']})")
        rows = []
        cells = a.cells[a.cells["workload"] == workload]
        for rid in a.runtime_ids:
            mine = cells[cells["runtime"] == rid]
            for _, row in mine.iterrows():
                rows.append(_scaling_row(a, row.to_dict()))
        parts.append(
            table(
                rows,
                [
                    "runtime",
                    "mode",
                    "N",
                    "n",
                    "median",
                    "IQR",
                    "CPU/wall",
                    "speedup (95% CI)",
                    "ceiling",
                    "efficiency",
                    "significance",
                ],
            )
        )
    return "\n\n".join(parts)


def _scaling_row(a: Analysis, row: dict[str, Any]) -> list[str]:
    rid, workload, mode, n = row["runtime"], row["workload"], row["mode"], int(row["workers"])
    status = _cell_status(row)
    base = [rid, mode, str(n), str(int(row["n"]))]
    timing = [
        f.seconds(row["median"]),
        f.seconds_range(row["q1"], row["q3"]),
        f.fixed(row["cpu_wall"]),
    ]
    if row["status"] in ("unsupported", "failed"):
        return base + [f.DASH] * 3 + [status] + [f.DASH] * 3
    if mode == "serial":
        return base + timing + [status or "reference"] + [f.DASH] * 3
    s = a.speedups.get((rid, workload, mode, n))
    if s is None:
        ref = _cell_status(a.cell(rid, workload, "serial", n)) or "not measured"
        return base + timing + [status or f"no serial reference ({ref})"] + [f.DASH] * 3
    verdict = v.judge_speedup(s, a.cpus)
    return (
        base
        + timing
        + [
            f"{verdict.symbol} {_ratio_ci(s.comparison)}",
            f"{s.ceiling}{_beyond(a, s)}",
            f"{s.efficiency:.0%}",
            _significance(s.comparison),
        ]
    )


def _serial(a: Analysis, images: dict[str, str]) -> str:
    if not a.serial_vs_baseline:
        return (
            f"## Serial speed vs {a.baseline}\n\nNo serial cells comparable with the baseline "
            f"`{a.baseline}` (is it in this run?)."
        )
    others = [rid for rid in a.runtime_ids if any(k[0] == rid for k in a.serial_vs_baseline)]
    workloads = sorted({w for _, w in a.serial_vs_baseline})
    rows = []
    for workload in workloads:
        excluded = a.kinds.get(workload) in NOT_SPEED_KINDS
        ns = {n for (rid, w), (n, _) in a.serial_vs_baseline.items() if w == workload}
        base_n = max(ns)
        base_median = a.cell(a.baseline, workload, "serial", base_n)
        label = f"`{workload}`" + (" (not in geomean)" if excluded else "")
        row = [label, str(base_n), f.seconds(base_median["median"]) if base_median else f.DASH]
        for rid in others:
            found = a.serial_vs_baseline.get((rid, workload))
            if found is None:
                row.append(f.DASH)
                continue
            c = found[1]
            row.append(f"{_ratio_ci(c)}{_mark(c)}")
        rows.append(row)
    geo = ["**geometric mean**", "", ""]
    for rid in others:
        e = a.serial_geomean.get(rid)
        geo.append(f"**{f.times(e.value)}** ({f.interval(e.ci_low, e.ci_high)})" if e else f.DASH)
    rows.append(geo)
    parts = [
        f"## Serial speed vs {a.baseline}",
        f"Speed = {a.baseline}'s serial time ÷ the runtime's, for the same work (the largest N "
        "both ran); above 1 is faster. The geometric mean covers the compute workloads only: "
        "I/O, latency and process start-up time the operating system, not the interpreter.",
    ]
    if "serial" in images:
        parts.append(f"![serial speed relative to {a.baseline}]({images['serial']})")
    parts.append(table(rows, ["workload", "N", f"{a.baseline} time", *others]))
    return "\n\n".join(parts)


def _free_threading(a: Analysis) -> str:
    if not a.twins:
        return ""
    parts = ["## Free-threading: cost and gain"]
    for ft, gil in sorted(a.twins.items()):
        parts.append(
            f"### {ft} vs {gil}\n\n*Single-thread cost* = {ft}'s serial time ÷ {gil}'s "
            f"(+ = slower). *Threads gain* = {gil}'s threads time ÷ {ft}'s for the same N "
            "(> 1: the free-threaded build finishes the threaded work sooner)."
        )
        rows = []
        for workload in a.workloads:
            if a.kinds.get(workload) in LATENCY_KINDS:
                continue
            cost = a.twin_cost.get((ft, workload))
            gains = sorted((k[2], c) for k, c in a.twin_gain.items() if k[:2] == (ft, workload))
            if cost is None and not gains:
                continue
            cost_text = f.DASH
            if cost is not None:
                c = cost[1]
                cost_text = (
                    f"{f.percent_change(c.ratio)} ({f.percent_change(c.ci_low)} to "
                    f"{f.percent_change(c.ci_high)}){_mark(c)}"
                )
            if not gains:
                rows.append([f"`{workload}`", cost_text, f.DASH, f.DASH, f.DASH, f.DASH])
            for n, c in gains:
                sp_gil = a.speedups.get((gil, workload, "threads", n))
                sp_ft = a.speedups.get((ft, workload, "threads", n))
                mark = "" if c.significant else " n.s."
                rows.append(
                    [
                        f"`{workload}`",
                        cost_text,
                        str(n),
                        _ratio_ci(sp_gil.comparison) if sp_gil else f.DASH,
                        _ratio_ci(sp_ft.comparison) if sp_ft else f.DASH,
                        f"{_ratio_ci(c)}{mark}",
                    ]
                )
        geo = a.twin_cost_geomean.get(ft)
        if not rows:
            parts.append("No cells measured on both builds.")
            continue
        parts.append(
            table(
                rows,
                [
                    "workload",
                    "single-thread cost",
                    "N",
                    f"{gil} threads speedup",
                    f"{ft} threads speedup",
                    "threads gain",
                ],
            )
        )
        if geo is not None:
            parts.append(
                f"Geometric mean single-thread cost over {_plural(geo.n, 'compute workload')}: "
                f"**{f.percent_change(geo.value)}** (95% CI {f.percent_change(geo.ci_low)} to "
                f"{f.percent_change(geo.ci_high)})."
            )
    return "\n\n".join(parts)


def _convoy(a: Analysis) -> str:
    workloads = [w for w in a.workloads if a.kinds.get(w) in LATENCY_KINDS]
    if not workloads:
        return ""
    parts = [
        "## Convoy effect",
        "Mean I/O round-trip latency of one thread (median over repetitions), alone (serial) "
        "and while N CPU-bound threads run. With a GIL the I/O thread waits for the busy threads "
        "to hand it over (every 5 ms by default), so its latency balloons: the *convoy effect*. "
        "Compiled code that never offers the GIL (Cython) starves it until the busy threads "
        "stop (they stop by themselves after a few seconds): *round trips while busy* counts the "
        "round trips that finished before any busy thread stopped. *Busy share* is "
        "each busy thread's share of the busy threads' progress (fair = 1/N each); a wide "
        "spread means the scheduler, not the program, decides who runs next.",
    ]
    for workload in workloads:
        rows = []
        for info in a.runtimes:
            if not info.available:
                continue
            for (rid, w, n), c in sorted(a.convoy.items()):
                if (rid, w) != (info.id, workload):
                    continue
                quiet, busy = v.convoy_medians(a, rid, w, n)
                p99 = _median_extra(a, rid, w, n, "extra.latency_ms_p99")
                worst = _median_extra(a, rid, w, n, "extra.latency_ms_max")
                low = _median_extra(a, rid, w, n, "extra.busy_share_min")
                high = _median_extra(a, rid, w, n, "extra.busy_share_max")
                share = f"{f.fixed(low)}–{f.fixed(high)}" if low == low and high == high else f.DASH
                during = _median_extra(a, rid, w, n, "extra.roundtrips_while_busy")
                total = _median_extra(a, rid, w, n, "extra.roundtrips")
                while_busy = f"{during:.0f} of {total:.0f}" if during == during else f.DASH
                mark = _mark(c)
                is_verdict_n = n == a.verdict_workers.get((w, "threads"))
                verdict = v.convoy_verdict(a, rid) if is_verdict_n else None
                symbol = f"{verdict.symbol} " if verdict else ""
                rows.append(
                    [rid, str(n), f.millis(quiet), f.millis(busy),
                     f"{symbol}{_ratio_ci(c)}{mark}", f.millis(p99), f.millis(worst), while_busy,
                     share]
                )  # fmt: skip
            if not any(k[:2] == (info.id, workload) for k in a.convoy):
                why = v.absent_verdict(a, info.id, workload, "threads", None)
                rows.append([info.id, *[f.DASH] * 3, str(why), *[f.DASH] * 4])
        parts.append(f"### `{workload}` ({LATENCY_METRIC.removeprefix('extra.')})")
        parts.append(
            table(
                rows,
                [
                    "runtime",
                    "busy threads",
                    "mean alone",
                    "mean with busy threads",
                    "inflation (95% CI)",
                    "p99 busy",
                    "max busy",
                    "round trips while busy",
                    "busy share min–max",
                ],
            )  # fmt: skip
        )
    return "\n\n".join(parts)


def _median_extra(a: Analysis, rid: str, workload: str, n: int, column: str) -> float:
    values = a.samples(rid, workload, "threads", n, column)
    return float(np.median(values)) if len(values) else float("nan")


def _warmup(a: Analysis, images: dict[str, str]) -> str:
    parts = [
        "## Warm-up",
        "The first repetition of the first cell a fresh interpreter runs is its only truly cold "
        "run (a JIT has compiled nothing yet); later cells in the same container start warm. "
        "Cold/warm = that first run ÷ the steady median of the same cell.",
    ]
    if "warmup" in images:
        parts.append(f"![warm-up curves]({images['warmup']})")
    rows = []
    for rid in a.runtime_ids:
        for (r, workload), (mode, n) in sorted(a.warmup_cells.items()):
            if r != rid:
                continue
            row = a.cell(rid, workload, mode, n)
            if row is None:
                continue
            rows.append(
                [
                    rid,
                    f"`{workload}`",
                    f"{mode} N={n}",
                    str(int(row["n_warmup"])),
                    f.seconds(row["cold"]),
                    f.seconds(row["median"]),
                    f"**{f.times(row['warmup_ratio'])}**",
                ]
            )
    if rows:
        parts.append(
            table(
                rows,
                [
                    "runtime",
                    "workload",
                    "first cell",
                    "warm-up reps",
                    "cold (rep 0)",
                    "steady median",
                    "cold/warm",
                ],
            )
        )
    else:
        parts.append("No cell has both a cold run and a steady state.")
    return "\n\n".join(parts)


def _failures(a: Analysis) -> str:
    parts = [f"## {FAILURES_HEADING}"]
    unavailable = [r for r in a.runtimes if not r.available]
    parts.append("### Unavailable runtimes")
    parts.append(
        "\n".join(f"- **{r.id}**: {r.reason or 'no reason recorded'}" for r in unavailable)
        if unavailable
        else "None."
    )
    cells = a.cells
    parts.append("### Not applicable (the mode does not exist on that runtime)")
    na = cells[cells["status"] == "unsupported"]
    if len(na):
        grouped = {}
        for _, row in na.iterrows():
            key = (row["runtime"], row["workload"], row["mode"], row["reason"])
            grouped.setdefault(key, []).append(str(int(row["workers"])))
        rows = [
            [rt, f"`{w}`", m, ", ".join(ns), reason] for (rt, w, m, reason), ns in grouped.items()
        ]
        parts.append(table(rows, ["runtime", "workload", "mode", "N", "reason"]))
    else:
        parts.append("None.")
    parts.append("### Failures")
    df = a.df
    failed = df[~df["ok"].astype(bool) & ~df["unsupported"].fillna(False).astype(bool)]
    if len(failed):
        blocks = []
        for _, r in failed.iterrows():
            blocks.append(
                f"- **{r['runtime']}** · `{r['workload']}` · {r['mode']} · N={int(r['workers'])} "
                f"· rep {int(r['rep'])}: {r['error'] or 'failed (no error text)'}"
            )
            tail = r["stderr_tail"]
            if isinstance(tail, str) and tail.strip():
                blocks.append(
                    "  ```text\n" + "\n".join(f"  {line}" for line in tail.splitlines()) + "\n  ```"
                )
        parts.append("\n".join(blocks))
    else:
        parts.append("None.")
    parts.append("### Inconclusive cells")
    weak = cells[cells["status"] == "inconclusive"]
    if len(weak):
        rows = [
            [r["runtime"], f"`{r['workload']}`", r["mode"], str(int(r["workers"])), r["reason"]]
            for _, r in weak.iterrows()
        ]
        parts.append(table(rows, ["runtime", "workload", "mode", "N", "reason"]))
    else:
        parts.append("None.")
    return "\n\n".join(parts)


def _environment(a: Analysis) -> str:
    meta = a.meta
    written = meta.to_dict()
    host = written["host"]
    docker = written["docker"] or {}
    items = [
        ("host", ", ".join(f"{k}: {host[k]}" for k in sorted(host)) or f.DASH),
        ("docker", ", ".join(f"{k}: {docker[k]}" for k in sorted(docker)) or f.DASH),
        ("backend", meta.backend or f.DASH),
        (
            "cpuset / CPUs / memory",
            f"{written.get('cpuset', f.DASH)} / {written.get('cpus', f.DASH)} / "
            f"{written.get('memory_limit', f.DASH)}",
        ),
        ("harness revision", f"`{written.get('harness_revision', '?')}`"),
        ("started / finished", f"{written.get('started_at')} / {written.get('finished_at')}"),
        (
            "wall total / in timed regions",
            f"{f.seconds(meta.wall_total_s)} / {f.seconds(meta.workload_wall_s)}",
        ),
        ("baseline", f"`{a.baseline}`"),
        ("records", f"{len(a.df)} in {len(a.cells)} cells"),
    ]
    rows = []
    for rid, entry in sorted(meta.runtimes.items()):
        rows.append(
            [
                rid,
                entry.image or f.DASH,
                f"`{entry.image_id or '—'}`",
                f"`{entry.recipe_hash or '—'}`",
            ]
        )
    suite = json.dumps(meta.suite or {}, indent=2, sort_keys=True, ensure_ascii=False)
    parts = [
        "## Environment",
        "\n".join(f"- **{k}**: {val}" for k, val in items),
    ]
    if rows:
        parts.append(table(rows, ["runtime", "image", "image id", "recipe hash"]))
    parts.append(
        "<details><summary>Suite as run</summary>\n\n```json\n" + suite + "\n```\n\n</details>"
    )
    return "\n\n".join(parts)


def _reproduce(a: Analysis) -> str:
    command = a.meta.command or "(the command was not recorded in meta.json)"
    run_id = a.meta.run_id or a.run_dir.name
    return (
        "## Reproduce\n\n"
        "Measure again (same suite and runtimes):\n\n"
        f"```sh\n{command}\n```\n\n"
        "Regenerate this report, byte for byte, from the raw files of this run:\n\n"
        f"```sh\npython -m harness report reports/runs/{run_id}\n```"
    )
