"""Every derived figure of one run, computed once: speedups, serial speed vs a baseline,
free-threading twins, convoy latency, spawn cost, warm-up; all comparisons corrected together.

``report.py``, ``verdicts.py`` and ``charts.py`` only read an :class:`Analysis`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.analyse import stats
from harness.analyse.stats import CellKey, Comparison, Estimate
from harness.store.meta import RunMeta
from harness.store.results import read_meta
from harness.vocabulary import (
    DEFAULT_BASELINE,
    LATENCY_KINDS,
    LATENCY_METRIC,
    NOT_SPEED_KINDS,
    PARALLEL_MODES,
    STARTUP_KINDS,
    ceiling,
    find_twins,
    pick_workers,
    workload_rank,
)

SpeedupKey = tuple[str, str, str, int]  # runtime, workload, mode, workers


@dataclass(frozen=True)
class RuntimeInfo:
    """What the report says about one runtime (from meta.json, completed from the records)."""

    id: str
    family: str | None
    implementation: str | None
    version: str | None
    gil_enabled: bool | None
    expected_gil: bool | None
    available: bool
    reason: str | None
    image_id: str | None
    pool: str | None = None


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

    @property
    def efficiency(self) -> float:
        """Share of the attainable speedup realised: speedup / ceiling."""
        return self.comparison.ratio / self.ceiling


@dataclass(frozen=True)
class Analysis:
    """All figures of one run. Dict keys are tuples of plain ids, iterated in sorted order."""

    run_dir: Path
    meta: RunMeta
    df: pd.DataFrame
    cells: pd.DataFrame
    baseline: str
    runtimes: tuple[RuntimeInfo, ...]
    cpus: int | None
    workloads: tuple[str, ...]
    kinds: dict[str, str | None]
    verdict_workers: dict[tuple[str, str], int]
    speedups: dict[SpeedupKey, Speedup]
    serial_vs_baseline: dict[tuple[str, str], tuple[int, Comparison]]
    serial_geomean: dict[str, Estimate]
    twins: dict[str, str]
    twin_cost: dict[tuple[str, str], tuple[int, Comparison]]
    twin_cost_geomean: dict[str, Estimate]
    twin_gain: dict[tuple[str, str, int], Comparison]
    convoy: dict[tuple[str, str, int], Comparison]
    asyncio_vs_threads: dict[tuple[str, str, int], Comparison]
    spawn: dict[tuple[str, str], tuple[int, Estimate]]
    warmup: dict[str, Estimate]
    warmup_cells: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    n_tests: int = 0
    steady_cells: dict[CellKey, pd.DataFrame] = field(default_factory=dict, repr=False)
    cell_rows: dict[CellKey, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def runtime_ids(self) -> list[str]:
        return [r.id for r in self.runtimes]

    def cell(self, runtime: str, workload: str, mode: str, workers: int) -> dict[str, Any] | None:
        """The summary row of one cell, or None when it never ran."""
        return self.cell_rows.get((runtime, workload, mode, int(workers)))

    def samples(
        self, runtime: str, workload: str, mode: str, workers: int, column: str = "wall_s"
    ) -> np.ndarray:
        """The steady samples of one cell (``column`` may be e.g. ``extra.latency_ms_p50``)."""
        return _column(self.steady_cells.get((runtime, workload, mode, int(workers))), column)


def _column(rows: pd.DataFrame | None, column: str) -> np.ndarray:
    if rows is None or column not in rows.columns:
        return np.array([], dtype=float)
    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
    return values[~np.isnan(values)]


def _cell_rows(cells: pd.DataFrame) -> dict[CellKey, dict[str, Any]]:
    return {
        (r["runtime"], r["workload"], r["mode"], int(r["workers"])): r
        for r in cells.to_dict("records")
    }










def analyse(run_dir: Path, baseline: str | None = None) -> Analysis:
    """Read a run folder and compute everything the report shows."""
    meta = read_meta(run_dir)
    df = stats.load_frame(run_dir)
    return analyse_frame(run_dir, meta, df, baseline)


def analyse_frame(
    run_dir: Path, meta: RunMeta, df: pd.DataFrame, baseline: str | None = None
) -> Analysis:
    """:func:`analyse` on already loaded inputs."""
    base = baseline or meta.baseline or DEFAULT_BASELINE
    cells = stats.summarize_cells(df)
    cpus = meta.cpu_count
    runtimes = _runtime_infos(meta, df, base)
    ids = [r.id for r in runtimes]
    workloads = tuple(sorted(df["workload"].unique(), key=workload_rank)) if len(df) else ()
    kinds = {w: _kind(cells, w) for w in workloads}
    steady_cells = stats.steady_by_cell(df)
    cell_rows = _cell_rows(cells)
    b = _Builder(df, steady_cells, cell_rows, cpus, kinds)

    verdict_workers = {}
    for workload in workloads:
        for mode in PARALLEL_MODES:
            ns = cells.loc[(cells["workload"] == workload) & (cells["mode"] == mode), "workers"]
            n = pick_workers(kinds[workload], ns, cpus)
            if n is not None:
                verdict_workers[(workload, mode)] = n

    speedups = b.speedups(ids, workloads)
    serial = b.pairwise_serial([(rt, base) for rt in ids if rt != base], workloads, base_first=True)
    twins = find_twins(ids)
    cost = b.pairwise_serial(list(twins.items()), workloads, base_first=False)
    gain = b.twin_gain(twins, workloads)
    convoy = b.convoy(ids, workloads)
    asyncio = b.asyncio_vs_threads(ids, workloads)

    # one family of tests for the whole report, corrected together (Benjamini-Hochberg)
    family: list[tuple[str, Any, Comparison]] = []
    family += [("speedup", k, s.comparison) for k, s in sorted(speedups.items())]
    family += [("serial", k, c) for k, (_, c) in sorted(serial.items())]
    family += [("cost", k, c) for k, (_, c) in sorted(cost.items())]
    family += [("gain", k, c) for k, c in sorted(gain.items())]
    family += [("convoy", k, c) for k, c in sorted(convoy.items())]
    family += [("asyncio", k, c) for k, c in sorted(asyncio.items())]
    adjusted = dict(
        zip(
            [(tag, key) for tag, key, _ in family],
            stats.adjust_pvalues([c for _, _, c in family]),
            strict=True,
        )
    )
    speedups = {k: replace(s, comparison=adjusted[("speedup", k)]) for k, s in speedups.items()}
    serial = {k: (n, adjusted[("serial", k)]) for k, (n, _) in serial.items()}
    cost = {k: (n, adjusted[("cost", k)]) for k, (n, _) in cost.items()}
    gain = {k: adjusted[("gain", k)] for k in gain}
    convoy = {k: adjusted[("convoy", k)] for k in convoy}
    asyncio = {k: adjusted[("asyncio", k)] for k in asyncio}

    warmup, warmup_cells = b.warmup(ids, workloads)
    return Analysis(
        run_dir=run_dir,
        meta=meta,
        df=df,
        cells=cells,
        baseline=base,
        runtimes=tuple(runtimes),
        cpus=cpus,
        workloads=workloads,
        kinds=kinds,
        verdict_workers=verdict_workers,
        speedups=speedups,
        serial_vs_baseline=serial,
        serial_geomean=b.geomeans(serial, {rt: base for rt in ids}, base_first=True),
        twins=twins,
        twin_cost=cost,
        twin_cost_geomean=b.geomeans(cost, twins, base_first=False),
        twin_gain=gain,
        convoy=convoy,
        asyncio_vs_threads=asyncio,
        spawn=b.spawn(ids, workloads),
        warmup=warmup,
        warmup_cells=warmup_cells,
        n_tests=sum(1 for _, _, c in family if c.testable),
        steady_cells=steady_cells,
        cell_rows=cell_rows,
    )


def _kind(cells: pd.DataFrame, workload: str) -> str | None:
    kinds = cells.loc[cells["workload"] == workload, "kind"].dropna()
    return str(kinds.iloc[0]) if len(kinds) else None


def _runtime_infos(meta: RunMeta, df: pd.DataFrame, baseline: str) -> list[RuntimeInfo]:
    declared = meta.runtimes
    seen = set(df["runtime"].unique()) if len(df) else set()
    ids = sorted(set(declared) | seen, key=lambda rid: (rid != baseline, rid))
    infos = []
    for rid in ids:
        entry = declared.get(rid)
        probe = (entry.probe if entry else None) or {}
        rows = df[(df["runtime"] == rid) & df["implementation"].notna()] if len(df) else df
        first = rows.iloc[0].to_dict() if len(rows) else {}
        gil = probe.get("gil_enabled", first.get("gil_enabled"))
        pools = sorted(df.loc[(df["runtime"] == rid), "pool"].dropna().unique()) if seen else []
        infos.append(
            RuntimeInfo(
                id=rid,
                family=entry.family if entry else None,
                implementation=probe.get("implementation") or first.get("implementation"),
                version=probe.get("python_version") or first.get("python_version"),
                gil_enabled=None if gil is None or _isnan(gil) else bool(gil),
                expected_gil=entry.expected_gil if entry else None,
                available=entry.available if entry else rid in seen,
                reason=entry.reason if entry else None,
                image_id=entry.image_id if entry else None,
                pool=", ".join(pools) or None,
            )
        )
    return infos


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


class _Builder:
    """Raw (uncorrected) comparisons from the frame; one method per family of figures."""

    def __init__(
        self,
        df: pd.DataFrame,
        steady_cells: dict[CellKey, pd.DataFrame],
        cell_rows: dict[CellKey, dict[str, Any]],
        cpus: int | None,
        kinds: dict[str, str | None],
    ) -> None:
        self.df = df
        self.steady_cells = steady_cells
        self.cell_rows = cell_rows
        self.cpus = cpus
        self.kinds = kinds

    def samples(
        self, rt: str, workload: str, mode: str, n: int, column: str = "wall_s"
    ) -> np.ndarray:
        return _column(self.steady_cells.get((rt, workload, mode, n)), column)

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
                        par = self.samples(rt, workload, mode, n)
                        comparison = stats.compare_samples(
                            self.samples(rt, workload, "serial", n), par
                        )
                        cpu_wall = self.samples(rt, workload, mode, n, "cpu_wall")
                        out[(rt, workload, mode, n)] = Speedup(
                            runtime=rt,
                            workload=workload,
                            kind=kind,
                            mode=mode,
                            workers=n,
                            ceiling=ceiling(kind, n, self.cpus),
                            comparison=comparison,
                            cpu_wall=float(np.median(cpu_wall)) if len(cpu_wall) else math.nan,
                        )
        return out

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
                common = self.workers(rt, workload, "serial") & self.workers(
                    other, workload, "serial"
                )
                if not common:
                    continue
                n = max(common)
                mine = self.samples(rt, workload, "serial", n)
                theirs = self.samples(other, workload, "serial", n)
                pair = (theirs, mine) if base_first else (mine, theirs)
                out[(rt, workload)] = (n, stats.compare_samples(*pair))
        return out

    def geomeans(
        self,
        table: dict[tuple[str, str], tuple[int, Comparison]],
        others: dict[str, str],
        base_first: bool,
    ) -> dict[str, Estimate]:
        """Geometric mean over the speed workloads of each runtime's serial ratio to its other."""
        out = {}
        for rt in sorted({rt for rt, _ in table}):
            samples = []
            for (runtime, workload), (n, comparison) in sorted(table.items()):
                if runtime != rt or self.kinds[workload] in NOT_SPEED_KINDS:
                    continue
                if min(comparison.n_a, comparison.n_b) < stats.MIN_STEADY_SAMPLES:
                    continue
                mine = self.samples(rt, workload, "serial", n)
                theirs = self.samples(others[rt], workload, "serial", n)
                samples.append((theirs, mine) if base_first else (mine, theirs))
            if samples:
                out[rt] = stats.geomean_ratio(samples)
        return out

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
                    out[(ft, workload, n)] = stats.compare_samples(
                        self.samples(gil, workload, "threads", n),
                        self.samples(ft, workload, "threads", n),
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
                    out[(rt, workload, n)] = stats.compare_samples(
                        self.samples(rt, workload, "threads", n, LATENCY_METRIC),
                        self.samples(rt, workload, "serial", base_n, LATENCY_METRIC),
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
                    out[(rt, workload, n)] = stats.compare_samples(
                        self.samples(rt, workload, "threads", n),
                        self.samples(rt, workload, "asyncio", n),
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
        """Cold/warm ratio of the first cell each fresh interpreter ran, per speed workload.

        The first cell of a (runtime, workload) group is the one with the earliest record (by
        ``ts``, else serial at the smallest N): its rep 0 is the only truly cold run.
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
                row = self.cell_rows[(rt, workload, first[0], first[1])]
                if row["status"] == "ok" and not _isnan(row["warmup_ratio"]):
                    ratios.append(float(row["warmup_ratio"]))
                    used[(rt, workload)] = first
            if ratios:
                estimates[rt] = stats.median_estimate(ratios)
        return estimates, used

    def _first_cell(self, rt: str, workload: str) -> tuple[str, int] | None:
        rows = self.df[(self.df["runtime"] == rt) & (self.df["workload"] == workload)]
        if not len(rows):
            return None
        if rows["ts"].notna().all():
            first = rows.sort_values(["ts", "rep"], kind="stable").iloc[0]
            return str(first["mode"]), int(first["workers"])
        serial = rows[rows["mode"] == "serial"]
        pick = serial if len(serial) else rows
        first = pick.sort_values(["workers", "rep"], kind="stable").iloc[0]
        return str(first["mode"]), int(first["workers"])
