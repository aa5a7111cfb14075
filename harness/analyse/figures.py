"""The raw (uncorrected) figures of one run, one method per family: speedups, serial ratios,
free-threading twins, convoy latency, process start-up, warm-up. :mod:`harness.analyse.run`
corrects them together and freezes them into an ``Analysis``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.analyse import stats
from harness.analyse.sizing import FIXED, sizing_view
from harness.analyse.stats import CellKey, Comparison, Estimate
from harness.vocabulary import (
    LATENCY_KINDS,
    LATENCY_METRIC,
    NOT_SPEED_KINDS,
    PARALLEL_MODES,
    STARTUP_KINDS,
    ceiling,
)

SpeedupKey = tuple[str, str, str, int]  # runtime, workload, mode, workers


@dataclass(frozen=True)
class Speedup:
    """T_serial / T_mode for one cell, with the physical ceiling and CPU/wall of the mode."""

    runtime: str
    workload: str
    kind: str | None
    mode: str
    workers: int
    ceiling: int
    comparison: Comparison
    cpu_wall: float
    problems: tuple[str, ...] = ()  # of the serial and the parallel cell (integrity)
    judgeable: bool = True  # False: a wrong checksum or a lost repetition behind it
    # median time of one unit in the mode over its median in serial (each unit timed where it
    # ran): how much slower the same work ran side by side; NaN where units were not timed
    unit_slowdown: float = math.nan


@dataclass(frozen=True)
class ConvoyFigures:
    """One convoy cell (threads at N) in ms: medians over repetitions of each latency figure.

    ``never_yielded`` is True when the busy threads never handed over the GIL while they ran
    (no round trip completed, the latencies are null), None when the runner did not say.
    """

    quiet_ms: float
    busy_ms: float
    p99_ms: float
    max_ms: float
    share_min: float
    share_max: float
    roundtrips_while_busy: float
    roundtrips: float
    never_yielded: bool | None


@dataclass(frozen=True)
class WarmupCurve:
    """Every repetition of a first cell relative to its steady median (for the warm-up chart)."""

    reps: tuple[int, ...]
    relative: tuple[float, ...]
    warmup: tuple[bool, ...]


def column_values(rows: pd.DataFrame | None, column: str) -> np.ndarray:
    """The finite numeric values of ``column`` in ``rows`` (empty when absent)."""
    if rows is None or column not in rows.columns:
        return np.array([], dtype=float)
    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
    return values[~np.isnan(values)]


def isnan(value: Any) -> bool:
    """True for a float NaN (pandas' missing value), False for anything else."""
    return isinstance(value, float) and math.isnan(value)


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else math.nan


class Figures:
    """Raw (uncorrected) comparisons from the frame; one method per family of figures."""

    def __init__(
        self,
        df: pd.DataFrame,
        steady_cells: dict[CellKey, pd.DataFrame],
        cell_rows: dict[CellKey, dict[str, Any]],
        cpus: int | None,
        kinds: dict[str, str | None],
        fixed_cells: dict[CellKey, pd.DataFrame] | None = None,
        fixed_cell_rows: dict[CellKey, dict[str, Any]] | None = None,
    ) -> None:
        self.df = df
        self.steady_cells = steady_cells
        self.fixed_cells = steady_cells if fixed_cells is None else fixed_cells
        self.cell_rows = cell_rows
        # the warm-up figures work at the suite's size: a fresh interpreter's first cell
        self.fixed_cell_rows = cell_rows if fixed_cell_rows is None else fixed_cell_rows
        self.fixed_df = sizing_view(df, FIXED)
        self.cpus = cpus
        self.kinds = kinds

    def samples(
        self, rt: str, workload: str, mode: str, n: int, column: str = "wall_s"
    ) -> np.ndarray:
        return column_values(self.steady_cells.get((rt, workload, mode, n)), column)

    def by_invocation(
        self, rt: str, workload: str, mode: str, n: int, column: str = "wall_s", fixed: bool = False
    ) -> dict[int, np.ndarray]:
        """A cell's values per invocation: the scaling size, or the suite's ``fixed`` size."""
        cells = self.fixed_cells if fixed else self.steady_cells
        return stats.by_invocation(cells.get((rt, workload, mode, n)), column)

    def per_size(self, rt: str, workload: str, mode: str, n: int) -> dict[int, np.ndarray]:
        """Seconds per unit of size, per invocation: comparable across runtimes whose scaling
        cells were calibrated to different sizes (the work of a unit grows with its size)."""
        rows = self.steady_cells.get((rt, workload, mode, n))
        if rows is None:
            return {}
        sizes = pd.to_numeric(rows["size"], errors="coerce")
        return stats.by_invocation(rows.assign(per_size=rows["wall_s"] / sizes), "per_size")

    def workers(self, rt: str, workload: str, mode: str) -> set[int]:
        """The Ns of this runtime/workload/mode that have steady samples."""
        return {k[3] for k in self.steady_cells if k[:3] == (rt, workload, mode)}

    def speedups(self, ids: list[str], workloads: tuple[str, ...]) -> dict[SpeedupKey, Speedup]:
        out = {}
        for rt in ids:
            for workload in workloads:
                kind = self.kinds[workload]
                if kind in LATENCY_KINDS:
                    continue
                serial_ns = self.workers(rt, workload, "serial")
                for mode in PARALLEL_MODES:
                    for n in sorted(self.workers(rt, workload, mode) & serial_ns):
                        comparison = stats.compare_invocations(
                            self.by_invocation(rt, workload, "serial", n),
                            self.by_invocation(rt, workload, mode, n),
                            paired=True,
                        )
                        cpu_wall = self.samples(rt, workload, mode, n, "cpu_wall")
                        serial_unit = self._unit_median(rt, workload, "serial", n)
                        out[(rt, workload, mode, n)] = Speedup(
                            runtime=rt,
                            workload=workload,
                            kind=kind,
                            mode=mode,
                            workers=n,
                            ceiling=ceiling(kind, n, self.cpus),
                            comparison=comparison,
                            cpu_wall=float(np.median(cpu_wall)) if len(cpu_wall) else math.nan,
                            unit_slowdown=self._unit_median(rt, workload, mode, n) / serial_unit,
                        )
        return out

    def _unit_median(self, rt: str, workload: str, mode: str, n: int) -> float:
        """Median of the per-unit wall times (``extra.unit_wall_s``) of a cell's steady
        measurements; NaN where none were recorded."""
        rows = self.steady_cells.get((rt, workload, mode, n))
        if rows is None or "extra.unit_wall_s" not in rows.columns:
            return math.nan
        units = [float(u) for us in rows["extra.unit_wall_s"] if isinstance(us, list) for u in us]
        return float(np.median(units)) if units else math.nan

    def pairwise_serial(
        self, pairs: list[tuple[str, str]], workloads: tuple[str, ...], base_first: bool
    ) -> dict[tuple[str, str], tuple[int, Comparison]]:
        """Serial time of each (runtime, other) pair at the largest N both measured.

        ``base_first``: ratio = T_other / T_runtime (speed relative to ``other``); otherwise
        T_runtime / T_other (relative time, the cost).
        """
        out = {}
        for rt, other in pairs:
            for workload in workloads:
                if self.kinds[workload] in LATENCY_KINDS:
                    continue  # a fixed-duration latency probe has no "speed"
                common = self._fixed_workers(rt, workload) & self._fixed_workers(other, workload)
                if not common:
                    continue
                n = max(common)
                mine = self.by_invocation(rt, workload, "serial", n, fixed=True)
                theirs = self.by_invocation(other, workload, "serial", n, fixed=True)
                pair = (theirs, mine) if base_first else (mine, theirs)
                # invocation i of every runtime ran in round i: pair the rounds
                out[(rt, workload)] = (n, stats.compare_invocations(*pair, paired=True))
        return out

    def geomeans(
        self,
        table: dict[tuple[str, str], tuple[int, Comparison]],
        others: dict[str, str],
        base_first: bool,
        kinds: frozenset[str] | None = None,
    ) -> dict[str, Estimate]:
        """Geometric mean over the speed workloads (or only ``kinds``) of each runtime's serial
        ratio to its other."""
        out = {}
        for rt in sorted({rt for rt, _ in table}):
            samples = []
            for (runtime, workload), (n, comparison) in sorted(table.items()):
                kind = self.kinds[workload]
                if runtime != rt or kind in NOT_SPEED_KINDS or (kinds and kind not in kinds):
                    continue
                if min(comparison.n_a, comparison.n_b) < stats.MIN_STEADY_SAMPLES:
                    continue
                mine = self.by_invocation(rt, workload, "serial", n, fixed=True)
                theirs = self.by_invocation(others[rt], workload, "serial", n, fixed=True)
                samples.append((theirs, mine) if base_first else (mine, theirs))
            if samples:
                out[rt] = stats.geomean_invocations(samples)
        return out

    def _fixed_workers(self, rt: str, workload: str) -> set[int]:
        return {k[3] for k in self.fixed_cells if k[:3] == (rt, workload, "serial")}

    def twin_gain(
        self, twins: dict[str, str], workloads: tuple[str, ...]
    ) -> dict[tuple[str, str, int], Comparison]:
        """T_threads(GIL twin) / T_threads(free-threaded) for every N both measured."""
        out = {}
        for ft, gil in twins.items():
            for workload in workloads:
                if self.kinds[workload] in LATENCY_KINDS:
                    continue
                common = self.workers(ft, workload, "threads") & self.workers(
                    gil, workload, "threads"
                )
                for n in sorted(common):
                    out[(ft, workload, n)] = stats.compare_invocations(
                        self.per_size(gil, workload, "threads", n),
                        self.per_size(ft, workload, "threads", n),
                        paired=True,
                    )
        return out

    def convoy(
        self, ids: list[str], workloads: tuple[str, ...]
    ) -> dict[tuple[str, str, int], Comparison]:
        """Latency with N busy threads / latency with none (same N, else the smallest serial N)."""
        out = {}
        if LATENCY_METRIC not in self.df.columns:
            return out
        for rt in ids:
            for workload in workloads:
                if self.kinds[workload] not in LATENCY_KINDS:
                    continue
                serial_ns = self.workers(rt, workload, "serial")
                if not serial_ns:
                    continue
                for n in sorted(self.workers(rt, workload, "threads")):
                    base_n = n if n in serial_ns else min(serial_ns)
                    out[(rt, workload, n)] = stats.compare_invocations(
                        self.by_invocation(rt, workload, "threads", n, LATENCY_METRIC),
                        self.by_invocation(rt, workload, "serial", base_n, LATENCY_METRIC),
                        paired=True,
                    )
        return out

    def asyncio_vs_threads(
        self, ids: list[str], workloads: tuple[str, ...]
    ) -> dict[tuple[str, str, int], Comparison]:
        """T_threads / T_asyncio (>1: asyncio is faster) where both ran."""
        out = {}
        for rt in ids:
            for workload in workloads:
                common = self.workers(rt, workload, "threads") & self.workers(
                    rt, workload, "asyncio"
                )
                for n in sorted(common):
                    out[(rt, workload, n)] = stats.compare_invocations(
                        self.by_invocation(rt, workload, "threads", n),
                        self.by_invocation(rt, workload, "asyncio", n),
                        paired=True,
                    )
        return out

    def spawn(
        self, ids: list[str], workloads: tuple[str, ...]
    ) -> dict[tuple[str, str], tuple[int, Estimate]]:
        """Seconds per started process: serial wall / (N units x size processes per unit).

        A start-up workload's unit starts ``size`` processes one after another; serial mode
        runs N units one after another, so the largest serial N gives the steadiest figure.
        """
        out = {}
        for rt in ids:
            for workload in workloads:
                if self.kinds[workload] not in STARTUP_KINDS:
                    continue
                ns = self.workers(rt, workload, "serial")
                if ns:
                    n = max(ns)
                    size = self.cell_rows[(rt, workload, "serial", n)]["size"] or 1
                    per = self.samples(rt, workload, "serial", n) / (n * int(size))
                    out[(rt, workload)] = (n, stats.median_estimate(per))
        return out

    def warmup(
        self, ids: list[str], workloads: tuple[str, ...]
    ) -> tuple[dict[str, Estimate], dict[tuple[str, str], tuple[str, int]]]:
        """Cold/warm ratio of each speed workload's first cell on a runtime.

        The first cell of a (runtime, workload) is the one with the earliest record (by ``ts``,
        else serial at the smallest N): its rep 0 is the first run of the workload's code in
        that interpreter.
        Returns the median over workloads per runtime, and which cell was used.
        """
        estimates = {}
        used = {}
        for rt in ids:
            ratios = []
            for workload in workloads:
                if self.kinds[workload] in NOT_SPEED_KINDS:
                    continue
                first = self._first_cell(rt, workload)
                if first is None:
                    continue
                row = self.fixed_cell_rows[(rt, workload, first[0], first[1])]
                if row["status"] == "ok" and not isnan(row["warmup_ratio"]):
                    ratios.append(float(row["warmup_ratio"]))
                    used[(rt, workload)] = first
            if ratios:
                estimates[rt] = stats.median_estimate(ratios)
        return estimates, used

    def _first_cell(self, rt: str, workload: str) -> tuple[str, int] | None:
        df = self.fixed_df
        rows = df[(df["runtime"] == rt) & (df["workload"] == workload)]
        if not len(rows):
            return None
        if rows["ts"].notna().all():
            first = rows.sort_values(["ts", "rep"], kind="stable").iloc[0]
            return str(first["mode"]), int(first["workers"])
        serial = rows[rows["mode"] == "serial"]
        pick = serial if len(serial) else rows
        first = pick.sort_values(["workers", "rep"], kind="stable").iloc[0]
        return str(first["mode"]), int(first["workers"])

    def convoy_figures(
        self, keys: list[tuple[str, str, int]]
    ) -> dict[tuple[str, str, int], ConvoyFigures]:
        """The latency figures the convoy table shows, for each (runtime, workload, N)."""
        out = {}
        for rt, workload, n in keys:
            serial_ns = self.workers(rt, workload, "serial")
            base_n = n if n in serial_ns else min(serial_ns, default=n)

            def busy(column: str, rt: str = rt, workload: str = workload, n: int = n) -> float:
                return _median(self.samples(rt, workload, "threads", n, f"extra.{column}"))

            never = self.samples(rt, workload, "threads", n, "extra.busy_never_yielded")
            out[(rt, workload, n)] = ConvoyFigures(
                quiet_ms=_median(self.samples(rt, workload, "serial", base_n, LATENCY_METRIC)),
                busy_ms=_median(self.samples(rt, workload, "threads", n, LATENCY_METRIC)),
                p99_ms=busy("latency_ms_p99"),
                max_ms=busy("latency_ms_max"),
                share_min=busy("busy_share_min"),
                share_max=busy("busy_share_max"),
                roundtrips_while_busy=busy("roundtrips_while_busy"),
                roundtrips=busy("roundtrips"),
                # a majority of the repetitions: one lucky hand-over does not make it yield
                never_yielded=bool(never.mean() > 0.5) if len(never) else None,
            )
        return out

    def start_methods(
        self, ids: list[str], workloads: tuple[str, ...]
    ) -> dict[tuple[str, str], str]:
        """The process start method a start-up workload recorded (``extra.start_method``)."""
        out = {}
        if "extra.start_method" not in self.df.columns:
            return out
        for rt in ids:
            for workload in workloads:
                if self.kinds[workload] not in STARTUP_KINDS:
                    continue
                rows = self.df[(self.df["runtime"] == rt) & (self.df["workload"] == workload)]
                methods = sorted(rows["extra.start_method"].dropna().astype(str).unique())
                if methods:
                    out[(rt, workload)] = ", ".join(methods)
        return out

    def warmup_curves(
        self, used: dict[tuple[str, str], tuple[str, int]]
    ) -> dict[tuple[str, str], WarmupCurve]:
        """Each repetition of the cells the warm-up verdict used, relative to its steady median."""
        out = {}
        df = self.fixed_df
        for (rt, workload), (mode, n) in sorted(used.items()):
            rows = df[
                (df["runtime"] == rt)
                & (df["workload"] == workload)
                & (df["mode"] == mode)
                & (df["workers"] == n)
                & df["ok"].astype(bool)
            ]
            steady = stats.steady(rows)["wall_s"]
            if not len(steady):
                continue
            rel = rows["wall_s"].to_numpy(dtype=float) / float(np.median(steady))
            out[(rt, workload)] = WarmupCurve(
                reps=tuple(int(r) for r in rows["rep"]),
                relative=tuple(float(x) for x in rel),
                warmup=tuple(bool(w) for w in rows["warmup"]),
            )
        return out
