"""cpu_nogil: n/a with its reason off Cython; compiled as the Cython image compiles it, the same
checksums as cpu and the GIL really released while a unit runs.

The compile runs the Dockerfile's own compile command (runtimes/cython/Dockerfile, stage
`compile`) on the host interpreter in a temporary folder; no Docker.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
WORKLOADS = ROOT / "workloads"
RUNNER = WORKLOADS / "gilbench_runner.py"
DOCKERFILE = ROOT / "runtimes" / "cython" / "Dockerfile"
KERNEL = "cpu_nogil_kernel"
MODES = "serial,threads,processes"
REASON = "needs Cython: `with nogil:` is a Cython construct"
# the paths of the image's interpreter in the compile command, and the host's stand-ins
IMAGE_PYTHON = "/opt/python/bin/gilbench-python"
IMAGE_CONFIG = "/opt/python/bin/python3-config"
PY27 = Path.home() / ".pyenv/versions/2.7.18/bin/python"


def run_runner(python: str, *args: str, env: dict | None = None) -> list[dict]:
    done = subprocess.run(
        [python, str(RUNNER), *args], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def assert_unsupported(records: list[dict]) -> None:
    assert [r["mode"] for r in records] == MODES.split(",")
    for record in records:
        assert record["unsupported"] is True and record["ok"] is False
        assert record["error"].startswith(REASON), record["error"]
        assert KERNEL in record["error"] and "\n" not in record["error"]


# --- the portable module, where no kernel is compiled ------------------------------------


def test_unsupported_with_its_reason_on_the_host_cpython():
    assert_unsupported(run_runner(sys.executable, "--workload", "cpu_nogil", "--modes", MODES))


def test_unsupported_with_its_reason_on_python27():
    if not PY27.is_file():
        pytest.skip(f"no Python 2.7 at {PY27}")
    assert_unsupported(run_runner(str(PY27), "--workload", "cpu_nogil", "--modes", MODES))


def test_a_unit_off_cython_raises_the_reason():
    if str(WORKLOADS) not in sys.path:
        sys.path.insert(0, str(WORKLOADS))
    import gilbench_common

    module = gilbench_common.load_workload("cpu_nogil")
    assert module.cpu_nogil_kernel is None
    with pytest.raises(RuntimeError, match="^needs Cython"):
        module.unit(100, 0)


def test_the_cython_source_is_no_workload():
    """The .pyx is no workload: discovery lists wl_*.py only, so it is never imported as one."""
    listed = run_runner(sys.executable, "--list")
    names = {info["name"] for info in listed}
    assert "cpu_nogil" in names and not any(KERNEL in name for name in names)
    nogil = next(info for info in listed if info["name"] == "cpu_nogil")
    cpu = next(info for info in listed if info["name"] == "cpu")
    assert nogil["default_size"] == cpu["default_size"] and nogil["modes"] == cpu["modes"]


# --- compiled as the Cython image compiles it ------------------------------------------------


def compile_command() -> str:
    """The shell command of the Dockerfile's compile stage that runs cython, its continuation
    lines joined as Docker joins them."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    stage = text.split("AS compile", 1)[1].split("\nFROM ", 1)[0]
    runs = re.findall(r"^RUN (.*?)(?<!\\)$", stage, flags=re.S | re.M)
    commands = [run.replace("\\\n", "") for run in runs if "cython -3" in run]
    assert len(commands) == 1, "one RUN of the compile stage compiles the workloads"
    return commands[0]


def host_config() -> Path | None:
    """The host interpreter's pythonX.Y-config (it comes with the headers: python3-dev)."""
    bindir = Path(sys.base_prefix) / "bin"
    for name in (f"python{sys.version_info[0]}.{sys.version_info[1]}-config", "python3-config"):
        if (bindir / name).is_file():
            return bindir / name
    return None


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    """A folder where the Dockerfile's compile command built wl_cpu (plain Cython, the
    GIL-holding contrast) and the nogil kernel, next to their sources as in the image."""
    if shutil.which("gcc") is None:
        pytest.skip("no C compiler (gcc) on this machine: cannot compile the Cython kernel")
    config = host_config()
    if config is None:
        pytest.skip(f"no pythonX.Y-config (Python headers) next to {sys.base_prefix}")
    folder = tmp_path_factory.mktemp("cython")
    for name in ("wl_cpu.py", f"{KERNEL}.pyx"):
        shutil.copy(WORKLOADS / name, folder / name)
    command = compile_command()
    assert IMAGE_PYTHON in command and IMAGE_CONFIG in command
    command = command.replace(IMAGE_PYTHON, shlex.quote(sys.executable))
    command = command.replace(IMAGE_CONFIG, shlex.quote(str(config)))
    scripts = str(Path(sys.executable).parent)  # the dev extra's cython
    env = dict(os.environ, PATH=scripts + os.pathsep + os.environ.get("PATH", ""))
    done = subprocess.run(
        ["sh", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert (folder / f"wl_cpu{suffix}").is_file() and (folder / f"{KERNEL}{suffix}").is_file()
    assert not list(folder.glob("*.c")), "the command removes the generated C"
    return folder


def test_through_the_runner_every_mode_gives_cpu_checksum(compiled):
    env = dict(os.environ, PYTHONPATH=str(compiled))
    common = ("--modes", MODES, "--workers", "1,2", "--size", "3000", "--reps", "1")
    nogil = run_runner(sys.executable, "--workload", "cpu_nogil", *common, env=env)
    cpu = run_runner(sys.executable, "--workload", "cpu", *common)
    assert nogil and all(r["ok"] for r in nogil), [r["error"] for r in nogil]
    assert {r["kind"] for r in nogil} == {"clib"}
    for workers in (1, 2):
        expected = {r["checksum"] for r in cpu if r["workers"] == workers}
        assert len(expected) == 1
        assert {r["checksum"] for r in nogil if r["workers"] == workers} == expected


# Runs in a fresh interpreter where the compiled modules shadow the .py files, as in the image.
# A watcher thread counts how often it sees a flag that the main thread sets just before a unit
# and clears just after it. With a switch interval far longer than any unit, the interpreter
# never takes the GIL from a thread (it forces a switch only after a waiter waited that long), so
# a unit that holds the GIL cannot be watched at all: the watcher runs only while the main thread
# sleeps between units, with the flag cleared. A unit that releases the GIL lets it in.
GIL_PROBE = """\
import json, sys, sysconfig, threading, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import wl_cpu, wl_cpu_nogil, cpu_nogil_kernel
suffix = sysconfig.get_config_var("EXT_SUFFIX")
assert wl_cpu.__file__.endswith(suffix) and cpu_nogil_kernel.__file__.endswith(suffix)
sys.setswitchinterval(60.0)
flag, seen, stop = [False], [0], [False]

def watch():
    while not stop[0]:
        if flag[0]:
            seen[0] += 1
        time.sleep(0.0005)   # gives the GIL back every time round

def watched(unit, size, calls, until_seen):
    seen[0] = 0
    for _ in range(calls):
        time.sleep(0.002)    # the watcher's turn, with the flag cleared
        flag[0] = True
        unit(size, 0)
        flag[0] = False
        if until_seen and seen[0]:
            break
    return seen[0]

watcher = threading.Thread(target=watch)
watcher.daemon = True
watcher.start()
size = int(sys.argv[3])
result = {"plain": watched(wl_cpu.unit, size // 4, 3, False),
          "nogil": watched(wl_cpu_nogil.unit, size, 500, True)}
stop[0] = True
watcher.join()
print(json.dumps(result))
"""


def test_a_unit_releases_the_gil_and_plain_cython_does_not(compiled):
    """Deterministic, no timing asserted: the plain-Cython contrast must never be watched, the
    nogil kernel must be (the main thread repeats units until it was, 500 at most)."""
    done = subprocess.run(
        [sys.executable, "-c", GIL_PROBE, str(compiled), str(WORKLOADS), "200000"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["plain"] == 0, "plain Cython let another thread run: it released the GIL"
    assert seen["nogil"] > 0, "no other thread ran during a nogil unit: the GIL was held"
