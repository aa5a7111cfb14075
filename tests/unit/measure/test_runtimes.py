"""The runtime registry (docker-compose.yml) and its validation errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.errors import ConfigError
from harness.measure.runtimes import interpolate, load_registry, select

ROOT = Path(__file__).resolve().parents[3]


def test_the_real_registry_has_every_runtime_with_a_dockerfile():
    registry = load_registry(ROOT, environ={})
    assert list(registry) == [
        "cpython-3.13", "cpython-3.13t", "cpython-3.14", "cpython-3.14t", "cpython-3.14t-gil",
        "cpython-3.15", "cpython-3.15t", "pypy-3.11", "pypy-8.0", "python-3.14-debian",
        "python-3.15-debian", "jython-2.7", "ironpython-3.4", "cython-3.13",
    ]
    for runtime in registry.values():
        assert (ROOT / runtime.dockerfile).is_file()
        assert runtime.build_args["BASE"] == "debian:trixie-slim"
    assert registry["cpython-3.13t"].expected_gil is False
    assert registry["cpython-3.13t"].gil_twin == "cpython-3.13"
    assert registry["cpython-3.13"].gil_twin is None
    assert registry["jython-2.7"].expected_gil is None
    # the GIL switched back on in the free-threaded build: its image, its own environment
    gil_on = registry["cpython-3.14t-gil"]
    assert (gil_on.same_image_as, gil_on.image) == ("cpython-3.14t", registry["cpython-3.14t"].image)
    assert dict(gil_on.environment) == {"PYTHON_GIL": "1"} and gil_on.expected_gil is True
    # twins share one source spec: the same tarball for both builds
    assert registry["cpython-3.14"].source == registry["cpython-3.14t"].source
    assert registry["cpython-3.15t"].gil_twin == "cpython-3.15"
    assert registry["ironpython-3.4"].requires_file.must_contain == ("net462/", "lib/")


def test_the_twins_differ_only_in_disable_gil():
    registry = load_registry(ROOT, environ={})
    gil, free = registry["cpython-3.13"], registry["cpython-3.13t"]
    assert gil.dockerfile == free.dockerfile
    differing = {k for k in gil.build_args if gil.build_args[k] != free.build_args.get(k)}
    assert differing == {"DISABLE_GIL"}


def test_base_is_interpolated_from_the_environment():
    registry = load_registry(ROOT, environ={"GILBENCH_BASE": "gilbench/base:trixie"})
    assert {r.build_args["BASE"] for r in registry.values()} == {"gilbench/base:trixie"}


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": "y"}, "y"),
        ("${A-x}", {}, "x"),
        ("${A}", {}, ""),
        ("pre-${A}-post", {"A": "1"}, "pre-1-post"),
    ],
)
def test_interpolate_like_compose(text, env, expected):
    assert interpolate(text, env) == expected


def _write_registry(tmp_path: Path, services: dict) -> Path:
    for family in ("cpython", "pypy"):
        (tmp_path / "runtimes" / family).mkdir(parents=True, exist_ok=True)
        (tmp_path / "runtimes" / family / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump({"services": services}))
    return tmp_path


def _service(**meta):
    block = {"family": "cpython", "expected_gil": True, **meta}
    return {
        "image": "gilbench/x:latest",
        "build": {"context": ".", "dockerfile": f"runtimes/{block['family']}/Dockerfile"},
        "x-gilbench": block,
    }


def test_service_without_x_gilbench_is_one_clear_line(tmp_path):
    service = _service()
    del service["x-gilbench"]
    root = _write_registry(tmp_path, {"cpython-3.13": service})
    with pytest.raises(ConfigError) as err:
        load_registry(root, environ={})
    message = str(err.value)
    assert "docker-compose.yml: services.cpython-3.13: missing 'x-gilbench' block" in message
    assert "\n" not in message


def test_unknown_family_names_the_field_and_the_known_ones(tmp_path):
    service = _service()
    service["x-gilbench"]["family"] = "brython"
    root = _write_registry(tmp_path, {"x-1": service})
    with pytest.raises(ConfigError, match=r"services.x-1.x-gilbench.family: unknown family 'brython' \(known: cpython"):
        load_registry(root, environ={})


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"expected_gil": "yes"}, "expected_gil: expected true, false or null"),
        ({"warmups": -1}, "warmups: expected a non-negative integer"),
        ({"requires_file": {"path": "x.zip", "sha256": "abc"}}, "sha256: expected 64 lowercase hex"),
    ],
)
def test_bad_metadata_fields(tmp_path, meta, message):
    root = _write_registry(tmp_path, {"rt": _service(**meta)})
    with pytest.raises(ConfigError, match=message):
        load_registry(root, environ={})


def test_dockerfile_must_match_the_family(tmp_path):
    service = _service()
    service["build"]["dockerfile"] = "runtimes/pypy/Dockerfile"
    root = _write_registry(tmp_path, {"rt": service})
    with pytest.raises(ConfigError, match="family 'cpython' is built by runtimes/cpython/Dockerfile"):
        load_registry(root, environ={})


def test_missing_dockerfile(tmp_path):
    root = _write_registry(tmp_path, {"rt": _service()})
    shutil.rmtree(root / "runtimes" / "cpython")
    with pytest.raises(ConfigError, match="Dockerfile not found"):
        load_registry(root, environ={})


def test_malformed_compose_yaml(tmp_path):
    (tmp_path / "docker-compose.yml").write_text("services:\n  a: [\n")
    with pytest.raises(ConfigError, match=r"docker-compose.yml: not valid YAML"):
        load_registry(tmp_path, environ={})


def test_select_keeps_registry_order_and_rejects_unknown_ids():
    registry = load_registry(ROOT, environ={})
    chosen = select(registry, ["pypy-3.11", "cpython-3.13"], "RUNTIMES")
    assert [r.id for r in chosen] == ["cpython-3.13", "pypy-3.11"]
    with pytest.raises(ConfigError, match="RUNTIMES: unknown runtime id.s. cpython-2.7"):
        select(registry, ["cpython-2.7"], "RUNTIMES")


def _compose_commands() -> list[list[str]]:
    found = []
    if shutil.which("docker-compose"):
        found.append(["docker-compose"])
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            found.append(["docker", "compose"])
    return found


def test_compose_tools_accept_the_registry():
    """docker-compose (v1) and `docker compose` (v2), whichever exist, parse the file."""
    commands = _compose_commands()
    if not commands:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    for command in commands:
        done = subprocess.run([*command, "config", "--quiet"], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, f"{' '.join(command)}: {done.stderr}"


def test_same_image_as_must_name_a_runtime_that_builds(tmp_path):
    (tmp_path / "runtimes" / "cpython").mkdir(parents=True)
    (tmp_path / "runtimes" / "cpython" / "Dockerfile").write_text("FROM scratch\n")
    service = ("    build: {context: ., dockerfile: runtimes/cpython/Dockerfile}\n"
               "    x-gilbench: {family: cpython, expected_gil: true, warmups: 1%s}\n")
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  a:\n" + service % "" + "  b:\n" + service % ", same_image_as: nope")
    with pytest.raises(ConfigError, match=r"services.b.x-gilbench.same_image_as: expected the id"):
        load_registry(tmp_path, environ={})
