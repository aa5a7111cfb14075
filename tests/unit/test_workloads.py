"""The workload files themselves: interface, determinism, portability, suites.

Runs on the host CPython only (in-process imports of workloads/), tiny sizes, no Docker.
"""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ROOT / "workloads"
SUITES = WORKLOADS / "suites"
if str(WORKLOADS) not in sys.path:
    sys.path.insert(0, str(WORKLOADS))

import gilbench_common as common  # noqa: E402
import probe  # noqa: E402

EXPECTED = {"cpu", "io", "clib", "contention", "alloc", "convoy", "spawn"}
ALL_MODES = ("serial", "threads", "processes", "asyncio")
KINDS = {"cpu", "io", "clib", "contention", "alloc", "latency", "startup"}
# the one file that may use Python 3.5+ syntax (async def / await): see its docstring
PY3_ONLY = {"asyncio_units.py"}
TINY = {"cpu": 300, "io": 2, "clib": 1, "contention": 500, "alloc": 500, "convoy": 3, "spawn": 1}


def load(name: str):
    return common.load_workload(name)


def test_catalogue_has_the_seven_workloads_and_only_wl_files():
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
            found[target.id] = ast.literal_eval(node.value)
    module = load(name)
    assert found == {
        "KIND": module.KIND,
        "DEFAULT_SIZE": module.DEFAULT_SIZE,
        "MODES": module.MODES,
    }


@pytest.mark.parametrize("name", sorted(EXPECTED - {"spawn"}))
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
    pair = common.LoopbackPair()
    try:
        value = 0
        for step in range(2):
            sent = common.payload(0, step, io.PAYLOAD_LEN)
            back = pair.roundtrip(sent)
            assert back == sent[::-1]
            value = common.crc(back, value)
    finally:
        pair.close()
    assert io.unit(2, 0) == f"{value:08x}"
    assert convoy.unit(2, 0) == io.unit(2, 0)  # same payloads, same echo, same crc


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


def test_clib_data_defeats_zlib_window():
    clib = load("clib")
    assert len(clib.BLOCK) == 64 * 1024 > 32 * 1024
    assert len(clib.DATA) == 1024 * 1024
    packed = zlib.compress(clib.DATA, 6)
    assert len(packed) > 0.99 * len(clib.DATA), "zlib found redundancy: the data is too easy"
    assert clib._lcg_block(20240611, 64 * 1024) == clib.BLOCK  # deterministic


def test_contention_increments_are_all_under_the_lock():
    contention = load("contention")
    before = contention.total_increments()
    threads = [threading.Thread(target=contention.unit, args=(2000, i)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert contention.total_increments() - before == 4 * 2000


def test_alloc_checksum_depends_on_index():
    alloc = load("alloc")
    assert alloc.unit(100, 0) != alloc.unit(100, 1)


def test_convoy_measure_reports_latency_and_busy_shares():
    convoy = load("convoy")
    checksum, extra = convoy.measure("threads", 2, 4)
    assert checksum == convoy.unit(4, 0)
    assert extra["roundtrips"] == 4
    assert extra["busy_threads"] == 2
    assert extra["latency_ms_p50"] <= extra["latency_ms_p90"] <= extra["latency_ms_max"]
    assert len(extra["busy_share"]) == 2
    assert abs(sum(extra["busy_share"]) - 1.0) < 0.01
    serial_checksum, serial_extra = convoy.measure("serial", 2, 4)
    assert serial_checksum == checksum
    assert serial_extra["busy_threads"] == 0 and "busy_share" not in serial_extra


def test_spawn_runs_a_child_named_by_gilbench_python(monkeypatch):
    spawn = load("spawn")
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
    for name in ("python2", "python2.7", "jython"):
        path = shutil.which(name)
        if not path:
            continue
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
    assert default["reps"] == 5 and default["warmups"] == 1 and default["workers"] == [1, 2, 4]
    assert default["warmups_by_family"] == {"pypy": 3, "jython": 3, "ironpython": 3}
    for name, plan in smoke["workloads"].items():
        assert plan["size"] <= default["workloads"][name]["size"]
