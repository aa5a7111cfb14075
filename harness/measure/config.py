"""Suites: workloads/suites/<name>.yaml into frozen dataclasses, validated with one-line errors."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.measure.runtimes import Runtime
from harness.vocabulary import MODES

WORKLOADS_DIR = "workloads"
SUITES_DIR = "workloads/suites"
WORKLOAD_PREFIX = "wl_"
DEFAULT_TIMEOUT_S = 600
DEFAULT_MEMORY = "2g"
_MEMORY = re.compile(r"^[1-9][0-9]*[kmg]$")
MIN_MEMORY = "64m"
_UNITS = {"k": 2**10, "m": 2**20, "g": 2**30}
# a measurement disturbed by other processes is measured again at most this often per cell
# (each repetition costs one measurement's time; the disturbed one is kept and left out)
DEFAULT_REPEAT_DISTURBED = 2


@dataclass(frozen=True)
class WorkloadInfo:
    """What a workload file declares about itself (read statically, without importing it)."""

    name: str
    kind: str
    default_size: int
    modes: tuple[str, ...]
    problem: str | None = None  # why the file cannot be used (syntax error, bad constant)


@dataclass(frozen=True)
class WorkloadPlan:
    """One workload as a suite runs it."""

    name: str
    kind: str
    size: int
    modes: tuple[str, ...]
    workers: tuple[int, ...]
    reps: int
    warmups: int | None = None


@dataclass(frozen=True)
class Suite:
    """A suite: which workloads run, how big, how often, with which limits."""

    name: str
    description: str
    workloads: tuple[WorkloadPlan, ...]
    reps: int
    warmups: int | None
    warmups_by_family: Mapping[str, int] = field(default_factory=dict)
    warmup_seconds_by_family: Mapping[str, float] = field(default_factory=dict)
    timeout_s: int = DEFAULT_TIMEOUT_S
    memory: str = DEFAULT_MEMORY
    runtimes: tuple[str, ...] = ()
    invocations: int = 1
    interleave: bool = False
    scaling_min_unit_s: float = 0.0
    repeat_disturbed: int = DEFAULT_REPEAT_DISTURBED

    def warmups_for(self, runtime: Runtime, plan: WorkloadPlan) -> int:
        """Warm-up reps for one cell: workload override, then per family, suite, runtime."""
        if plan.warmups is not None:
            return plan.warmups
        if runtime.family in self.warmups_by_family:
            return self.warmups_by_family[runtime.family]
        return self.warmups if self.warmups is not None else runtime.warmups

    def as_dict(self) -> dict[str, Any]:
        """The suite exactly as run, for meta.json."""
        return {
            "name": self.name,
            "description": self.description,
            "reps": self.reps,
            "warmups": self.warmups,
            "warmups_by_family": dict(sorted(self.warmups_by_family.items())),
            "warmup_seconds_by_family": dict(sorted(self.warmup_seconds_by_family.items())),
            "timeout_s": self.timeout_s,
            "memory": self.memory,
            "runtimes": list(self.runtimes),
            "invocations": self.invocations,
            "interleave": self.interleave,
            "scaling_min_unit_s": self.scaling_min_unit_s,
            "repeat_disturbed": self.repeat_disturbed,
            "workloads": [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "size": p.size,
                    "modes": list(p.modes),
                    "workers": list(p.workers),
                    "reps": p.reps,
                    "warmups": p.warmups,
                }
                for p in self.workloads
            ],
        }


def memory_bytes(memory: str) -> int:
    """Bytes of a Docker memory size such as ``512m``."""
    return int(memory[:-1]) * _UNITS[memory[-1]]


MIN_MEMORY_BYTES = memory_bytes(MIN_MEMORY)


def discover_workloads(root: Path) -> dict[str, WorkloadInfo]:
    """Every `workloads/wl_<name>.py`, with its KIND, DEFAULT_SIZE and MODES constants."""
    found = {}
    for path in sorted((root / WORKLOADS_DIR).glob(f"{WORKLOAD_PREFIX}*.py")):
        name = path.stem[len(WORKLOAD_PREFIX) :]
        try:
            found[name] = _workload_info(name, path)
        except (SyntaxError, ValueError, TypeError) as exc:
            # a broken file breaks only the suites that use it (see _plan), named there
            problem = f"{path}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            found[name] = WorkloadInfo(name, name, 1, MODES, problem=problem)
    return found


def _workload_info(name: str, path: Path) -> WorkloadInfo:
    constants = _module_constants(path)
    size = constants.get("DEFAULT_SIZE", 1)
    if not isinstance(size, int) or isinstance(size, bool):
        raise ValueError(f"DEFAULT_SIZE: expected an integer, got {size!r}")
    return WorkloadInfo(
        name=name,
        kind=str(constants.get("KIND", name)),
        default_size=size,
        modes=tuple(constants.get("MODES", MODES)),
    )


def _module_constants(path: Path) -> dict[str, Any]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    constants: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id.isupper():
                try:
                    constants[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return constants


def _positive_int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}: expected a positive integer, got {value!r}")
    return value


def _non_negative_int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where}: expected a non-negative integer, got {value!r}")
    return value


def _workers(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list of positive integers")
    return tuple(sorted({_positive_int(v, f"{where}[{i}]") for i, v in enumerate(value)}))


def _plan(
    name: str, raw: Any, where: str, catalogue: Mapping[str, WorkloadInfo], defaults: dict
) -> WorkloadPlan:
    if name not in catalogue:
        raise ConfigError(
            f"{where}: unknown workload {name!r} (known: {', '.join(sorted(catalogue))})"
        )
    info = catalogue[name]
    if info.problem:
        raise ConfigError(f"{where}: workload {name!r} cannot be loaded ({info.problem})")
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping (size, modes, workers, reps, warmups)")
    unknown = sorted(set(raw) - {"size", "modes", "workers", "reps", "warmups"})
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    if "size" not in raw:
        raise ConfigError(
            f"{where}.size: missing (a positive integer; default {info.default_size})"
        )
    modes = raw.get("modes", list(info.modes))
    if not isinstance(modes, list) or not modes:
        raise ConfigError(f"{where}.modes: expected a non-empty list of {', '.join(MODES)}")
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(f"{where}.modes: unknown mode {mode!r} (expected {', '.join(MODES)})")
        if mode not in info.modes:
            raise ConfigError(
                f"{where}.modes: {mode!r} is not a mode of workload {name!r} "
                f"(it has {', '.join(info.modes)})"
            )
    warmups = raw.get("warmups")
    return WorkloadPlan(
        name=name,
        kind=info.kind,
        size=_positive_int(raw["size"], f"{where}.size"),
        modes=tuple(m for m in MODES if m in modes),
        workers=_workers(raw["workers"], f"{where}.workers")
        if "workers" in raw
        else defaults["workers"],
        reps=_positive_int(raw.get("reps", defaults["reps"]), f"{where}.reps"),
        warmups=None if warmups is None else _non_negative_int(warmups, f"{where}.warmups"),
    )


def load_suite(root: Path, name: str) -> Suite:
    """Load `workloads/suites/<name>.yaml` (or a path to a YAML file) and validate it."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else root / SUITES_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / SUITES_DIR).glob("*.yaml"))
        raise ConfigError(f"{path}: suite not found (known suites: {', '.join(known)})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: malformed YAML{where}: {reason}") from None
    return parse_suite(data, path.stem, str(path), discover_workloads(root))


def parse_suite(data: Any, name: str, source: str, catalogue: Mapping[str, WorkloadInfo]) -> Suite:
    """Validate decoded suite YAML; every error names `source` and the field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    known = {
        "description",
        "timeout_s",
        "memory",
        "reps",
        "warmups",
        "warmups_by_family",
        "warmup_seconds_by_family",
        "workers",
        "runtimes",
        "workloads",
        "invocations",
        "interleave",
        "scaling_min_unit_s",
        "repeat_disturbed",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown field(s) {', '.join(unknown)}")
    reps = _positive_int(data.get("reps", 5), f"{source}: reps")
    warmups = data.get("warmups")
    if warmups is not None:
        _non_negative_int(warmups, f"{source}: warmups")
    by_family = data.get("warmups_by_family", {}) or {}
    if not isinstance(by_family, dict):
        raise ConfigError(f"{source}: warmups_by_family: expected a mapping family -> integer")
    by_family = {
        str(k): _non_negative_int(v, f"{source}: warmups_by_family.{k}")
        for k, v in by_family.items()
    }
    seconds = data.get("warmup_seconds_by_family", {}) or {}
    if not isinstance(seconds, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in seconds.values()
    ):
        raise ConfigError(
            f"{source}: warmup_seconds_by_family: expected a mapping family -> seconds (>= 0)"
        )
    workers = _workers(data.get("workers", [1, 2, 4]), f"{source}: workers")
    interleave = data.get("interleave", False)
    if not isinstance(interleave, bool):
        raise ConfigError(f"{source}: interleave: expected true or false, got {interleave!r}")
    min_unit = data.get("scaling_min_unit_s", 0.0)
    if not isinstance(min_unit, int | float) or isinstance(min_unit, bool) or min_unit < 0:
        raise ConfigError(
            f"{source}: scaling_min_unit_s: expected seconds >= 0 (0: no calibration), "
            f"got {min_unit!r}"
        )
    repeat = data.get("repeat_disturbed", DEFAULT_REPEAT_DISTURBED)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 0:
        raise ConfigError(
            f"{source}: repeat_disturbed: expected extra measurements per cell >= 0 "
            f"(0: never repeat), got {repeat!r}"
        )
    memory = str(data.get("memory", DEFAULT_MEMORY)).lower()
    if not _MEMORY.match(memory):
        raise ConfigError(f"{source}: memory: expected e.g. 512m or 2g, got {memory!r}")
    if memory_bytes(memory) < MIN_MEMORY_BYTES:
        raise ConfigError(
            f"{source}: memory: {memory} is below the minimum {MIN_MEMORY} "
            "(no runtime starts in less)"
        )
    runtimes = data.get("runtimes", []) or []
    if not isinstance(runtimes, list) or not all(isinstance(r, str) for r in runtimes):
        raise ConfigError(f"{source}: runtimes: expected a list of runtime ids")
    workloads = data.get("workloads")
    if not isinstance(workloads, dict) or not workloads:
        raise ConfigError(f"{source}: workloads: expected a mapping of workload name -> settings")
    defaults = {"reps": reps, "workers": workers}
    plans = tuple(
        _plan(str(wl), raw, f"{source}: workloads.{wl}", catalogue, defaults)
        for wl, raw in workloads.items()
    )
    return Suite(
        name=name,
        description=str(data.get("description", "")),
        workloads=plans,
        reps=reps,
        warmups=warmups,
        warmups_by_family=by_family,
        warmup_seconds_by_family={str(k): float(v) for k, v in seconds.items()},
        timeout_s=_positive_int(data.get("timeout_s", DEFAULT_TIMEOUT_S), f"{source}: timeout_s"),
        memory=memory,
        invocations=_positive_int(data.get("invocations", 1), f"{source}: invocations"),
        interleave=interleave,
        scaling_min_unit_s=float(min_unit),
        repeat_disturbed=repeat,
        runtimes=tuple(runtimes),
    )


def suite_from_meta(data: dict[str, Any], source: str) -> Suite:
    """The suite exactly as an earlier attempt ran it (for --resume)."""
    try:
        plans = tuple(
            WorkloadPlan(
                name=w["name"],
                kind=w["kind"],
                size=int(w["size"]),
                modes=tuple(w["modes"]),
                workers=tuple(w["workers"]),
                reps=int(w["reps"]),
                warmups=w.get("warmups"),
            )
            for w in data["workloads"]
        )
        return Suite(
            name=data["name"],
            description=data.get("description", ""),
            workloads=plans,
            reps=int(data["reps"]),
            warmups=data.get("warmups"),
            warmups_by_family=dict(data.get("warmups_by_family", {})),
            warmup_seconds_by_family=dict(data.get("warmup_seconds_by_family", {})),
            timeout_s=int(data["timeout_s"]),
            memory=data["memory"],
            runtimes=tuple(data.get("runtimes", [])),
            invocations=int(data.get("invocations", 1)),
            interleave=bool(data.get("interleave", False)),
            scaling_min_unit_s=float(data.get("scaling_min_unit_s", 0.0)),
            # runs from before repeats existed never repeated: resume them the same way
            repeat_disturbed=int(data.get("repeat_disturbed", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: suite: cannot be read back ({exc!r})") from None
