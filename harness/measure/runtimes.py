"""The runtime registry: docker-compose.yml services with their `x-gilbench` blocks."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.measure.sources import SourceSpec, parse_spec

COMPOSE_FILE = "docker-compose.yml"
KNOWN_FAMILIES = ("cpython", "cpython-debian", "pypy", "jython", "ironpython", "cython")
RUNTIME_ID = re.compile(r"^[a-z][a-z0-9.-]*$")
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


@dataclass(frozen=True)
class RequiredFile:
    """A build-context file that may have to be downloaded or dropped in by hand."""

    path: str
    url: str | None
    sha256: str | None
    must_contain: tuple[str, ...]


@dataclass(frozen=True)
class Runtime:
    """One runtime: a compose service plus the harness's metadata about it."""

    id: str
    family: str
    image: str
    dockerfile: str
    context: str
    build_args: Mapping[str, str]
    expected_gil: bool | None
    warmups: int
    description: str
    requires_file: RequiredFile | None = None
    gil_twin: str | None = None  # `cpython-3.13t` -> `cpython-3.13`, by naming convention
    source: SourceSpec | None = None  # a CPython source tarball staged before the build
    same_image_as: str | None = None  # run another runtime's image (with `environment`)
    environment: Mapping[str, str] = field(default_factory=dict)  # set in its containers

    @property
    def builds_image(self) -> bool:
        """False for a runtime that runs another runtime's image."""
        return self.same_image_as is None


def interpolate(value: str, environ: Mapping[str, str]) -> str:
    """Resolve compose-style `${NAME}` / `${NAME:-default}` the way compose does."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        found = environ.get(name)
        if found:
            return found
        return default if default is not None else ""

    return _INTERPOLATION.sub(replace, value)


def _require(mapping: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in mapping:
        raise ConfigError(f"{where}: missing field '{key}'")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def _required_file(raw: Any, where: str) -> RequiredFile | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with path, url, sha256, must_contain")
    path = _require(raw, "path", str, where)
    sha = raw.get("sha256")
    if sha is not None and not re.fullmatch(r"[0-9a-f]{64}", str(sha)):
        raise ConfigError(f"{where}.sha256: expected 64 lowercase hex digits or null, got {sha!r}")
    members = raw.get("must_contain", [])
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise ConfigError(f"{where}.must_contain: expected a list of zip member names")
    return RequiredFile(path=path, url=raw.get("url"), sha256=sha, must_contain=tuple(members))


def _parse_service(
    name: str, service: Any, source: str, environ: Mapping[str, str], root: Path
) -> Runtime:
    where = f"{source}: services.{name}"
    if not RUNTIME_ID.match(name):
        raise ConfigError(f"{where}: runtime id must match {RUNTIME_ID.pattern}")
    if not isinstance(service, dict):
        raise ConfigError(f"{where}: expected a mapping")
    meta = service.get("x-gilbench")
    if not isinstance(meta, dict):
        raise ConfigError(
            f"{where}: missing 'x-gilbench' block (family, expected_gil, warmups, description)"
        )
    meta_where = f"{where}.x-gilbench"
    family = _require(meta, "family", str, meta_where)
    if family not in KNOWN_FAMILIES:
        raise ConfigError(
            f"{meta_where}.family: unknown family {family!r} (known: {', '.join(KNOWN_FAMILIES)})"
        )
    if "expected_gil" not in meta or meta["expected_gil"] not in (True, False, None):
        raise ConfigError(f"{meta_where}.expected_gil: expected true, false or null")
    warmups = meta.get("warmups", 1)
    if not isinstance(warmups, int) or isinstance(warmups, bool) or warmups < 0:
        raise ConfigError(f"{meta_where}.warmups: expected a non-negative integer, got {warmups!r}")
    build = service.get("build")
    if not isinstance(build, dict):
        raise ConfigError(f"{where}.build: expected a mapping with context and dockerfile")
    context = interpolate(str(build.get("context", ".")), environ)
    dockerfile = _require(build, "dockerfile", str, f"{where}.build")
    expected_dockerfile = f"runtimes/{family}/Dockerfile"
    if dockerfile != expected_dockerfile:
        raise ConfigError(
            f"{where}.build.dockerfile: family {family!r} is built by {expected_dockerfile}, "
            f"got {dockerfile!r}"
        )
    if not (root / context / dockerfile).is_file():
        raise ConfigError(f"{where}.build.dockerfile: {root / context / dockerfile} not found")
    args = build.get("args", {}) or {}
    if not isinstance(args, dict):
        raise ConfigError(f"{where}.build.args: expected a mapping")
    image = service.get("image", f"gilbench/{name}:latest")
    return Runtime(
        id=name,
        family=family,
        image=interpolate(str(image), environ),
        dockerfile=dockerfile,
        context=context,
        build_args={str(k): interpolate(str(v), environ) for k, v in sorted(args.items())},
        expected_gil=meta["expected_gil"],
        warmups=warmups,
        description=str(meta.get("description", "")),
        requires_file=_required_file(meta.get("requires_file"), f"{meta_where}.requires_file"),
        source=parse_spec(meta["source"], f"{meta_where}.source") if "source" in meta else None,
        same_image_as=_optional_str(meta, "same_image_as", meta_where),
        environment=_environment(service.get("environment"), f"{where}.environment", environ),
    )


def _optional_str(mapping: Mapping[str, Any], key: str, where: str) -> str | None:
    value = mapping.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}.{key}: expected a runtime id, got {value!r}")
    return value


def _environment(raw: Any, where: str, environ: Mapping[str, str]) -> dict[str, str]:
    """Compose's ``environment`` as a mapping (the list form ``NAME=value`` too)."""
    if raw is None:
        return {}
    if isinstance(raw, list) and all(isinstance(item, str) and "=" in item for item in raw):
        raw = dict(item.split("=", 1) for item in raw)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping NAME: value (or a list of NAME=value)")
    return {str(k): interpolate(str(v), environ) for k, v in sorted(raw.items())}


def load_registry(
    root: Path, environ: Mapping[str, str] | None = None, compose_file: str = COMPOSE_FILE
) -> dict[str, Runtime]:
    """Read the compose file under `root` into runtimes keyed by id (compose order kept)."""
    env = os.environ if environ is None else environ
    path = root / compose_file
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: runtime registry not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({_yaml_reason(exc)})") from None
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict) or not services:
        raise ConfigError(f"{path}: expected a 'services' mapping with one service per runtime")
    runtimes = {
        name: _parse_service(name, service, str(path), env, root)
        for name, service in services.items()
    }
    for runtime in runtimes.values():
        other = runtime.same_image_as
        if other is not None and (other not in runtimes or runtimes[other].same_image_as):
            raise ConfigError(
                f"{path}: services.{runtime.id}.x-gilbench.same_image_as: expected the id of a "
                f"runtime that builds its own image, got {other!r}"
            )
    return {rid: _with_twin(rt, runtimes) for rid, rt in runtimes.items()}


def _with_twin(runtime: Runtime, runtimes: Mapping[str, Runtime]) -> Runtime:
    stem = runtime.id[:-1] if runtime.id.endswith("t") else None
    if stem and stem in runtimes and runtime.expected_gil is False:
        return replace(runtime, gil_twin=stem)
    return runtime


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} at line {mark.line + 1}" if mark else str(problem)


def select(registry: Mapping[str, Runtime], wanted: list[str] | None, source: str) -> list[Runtime]:
    """The runtimes named in `wanted` (all when empty), in registry order; unknown ids fail."""
    if not wanted:
        return list(registry.values())
    unknown = [rid for rid in wanted if rid not in registry]
    if unknown:
        raise ConfigError(
            f"{source}: unknown runtime id(s) {', '.join(unknown)} (known: {', '.join(registry)})"
        )
    return [registry[rid] for rid in registry if rid in wanted]
