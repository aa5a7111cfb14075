"""Where every registered runtime stands (registry, image, probe), as plain rows for
``python -m harness runtimes``; works, saying so, when Docker is not reachable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import BackendUnavailable
from harness.measure.dropins import required_file_problem
from harness.measure.images import ImageStatus, image_status
from harness.measure.runtimes import Runtime, load_registry


def runtime_rows(root: Path) -> list[dict[str, Any]]:
    """One row per registered runtime; works (saying so) when Docker is not reachable."""
    registry = load_registry(root)
    try:
        from harness.measure.backends.docker import DockerBackend

        backend: DockerBackend | None = DockerBackend()
        docker_problem = None
    except BackendUnavailable as exc:
        backend, docker_problem = None, str(exc)
    rows = []
    for runtime in registry.values():
        if backend is not None:
            status = image_status(backend, root, runtime)
        else:
            problem = required_file_problem(root, runtime) or docker_problem
            status = ImageStatus(runtime.id, runtime.image, "unavailable", reason=problem)
        rows.append(_row(runtime, status))
    return rows


def _row(runtime: Runtime, status: ImageStatus) -> dict[str, Any]:
    probe = status.probe or {}
    return {
        "id": runtime.id,
        "family": runtime.family,
        "implementation": probe.get("implementation"),
        "version": probe.get("python_version"),
        "expected_gil": runtime.expected_gil,
        "probed_gil": probe.get("gil_enabled") if probe else None,
        "probed": bool(probe),
        "features": probe.get("features"),
        "image": runtime.image,
        "image_id": status.image_id,
        "status": status.state,
        "reason": status.reason,
        "description": runtime.description,
    }
