"""Scaling per workload: every cell of every runtime, with its speedup over serial."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.analyse.run import Analysis
from harness.publish import markdown as f
from harness.publish.report import judge as v
from harness.publish.report.cells import (
    anchor,
    beyond_cores,
    cell_status,
    ratio_ci,
    significance,
    table,
)
from harness.vocabulary import LATENCY_KINDS


def scaling(a: Analysis, images: dict[str, str]) -> str:
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
                    "speedup (interval)",
                    "ceiling",
                    "unit vs alone",
                    "gain (of possible)",
                    "pool hand-off",
                    "significance (reps)",
                ],
            )
        )
    return "\n\n".join(parts)


def _scaling_row(a: Analysis, row: dict[str, Any]) -> list[str]:
    rid, workload, mode, n = row["runtime"], row["workload"], row["mode"], int(row["workers"])
    status = cell_status(row)
    base = [rid, mode, str(n), str(int(row["n"]))]
    timing = [
        f.seconds(row["median"]),
        f.seconds_range(row["q1"], row["q3"]),
        f.fixed(row["cpu_wall"]),
    ]
    if row["status"] in ("unsupported", "failed"):
        return base + [f.DASH] * 3 + [status] + [f.DASH] * 5
    if mode == "serial":
        return base + timing + [status or "reference"] + [f.DASH] * 5
    s = a.speedups.get((rid, workload, mode, n))
    if s is None:
        ref = cell_status(a.cell(rid, workload, "serial", n)) or "not measured"
        return base + timing + [status or f"no serial reference ({ref})"] + [f.DASH] * 5
    handoff = a.samples(rid, workload, mode, n, "pool_roundtrip_s")
    gain = (s.comparison.ratio - 1) / (s.ceiling - 1) if s.ceiling > 1 else None
    verdict = v.judge_speedup(s, a.cpus)
    return (
        base
        + timing
        + [
            f"{verdict.symbol} {ratio_ci(s.comparison)}",
            f"{s.ceiling}{beyond_cores(a, s)}",
            f.DASH if math.isnan(s.unit_slowdown) else f.times(s.unit_slowdown),
            f.DASH if gain is None else f"{gain:.0%}",
            f.seconds(float(np.median(handoff))) if len(handoff) else f.DASH,
            significance(s.comparison),
        ]
    )
