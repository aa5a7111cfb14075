"""`python -m harness runtimes`: each runtime with its image status, probe and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness.errors import BackendUnavailable
from harness.measure.dropins import required_file_problem
from harness.measure.images import ImageStatus, image_status
from harness.measure.runtimes import Runtime, load_registry


def _gil_text(value: Any) -> str:
    return "n/a (no GIL)" if value is None else ("on" if value else "off")


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


def render_rows(rows: list[dict[str, Any]]) -> str:
    """A plain-text table; unavailable runtimes carry their reason on the same row."""
    table = [
        [
            row["id"],
            row["family"],
            row["version"] or "-",
            _gil_text(row["expected_gil"]),
            _gil_text(row["probed_gil"]) if row["probed"] else "not probed",
            row["status"],
            row["reason"] or "",
        ]
        for row in rows
    ]
    headers = ["runtime", "family", "version", "GIL expected", "GIL probed", "image", "why"]
    return tabulate(table, headers=headers, tablefmt="simple")
