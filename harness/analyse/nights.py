"""The history store: every run folder under ``reports/runs/`` is one night, read as it is.

The run folders *are* the store: append-only, each self-describing through the schema
version of its ``meta.json`` and ``results.jsonl`` (loaded or rejected by name in
``harness.store.results``).
Nothing here writes into them and nothing else is needed: there is no index or cache to keep
in sync (reading a night of a few thousand records takes milliseconds). A folder that cannot
be read becomes an ``Unreadable`` entry with a one-line reason, never an exception.

Each night is reduced to *series*: for every (runtime, workload, size) the serial time and the
speedup of each parallel mode, as one value per night (what the flags judge) and the
repetitions behind it (for the charts' spread); plus its health (failed cells, timeouts, wall
time against the machine's usual, harness revision and image changes).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness.analyse.replication import ByInvocation, level, paired_ratio
from harness.store.layout import time_from_run_id
from harness.store.meta import RunMeta
from harness.store.results import Record, read_meta, read_records
from harness.vocabulary import PARALLEL_MODES, SERIAL, is_disturbed, pick_workers

COMPLETE = "complete"
UNREADABLE = "unreadable"
TIMEOUT = "timeout"  # how the backends' error of a cell that ran out of time begins
WALL_OUTLIER = 1.5
"""A night taking 1.5x its machine's usual wall time (or 1/1.5 of it) is an outlier."""

CALIBRATED = 0  # the size of a series measured at a calibrated size (see SeriesKey)


@dataclass(frozen=True)
class SeriesKey:
    """One tracked series on one machine.

    ``metric`` is ``serial`` (wall seconds of serial mode at the smallest worker count) or a
    parallel mode name (speedup T_serial / T_parallel of that mode at ``workers``). ``size``
    is the suite's size, or ``CALIBRATED`` (0) for scaling cells whose size was calibrated to
    the runtime's speed (it may differ night to night; their speedups stay comparable).
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
    harness_revision: str | None = None
    builds: Mapping[str, Build] = field(default_factory=dict)
    samples: Mapping[SeriesKey, tuple[float, ...]] = field(default_factory=dict)
    values: Mapping[SeriesKey, float] = field(default_factory=dict)
    ok_cells: frozenset[Cell] = frozenset()
    failures: Mapping[Cell, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.status == COMPLETE

    @property
    def unavailable_runtimes(self) -> frozenset[str]:
        """Runtimes that could not be built or run that night (their cells are not failures)."""
        return frozenset(r for r, b in self.builds.items() if not b.available)


@dataclass(frozen=True)
class NightHealth:
    """What a night itself says about whether its numbers can be trusted.

    ``failed``/``timeouts``: cells that failed / ran out of time (cells of unavailable
    runtimes are counted apart in ``unavailable``); ``usual_wall_s``: the median wall time of
    the machine's earlier complete nights; ``revision``: (previous, this) harness revision when
    it changed; ``images``: runtimes whose image changed since the previous complete night.
    """

    run_id: str
    failed: int
    timeouts: int
    unavailable: int
    wall_s: float | None
    usual_wall_s: float | None
    revision: tuple[str | None, str | None] | None
    images: tuple[str, ...]

    @property
    def wall_outlier(self) -> bool:
        if not self.wall_s or not self.usual_wall_s:
            return False
        ratio = self.wall_s / self.usual_wall_s
        return ratio >= WALL_OUTLIER or ratio <= 1 / WALL_OUTLIER


def night_health(night: Night, earlier: Sequence[Night], window: int) -> NightHealth:
    """``night``'s health against up to ``window`` of ``earlier`` complete nights (oldest
    first) of its machine."""
    previous = [n for n in earlier if n.complete][-window:]
    walls = [n.wall_total_s for n in previous if n.wall_total_s]
    lost = night.unavailable_runtimes
    failed = [error for cell, error in night.failures.items() if cell[0] not in lost]
    last = previous[-1] if previous else None
    revision = None
    images: tuple[str, ...] = ()
    if last is not None:
        if last.harness_revision != night.harness_revision:
            revision = (last.harness_revision, night.harness_revision)
        images = tuple(
            runtime
            for runtime in sorted(set(last.builds) & set(night.builds))
            if last.builds[runtime].image_id != night.builds[runtime].image_id
        )
    return NightHealth(
        run_id=night.run_id,
        failed=len(failed),
        timeouts=sum(1 for error in failed if error.startswith(TIMEOUT)),
        unavailable=len(night.failures) - len(failed),
        wall_s=night.wall_total_s,
        usual_wall_s=statistics.median(walls) if walls else None,
        revision=revision,
        images=images,
    )


def parse_time(text: str) -> datetime | None:
    """An ISO time of meta.json (``2026-11-24T23:00:00Z``) as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
        except Exception as exc:  # any broken folder is listed, never breaks the others
            if suite is None or folder.name.endswith(f"-{suite}"):
                unreadable.append(Unreadable(folder.name, _reason(exc, folder)))
            continue
        if suite is not None and meta.suite_name != suite:
            continue
        try:
            nights.append(load_night(folder, meta))
        except Exception as exc:  # a meta.json of the right schema but the wrong shape
            unreadable.append(Unreadable(folder.name, _reason(exc, folder)))
    nights.sort(key=lambda night: (night.started_at, night.run_id))
    return Store(tuple(nights), tuple(unreadable))


def load_night(folder: Path, meta: RunMeta) -> Night:
    """One night from its folder; unreadable results make an ``unreadable`` night."""
    status = str(meta.status or "unknown")
    reason = None
    try:
        records = read_records(folder)
    except Exception as exc:  # torn or foreign results: the night is shown as unreadable
        records, status, reason = [], UNREADABLE, _reason(exc, folder)
    cpus = meta.cpu_count
    cpus = cpus if isinstance(cpus, int) else None
    series = night_series(records, cpus)
    wall = meta.wall_total_s
    return Night(
        run_id=folder.name,
        machine=machine_key(meta),
        status=status,
        reason=reason,
        started_at=str(meta.started_at or time_from_run_id(folder.name)),
        wall_total_s=float(wall) if isinstance(wall, int | float) else None,
        host=HostConfig(
            cpus=cpus,
            kernel=meta.host.kernel,
            engine=meta.docker.engine_version if meta.docker else None,
        ),
        harness_revision=meta.harness_revision,
        builds=_builds(meta, records),
        samples=series.samples,
        values=series.values,
        ok_cells=series.ok_cells,
        failures=series.failures,
    )


def machine_key(meta: RunMeta) -> str:
    """The name the user set (``GILBENCH_MACHINE``, meta ``machine``), else ``hostname (cpu
    model)``; plus the backend when it is not Docker."""
    host = meta.host
    key = meta.machine or f"{host.hostname or 'unknown host'} ({host.cpu_model or 'unknown CPU'})"
    return key if meta.backend in (None, "docker") else f"{key} [{meta.backend}]"


@dataclass(frozen=True)
class NightSeries:
    """What one night contributes to each series.

    ``samples``: serial times, or one speedup per parallel repetition (median serial time
    over that repetition's time); ``values``: the night's value of each series, from the
    run report's estimators over the invocations (``replication.level``: geometric mean of
    the invocation medians; ``replication.paired_ratio``: geometric mean of the per-invocation
    ratios of medians).
    """

    samples: dict[SeriesKey, tuple[float, ...]]
    values: dict[SeriesKey, float]
    ok_cells: frozenset[Cell]
    failures: dict[Cell, str]


def night_series(records: Iterable[Record], cpus: int | None) -> NightSeries:
    """Series samples and values, cells that produced samples, failed cells (with the error).

    Serial time: steady-state samples at the smallest serial worker count, at a fixed size
    only (a calibrated size follows the runtime's speed night by night, so its time is no
    series; its speedups are). Measurements other processes disturbed are left out, as the
    run report leaves them out. Speedup of a
    parallel mode: at the worker count the run report judges (``vocabulary.pick_workers``),
    ``stats.ratio_of_medians`` of serial over parallel; when serial did not run with that
    many units, T1 * N / TN from the smallest serial count.
    """
    cells: dict[tuple[str, str, int, str, int], list[tuple[int, float]]] = defaultdict(list)
    failures: dict[Cell, str] = {}
    kinds: dict[str, str | None] = {}
    for record in records:
        kinds.setdefault(record.workload, record.kind)
        cell = (record.runtime, record.workload, record.mode, record.workers)
        if not record.ok:
            if not record.unsupported:
                failures.setdefault(cell, _one_line(record.error or "failed"))
            continue
        if record.warmup or not isinstance(record.wall_s, int | float) or record.wall_s <= 0:
            continue
        if is_disturbed(record.others_cpu_s, record.wall_s):
            continue
        # calibrated scaling cells: their size follows the runtime's speed, night by night
        size = CALIBRATED if record.sizing == "calibrated" else record.size
        key = (record.runtime, record.workload, size, record.mode, record.workers)
        cells[key].append((record.invocation, record.rep, float(record.wall_s)))
    by_group: dict[tuple[str, str, int], dict[str, dict[int, ByInvocation]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for (runtime, workload, size, mode, workers), found in cells.items():
        by_inv: dict[int, list[float]] = defaultdict(list)
        for invocation, _, wall in sorted(found):
            by_inv[invocation].append(wall)
        by_group[(runtime, workload, size)][mode][workers] = dict(by_inv)
    series: dict[SeriesKey, tuple[float, ...]] = {}
    values: dict[SeriesKey, float] = {}
    for (runtime, workload, size), modes in sorted(by_group.items()):
        serial = modes.get(SERIAL, {})
        if serial and size != CALIBRATED:
            smallest = min(serial)
            key = SeriesKey(runtime, workload, size, SERIAL, smallest)
            series[key] = tuple(v for walls in serial[smallest].values() for v in walls)
            values[key] = level(serial[smallest]).value
        for mode in PARALLEL_MODES:
            parallel = {w: s for w, s in modes.get(mode, {}).items() if w >= 2}
            workers = pick_workers(kinds.get(workload), parallel, cpus)
            if workers is None or not serial:
                continue
            base = workers if workers in serial else min(serial)
            scale = workers / base  # T1 * N / TN when serial did not run with N units
            key = SeriesKey(runtime, workload, size, mode, workers)
            series[key] = tuple(
                statistics.median(serial[base][inv]) * scale / t
                for inv, walls in parallel[workers].items()
                if inv in serial[base]  # a ratio needs serial from the same invocation
                for t in walls
            )
            values[key] = paired_ratio(serial[base], parallel[workers], scale).value
    ok_cells = frozenset((k[0], k[1], k[3], k[4]) for k in cells)
    failures = {cell: error for cell, error in sorted(failures.items()) if cell not in ok_cells}
    return NightSeries(series, values, ok_cells, failures)


def _builds(meta: RunMeta, records: Iterable[Record]) -> dict[str, Build]:
    builds: dict[str, Build] = {}
    for runtime_id, info in sorted(meta.runtimes.items()):
        probe = info.probe or {}
        builds[runtime_id] = Build(
            probe.get("implementation"),
            probe.get("python_version"),
            info.image_id,
            info.available is not False,
        )
    for record in records:  # runtimes missing from meta: what the workers probed
        if record.runtime not in builds:
            builds[record.runtime] = Build(record.implementation, record.python_version, None)
    return builds


def _reason(error: Exception, folder: Path) -> str:
    """The error in one line, with paths relative to the run folder (output must not depend
    on where the reports directory lives)."""
    text = str(error).replace(f"{folder}/", "") or type(error).__name__
    return _one_line(text)


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 200 else text[:197] + "..."
