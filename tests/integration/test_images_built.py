"""Images: the registry-free base, builds, the probe check, caching, failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.measure.base_image import LOCAL_BASE, PULL_BASE, existing_base
from harness.measure.images import RECIPE_LABEL, ensure_images
from harness.measure.runtimes import load_registry

ROOT = Path(__file__).resolve().parents[2]


def test_a_base_image_exists_after_the_build(backend, built):
    ref, image_id = existing_base(backend)
    assert ref in (PULL_BASE, LOCAL_BASE)
    assert image_id.startswith("sha256:")


def test_every_buildable_runtime_is_built_and_probed(built, registry):
    for runtime_id, status in built.items():
        runtime = registry[runtime_id]
        if status.state == "unavailable":  # only where a file cannot be had here; it says which
            if runtime.same_image_as:
                assert f"it runs the image of {runtime.same_image_as}" in status.reason
            elif runtime.source:
                assert runtime.source.dropin in status.reason  # what to drop in, where
            else:
                assert runtime.requires_file and runtime.requires_file.path in status.reason
            continue
        assert status.state == "built", f"{runtime_id}: {status.reason}"
        probe = status.probe
        assert probe["gil_enabled"] == runtime.expected_gil
        assert probe["features"]["threading"] is True
        assert probe["cpu_count"] >= 1


def test_the_free_threaded_twin_really_has_no_gil(built):
    if "cpython-3.13t" not in built or not built["cpython-3.13t"].available:
        pytest.skip("cpython-3.13t not under test")
    probe = built["cpython-3.13t"].probe
    assert probe["gil_enabled"] is False
    assert probe["python_version"] == built["cpython-3.13"].probe["python_version"]


def test_a_second_build_with_nothing_changed_builds_nothing(backend, available):
    again = ensure_images(backend, ROOT, available, log=lambda _m: None)
    assert {s.action for s in again.values()} == {"up to date"}
    for status in again.values():
        assert backend.image(status.image)[1][RECIPE_LABEL] == status.recipe_hash


def test_a_failing_dockerfile_is_a_failed_runtime_with_the_last_build_lines(backend, tmp_path, built):
    shutil.copytree(ROOT / "workloads", tmp_path / "workloads")
    (tmp_path / "runtimes" / "pypy").mkdir(parents=True)
    (tmp_path / "runtimes" / "pypy" / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nRUN echo broken-recipe-marker && exit 3\n"
    )
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n"
        "  broken-1:\n"
        "    image: gilbench-test/broken:latest\n"
        "    build: {context: ., dockerfile: runtimes/pypy/Dockerfile}\n"
        "    x-gilbench: {family: pypy, expected_gil: true}\n"
    )
    runtime = load_registry(tmp_path)["broken-1"]
    statuses = ensure_images(backend, tmp_path, [runtime], log=lambda _m: None)
    status = statuses["broken-1"]
    assert status.state == "failed"
    assert "build failed" in status.reason
    assert "broken-recipe-marker" in status.reason  # the last lines of the build log
    assert backend.image("gilbench-test/broken:latest") is None


def test_a_probe_that_disagrees_with_the_registry_fails_loudly(backend, available, tmp_path):
    """Claim the GIL is off for an image whose probe says otherwise."""
    from dataclasses import replace

    from harness.errors import ImageBuildError
    from harness.measure.probes import run_probe

    gil_runtime = next((r for r in available if r.expected_gil is True), None)
    if gil_runtime is None:
        pytest.skip("no runtime with a GIL under test")
    liar = replace(gil_runtime, expected_gil=False)
    with pytest.raises(ImageBuildError, match=r"probe reports gil_enabled=true but docker-compose.yml expects expected_gil: false"):
        run_probe(backend, liar)
