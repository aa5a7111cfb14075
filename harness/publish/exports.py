"""Exports other tools read: pyperf JSON, github-action-benchmark JSON, ``history.json``.

Inputs are plain data (the records of ``results.jsonl`` as dicts, ``meta.json`` as a dict,
history machines/series/flags as lists of dicts), so it imports nothing else from the harness.
Every writer is deterministic (same input, byte-identical file) and atomic (temp + rename).

- ``pyperf_suite`` / ``write_pyperf``: a pyperf suite (JSON format ``1.0``), one benchmark per
  cell (runtime, workload, mode, workers) named ``runtime/workload/mode/wN``; its single run
  (one container process ran every repetition) holds the ok steady-state ``wall_s`` values
  and the ok warm-up ones as ``warmups``. ``python -m pyperf stats|compare_to`` read it.
- ``benchmark_action_entries`` / ``write_benchmark_action``: github-action-benchmark's
  ``customSmallerIsBetter`` list, one entry per cell: median steady wall seconds.
- ``write_history_json``: the history's machines, series and flags, schema
  ``HISTORY_JSON_VERSION`` (documented on ``MachineState``, ``SeriesPoint``, ``Series`` and
  ``HistoryFlag``); ``harness.nightly.write_history`` writes it next to ``history.md``.

Cells without one ok steady-state value (failed, timed out, unsupported) have no number to
export: they are left out and named in the result's ``skipped``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from typing import Any

PYPERF_JSON_VERSION = "1.0"
# history.json versions: 1 = machines (judged night, alerts), series (one value per night) and
# flags (with their state), keyed like the history's series; the first version written.
HISTORY_JSON_VERSION = 1
HISTORY_JSON_FORMAT = "gilbench-history"

Record = Mapping[str, Any]
CellKey = tuple[str, str, str, int]


@dataclass(frozen=True)
class CellSamples:
    """The ok wall times of one cell (runtime, workload, mode, workers) of one run."""

    runtime: str
    workload: str
    mode: str
    workers: int
    size: int | None
    implementation: str | None
    python_version: str | None
    gil_enabled: bool | None
    values: tuple[float, ...]
    warmups: tuple[float, ...]
    cpu_s: tuple[float, ...]

    @property
    def name(self) -> str:
        """Stable across runs, so ``compare_to`` pairs the same cell of two nights."""
        return f"{self.runtime}/{self.workload}/{self.mode}/w{self.workers}"


@dataclass(frozen=True)
class Export:
    """A document ready to dump, and the cells that had nothing to export."""

    data: Any
    skipped: tuple[str, ...]


def cell_samples(records: Iterable[Record]) -> tuple[list[CellSamples], list[str]]:
    """Group records into cells (in first-seen order); returns (usable cells, skipped names)."""
    groups: dict[CellKey, list[Record]] = {}
    for record in records:
        key = (record["runtime"], record["workload"], record["mode"], int(record["workers"]))
        groups.setdefault(key, []).append(record)
    cells: list[CellSamples] = []
    skipped: list[str] = []
    for key, group in groups.items():
        cell = _cell(key, sorted(group, key=lambda r: r.get("rep", 0)))
        if cell.values:
            cells.append(cell)
        else:
            skipped.append(cell.name)
    return cells, skipped


def _cell(key: CellKey, group: Sequence[Record]) -> CellSamples:
    ok = [r for r in group if r.get("ok") and _positive(r.get("wall_s"))]
    steady = [r for r in ok if not r.get("warmup")]
    probed = next((r for r in ok), group[0])
    return CellSamples(
        runtime=key[0],
        workload=key[1],
        mode=key[2],
        workers=key[3],
        size=group[0].get("size"),
        implementation=probed.get("implementation"),
        python_version=probed.get("python_version"),
        gil_enabled=probed.get("gil_enabled"),
        values=tuple(float(r["wall_s"]) for r in steady),
        warmups=tuple(float(r["wall_s"]) for r in ok if r.get("warmup")),
        cpu_s=tuple(float(r["cpu_s"]) for r in steady if _positive(r.get("cpu_s"))),
    )


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


# --- pyperf ---------------------------------------------------------------------------------


def pyperf_suite(records: Iterable[Record], meta: Mapping[str, Any]) -> Export:
    """A pyperf suite document (``BenchmarkSuite`` JSON) of one run."""
    cells, skipped = cell_samples(records)
    benchmarks = [_pyperf_benchmark(cell) for cell in cells]
    return Export(
        {
            "version": PYPERF_JSON_VERSION,
            "metadata": _suite_metadata(meta),
            "benchmarks": benchmarks,
        },
        tuple(skipped),
    )


def _pyperf_benchmark(cell: CellSamples) -> dict[str, Any]:
    candidates: dict[str, Any] = {
        "name": cell.name,
        "unit": "second",
        "loops": 1,
        "gilbench_runtime": cell.runtime,
        "gilbench_workload": cell.workload,
        "gilbench_mode": cell.mode,
        "gilbench_workers": cell.workers,
        "gilbench_gil": _gil_text(cell.gil_enabled),
        "gilbench_size": cell.size,
        "python_implementation": cell.implementation,
        "python_version": cell.python_version,
    }
    if cell.cpu_s and len(cell.cpu_s) == len(cell.values):
        candidates["gilbench_cpu_per_wall"] = round(sum(cell.cpu_s) / sum(cell.values), 4)
    metadata = _pyperf_metadata(candidates)
    run: dict[str, Any] = {"values": list(cell.values)}
    if cell.warmups:
        run["warmups"] = [[1, value] for value in cell.warmups]
    return {"metadata": metadata, "runs": [run]}


def _gil_text(gil: bool | None) -> str:
    return "n/a" if gil is None else ("enabled" if gil else "disabled")


def _suite_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """pyperf's own names where one exists (hostname, cpu_model_name, cpu_count, date)."""
    host = meta.get("host") or {}
    suite = meta.get("suite") or {}
    candidates = {
        "hostname": host.get("hostname"),
        "cpu_model_name": host.get("cpu_model"),
        "cpu_count": host.get("cores"),
        "platform": host.get("os"),
        "date": meta.get("started_at"),
        "gilbench_run_id": meta.get("run_id"),
        "gilbench_suite": suite.get("name") if isinstance(suite, Mapping) else None,
        "gilbench_backend": meta.get("backend"),
        "gilbench_status": meta.get("status"),
        "gilbench_harness_revision": meta.get("harness_revision"),
        "gilbench_cpuset": meta.get("cpuset"),
        "gilbench_machine": meta.get("machine"),
    }
    return _pyperf_metadata(candidates)


def _pyperf_metadata(candidates: Mapping[str, Any]) -> dict[str, Any]:
    """Keep what pyperf accepts: int, float, or a one-line non-empty str (None is dropped)."""
    kept: dict[str, Any] = {}
    for key, value in candidates.items():
        if isinstance(value, str):
            value = " ".join(value.split())
        if isinstance(value, int | float | str) and not isinstance(value, bool) and value != "":
            kept[key] = value
    return kept


def write_pyperf(path: Path, records: Iterable[Record], meta: Mapping[str, Any]) -> Export:
    """Write ``pyperf_suite`` to ``path`` (e.g. ``<run>/pyperf.json``)."""
    export = pyperf_suite(records, meta)
    _write_json(path, export.data)
    return export


# --- github-action-benchmark ----------------------------------------------------------------


def benchmark_action_entries(records: Iterable[Record], meta: Mapping[str, Any]) -> Export:
    """``customSmallerIsBetter`` entries: {name, unit, value, range, extra} per cell.

    ``value`` is the median steady wall time, ``range`` its interquartile range (with two or
    more values), ``extra`` the run, runtime version and sample counts.
    """
    cells, skipped = cell_samples(records)
    entries = []
    for cell in cells:
        entry: dict[str, Any] = {
            "name": cell.name,
            "unit": "s",
            "value": statistics.median(cell.values),
        }
        if len(cell.values) >= 2:
            q1, _, q3 = statistics.quantiles(cell.values, n=4, method="inclusive")
            entry["range"] = f"IQR {q1:.6g}..{q3:.6g}"
        version = " ".join(v for v in (cell.implementation, cell.python_version) if v)
        entry["extra"] = (
            f"run {meta.get('run_id', '?')}; {version or 'version unknown'}; "
            f"{len(cell.values)} values, {len(cell.warmups)} warm-ups"
        )
        entries.append(entry)
    return Export(entries, tuple(skipped))


def write_benchmark_action(
    path: Path, records: Iterable[Record], meta: Mapping[str, Any]
) -> Export:
    """Write ``benchmark_action_entries`` to ``path`` (the action's ``output-file-path``)."""
    export = benchmark_action_entries(records, meta)
    _write_json(path, export.data)
    return export


# --- history.json ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    """One night of a series: ``run_id`` and ``started_at`` (the night), ``value`` (the
    night's value, the one the flags judge), ``n`` repetitions behind it and their ``q1``/``q3``
    (null with fewer than two)."""

    run_id: str
    started_at: str
    value: float
    n: int
    q1: float | None = None
    q3: float | None = None


@dataclass(frozen=True)
class Series:
    """One tracked series of one machine, keyed like the history's series.

    ``metric``: ``serial`` (wall seconds, ``unit`` ``s``, lower is better) or a parallel mode
    (``threads``, ``processes``, ``asyncio``: speedup T_serial/T_parallel, ``unit`` ``x``,
    higher is better). ``points`` oldest night first (complete nights only).
    """

    machine: str
    runtime: str
    workload: str
    size: int
    metric: str
    workers: int
    points: tuple[SeriesPoint, ...] = field(default=())

    @property
    def unit(self) -> str:
        return "s" if self.metric == "serial" else "x"

    @property
    def better(self) -> str:
        return "lower" if self.metric == "serial" else "higher"


@dataclass(frozen=True)
class HistoryFlag:
    """A flag on a machine's judged night ``run_id`` for one series (fields as in ``Series``).

    ``verdict`` ``regression`` / ``improvement``; ``state`` ``new`` (raised on the judged
    night), ``standing`` (raised on an earlier night, still out) or ``recovered`` (back on the
    judged night); ``since`` the step's first night; ``rule`` ``one night`` / ``two nights``
    (which test raised it); ``newest`` the judged night's value, ``baseline`` the level before
    the step, ``change`` relative (+0.12 = 12 % higher), ``needed`` the change the raising test
    needed (null when not raised on this night); ``after_change`` the runtime/host change behind
    it, or null.
    """

    machine: str
    run_id: str
    runtime: str
    workload: str
    size: int
    metric: str
    workers: int
    verdict: str
    state: str
    newest: float
    since: str | None = None
    rule: str | None = None
    baseline: float | None = None
    change: float | None = None
    needed: float | None = None
    after_change: str | None = None


@dataclass(frozen=True)
class MachineState:
    """One machine: its ``newest`` night (run id) and ``newest_status``, the ``judged`` night
    (newest complete), ``current`` (the judged night is the newest and not overdue: only then
    do its flags fail ``--fail-on-regression``), ``alerts`` (missing / incomplete / failed, as
    text) and how many series were judged or lacked history."""

    machine: str
    current: bool
    judged_series: int
    unjudged_series: int
    newest: str | None = None
    newest_status: str | None = None
    judged: str | None = None
    alerts: tuple[str, ...] = ()


def series_from_dict(data: Mapping[str, Any]) -> Series:
    """A ``Series`` from a plain dict; a missing or wrongly typed field raises ValueError."""
    points = tuple(
        sorted(
            (
                _build(SeriesPoint, point, f"series point {i}")
                for i, point in enumerate(data.get("points", ()))
            ),
            key=lambda point: (point.started_at, point.run_id),
        )
    )
    return _build(Series, {**data, "points": points}, "series")


def flag_from_dict(data: Mapping[str, Any]) -> HistoryFlag:
    """A ``HistoryFlag`` from a plain dict; a missing or wrongly typed field raises ValueError."""
    return _build(HistoryFlag, data, "flag")


def machine_from_dict(data: Mapping[str, Any]) -> MachineState:
    """A ``MachineState`` from a plain dict; a missing or wrongly typed field raises ValueError."""
    alerts = data.get("alerts", ())
    if not isinstance(alerts, list | tuple) or not all(isinstance(a, str) for a in alerts):
        raise ValueError(f"machine: field 'alerts' must be a list of str, got {alerts!r}")
    return _build(MachineState, {**data, "alerts": tuple(alerts)}, "machine")


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "float": (int, float),
    "str | None": (str, type(None)),
    "int | None": (int, type(None)),
    "float | None": (int, float, type(None)),
}


def _build(cls: type, data: Mapping[str, Any], what: str) -> Any:
    fields = cls.__dataclass_fields__
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{what}: unknown field(s) {', '.join(unknown)}")
    for name, spec in fields.items():
        if name not in data:
            if spec.default is MISSING and spec.default_factory is MISSING:
                raise ValueError(f"{what}: missing field {name!r}")
            continue
        allowed = _TYPES.get(str(spec.type))
        if allowed is None:  # containers are checked by the caller
            continue
        value = data[name]
        wrong = not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)
        if wrong or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(f"{what}: field {name!r} must be {spec.type}, got {value!r}")
    return cls(**data)


def history_document(
    series: Iterable[Mapping[str, Any]],
    flags: Iterable[Mapping[str, Any]],
    machines: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The ``history.json`` document: machines, series and flags in a fixed order."""
    parsed = sorted((series_from_dict(s) for s in series), key=_series_order)
    parsed_flags = sorted((flag_from_dict(f) for f in flags), key=_series_order)
    parsed_machines = sorted((machine_from_dict(m) for m in machines), key=lambda m: m.machine)
    return {
        "format": HISTORY_JSON_FORMAT,
        "version": HISTORY_JSON_VERSION,
        "machines": [asdict(m) for m in parsed_machines],
        "series": [{**asdict(s), "unit": s.unit, "better": s.better} for s in parsed],
        "flags": [asdict(f) for f in parsed_flags],
    }


def _series_order(item: Series | HistoryFlag) -> tuple[str, str, str, int, str, int]:
    return (item.machine, item.runtime, item.workload, item.size, item.metric, item.workers)


def write_history_json(
    path: Path,
    series: Iterable[Mapping[str, Any]],
    flags: Iterable[Mapping[str, Any]],
    machines: Iterable[Mapping[str, Any]] = (),
) -> Path:
    """Validate and write ``history.json`` (e.g. ``reports/history.json``)."""
    _write_json(path, history_document(series, flags, machines))
    return path


def _write_json(path: Path, data: Any) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
