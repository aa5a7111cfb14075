"""Single-thread speed against the baseline, and the free-threading cost and gain."""

from __future__ import annotations

from harness.analyse.run import Analysis
from harness.publish import markdown as f
from harness.publish.report.cells import ns_mark, plural, ratio_ci, table
from harness.vocabulary import LATENCY_KINDS, NOT_SPEED_KINDS, STARTUP_KINDS


def serial(a: Analysis, images: dict[str, str]) -> str:
    if not a.serial_vs_baseline:
        return (
            f"## Serial speed vs {a.baseline}\n\nNo serial cells comparable with the baseline "
            f"`{a.baseline}` (is it in this run?)."
        )
    others = [rid for rid in a.runtime_ids if any(k[0] == rid for k in a.serial_vs_baseline)]
    workloads = sorted({w for _, w in a.serial_vs_baseline})
    startup = any(a.kinds.get(w) in STARTUP_KINDS for w in workloads)
    rows = []
    for workload in workloads:
        excluded = a.kinds.get(workload) in NOT_SPEED_KINDS
        ns = {n for (rid, w), (n, _) in a.serial_vs_baseline.items() if w == workload}
        base_n = max(ns)
        base_median = a.fixed_cell(a.baseline, workload, "serial", base_n)
        label = f"`{workload}`" + (" (not in geomean)" if excluded else "")
        row = [label, str(base_n), f.seconds(base_median["median"]) if base_median else f.DASH]
        for rid in others:
            found = a.serial_vs_baseline.get((rid, workload))
            if found is None:
                row.append(f.DASH)
                continue
            c = found[1]
            row.append(f"{ratio_ci(c)}{ns_mark(c)}")
        rows.append(row)
    for label, means in (
        ("**geometric mean**", a.serial_geomean),
        ("**geometric mean, compute kernels** (the speed verdict)", a.kernel_geomean),
    ):
        geo = [label, "", ""]
        for rid in others:
            e = means.get(rid)
            geo.append(
                f"**{f.times(e.value)}** ({f.interval(e.ci_low, e.ci_high)})" if e else f.DASH
            )
        rows.append(geo)
    parts = [
        f"## Serial speed vs {a.baseline}",
        f"Speed = {a.baseline}'s serial time ÷ the runtime's, for the same work (the largest N "
        "both ran); above 1 is faster. The geometric mean covers the workloads that time the "
        "interpreter (I/O, latency and process start-up time the operating system); the speed "
        "verdict uses the pure-Python compute kernels only."
        + (" The chart shows process start-up on a scale of its own." if startup else ""),
    ]
    if "serial" in images:
        parts.append(f"![serial speed relative to {a.baseline}]({images['serial']})")
    parts.append(table(rows, ["workload", "N", f"{a.baseline} time", *others]))
    return "\n\n".join(parts)


def free_threading(a: Analysis) -> str:
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
                    f"{f.percent_change(c.ci_high)}){ns_mark(c)}"
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
                        ratio_ci(sp_gil.comparison) if sp_gil else f.DASH,
                        ratio_ci(sp_ft.comparison) if sp_ft else f.DASH,
                        f"{ratio_ci(c)}{mark}",
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
                f"Geometric mean single-thread cost over {plural(geo.n, 'compute workload')}: "
                f"**{f.percent_change(geo.value)}** ({f.percent_ci(geo.ci_low, geo.ci_high)})."
            )
    return "\n\n".join(parts)
