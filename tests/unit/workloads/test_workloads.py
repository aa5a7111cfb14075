"""The workload files themselves: interface, determinism, portability, suites.

Runs on the host CPython only (in-process imports of workloads/), tiny sizes, no Docker.
"""

from __future__ import annotations

import ast
import importlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
WORKLOADS = ROOT / "workloads"
SUITES = WORKLOADS / "suites"
if str(WORKLOADS) not in sys.path:
    sys.path.insert(0, str(WORKLOADS))

import gilbench_common as common  # noqa: E402
import probe  # noqa: E402

EXPECTED = {
    "cpu", "cpu_nogil", "spectral", "fannkuch", "io", "hash", "zlib", "cholds", "numpy",
    "contention", "alloc_private", "alloc_shared", "alloc_type", "convoy", "smalltasks",
    "spawn_fresh", "spawn_mp",
}  # fmt: skip
ALL_MODES = ("serial", "threads", "processes", "asyncio")
KINDS = {"cpu", "io", "clib", "cholds", "contention", "alloc", "latency", "startup", "ipc"}
# n/a on the host: their kernel is compiled in the Cython image only (test_cpu_nogil.py compiles
# and runs it)
COMPILED_ONLY = {"cpu_nogil"}
# the one file that may use Python 3.5+ syntax (async def / await): see its docstring
PY3_ONLY = {"asyncio_units.py"}
TINY = {
    "cpu": 300, "spectral": 10, "fannkuch": 5, "io": 2, "hash": 2, "zlib": 1, "cholds": 1,
    "numpy": 1, "contention": 500, "alloc_private": 500, "alloc_shared": 500, "alloc_type": 500,
    "convoy": 3, "smalltasks": 50, "spawn_fresh": 1, "spawn_mp": 1,
}  # fmt: skip
RUNNER = WORKLOADS / "gilbench_runner.py"


def load(name: str):
    return common.load_workload(name)


def test_catalogue_has_every_workload_and_only_wl_files():
    catalogue = common.discover()
    assert set(catalogue) >= EXPECTED
    for name, (folder, module) in catalogue.items():
        assert Path(folder) == WORKLOADS
        assert module == "wl_" + name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_workload_declares_its_interface(name):
    module = load(name)
    assert module.KIND in KINDS
    for text in (module.DESCRIPTION, module.CLAIM):
        assert isinstance(text, str) and text.endswith(".") and "\n" not in text
        assert text.count(". ") == 0, f"{name}: one sentence please: {text!r}"
    assert isinstance(module.DEFAULT_SIZE, int) and module.DEFAULT_SIZE > 0
    assert isinstance(module.MODES, tuple) and module.MODES
    assert module.MODES[0] == "serial"
    assert set(module.MODES) <= set(ALL_MODES)
    assert len(set(module.MODES)) == len(module.MODES)
    assert callable(module.unit)
    if "asyncio" in module.MODES:
        assert callable(module.async_unit)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_constants_are_literals_the_harness_can_read_statically(name):
    """The harness reads KIND/DEFAULT_SIZE/MODES with ast.literal_eval, without importing."""
    tree = ast.parse((WORKLOADS / f"wl_{name}.py").read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id in ("KIND", "DEFAULT_SIZE", "MODES"):
            try:  # like the harness: `MODES = supported_modes(...)` is not static, skipped
                found[target.id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    module = load(name)
    assert found == {
        "KIND": module.KIND,
        "DEFAULT_SIZE": module.DEFAULT_SIZE,
        "MODES": module.MODES,
    }


@pytest.mark.parametrize("name", sorted(EXPECTED - {"spawn_fresh", "spawn_mp"} - COMPILED_ONLY))
def test_unit_is_deterministic(name):
    module = load(name)
    first = module.unit(TINY[name], 1)
    assert first == module.unit(TINY[name], 1)
    assert str(first)


def test_cpu_unit_counts_primes_correctly():
    module = load("cpu")
    # 25 primes below 100, summing to 1060
    assert module.unit(100, 0) == "25-1060"
    assert module.unit(100, 3) == "25-1060"


def test_io_and_convoy_checksums_come_from_the_echoed_bytes():
    io = load("io")
    convoy = load("convoy")
    value = 0
    for step in range(2):
        value = common.crc(common.payload(0, step, io.PAYLOAD_LEN)[::-1], value)
    assert io.unit(2, 0) == f"{value:08x}"
    assert convoy.unit(2, 0) == io.unit(2, 0)  # same payloads, same echo, same crc


def test_io_unit_blocks_on_a_peer_process_that_stops_with_its_parent():
    io = load("io")
    io.unit(1, 0)  # starts the peer (untimed)
    peer = io._PEER["process"]
    assert peer.pid != os.getpid() and peer.poll() is None
    start = time.perf_counter()
    io.unit(6, 1)
    assert time.perf_counter() - start >= 6 * io.DELAY_S  # every round trip waited in recv()
    io.stop_peer()
    assert peer.poll() is not None and not io._PEER


def test_io_async_unit_matches_the_blocking_unit():
    import asyncio_units

    io = load("io")
    loop = asyncio_units.new_loop()
    try:
        results = asyncio_units.run_units(loop, io.async_unit(), 2, 3)
    finally:
        asyncio_units.close_loop(loop)
    assert sorted(r[0] for r in results) == [0, 1, 2]
    for index, checksum, wall in results:
        assert checksum == io.unit(2, index)
        assert wall > 0


def test_zlib_data_defeats_zlib_window_and_hash_updates_are_large():
    zlib_wl = load("zlib")
    assert len(zlib_wl.BLOCK) == 64 * 1024 > 32 * 1024
    assert len(zlib_wl.DATA) == 1024 * 1024
    packed = zlib.compress(zlib_wl.DATA, 6)
    assert len(packed) > 0.99 * len(zlib_wl.DATA), "zlib found redundancy: the data is too easy"
    assert common.lcg_bytes(20240611, 64 * 1024) == zlib_wl.BLOCK  # deterministic
    assert len(load("hash").DATA) >= 64 * 1024


def test_speed_kernels_give_the_benchmarks_game_answers():
    assert load("fannkuch").unit(7, 0) == "228-16"
    assert load("spectral").unit(100, 3) == "1.274219991"


def test_contention_increments_are_all_under_the_lock():
    contention = load("contention")
    before = contention.total_increments()
    threads = [threading.Thread(target=contention.unit, args=(2000, i)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert contention.total_increments() - before == 4 * 2000


def test_contention_checksum_covers_the_shared_totals(monkeypatch):
    contention = load("contention")
    serial, extra = contention.measure("serial", 2, 1000)
    assert extra["increments"] == 2000 and serial.endswith("-2000")
    assert contention.measure("threads", 2, 1000)[0] == serial
    real_unit = contention.unit

    def losing_unit(size, index):  # the unit's own result, but one shared update lost
        result = real_unit(size, index)
        with contention.LOCK:
            contention.COUNTERS[0] -= 1
        return result

    monkeypatch.setattr(contention, "unit", losing_unit)
    assert contention.measure("threads", 2, 1000)[0] != serial


@pytest.mark.parametrize("name", ["alloc_private", "alloc_shared", "alloc_type"])
def test_alloc_checksum_depends_on_index(name):
    alloc = load(name)
    assert alloc.unit(100, 0) != alloc.unit(100, 1)


def test_spawn_mp_records_the_default_start_method():
    spawn_mp = load("spawn_mp")
    checksum, extra = spawn_mp.measure("threads", 2, 1)
    assert extra["start_method"] == multiprocessing.get_start_method()
    assert checksum == spawn_mp.measure("serial", 2, 1)[0]
    assert spawn_mp.unit(1, 0) == load("spawn_fresh").unit(1, 0)  # same message, same echo


def test_smalltasks_runs_every_task_in_every_mode():
    tasks = load("smalltasks")
    serial = tasks.unit(100, 0)
    try:
        for mode in ("threads", "processes"):
            assert tasks.measure(mode, 2, 100) == (serial, {"tasks": 100})
    finally:
        tasks.close_pool()


def test_convoy_measure_reports_latency_while_busy():
    convoy = load("convoy")
    checksum, extra = convoy.measure("threads", 1, 4)
    assert checksum == convoy.unit(4, 0)
    assert extra["roundtrips"] == 4 and extra["busy_threads"] == 1
    assert extra["roundtrips_while_busy"] == 4 and extra["busy_never_yielded"] is False
    assert extra["latency_ms_p50"] <= extra["latency_ms_p90"] <= extra["latency_ms_max"]
    assert extra["busy_share"] == [1.0]
    serial_checksum, serial_extra = convoy.measure("serial", 1, 4)
    assert serial_checksum == checksum
    assert serial_extra["busy_threads"] == 0 and "busy_share" not in serial_extra


def test_convoy_keeps_a_core_for_the_io_thread_and_reports_starvation_as_null():
    convoy = load("convoy")
    with pytest.raises(ValueError, match="cores - 1"):
        convoy.measure("threads", convoy.cores(), 2)
    assert set(convoy._latency_fields([]).values()) == {None}


def test_spawn_runs_a_child_named_by_gilbench_python(monkeypatch):
    spawn = load("spawn_fresh")
    # several words: the interpreter plus an option, as with "mono /opt/ipy/ipy.exe"
    monkeypatch.setenv("GILBENCH_PYTHON", f"{sys.executable} -E")
    assert probe.interpreter_command() == [sys.executable, "-E"]
    assert spawn.unit(1, 2) == spawn.unit(1, 2)
    monkeypatch.setenv("GILBENCH_PYTHON", f"{sys.executable} -c 'import sys; sys.exit(3)'")
    with pytest.raises(RuntimeError, match="exited with 3"):
        spawn.unit(1, 0)


def test_spawn_defaults_to_sys_executable(monkeypatch):
    monkeypatch.delenv("GILBENCH_PYTHON", raising=False)
    assert probe.interpreter_command() == [sys.executable]


def test_combine_checksums_ignores_completion_order():
    pairs = [(0, "a"), (1, "b"), (2, "c")]
    combined = common.combine_checksums(pairs)
    assert combined == common.combine_checksums(list(reversed(pairs)))
    assert combined != common.combine_checksums([(0, "b"), (1, "a"), (2, "c")])
    assert combined != common.combine_checksums(pairs[:2])


def test_percentile_nearest_rank():
    values = list(range(1, 101))
    assert common.percentile(values, 0.5) == 50
    assert common.percentile(values, 0.9) == 90
    assert common.percentile(values, 1.0) == 100
    assert common.percentile([7], 0.99) == 7
    assert common.percentile([], 0.5) is None


def test_cpu_time_measures_this_process():
    start = common.cpu_time()
    x = 0
    for i in range(300000):
        x += i * i
    assert common.cpu_time() > start
    assert common.CPU_TIMER_NAME == "process_time"


def test_describe_exception_is_type_and_message():
    assert common.describe_exception(ValueError("boom")) == "ValueError: boom"
    assert common.describe_exception(KeyError()) == "KeyError"


def test_probe_gil_rule_on_this_host():
    check = getattr(sys, "_is_gil_enabled", None)
    assert probe.gil_enabled() is (bool(check()) if check else True)
    assert probe.implementation() == sys.implementation.name


def test_probe_gil_rule_for_other_runtimes(monkeypatch):
    monkeypatch.delattr(sys, "_is_gil_enabled", raising=False)
    for name, expected in (
        ("cpython", True),
        ("pypy", True),
        ("jython", None),
        ("ironpython", None),
    ):
        monkeypatch.setattr(probe, "implementation", lambda name=name: name)
        assert probe.gil_enabled() is expected
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    monkeypatch.setattr(probe, "implementation", lambda: "cpython")
    assert probe.gil_enabled() is False


def test_probe_feature_failures_are_false_not_crashes(monkeypatch):
    def broken():
        raise OSError("no such thing")

    monkeypatch.setattr(probe, "_check_threading", broken)
    assert probe.features(("threading", "zlib")) == {"threading": False, "zlib": True}


# --- through the real runner ------------------------------------------------------------


def _runner(*args: str, env: dict | None = None) -> list[dict]:
    done = subprocess.run(
        [sys.executable, str(RUNNER), *args], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("name", sorted(EXPECTED - COMPILED_ONLY))
def test_checksum_is_the_same_in_every_mode(name):
    workers = "1" if name == "convoy" else "1,2"
    module = load(name)
    records = _runner(
        "--workload", name, "--modes", ",".join(module.MODES), "--workers", workers,
        "--size", str(TINY[name]), "--reps", "1", "--warmups", "1",
    )  # fmt: skip
    assert records and all(r["ok"] for r in records), [r["error"] for r in records]
    for count in {r["workers"] for r in records}:
        cells = [r for r in records if r["workers"] == count]
        assert {r["mode"] for r in cells} == set(module.MODES)
        assert len({r["checksum"] for r in cells}) == 1, cells


def test_numpy_without_numpy_is_unsupported_not_failed(tmp_path):
    (tmp_path / "numpy.py").write_text("raise ImportError('no numpy here (test)')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    records = _runner(
        "--workload", "numpy", "--modes", "serial,threads", "--workers", "1", env=env
    )  # fmt: skip
    assert [r["mode"] for r in records] == ["serial", "threads"]
    assert all(r["unsupported"] and not r["ok"] for r in records)
    saved = {name: sys.modules.pop(name, None) for name in ("numpy", "wl_numpy")}
    sys.path.insert(0, str(tmp_path))
    try:
        wl_numpy = importlib.import_module("wl_numpy")
        assert wl_numpy.MODES == ()
        assert wl_numpy.UNSUPPORTED["serial"].startswith("numpy is not installed in this runtime")
    finally:
        sys.path.remove(str(tmp_path))
        for name, module in saved.items():
            sys.modules.pop(name, None)
            if module is not None:
                sys.modules[name] = module


# --- Python 2.7 / Jython portability -----------------------------------------------------

PY2_COMPILE = """\
import sys
if sys.version_info[0] != 2:
    sys.exit(3)
bad = []
for path in sys.argv[1:]:
    try:
        compile(open(path).read(), path, 'exec')
    except SyntaxError as exc:
        bad.append('%s:%s: %s' % (path, exc.lineno, exc.msg))
print('\\n'.join(bad))
sys.exit(1 if bad else 0)
"""


def test_every_workload_file_but_asyncio_units_is_python2_syntax():
    """Jython 2.7 must parse everything it may import. asyncio_units.py is excluded: it holds
    the async-def coroutines of asyncio mode (Python 3.5+) and is imported only in that mode.
    Compiled with the first working python2 / python2.7 / jython on PATH."""
    files = sorted(str(p) for p in WORKLOADS.glob("*.py") if p.name not in PY3_ONLY)
    assert {Path(p).name for p in files} >= {"gilbench_runner.py", "gilbench_common.py", "probe.py"}
    assert all((WORKLOADS / name).is_file() for name in PY3_ONLY)
    pyenv = sorted(Path.home().glob(".pyenv/versions/2.7*/bin/python"))
    for path in [*(shutil.which(n) for n in ("python2", "python2.7", "jython")), *pyenv]:
        if not path:
            continue
        name = str(path)
        try:
            done = subprocess.run(
                [path, "-S", "-c", PY2_COMPILE, *files], capture_output=True, text=True, timeout=300
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode in (0, 1) and "Traceback" not in done.stderr:
            assert done.returncode == 0, f"{name}: not Python 2 syntax:\n{done.stdout}"
            return
        # e.g. a pyenv shim without a python2 behind it, or a Python 3 named python2
    pytest.skip(
        "no working python2/python2.7/jython on PATH; the Jython image's "
        "integration test compiles these files instead"
    )


def test_python3_only_syntax_is_confined_to_asyncio_units():
    """An ast scan (no Python 2 needed): async/await, f-strings, walrus, yield from,
    keyword-only args and annotations appear only in the excluded file."""
    source = (WORKLOADS / "asyncio_units.py").read_text(encoding="utf-8")
    assert "async def" in source
    for path in WORKLOADS.glob("*.py"):
        if path.name in PY3_ONLY:
            continue
        text = path.read_text(encoding="utf-8")
        assert "from __future__ import print_function, division" in text, path.name
        tree = ast.parse(text)
        for node in ast.walk(tree):
            assert not isinstance(
                node, (ast.AsyncFunctionDef, ast.Await, ast.JoinedStr, ast.NamedExpr, ast.YieldFrom)
            ), (path.name, node.lineno)
            if isinstance(node, ast.FunctionDef):
                assert not node.args.kwonlyargs and node.returns is None, path.name
                assert all(a.annotation is None for a in node.args.args), path.name


# --- suites -----------------------------------------------------------------------------


@pytest.mark.parametrize("suite", ["smoke", "default", "nightly"])
def test_suite_names_real_workloads_modes_and_sizes(suite):
    data = yaml.safe_load((SUITES / f"{suite}.yaml").read_text(encoding="utf-8"))
    assert data["description"]
    assert set(data["workloads"]) == EXPECTED, "every suite runs every workload"
    for name, plan in data["workloads"].items():
        module = load(name)
        assert isinstance(plan["size"], int) and plan["size"] > 0
        assert set(plan.get("modes", module.MODES)) <= set(module.MODES)
        for count in plan.get("workers", data["workers"]):
            assert isinstance(count, int) and count > 0


def test_suites_load_with_the_harness_config():
    config = importlib.import_module("harness.measure.config")
    for suite in ("smoke", "default", "nightly"):
        loaded = config.load_suite(ROOT, suite)
        assert {plan.name for plan in loaded.workloads} == EXPECTED


def test_smoke_is_small_and_default_follows_the_brief():
    smoke = yaml.safe_load((SUITES / "smoke.yaml").read_text(encoding="utf-8"))
    assert smoke["reps"] == 2 and smoke["warmups"] == 1 and smoke["workers"] == [1, 2]
    default = yaml.safe_load((SUITES / "default.yaml").read_text(encoding="utf-8"))
    assert default["reps"] == 2 and default["warmups"] == 1 and default["workers"] == [2]
    # independent replication: at least 3 invocations, interleaved, scaling cells calibrated
    assert default["invocations"] >= 3 and default["interleave"] is True
    assert default["scaling_min_unit_s"] >= 0.1
    # JIT runtimes get more warm-ups per cell than the suite's one (2 measured enough here)
    assert all(default["warmups_by_family"][family] >= 2 for family in ("pypy", "jython", "ironpython"))
    for name, plan in smoke["workloads"].items():
        assert plan["size"] <= default["workloads"][name]["size"]
