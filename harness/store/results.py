"""The raw result store: one JSON object per measurement in ``results.jsonl``, plus ``meta.json``.

Everything the reports show is derived from these two files alone.

SCHEMA_VERSION history (bump on any change of meaning; old versions are loaded or rejected
by name, never guessed):

* 1 -- first format: DESIGN.md section 3 fields, plus ``backend``, ``unsupported``,
  ``checksum``, ``pool``, ``extra``, ``stderr_tail`` and ``ts``.
* 2 -- independent replication and neighbour noise, all additive: ``invocation``,
  ``order_seed``, ``position``, ``sizing`` (fixed | calibrated), ``unit_s``,
  ``pool_roundtrip_s``, ``cpuset_busy_s``, ``steal_s``, ``others_cpu_s``. Migration: a
  schema-1 record reads as invocation 0, sizing "fixed", the other new fields null.
  Later additions to 2, optional (written only when set; absent reads as null):
  ``unit_checksums`` (each unit's checksum, so cells of different worker counts can be
  compared) and ``repeat_of`` (the rep of the disturbed measurement this one measures again).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.errors import GilbenchError
from harness.store.layout import write_text_atomic
from harness.store.meta import RunMeta

SCHEMA_VERSION = 2
SUPPORTED_SCHEMAS = frozenset({1, 2})

RESULTS_FILE = "results.jsonl"
META_FILE = "meta.json"
TAIL_SCAN_BYTES = 1 << 20  # a record line is far shorter than this
# fields added to schema 2 after its first files: left out of a line while null, so a record
# without them is written exactly as before
OPTIONAL_FIELDS = ("unit_checksums", "repeat_of")


class ResultsError(GilbenchError, ValueError):
    """A results or meta file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Record:
    """One measurement (or one failed/unsupported cell) as written to ``results.jsonl``.

    ``wall_s``/``cpu_s`` are seconds for the whole timed region of one repetition: ``workers``
    units of work run serially, in threads, in processes or as asyncio tasks. ``cpu_s`` sums the
    CPU time of every process that did the work (CPU/wall > 1 means cores really ran in parallel).
    """

    run_id: str
    runtime: str
    workload: str
    mode: str
    workers: int
    size: int
    rep: int
    warmup: bool
    ok: bool
    backend: str = "docker"
    implementation: str | None = None
    python_version: str | None = None
    gil_enabled: bool | None = None
    kind: str | None = None
    wall_s: float | None = None
    cpu_s: float | None = None
    error: str | None = None
    unsupported: bool = False
    checksum: str | None = None
    pool: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str | None = None
    ts: float | None = None
    invocation: int = 0
    order_seed: int | None = None
    position: int | None = None
    sizing: str = "fixed"
    unit_s: float | None = None
    pool_roundtrip_s: float | None = None
    cpuset_busy_s: float | None = None
    steal_s: float | None = None
    others_cpu_s: float | None = None
    unit_checksums: list[str] | None = None
    repeat_of: int | None = None
    schema: int = SCHEMA_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        for name in OPTIONAL_FIELDS:
            if data[name] is None:
                del data[name]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "record") -> Record:
        """Build a record from a decoded JSON object, rejecting unknown schema versions."""
        schema = data.get("schema")
        if schema not in SUPPORTED_SCHEMAS:
            raise ResultsError(
                f"{where}: schema {schema!r} is not supported "
                f"(this harness reads {sorted(SUPPORTED_SCHEMAS)})"
            )
        known = {f.name for f in fields(cls)}
        missing = [name for name in ("run_id", "runtime", "workload", "mode") if name not in data]
        if missing:
            raise ResultsError(f"{where}: missing field(s) {', '.join(missing)}")
        return cls(**{k: v for k, v in data.items() if k in known})


def append_record(path: Path, record: Record) -> None:
    """Append one record and flush it to disk before returning (nothing measured is lost)."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(record.to_json() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def truncate_torn_tail(path: Path) -> int:
    """Cut a torn final line (a write cut off by a crash or a full disk: no newline at the end)
    so that appending starts on a fresh line; returns how many bytes were dropped (0: none)."""
    if not path.is_file():
        return 0
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        handle.seek(max(0, size - TAIL_SCAN_BYTES))
        tail = handle.read()
        if tail.endswith(b"\n"):
            return 0
        cut = tail.rfind(b"\n")
        if cut < 0 and size > len(tail):
            raise ResultsError(f"{path}: last line longer than {TAIL_SCAN_BYTES} bytes")
        keep = size - len(tail) + cut + 1
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    return size - keep


def iter_records(path: Path) -> Iterator[Record]:
    """Yield the records of a results.jsonl file; a torn last line (crash mid-write) is skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                return  # an interrupted write; everything before it is intact
            raise ResultsError(f"{path}:{number}: not a JSON object ({exc.msg})") from None
        if not isinstance(data, dict):
            raise ResultsError(
                f"{path}:{number}: expected a JSON object, got {type(data).__name__}"
            )
        yield Record.from_dict(data, where=f"{path}:{number}")


def read_records(run_dir: Path) -> list[Record]:
    """All records of a run folder."""
    path = run_dir / RESULTS_FILE
    if not path.is_file():
        raise ResultsError(f"{path}: no such results file")
    return list(iter_records(path))


def write_meta(run_dir: Path, meta: RunMeta) -> None:
    """Write meta.json atomically (write to a temp file, then rename)."""
    text = json.dumps(meta.to_dict(), indent=2, sort_keys=True) + "\n"
    write_text_atomic(run_dir / META_FILE, text)


def read_meta(run_dir: Path) -> RunMeta:
    """Read meta.json, rejecting unknown schema versions by name."""
    path = run_dir / META_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such meta file") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(meta, dict):
        raise ResultsError(f"{path}: expected a JSON object, got {type(meta).__name__}")
    if meta.get("schema") not in SUPPORTED_SCHEMAS:
        raise ResultsError(
            f"{path}: schema {meta.get('schema')!r} is not supported "
            f"(this harness reads {sorted(SUPPORTED_SCHEMAS)})"
        )
    return RunMeta.from_dict(meta)
