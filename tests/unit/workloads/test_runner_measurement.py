"""The runner's measurement design (issue 10) and its 3.4/2.7 portability (issue 14 item 5):
pools, pool round trip, calibrated scaling cells, interleaving, /proc/stat neighbours, topology."""

from __future__ import annotations

import json
import math
import os
import py_compile
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
WORKLOADS = ROOT / "workloads"
RUNNER = WORKLOADS / "gilbench_runner.py"
sys.path.insert(0, str(WORKLOADS))

import gilbench_common as common  # noqa: E402
import gilbench_lines as lines  # noqa: E402
import gilbench_neighbours as neighbours  # noqa: E402
import gilbench_pools as pools_module  # noqa: E402
import gilbench_runner as runner  # noqa: E402
import probe  # noqa: E402

# Emulates Python 3.4's json.loads (IronPython 3.4): bytes are refused.
STRICT_JSON = """
import json, runpy, sys
_loads = json.loads
def loads(text, *args, **kwargs):
    if isinstance(text, bytes):
        raise TypeError("the JSON object must be str, not 'bytes'")
    return _loads(text, *args, **kwargs)
json.loads = loads
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

COUNTED_WORKLOAD = """
import os
KIND = "cpu"
DESCRIPTION = "Logs every import of itself."
CLAIM = "None."
DEFAULT_SIZE = 10
MODES = ("serial", "processes")
with open(os.environ["IMPORT_LOG"], "a") as handle:
    handle.write("%d\\n" % os.getpid())


def unit(size, index):
    return size * 1000 + index
"""

PROC_STAT = """cpu  100 0 50 1000 10 0 5 7 3 0
cpu0 10 1 2 300 40 5 6 7 100 0
cpu1 20 0 4 300 1 0 0 3 0 0
cpu2 1000 0 0 0 0 0 0 0 0 0
intr 12345
"""


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GILBENCH_")}
    base.update(extra)
    return base


def run_records(*args: str, **extra_env: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, str(RUNNER), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env(**extra_env),
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture
def strict_json(tmp_path, monkeypatch):
    """json.loads refuses bytes here and in every subprocess-pool worker, as on 3.4."""
    wrapper = tmp_path / "strict_python.py"
    wrapper.write_text(STRICT_JSON, encoding="utf-8")
    original = json.loads

    def loads(text, *args, **kwargs):
        if isinstance(text, bytes):
            raise TypeError("the JSON object must be str, not 'bytes'")
        return original(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", loads)
    monkeypatch.setenv("GILBENCH_PYTHON", f"{sys.executable} {wrapper}")


def test_subprocess_pool_speaks_bytes_pipes_with_a_json_that_refuses_bytes(strict_json):
    with pytest.raises(TypeError):
        json.loads(b"{}")  # the emulation is active
    pool = pools_module.SubprocessPool("cpu", common.discover(), 2)
    try:
        pool.use("zlib")  # a load task's answer crosses the same pipes
        pool.use("cpu")
        answers = pool.run(300, 2)
        pings = pool.ping(2)
    finally:
        pool.close()
    assert [a["index"] for a in answers] == [0, 1] and all(a["ok"] for a in answers)
    assert answers[0]["checksum"] == "62-8275"
    assert [p["index"] for p in pings] == [0, 1] and len({p["pid"] for p in pings}) == 2
    assert lines.as_text(b'{"a": 1}') == '{"a": 1}' and lines.as_text("x") == "x"


def test_serve_reads_bytes_and_answers_the_empty_task():
    tasks = b'{"size": 100, "index": 0}\n{"ping": true, "index": 1}\n'
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--serve", "--workload", "cpu"],
        input=tasks,
        capture_output=True,
        timeout=60,
        env=env(),
    )
    hello, unit, ping = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert hello["ready"] and unit["checksum"] == "25-1060" and unit["ok"]
    assert ping == {"index": 1, "ok": True, "pid": hello["pid"]}


@pytest.mark.parametrize("kind", ["multiprocessing", "subprocess"])
def test_one_pool_serves_every_workload_of_the_process(kind):
    catalogue = common.discover()
    pools = pools_module.Pools(2)
    try:
        cpu, _, fresh = pools.get(kind, "cpu", catalogue, 2)
        assert fresh and cpu.kind == kind
        assert [a["checksum"] for a in cpu.run(100, 2)] == ["25-1060", "25-1060"]
        # the pool's own interpreters (tiny tasks may all be answered by one of them)
        first = {p.pid for p in getattr(cpu, "workers", None) or cpu.children}
        assert {a["pid"] for a in cpu.run(100, 2)} | {a["pid"] for a in cpu.ping(2)} <= first
        zlib_pool, _, fresh = pools.get(kind, "zlib", catalogue, 1)
        assert zlib_pool is cpu and not fresh  # the same interpreters, now running zlib
        packed = zlib_pool.run(1, 2)
        assert all(a["ok"] and a["checksum"] != "25-1060" for a in packed)
        assert {a["pid"] for a in packed} <= first
        with pytest.raises(RuntimeError, match="pool worker cannot load nope: .*nope"):
            cpu.use("nope")
        cpu.broken = "a worker died"  # a broken pool is replaced, not reused
        again, _, fresh = pools.get(kind, "cpu", catalogue, 2)
        assert again is not cpu and fresh
        assert {a["pid"] for a in again.run(100, 2)}.isdisjoint(first)
    finally:
        pools.close()
    assert pools.shared is None


@pytest.mark.parametrize("kind", ["multiprocessing", "subprocess"])
def test_pool_workers_import_the_workload_once_and_never_rediscover_it(kind, tmp_path, monkeypatch):
    folder = tmp_path / "wl"
    folder.mkdir()
    source = folder / "wl_counted.py"
    source.write_text(COUNTED_WORKLOAD, encoding="utf-8")
    log = tmp_path / "imports.log"
    monkeypatch.setenv("IMPORT_LOG", str(log))
    monkeypatch.setenv("GILBENCH_WORKLOADS_PATH", str(folder))
    pool = pools_module.Pools(2).get(kind, "counted", common.discover(), 2)[0]
    try:
        source.unlink()  # a per-task discovery would now fail with "unknown workload"
        answers = [pool.run(10, 2) for _ in range(3)]
    finally:
        pool.close()
    for batch in answers:
        assert [(a["ok"], a["checksum"]) for a in batch] == [(True, "10000"), (True, "10001")]
    worker_pids = {str(a["pid"]) for batch in answers for a in batch}
    imports = log.read_text().split()
    # every worker imported once, when the pool started (a busy host may let one worker
    # answer every task: which worker runs a task is the pool's business)
    assert len(imports) == len(set(imports)) <= 2 and worker_pids <= set(imports)


def test_processes_records_carry_the_pool_roundtrip():
    out = run_records(
        "--workload",
        "cpu",
        "--modes",
        "serial,processes",
        "--workers",
        "1,2",
        "--size",
        "300",
        "--reps",
        "2",
        "--warmups",
        "0",
    )
    for rec in out:
        if rec["mode"] == "processes":
            assert 0 < rec["pool_roundtrip_s"] < 1
        else:
            assert rec["pool_roundtrip_s"] is None
    for workers in (1, 2):  # measured once per cell, before its timed repetitions
        cell = [r for r in out if (r["mode"], r["workers"]) == ("processes", workers)]
        assert len({r["pool_roundtrip_s"] for r in cell}) == 1


def test_short_units_are_calibrated_and_the_serial_cells_also_run_fixed():
    out = run_records(
        "--workload",
        "cpu",
        "--modes",
        "serial,threads,processes",
        "--workers",
        "1,2",
        "--size",
        "300",
        "--reps",
        "1",
        "--warmups",
        "1",
        "--scaling-min-unit-s",
        "0.05",
    )
    fixed = [r for r in out if r["sizing"] == "fixed"]
    calibrated = [r for r in out if r["sizing"] == "calibrated"]
    assert {(r["mode"], r["workers"]) for r in fixed} == {("serial", 1), ("serial", 2)}
    assert all(r["size"] == 300 and r["unit_s"] is None for r in fixed)
    unit_s = calibrated[0]["unit_s"]
    assert 0 < unit_s < 0.05
    factor = min(runner.MAX_SCALE, math.ceil(0.05 / unit_s))
    assert {(r["size"], r["unit_s"]) for r in calibrated} == {(300 * factor, unit_s)}
    assert len(calibrated) == 3 * 2 * 2  # modes x workers x (warm-up + rep)
    for workers in (1, 2):  # same work within the runtime: one checksum per worker count
        assert len({r["checksum"] for r in calibrated if r["workers"] == workers}) == 1
    assert all(r["ok"] for r in out)


def test_calibration_is_capped_and_skipped_when_the_unit_is_long_enough():
    capped = run_records(
        "--workload",
        "cpu",
        "--modes",
        "serial",
        "--size",
        "1",
        "--reps",
        "1",
        "--warmups",
        "0",
        "--scaling-min-unit-s",
        "1000",
    )
    assert [(r["sizing"], r["size"]) for r in capped] == [("fixed", 1), ("calibrated", 1000)]
    long_enough = run_records(
        "--workload",
        "cpu",
        "--modes",
        "serial,threads",
        "--size",
        "300",
        "--reps",
        "1",
        "--warmups",
        "0",
        "--scaling-min-unit-s",
        "1e-9",
    )
    assert [(r["mode"], r["sizing"], r["size"], r["unit_s"]) for r in long_enough] == [
        ("serial", "fixed", 300, None),
        ("threads", "fixed", 300, None),
    ]


def interleaved(seed: str | None) -> list[dict]:
    args = ["--order-seed", seed] if seed is not None else []
    return run_records(
        "--workload",
        "cpu",
        "--modes",
        "serial,threads",
        "--workers",
        "1,2",
        "--size",
        "200",
        "--reps",
        "3",
        "--warmups",
        "1",
        "--interleave",
        "--invocation",
        "4",
        *args,
    )


def test_interleave_runs_rounds_in_a_recorded_seeded_order():
    out = interleaved("11")
    cells = [("serial", 1), ("serial", 2), ("threads", 1), ("threads", 2)]
    assert [r["position"] for r in out] == list(range(len(out)))
    assert [(r["mode"], r["workers"]) for r in out[:4]] == cells and all(
        r["warmup"] for r in out[:4]
    )
    shuffler = random.Random(11)
    for round_no in range(3):
        order = list(cells)
        shuffler.shuffle(order)
        chunk = out[4 + 4 * round_no : 8 + 4 * round_no]
        assert [(r["mode"], r["workers"]) for r in chunk] == order
        assert {r["rep"] for r in chunk} == {round_no + 1} and not any(r["warmup"] for r in chunk)
    assert {(r["invocation"], r["order_seed"]) for r in out} == {(4, 11)}
    again = interleaved("11")
    assert [(r["mode"], r["workers"]) for r in again] == [(r["mode"], r["workers"]) for r in out]
    plain = interleaved(None)
    assert [(r["mode"], r["workers"]) for r in plain[4:8]] == cells
    assert {r["order_seed"] for r in plain} == {None}


def test_order_seed_needs_interleave():
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--workload", "cpu", "--order-seed", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "gilbench_runner: error: --order-seed needs --interleave"


def test_cpu_counters_sum_busy_and_steal_of_the_allowed_cpus(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(PROC_STAT, encoding="utf-8")
    counters = neighbours.CpuCounters([0, 1], path=str(stat), own=lambda: 4.0)
    busy, steal, own = counters.read()
    assert own == 4.0
    # cpu0: 10+1+2+5+6+7 (guest 100 is inside user), cpu1: 20+4+3; idle/iowait excluded
    assert busy == pytest.approx((31 + 27) / counters.hz)
    assert steal == pytest.approx(10 / counters.hz)
    assert neighbours.CpuCounters(None, path=str(stat)).read()[0] == pytest.approx(1058 / counters.hz)
    assert neighbours.CpuCounters([0], path=str(tmp_path / "missing")).read() is None
    assert neighbours.neighbour_fields(None, (1.0, 0.0, None), 0.5)["others_cpu_s"] is None
    fields = neighbours.neighbour_fields((1.0, 0.5, None), (1.75, 0.5, None), 0.25)
    assert fields == {"cpuset_busy_s": 0.75, "steal_s": 0.0, "others_cpu_s": 0.5}
    # in a container its own CPU time (helper processes too) is what is not a neighbour's
    fields = neighbours.neighbour_fields((1.0, 0.5, 10.0), (1.75, 0.5, 10.7), 0.25)
    assert fields["others_cpu_s"] == pytest.approx(0.05)


def test_container_cpu_comes_from_the_cgroup_v2_then_v1(tmp_path):
    v2 = tmp_path / "cpu.stat"
    v2.write_text("usage_usec 2500000\nuser_usec 2000000\n")
    v1 = tmp_path / "cpuacct.usage"
    v1.write_text("3000000000\n")
    assert neighbours.container_cpu_s(((str(v2), "usage_usec", 1e-6),)) == pytest.approx(2.5)
    missing = (str(tmp_path / "none"), "usage_usec", 1e-6)
    assert neighbours.container_cpu_s((missing, (str(v1), None, 1e-9))) == pytest.approx(3.0)
    assert neighbours.container_cpu_s((missing,)) is None


def test_every_measurement_reports_its_neighbours():
    out = run_records(
        "--workload",
        "cpu",
        "--modes",
        "serial,processes",
        "--workers",
        "2",
        "--size",
        "40000",
        "--reps",
        "1",
        "--warmups",
        "0",
    )
    for rec in out:
        assert rec["cpuset_busy_s"] is not None and rec["steal_s"] >= 0
        # our own CPU time is inside the cpuset's busy time (jiffies: 10 ms per CPU)
        assert rec["cpuset_busy_s"] >= rec["cpu_s"] - 0.03, rec
        if not neighbours.IN_CONTAINER:  # else ours is the container's CPU, helpers included
            expected = max(0.0, rec["cpuset_busy_s"] - rec["cpu_s"])
            assert rec["others_cpu_s"] == pytest.approx(expected, abs=1e-5)
        assert 0 <= rec["others_cpu_s"] <= rec["cpuset_busy_s"]


def write_cpu(root: Path, cpu: int, package: int, core: int) -> None:
    folder = root / f"cpu{cpu}" / "topology"
    folder.mkdir(parents=True)
    (folder / "physical_package_id").write_text(f"{package}\n")
    (folder / "core_id").write_text(f"{core}\n")


def test_topology_groups_smt_siblings_of_the_allowed_cpus(tmp_path):
    for cpu in range(4):  # two cores with two hardware threads each, Linux-style numbering
        write_cpu(tmp_path, cpu, 0, cpu % 2)
    (tmp_path / "online").write_text("0-3\n")
    smt = probe.topology(str(tmp_path), [0, 1, 2, 3])
    assert smt == {
        "logical_cpus": [0, 1, 2, 3],
        "physical_cores": 2,
        "packages": 1,
        "smt_siblings": [[0, 2], [1, 3]],
    }
    assert probe.topology(str(tmp_path), [0, 2])["physical_cores"] == 1
    unknown = probe.topology(str(tmp_path), [0, 7])
    assert unknown["logical_cpus"] == [0, 7] and unknown["physical_cores"] is None
    assert probe.parse_cpu_list("0-2,5\n") == [0, 1, 2, 5]


PY27 = sorted(Path.home().glob(".pyenv/versions/2.7*/bin/python2.7"))


def test_runner_and_probe_compile_under_python27_syntax_rules(tmp_path):
    for path in (RUNNER, WORKLOADS / "probe.py"):
        py_compile.compile(str(path), doraise=True, cfile=str(tmp_path / (path.name + "c")))
    text = RUNNER.read_text()
    for banned in ("nonlocal ", "yield from", "flush=True", "async def"):
        assert banned not in text, banned
    assert not re.search(r"\b[fF][rR]?[\"']", text)  # no f-string (an identifier may end in f)


@pytest.mark.skipif(not PY27, reason="no Python 2.7 interpreter (pyenv) on this machine")
def test_everything_new_runs_on_python27():
    done = subprocess.run(
        [
            str(PY27[-1]),
            str(RUNNER),
            "--workload",
            "cpu",
            "--modes",
            "serial,threads,processes",
            "--workers",
            "1,2",
            "--size",
            "300",
            "--reps",
            "1",
            "--warmups",
            "0",
            "--scaling-min-unit-s",
            "0.01",
            "--interleave",
            "--order-seed",
            "2",
            "--pool",
            "subprocess",
            "--repeat-disturbed",
            "1",
            "--disturbed-share",
            "0.25",
            "--disturbed-floor-s",
            "0.05",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env(GILBENCH_PYTHON=str(PY27[-1])),
    )
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert out and all(r["ok"] for r in out), out
    assert {r["sizing"] for r in out} == {"fixed", "calibrated"}
    assert all(r["pool_roundtrip_s"] > 0 for r in out if r["mode"] == "processes")
    assert all(r["cpuset_busy_s"] is not None for r in out)
    assert all(len(r["unit_checksums"]) == r["workers"] for r in out)
    probed = subprocess.run(
        [str(PY27[-1]), str(WORKLOADS / "probe.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env(),
    )
    assert json.loads(probed.stdout)["topology"]["logical_cpus"] == sorted(os.sched_getaffinity(0))


def test_a_workload_whose_work_is_not_proportional_to_its_size_is_never_calibrated():
    class Factorial:
        CALIBRATE = False

        @staticmethod
        def unit(size, index):
            raise AssertionError("calibration must not even time it")

    opts = runner.parse_args(["--workload", "cpu", "--scaling-min-unit-s", "5"])
    assert runner.calibrate(Factorial, 8, ["serial"], opts.parts[0], opts) == (8, None)


def test_a_workload_unsupported_in_every_requested_mode_is_not_timed():
    class Missing:
        UNSUPPORTED = {"serial": "needs numpy", "threads": "needs numpy"}

        @staticmethod
        def unit(size, index):
            raise AssertionError("calibration must not time a workload that cannot run here")

    opts = runner.parse_args(["--workload", "numpy", "--scaling-min-unit-s", "5"])
    assert runner.calibrate(Missing, 8, ["serial", "threads"], opts.parts[0], opts) == (8, None)


def test_a_size_chosen_by_an_earlier_invocation_is_used_without_timing():
    class Cpu:
        @staticmethod
        def unit(size, index):
            raise AssertionError("a later invocation must not time a unit again")

    opts = runner.parse_args(
        ["--workload", "cpu", "--scaling-min-unit-s", "0.1", "--scaled-size", "240"]
    )
    assert runner.calibrate(Cpu, 80, ["serial", "threads"], opts.parts[0], opts) == (240, None)
    with pytest.raises(runner.UsageError, match="--scaled-size needs --scaling-min-unit-s"):
        runner.parse_args(["--workload", "cpu", "--scaled-size", "240"])


class _SilentPool:
    """A multiprocessing.Pool whose workers never start (nothing ever becomes ready)."""

    _pool: list = []

    def __init__(self, *args, **kwargs):
        pass

    def apply_async(self, func, args):
        class Never:
            def ready(self):
                return False

            def wait(self, timeout):
                time.sleep(min(timeout, 0.01))

        return Never()

    def terminate(self):
        pass

    def join(self):
        pass


def test_a_multiprocessing_pool_whose_workers_never_answer_falls_back(monkeypatch):
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "Pool", _SilentPool)
    monkeypatch.setattr(pools_module, "WARM_TIMEOUT_S", 0.2)
    pools = pools_module.Pools(1)
    try:
        pool, reason, fresh = pools.get("auto", "cpu", common.discover(), 1)
        assert pool.kind == "subprocess" and fresh
        assert "no pool worker answered within" in reason
        assert pools.get("auto", "zlib", common.discover(), 1)[1] == reason  # not tried again
        with pytest.raises(RuntimeError, match="no pool worker answered"):
            pools.get("multiprocessing", "cpu", common.discover(), 1)
    finally:
        pools.close()


def test_ironpython_goes_straight_to_the_subprocess_pool(monkeypatch):
    import multiprocessing

    def never(*args, **kwargs):
        raise AssertionError("multiprocessing must not be tried on IronPython")

    monkeypatch.setattr(multiprocessing, "Pool", never)
    monkeypatch.setattr(common, "IS_CLI", True)
    pools = pools_module.Pools(1)
    try:
        pool, reason, _ = pools.get("auto", "cpu", common.discover(), 1)
        assert pool.kind == "subprocess" and reason == "multiprocessing is not supported on IronPython"
    finally:
        pools.close()


@pytest.fixture
def shared_io_peer(monkeypatch):
    """The io peer of this (measuring) process, as `prepare` starts it; stopped afterwards."""
    io = common.load_workload("io", common.discover())
    monkeypatch.delenv(io.SHARED_PEER_ENV, raising=False)
    io.prepare()
    yield io
    io.stop_peer()


@pytest.mark.parametrize("kind", ["multiprocessing", "subprocess"])
def test_pool_workers_started_before_the_io_peer_answer_through_it(kind, shared_io_peer):
    io = shared_io_peer
    assert os.environ[io.SHARED_PEER_ENV] == f"{os.getpid()}:{io._PEER['address'][1]}"
    pool = pools_module.Pools(2).get(kind, "cpu", common.discover(), 2)[0]  # before the peer
    try:
        pool.use("io")  # hands the address over
        ok = pool.run(2, 2)
        assert all(a["ok"] for a in ok) and [a["checksum"] for a in ok] == [
            io.unit(2, 0), io.unit(2, 1)
        ]
        io.stop_peer()  # the workers started no peer of their own: now they have none
        gone = pool.run(2, 2)
    finally:
        pool.close()
    assert not any(a["ok"] for a in gone)
    assert all("refused" in a["error"].lower() for a in gone)


def test_a_forked_or_started_child_uses_its_parents_peer_and_its_own_when_it_has_none(
    monkeypatch,
):
    io = common.load_workload("io", common.discover())
    monkeypatch.setenv(io.SHARED_PEER_ENV, "1:4567")  # a parent's peer
    assert io._shared_peer() == ("127.0.0.1", 4567)
    monkeypatch.setenv(io.SHARED_PEER_ENV, f"{os.getpid()}:4567")  # its own, which died
    assert io._shared_peer() is None
    monkeypatch.setenv(io.SHARED_PEER_ENV, "")
    assert io._shared_peer() is None


def test_a_workloads_prepare_runs_once_before_its_cells_and_a_failure_is_left_to_them(capsys):
    calls = []

    class Prepared:
        @staticmethod
        def prepare():
            calls.append("prepare")
            raise OSError("no peer")

    opts = runner.parse_args(["--workload", "io"])
    runner.prepare(Prepared, opts.parts[0])
    assert calls == ["prepare"]
    assert "preparing io failed: OSError: no peer" in capsys.readouterr().err
    runner.prepare(object(), opts.parts[0])  # a workload without the hook
