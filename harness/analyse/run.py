"""Every derived figure of one run, computed once: speedups, serial speed vs a baseline,
free-threading twins, convoy latency, spawn cost, warm-up; all comparisons corrected together.

The report's sections, its verdicts and its charts only read an :class:`Analysis`; the raw
figures come from :class:`harness.analyse.figures.Figures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.analyse import integrity, stats
from harness.analyse.figures import (
    ConvoyFigures,
    Figures,
    Speedup,
    SpeedupKey,
    WarmupCurve,
    column_values,
    isnan,
)
from harness.analyse.sizing import FIXED, SCALING, sizing_view
from harness.analyse.stats import CellKey, Comparison, Estimate
from harness.store.meta import RunMeta
from harness.store.results import read_meta
from harness.vocabulary import (
    COMPUTE_KINDS,
    DEFAULT_BASELINE,
    PARALLEL_MODES,
    find_twins,
    pick_workers,
    workload_rank,
)


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
    # serial speed over the compute kernels only (kind cpu): the JIT claim
    kernel_geomean: dict[str, Estimate] = field(default_factory=dict)
    convoy_figures: dict[tuple[str, str, int], ConvoyFigures] = field(default_factory=dict)
    start_methods: dict[tuple[str, str], str] = field(default_factory=dict)
    health: dict[CellKey, integrity.CellHealth] = field(default_factory=dict)
    # run-wide: measurements disturbed by other processes, measured again, left disturbed
    disturbance: integrity.Disturbance = field(default_factory=integrity.Disturbance)
    cpus_basis: str = ""
    warmup_curves: dict[tuple[str, str], WarmupCurve] = field(default_factory=dict)
    n_tests: int = 0
    steady_cells: dict[CellKey, pd.DataFrame] = field(default_factory=dict, repr=False)
    cell_rows: dict[CellKey, dict[str, Any]] = field(default_factory=dict, repr=False)
    # the same summaries at the suite's size only (a calibrating run's serial cells have two)
    fixed_cell_rows: dict[CellKey, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def runtime_ids(self) -> list[str]:
        return [r.id for r in self.runtimes]

    def cell(self, runtime: str, workload: str, mode: str, workers: int) -> dict[str, Any] | None:
        """The summary row of one cell (at its scaling size), or None when it never ran."""
        return self.cell_rows.get((runtime, workload, mode, int(workers)))

    def fixed_cell(
        self, runtime: str, workload: str, mode: str, workers: int
    ) -> dict[str, Any] | None:
        """The summary row of one cell at the suite's size (the same work on every runtime)."""
        return self.fixed_cell_rows.get((runtime, workload, mode, int(workers)))

    def samples(
        self, runtime: str, workload: str, mode: str, workers: int, column: str = "wall_s"
    ) -> np.ndarray:
        """The steady samples of one cell (``column`` may be e.g. ``extra.latency_ms_p50``)."""
        return column_values(self.steady_cells.get((runtime, workload, mode, int(workers))), column)


def ceiling_cpus(meta: RunMeta) -> tuple[int | None, str]:
    """The CPUs a CPU-bound speedup can use, and what that number is: the cpuset's physical
    cores where the topology is known (SMT siblings share one core's execution units), else
    its logical CPUs."""
    logical = meta.cpu_count
    topology = meta.host.topology or {}
    physical = topology.get("physical_cores")
    if physical and logical and physical < logical:
        return physical, (
            f"{physical} physical cores: the {logical} logical CPUs of the cpuset include SMT "
            "siblings, so CPU-bound ceilings use the cores"
        )
    if physical:
        return logical, f"{logical} CPUs, each a physical core (no SMT siblings in the cpuset)"
    return logical, f"{logical} logical CPUs (topology unknown: SMT siblings not ruled out)"


def _with_health(s: Speedup, health: dict[CellKey, integrity.CellHealth]) -> Speedup:
    """A speedup carries what is wrong with its serial and parallel cells."""
    cells = {m: health.get((s.runtime, s.workload, m, s.workers)) for m in ("serial", s.mode)}
    found = {m: h for m, h in cells.items() if h is not None}
    problems = tuple(f"{m}: {p}" for m, h in found.items() for p in h.problems)
    return replace(s, problems=problems, judgeable=all(h.judgeable for h in found.values()))


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
    cells = stats.summarize_cells(sizing_view(df, SCALING))
    fixed_rows = _cell_rows(stats.summarize_cells(sizing_view(df, FIXED)))
    cpus, cpus_basis = ceiling_cpus(meta)
    runtimes = _runtime_infos(meta, df, base)
    ids = [r.id for r in runtimes]
    workloads = tuple(sorted(df["workload"].unique(), key=workload_rank)) if len(df) else ()
    kinds = {w: _kind(cells, w) for w in workloads}
    steady_cells = stats.steady_by_cell(df, SCALING)
    cell_rows = _cell_rows(cells)
    b = Figures(
        df, steady_cells, cell_rows, cpus, kinds, stats.steady_by_cell(df, FIXED), fixed_rows
    )

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
    health = integrity.cell_health(df) if len(df) else {}
    speedups = {
        k: _with_health(replace(s, comparison=adjusted[("speedup", k)]), health)
        for k, s in speedups.items()
    }
    serial = {k: (n, adjusted[("serial", k)]) for k, (n, _) in serial.items()}
    cost = {k: (n, adjusted[("cost", k)]) for k, (n, _) in cost.items()}
    gain = {k: adjusted[("gain", k)] for k in gain}
    convoy = {k: adjusted[("convoy", k)] for k in convoy}
    asyncio = {k: adjusted[("asyncio", k)] for k in asyncio}

    warmup, warmup_cells = b.warmup(ids, workloads)
    kernels = b.geomeans(serial, {rt: base for rt in ids}, base_first=True, kinds=COMPUTE_KINDS)
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
        kernel_geomean=kernels,
        convoy_figures=b.convoy_figures(sorted(convoy)),
        start_methods=b.start_methods(ids, workloads),
        warmup_curves=b.warmup_curves(warmup_cells),
        health=health,
        disturbance=integrity.disturbance(health),
        cpus_basis=cpus_basis,
        n_tests=sum(1 for _, _, c in family if c.testable),
        steady_cells=steady_cells,
        cell_rows=cell_rows,
        fixed_cell_rows=fixed_rows,
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
                gil_enabled=None if gil is None or isnan(gil) else bool(gil),
                expected_gil=entry.expected_gil if entry else None,
                available=entry.available if entry else rid in seen,
                reason=entry.reason if entry else None,
                image_id=entry.image_id if entry else None,
                pool=", ".join(pools) or None,
            )
        )
    return infos
