"""What ``workloads/probe.py`` reports inside an image, checked against the registry, and
cached per image id (derived state: deleting the cache only costs a re-probe)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import ImageBuildError
from harness.measure.backends.base import ExecRequest, Executor, ImageEngine
from harness.measure.runtimes import Runtime
from harness.store.layout import write_text_atomic

STATE_DIR = ".gilbench"
PROBE_CACHE = "probes.json"
PROBE_TIMEOUT_S = 180


def _probe_cache_path(root: Path) -> Path:
    return root / STATE_DIR / PROBE_CACHE


def probe_key(image_id: str, runtime: Runtime) -> str:
    """The probe cache key: the image, and the environment it runs with (PYTHON_GIL=1 ...)."""
    env = ",".join(f"{k}={v}" for k, v in sorted(runtime.environment.items()))
    return f"{image_id}|{env}" if env else image_id


def cached_probe(root: Path, image_id: str) -> dict[str, Any] | None:
    """The probe stored for an image id (derived state: deleting it only costs a re-probe)."""
    path = _probe_cache_path(root)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8")).get(image_id)
    except json.JSONDecodeError:
        return None


def store_probe(root: Path, image_id: str, probe: dict[str, Any]) -> None:
    path = _probe_cache_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    cache = {}
    if path.is_file():
        try:
            cache = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            cache = {}
    cache[image_id] = probe
    write_text_atomic(path, json.dumps(cache, indent=2, sort_keys=True) + "\n")


def run_probe(backend: ImageEngine, runtime: Runtime) -> dict[str, Any]:
    """Run workloads/probe.py inside the image and check it against the registry."""
    probe = probe_output(backend, runtime)
    check_probe(runtime, probe)
    return probe


def probe_output(
    backend: Executor, runtime: Runtime, timeout_s: float = PROBE_TIMEOUT_S
) -> dict[str, Any]:
    """What workloads/probe.py reports under `runtime` (any backend); ImageBuildError if it
    fails or prints no JSON."""
    lines: list[str] = []
    outcome = backend.execute(
        ExecRequest(
            runtime_id=runtime.id,
            image=runtime.image,
            argv=("probe.py",),
            idle_timeout_s=timeout_s,
            total_timeout_s=timeout_s,
            labels={"gilbench.purpose": "probe"},
            environment=dict(runtime.environment),
        ),
        lines.append,
    )
    if not outcome.ok or not lines:
        why = outcome.timed_out or f"exit code {outcome.exit_code}"
        raise ImageBuildError(f"{runtime.id}: the probe failed ({why}):\n{outcome.stderr_tail}")
    try:
        probe = json.loads(lines[-1])
    except json.JSONDecodeError:
        raise ImageBuildError(
            f"{runtime.id}: the probe printed no JSON: {lines[-1][:200]!r}"
        ) from None
    return probe


def check_probe(runtime: Runtime, probe: dict[str, Any]) -> None:
    """Fail loudly when the probed GIL state disagrees with docker-compose.yml."""
    probed = probe.get("gil_enabled")
    if probed != runtime.expected_gil:
        raise ImageBuildError(
            f"{runtime.id}: the probe reports gil_enabled={json.dumps(probed)} but "
            f"docker-compose.yml expects expected_gil: {json.dumps(runtime.expected_gil)}"
        )


def describe_probe(probe: dict[str, Any] | None) -> str:
    """`pypy 3.11.11, GIL on` style one-liner."""
    if not probe:
        return "not probed"
    gil = probe.get("gil_enabled")
    gil_text = "no GIL notion" if gil is None else ("GIL on" if gil else "GIL off")
    return f"{probe.get('implementation')} {probe.get('python_version')}, {gil_text}"
