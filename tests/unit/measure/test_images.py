"""Recipe hashing and the IronPython drop-in file (no Docker needed)."""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import RuntimeUnavailable
from harness.measure.dropins import (
    ensure_required_file,
    required_file_problem,
    validate_required_file,
)
from harness.measure.images import recipe_files, recipe_hash
from harness.measure.runtimes import load_registry

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def tree(tmp_path):
    """A copy of the parts of the project an image is made of."""
    for part in ("runtimes", "workloads"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("*.zip", "__pycache__"))
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    return tmp_path


def test_recipe_covers_dockerfile_and_workloads_but_not_suites(tree):
    runtime = load_registry(tree, environ={})["pypy-3.11"]
    names = {p.relative_to(tree).as_posix() for p in recipe_files(tree, runtime)}
    assert "runtimes/pypy/Dockerfile" in names
    assert "workloads/gilbench_runner.py" in names
    assert not any(n.startswith("workloads/suites/") for n in names)
    assert not any(n.startswith("runtimes/cpython/") for n in names)


def test_recipe_hash_changes_exactly_when_the_image_would(tree):
    registry = load_registry(tree, environ={})
    pypy = registry["pypy-3.11"]
    first = recipe_hash(tree, pypy, "sha256:base1")
    assert recipe_hash(tree, pypy, "sha256:base1") == first
    assert recipe_hash(tree, pypy, "sha256:base2") != first  # a new base rebuilds everything
    (tree / "workloads" / "suites" / "smoke.yaml").write_text("changed: true\n")
    assert recipe_hash(tree, pypy, "sha256:base1") == first  # suites are read on the host
    (tree / "workloads" / "wl_cpu.py").write_text("# changed\n")
    assert recipe_hash(tree, pypy, "sha256:base1") != first
    gil, free = registry["cpython-3.13"], registry["cpython-3.13t"]
    assert recipe_hash(tree, gil, "b") != recipe_hash(tree, free, "b")  # DISABLE_GIL differs


def _zip(path: Path, members: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for member in members:
            archive.writestr(member, "x")
    return path


@pytest.fixture
def ironpython(tree):
    runtime = load_registry(tree, environ={})["ironpython-3.4"]
    return runtime, tree / runtime.requires_file.path


def test_missing_zip_is_reported_with_where_to_put_it(ironpython, tree):
    runtime, path = ironpython
    problem = required_file_problem(tree, runtime)
    assert problem.startswith("runtimes/ironpython/IronPython.3.4.2.zip is missing")
    assert "IronPython offline" in problem


def test_a_valid_drop_in_zip_is_accepted(ironpython, tree):
    runtime, path = ironpython
    _zip(path, ["net462/ipy.exe", "net462/IronPython.dll", "lib/os.py", "net6.0/ipy.dll"])
    assert required_file_problem(tree, runtime) is None
    ensure_required_file(tree, runtime.requires_file, log=lambda _m: None)  # no download tried


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (["lib/os.py"], "the zip lacks net462/"),
        (["net462/ipy.exe"], "the zip lacks lib/"),
        (["README"], "the zip lacks net462/, lib/"),
    ],
)
def test_a_zip_without_the_needed_folders_is_rejected_in_one_line(ironpython, tree, members, message):
    runtime, path = ironpython
    _zip(path, members)
    with pytest.raises(RuntimeUnavailable) as err:
        validate_required_file(tree, runtime.requires_file)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("runtimes/ironpython/IronPython.3.4.2.zip:")


def test_not_a_zip_at_all(ironpython, tree):
    runtime, path = ironpython
    path.write_text("<html>404</html>")
    assert required_file_problem(tree, runtime) == (
        "runtimes/ironpython/IronPython.3.4.2.zip: not a zip file"
    )


def test_a_configured_checksum_is_verified(ironpython, tree):
    runtime, path = ironpython
    _zip(path, ["net462/ipy.exe", "lib/os.py"])
    pinned = replace(runtime.requires_file, sha256="0" * 64)
    with pytest.raises(RuntimeUnavailable, match="does not match the configured 0000"):
        validate_required_file(tree, pinned)


def test_a_failed_download_says_what_to_do(ironpython, tree):
    runtime, _ = ironpython
    unreachable = replace(runtime.requires_file, url="http://127.0.0.1:9/IronPython.3.4.2.zip")
    with pytest.raises(RuntimeUnavailable) as err:
        ensure_required_file(tree, unreachable, log=lambda _m: None)
    text = str(err.value)
    assert "is missing and downloading http://127.0.0.1:9/IronPython.3.4.2.zip failed" in text
    assert "drop it at runtimes/ironpython/IronPython.3.4.2.zip" in text
