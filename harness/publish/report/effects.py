"""Effects next to the speedups: the convoy effect and warm-up."""

from __future__ import annotations

from harness.analyse.run import Analysis
from harness.analyse.stats import Comparison
from harness.publish import markdown as f
from harness.publish.report import verdicts
from harness.publish.report.cells import ns_mark, ratio_ci, table
from harness.publish.report.judge import absent_verdict
from harness.vocabulary import LATENCY_KINDS, LATENCY_METRIC


def convoy(a: Analysis) -> str:
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
                if (rid, w) == (info.id, workload):
                    rows.append(_convoy_row(a, rid, w, n, c))
            if not any(k[:2] == (info.id, workload) for k in a.convoy):
                why = absent_verdict(a, info.id, workload, "threads", None)
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


def _convoy_row(a: Analysis, rid: str, w: str, n: int, c: Comparison) -> list[str]:
    fig = a.convoy_figures[(rid, w, n)]
    is_verdict_n = n == a.verdict_workers.get((w, "threads"))
    verdict = verdicts.convoy_verdict(a, rid) if is_verdict_n else None
    symbol = f"{verdict.symbol} " if verdict else ""
    if fig.never_yielded:
        inflation = f"{symbol}never yielded the GIL"
    else:
        inflation = f"{symbol}{ratio_ci(c)}{ns_mark(c)}"
    low, high = fig.share_min, fig.share_max
    share = f"{f.fixed(low)}–{f.fixed(high)}" if low == low and high == high else f.DASH
    during, total = fig.roundtrips_while_busy, fig.roundtrips
    while_busy = f"{during:.0f} of {total:.0f}" if during == during else f.DASH
    return [rid, str(n), f.millis(fig.quiet_ms), f.millis(fig.busy_ms), inflation,
            f.millis(fig.p99_ms), f.millis(fig.max_ms), while_busy, share]  # fmt: skip


def warmup(a: Analysis, images: dict[str, str]) -> str:
    parts = [
        "## Warm-up",
        "The first repetition of a workload's first cell is the first time its code runs in "
        "that interpreter (a JIT has compiled none of it yet); its later cells start warm. One "
        "interpreter runs every workload of an invocation (in an order shuffled per invocation "
        "when the suite interleaves), so the runtime's own start-up (a JVM's JIT compiling "
        "Jython itself) lands on whichever workload came first. Cold/warm = that first run ÷ "
        "the steady median of the same cell.",
    ]
    if "warmup" in images:
        parts.append(f"![warm-up curves]({images['warmup']})")
    rows = []
    for rid in a.runtime_ids:
        for (r, workload), (mode, n) in sorted(a.warmup_cells.items()):
            if r != rid:
                continue
            row = a.fixed_cell(rid, workload, mode, n)
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
