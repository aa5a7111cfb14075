"""``meta.json``, typed: what the run driver writes about a run and every reader reads.

Field names and JSON layout are the contract of docs/formats.md; :meth:`RunMeta.to_dict`
writes exactly that layout, :meth:`RunMeta.from_dict` reads it (older files lack some keys:
they read as ``None``). Keys this version does not know are kept and written back unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

RUNNING = "running"
COMPLETE = "complete"
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class HostFacts:
    """The machine the workloads ran on (as the engine sees it for Docker)."""

    hostname: str | None = None
    cpu_model: str | None = None
    cores: int | None = None
    kernel: str | None = None
    os: str | None = None
    memory_gib: float | None = None
    topology: dict[str, Any] | None = None


@dataclass(frozen=True)
class EngineFacts:
    """The Docker engine (absent for the local backend)."""

    engine_version: str | None = None
    api_version: str | None = None
    os: str | None = None
    arch: str | None = None


@dataclass(frozen=True)
class RuntimeMeta:
    """One runtime of the run: registry facts, its image and what the probe found."""

    family: str | None = None
    description: str | None = None
    expected_gil: bool | None = None
    gil_twin: str | None = None
    image: str | None = None
    image_id: str | None = None
    recipe_hash: str | None = None
    available: bool = True
    state: str | None = None
    reason: str | None = None
    probe: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunMeta:
    """Everything about a run that is not a measurement."""

    schema: int
    run_id: str
    status: str = RUNNING
    suite: dict[str, Any] = field(default_factory=dict)
    backend: str | None = None
    machine: str | None = None  # GILBENCH_MACHINE: the name the nightly history files it under
    containerised: bool | None = None
    command: str | None = None
    baseline: str | None = None
    host: HostFacts = field(default_factory=HostFacts)
    docker: EngineFacts | None = None
    harness_revision: str | None = None
    cpuset: str | None = None
    cpus: int | None = None
    memory_limit: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    wall_total_s: float | None = None
    workload_wall_s: float | None = None
    attempts: int = 0
    runtimes: dict[str, RuntimeMeta] = field(default_factory=dict)
    unknown: dict[str, Any] = field(default_factory=dict)

    @property
    def suite_name(self) -> str | None:
        """The suite's name (``suite.name``)."""
        name = self.suite.get("name") if isinstance(self.suite, dict) else self.suite
        return str(name) if name is not None else None

    @property
    def cpu_count(self) -> int | None:
        """CPUs the containers could use: the cpuset's size, else the host's cores."""
        return self.cpus or self.host.cores

    def updated(self, **changes: Any) -> RunMeta:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of meta.json."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "unknown"}
        out["host"] = _drop_none(asdict(self.host), keep=_HOST_KEYS)
        docker = self.docker
        out["docker"] = _drop_none(asdict(docker), keep=frozenset()) if docker else None
        out["runtimes"] = {rid: asdict(rt) for rid, rt in self.runtimes.items()}
        for late in ("workload_wall_s", "machine"):  # keys added later: written only when set
            if out[late] is None:
                del out[late]
        out.update(self.unknown)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunMeta:
        """Read the JSON layout (missing keys are ``None``; unknown keys are kept)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and k != "unknown"}
        values["host"] = _build(HostFacts, data.get("host"))
        values["docker"] = _build(EngineFacts, data.get("docker")) if data.get("docker") else None
        values["runtimes"] = {
            rid: _build(RuntimeMeta, entry)
            for rid, entry in (data.get("runtimes") or {}).items()
            if isinstance(entry, dict)
        }
        values["suite"] = data.get("suite") or {}
        values.setdefault("run_id", "")
        values["unknown"] = {k: v for k, v in data.items() if k not in known}
        return cls(**values)


_HOST_KEYS = frozenset({"hostname", "cpu_model", "cores", "kernel", "os", "memory_gib"})


def _drop_none(values: dict[str, Any], keep: frozenset[str]) -> dict[str, Any]:
    """Keys outside ``keep`` are written only when set (older files never had them)."""
    return {k: v for k, v in values.items() if k in keep or v is not None}


def _build(cls: Any, data: Any) -> Any:
    if not isinstance(data, dict):
        return cls()
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
