"""Integration tier: a real Docker engine, real images, real containers.

The images are built once per session (a no-change rebuild costs seconds: recipes are hashed).
GILBENCH_IT_RUNTIMES narrows which runtimes are built and exercised (default: every runtime in
docker-compose.yml that can be built here). Every container a test starts carries the
`gilbench.pid` label of this process; the session ends by checking none is left.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.errors import BackendUnavailable
from harness.measure.runtimes import load_registry, select

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):
    """Mark every test here `integration`; skip them unless asked for (`-m integration` or
    GILBENCH_INTEGRATION=1), so a bare `pytest` at the root needs no Docker."""
    asked = "integration" in (config.getoption("markexpr") or "") or (
        os.environ.get("GILBENCH_INTEGRATION") == "1"
    )
    skip = pytest.mark.skip(reason="integration: run with -m integration or GILBENCH_INTEGRATION=1")
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            if not asked:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def backend():
    from harness.measure.backends.docker import DockerBackend

    try:
        engine = DockerBackend()
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    yield engine
    # only this session's containers (others' runs and builds may be going on meanwhile)
    left = engine.containers(f"gilbench.pid={os.getpid()}")
    assert left == [], f"containers left behind: {left}"


@pytest.fixture(scope="session")
def registry():
    return load_registry(ROOT)


@pytest.fixture(scope="session")
def built(backend, registry):
    """ImageStatus per runtime under test, after building what is missing."""
    from harness.measure.images import ensure_images

    wanted = os.environ.get("GILBENCH_IT_RUNTIMES", "").replace(",", " ").split()
    runtimes = select(registry, wanted, "GILBENCH_IT_RUNTIMES")
    return ensure_images(backend, ROOT, runtimes, log=print, on_build_line=lambda line: None)


@pytest.fixture(scope="session")
def available(built, registry):
    runtimes = [registry[rid] for rid, status in built.items() if status.available]
    assert runtimes, "no runtime image could be built"
    return runtimes
