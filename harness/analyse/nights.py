"""The history store: every run folder under ``reports/runs/`` is one night, read as it is.

The run folders *are* the store: append-only, each self-describing through the schema version
of its ``meta.json`` and ``results.jsonl`` (loaded or rejected by name in ``harness.store.results``).
Nothing here writes into them and nothing else is needed: there is no index or cache to keep
in sync (reading a night of a few thousand records takes milliseconds). A folder that cannot
be read becomes an ``Unreadable`` entry with a one-line reason, never an exception.

Each night is reduced to *series samples*: for every (runtime, workload, size) the steady-state
``wall_s`` samples of serial mode, and the speedup samples of each parallel mode.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.store.results import Record, ResultsError, read_meta, read_records

SERIAL = "serial"
PARALLEL_MODES = ("threads", "processes", "asyncio")
COMPLETE = "complete"
UNREADABLE = "unreadable"

_RUN_ID_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")


@dataclass(frozen=True)
class SeriesKey:
    """One tracked series on one machine.

    ``metric`` is ``serial`` (wall seconds of serial mode at the smallest worker count) or a
    parallel mode name (speedup T_serial / T_parallel of that mode at ``workers``).
    """

    runtime: str
    workload: str
    size: int
    metric: str
    workers: int

    @property
    def sort_key(self) -> tuple[str, str, int, int, str, int]:
        """Runtime, workload, size, then serial time before the speedups in mode order."""
        order = (SERIAL, *PARALLEL_MODES)
        rank = order.index(self.metric) if self.metric in order else len(order)
        return (self.runtime, self.workload, self.size, rank, self.metric, self.workers)

    @property
    def is_speedup(self) -> bool:
        return self.metric != SERIAL

    @property
    def label(self) -> str:
        if self.is_speedup:
            return f"speedup {self.metric} x{self.workers}"
        return f"serial time x{self.workers}"


Cell = tuple[str, str, str, int]
"""(runtime, workload, mode, workers): one measured cell of a run."""


@dataclass(frozen=True)
class Build:
    """What a runtime was on one night; a difference here is a runtime change, not a regression."""

    implementation: str | None
    python_version: str | None
    image_id: str | None
    available: bool = True  # false: it could not be built or run that night (meta says why)

    def describe(self) -> str:
        text = " ".join(part for part in (self.implementation, self.python_version) if part)
        return text or "unknown version"


@dataclass(frozen=True)
class HostConfig:
    """The parts of a machine's set-up that change what a benchmark measures."""

    cpus: int | None
    kernel: str | None
    engine: str | None


@dataclass(frozen=True)
class Night:
    """One readable run folder of the tracked suite."""

    run_id: str
    machine: str
    status: str
    reason: str | None
    started_at: str
    wall_total_s: float | None
    host: HostConfig
    builds: Mapping[str, Build] = field(default_factory=dict)
    samples: Mapping[SeriesKey, tuple[float, ...]] = field(default_factory=dict)
    ok_cells: frozenset[Cell] = frozenset()
    failures: Mapping[Cell, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.status == COMPLETE


@dataclass(frozen=True)
class Unreadable:
    """A run folder whose files cannot be read, with the one-line reason."""

    run_id: str
    reason: str


@dataclass(frozen=True)
class Store:
    """All nights of one suite, oldest first, plus the folders that could not be read."""

    nights: tuple[Night, ...]
    unreadable: tuple[Unreadable, ...]

    @property
    def machines(self) -> tuple[str, ...]:
        return tuple(sorted({night.machine for night in self.nights}))

    def of_machine(self, machine: str) -> tuple[Night, ...]:
        return tuple(night for night in self.nights if night.machine == machine)


def load_store(runs_dir: Path, suite: str | None = "nightly") -> Store:
    """Read every run folder of ``suite`` (all suites when None) under ``runs_dir``."""
    nights: list[Night] = []
    unreadable: list[Unreadable] = []
    folders = sorted(p for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.is_dir() else []
    for folder in folders:
        try:
            meta = read_meta(folder)
            if not isinstance(meta, dict):
                raise ResultsError(f"{folder / 'meta.json'}: not a JSON object")
        except Exception as exc:  # any broken folder is listed, never breaks the others
            if suite is None or folder.name.endswith(f"-{suite}"):
                unreadable.append(Unreadable(folder.name, _reason(exc, folder)))
            continue
        if suite is not None and _suite_name(meta) != suite:
            continue
        try:
            nights.append(load_night(folder, meta))
        except Exception as exc:  # a meta.json of the right schema but the wrong shape
            unreadable.append(Unreadable(folder.name, _reason(exc, folder)))
    nights.sort(key=lambda night: (night.started_at, night.run_id))
    return Store(tuple(nights), tuple(unreadable))


def load_night(folder: Path, meta: Mapping[str, Any]) -> Night:
    """One night from its folder; unreadable results make an ``unreadable`` night."""
    status = str(meta.get("status") or "unknown")
    reason = None
    try:
        records = read_records(folder)
    except Exception as exc:  # torn or foreign results: the night is shown as unreadable
        records, status, reason = [], UNREADABLE, _reason(exc, folder)
    host = meta.get("host") or {}
    docker = meta.get("docker") or {}
    cpus = meta.get("cpus") or host.get("cores")
    samples, ok_cells, failures = night_series(records, cpus if isinstance(cpus, int) else None)
    wall = meta.get("wall_total_s")
    return Night(
        run_id=folder.name,
        machine=machine_key(meta),
        status=status,
        reason=reason,
        started_at=str(meta.get("started_at") or _time_from_run_id(folder.name)),
        wall_total_s=float(wall) if isinstance(wall, int | float) else None,
        host=HostConfig(
            cpus=cpus if isinstance(cpus, int) else None,
            kernel=host.get("kernel"),
            engine=docker.get("engine_version"),
        ),
        builds=_builds(meta, records),
        samples=samples,
        ok_cells=ok_cells,
        failures=failures,
    )


def machine_key(meta: Mapping[str, Any]) -> str:
    """``hostname (cpu model)``, plus the backend when it is not Docker."""
    host = meta.get("host") or {}
    key = f"{host.get('hostname') or 'unknown host'} ({host.get('cpu_model') or 'unknown CPU'})"
    backend = meta.get("backend")
    return key if backend in (None, "docker") else f"{key} [{backend}]"


def night_series(
    records: Iterable[Record], cpus: int | None
) -> tuple[dict[SeriesKey, tuple[float, ...]], frozenset[Cell], dict[Cell, str]]:
    """Series samples, cells that produced samples, and failed cells (with their error).

    Serial time: steady-state samples at the smallest serial worker count. Speedup of a
    parallel mode: at the largest worker count >= 2 not exceeding ``cpus`` (else the smallest),
    one sample per repetition, T_serial / T_parallel of the same steady-state repetition index
    (so the serial run's noise stays in the samples); when serial did not run with that many
    units, T1 * N / TN from the smallest serial count.
    """
    cells: dict[tuple[str, str, int, str, int], list[tuple[int, float]]] = defaultdict(list)
    failures: dict[Cell, str] = {}
    for record in records:
        cell = (record.runtime, record.workload, record.mode, record.workers)
        if not record.ok:
            if not record.unsupported:
                failures.setdefault(cell, _one_line(record.error or "failed"))
            continue
        if record.warmup or not isinstance(record.wall_s, int | float) or record.wall_s <= 0:
            continue
        key = (record.runtime, record.workload, record.size, record.mode, record.workers)
        cells[key].append((record.rep, float(record.wall_s)))
    by_group: dict[tuple[str, str, int], dict[str, dict[int, tuple[float, ...]]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for (runtime, workload, size, mode, workers), values in cells.items():
        by_group[(runtime, workload, size)][mode][workers] = tuple(v for _, v in sorted(values))
    series: dict[SeriesKey, tuple[float, ...]] = {}
    for (runtime, workload, size), modes in sorted(by_group.items()):
        serial = modes.get(SERIAL, {})
        if serial:
            smallest = min(serial)
            series[SeriesKey(runtime, workload, size, SERIAL, smallest)] = serial[smallest]
        for mode in PARALLEL_MODES:
            parallel = {w: s for w, s in modes.get(mode, {}).items() if w >= 2}
            if not parallel or not serial:
                continue
            workers = _speedup_workers(sorted(parallel), cpus)
            base = workers if workers in serial else min(serial)
            scale = workers / base  # T1 * N / TN when serial did not run with N units
            pairs = zip(serial[base], parallel[workers], strict=False)
            key = SeriesKey(runtime, workload, size, mode, workers)
            series[key] = tuple(t_serial * scale / t_parallel for t_serial, t_parallel in pairs)
    ok_cells = frozenset((k[0], k[1], k[3], k[4]) for k in cells)
    failures = {cell: error for cell, error in sorted(failures.items()) if cell not in ok_cells}
    return series, ok_cells, failures


def _speedup_workers(counts: list[int], cpus: int | None) -> int:
    fitting = [n for n in counts if cpus is None or n <= cpus]
    return max(fitting) if fitting else min(counts)


def _builds(meta: Mapping[str, Any], records: Iterable[Record]) -> dict[str, Build]:
    builds: dict[str, Build] = {}
    runtimes = meta.get("runtimes") or {}
    for runtime_id, info in sorted(runtimes.items()):
        if not isinstance(info, dict):
            continue
        probe = info.get("probe") or {}
        builds[runtime_id] = Build(
            probe.get("implementation"),
            probe.get("python_version"),
            info.get("image_id"),
            info.get("available") is not False,
        )
    for record in records:  # runtimes missing from meta: what the workers probed
        if record.runtime not in builds:
            builds[record.runtime] = Build(record.implementation, record.python_version, None)
    return builds


def _suite_name(meta: Mapping[str, Any]) -> str | None:
    suite = meta.get("suite")
    return suite.get("name") if isinstance(suite, dict) else suite


def _time_from_run_id(run_id: str) -> str:
    match = _RUN_ID_TIME.match(run_id)
    if not match:
        return run_id
    y, mo, d, h, mi, s = match.groups()
    return f"{y}-{mo}-{d}T{h}:{mi}:{s}Z"


def _reason(error: Exception, folder: Path) -> str:
    """The error in one line, with paths relative to the run folder (output must not depend
    on where the reports directory lives)."""
    text = str(error).replace(f"{folder}/", "") or type(error).__name__
    return _one_line(text)


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 200 else text[:197] + "..."
