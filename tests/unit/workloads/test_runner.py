"""workloads/gilbench_runner.py and workloads/probe.py as the harness runs them: subprocesses
of the host CPython, tiny sizes, no Docker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.store.results import SUPPORTED_SCHEMAS, Record

ROOT = Path(__file__).resolve().parents[3]
WORKLOADS = ROOT / "workloads"
RUNNER = WORKLOADS / "gilbench_runner.py"
PROBE = WORKLOADS / "probe.py"

# runner behaviour on a few stable workloads (each workload's own contract: test_workloads.py)
TINY = {"cpu": 300, "io": 2, "contention": 500}
MODES = {
    "cpu": ["serial", "threads", "processes"],
    "io": ["serial", "threads", "processes", "asyncio"],
    "contention": ["serial", "threads"],
}
# every field of formats.md's record, minus the four the harness adds
RECORD_FIELDS = {
    "schema",
    "implementation",
    "python_version",
    "gil_enabled",
    "workload",
    "kind",
    "mode",
    "workers",
    "size",
    "sizing",
    "unit_s",
    "rep",
    "warmup",
    "invocation",
    "order_seed",
    "position",
    "wall_s",
    "cpu_s",
    "pool_roundtrip_s",
    "cpuset_busy_s",
    "steal_s",
    "others_cpu_s",
    "ok",
    "error",
    "unsupported",
    "checksum",
    "unit_checksums",
    "repeat_of",
    "pool",
    "extra",
    "ts",
}
PY_VERSION = ".".join(str(part) for part in sys.version_info[:3])
HOST_GIL = bool(sys._is_gil_enabled()) if hasattr(sys, "_is_gil_enabled") else True

FAILING_WORKLOAD = """
from __future__ import print_function
KIND = "cpu"
DESCRIPTION = "Raises on purpose."
CLAIM = "None."
DEFAULT_SIZE = 1
MODES = ("serial", "threads", "processes")


def unit(size, index):
    raise ValueError("boom %d" % index)
"""

CHATTY_WORKLOAD = """
from __future__ import print_function
KIND = "cpu"
DESCRIPTION = "Prints to stdout, which must not reach the records."
CLAIM = "None."
DEFAULT_SIZE = 1
MODES = ("serial", "threads")
print("noise at import")


def unit(size, index):
    print("noise from unit", index)
    return size + index
"""

MEASURE_WORKLOAD = """
import time
KIND = "latency"
DESCRIPTION = "Times itself."
CLAIM = "None."
DEFAULT_SIZE = 7
MODES = ("serial", "threads")


def unit(size, index):
    return size


def measure(mode, workers, size):
    time.sleep(0.01)
    return "%dx%d" % (size, workers), {"mode_seen": mode}
"""

BROKEN_WORKLOAD = "KIND = 'cpu'\nraise ImportError('missing dependency')\n"


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GILBENCH_")}
    base.update(extra)
    return base


def run(*args: str, timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(RUNNER), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(**extra_env),
    )


def records(done: subprocess.CompletedProcess) -> list[dict]:
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines, done.stderr
    return [json.loads(line) for line in lines]  # every stdout line is one JSON object


def planned(done: subprocess.CompletedProcess) -> tuple[list[dict], list[dict]]:
    """A --plan run's records, and the lines that say which workload runs from then on."""
    lines = records(done)
    return [r for r in lines if "event" not in r], [r for r in lines if "event" in r]


def check_record(rec: dict) -> None:
    assert set(rec) == RECORD_FIELDS, set(rec) ^ RECORD_FIELDS
    assert rec["schema"] == 2
    assert rec["implementation"] == "cpython"
    assert rec["python_version"] == PY_VERSION
    assert rec["gil_enabled"] is HOST_GIL
    assert isinstance(rec["ts"], float)
    assert isinstance(rec["extra"], dict)
    assert rec["sizing"] in ("fixed", "calibrated")
    assert isinstance(rec["invocation"], int)
    if rec["pool_roundtrip_s"] is not None:
        assert rec["mode"] == "processes" and rec["pool_roundtrip_s"] > 0


def run_workload(
    name: str,
    workers: str = "1,2",
    reps: str = "1",
    warmups: str = "1",
    modes: list[str] | None = None,
    **extra_env: str,
) -> list[dict]:
    done = run(
        "--workload",
        name,
        "--modes",
        ",".join(modes or MODES[name]),
        "--workers",
        workers,
        "--size",
        str(TINY[name]),
        "--reps",
        reps,
        "--warmups",
        warmups,
        **extra_env,
    )
    out = records(done)
    for rec in out:
        check_record(rec)
    return out


def test_records_load_in_the_harness_reader():
    """Schema 2 records must be readable by the harness (needs 2 in SUPPORTED_SCHEMAS)."""
    (rec,) = run_workload("cpu", workers="1", warmups="0", modes=["serial"])
    full = dict(rec, run_id="20260101T000000Z-test", runtime="host", backend="local")
    assert rec["schema"] in SUPPORTED_SCHEMAS, "harness reader does not accept schema 2 yet"
    parsed = Record.from_dict(full)
    assert parsed.workload == rec["workload"] and parsed.ok is rec["ok"]


@pytest.mark.parametrize("name", sorted(MODES))
def test_every_mode_gives_valid_records_and_agreeing_checksums(name):
    out = run_workload(name)
    modes = MODES[name]
    assert len(out) == len(modes) * 2 * 2  # modes x workers (1, 2) x (warmup + rep)
    expected_cells = [(m, w) for m in modes for w in (1, 2)]
    assert [(r["mode"], r["workers"]) for r in out[::2]] == expected_cells
    for rec in out:
        assert rec["ok"] is True, rec["error"]
        assert rec["error"] is None and rec["unsupported"] is False
        assert rec["workload"] == name and rec["size"] == TINY[name]
        assert rec["warmup"] is (rec["rep"] == 0)
        assert rec["wall_s"] > 0
        assert rec["cpu_s"] is not None and rec["cpu_s"] >= 0
        assert isinstance(rec["checksum"], str) and rec["checksum"]
        assert (rec["pool"] is not None) is (rec["mode"] == "processes")
        assert len(rec["extra"]["unit_wall_s"]) == rec["workers"]
    for workers in (1, 2):
        sums = {r["checksum"] for r in out if r["workers"] == workers}
        assert len(sums) == 1, f"{name} workers={workers}: modes disagree: {sums}"
    assert out[0]["checksum"] != [r for r in out if r["workers"] == 2][0]["checksum"]


def test_defaults_come_from_the_workload():
    listed = {r["name"]: r for r in records(run("--list"))}
    out = records(run("--workload", "contention", "--reps", "1", "--warmups", "0"))
    assert [r["mode"] for r in out] == listed["contention"]["modes"]
    for rec in out:
        assert rec["size"] == listed["contention"]["default_size"]
        assert rec["workers"] == 1 and rec["warmup"] is False and rec["ok"]


def test_a_workload_with_measure_is_timed_whole_and_keeps_its_extra(fixture_workloads):
    out = records(
        run(
            "--workload",
            "timed",
            "--workers",
            "1,3",
            "--reps",
            "1",
            "--warmups",
            "0",
            "--scaling-min-unit-s",
            "1",
            GILBENCH_WORKLOADS_PATH=fixture_workloads,
        )
    )
    assert [(r["mode"], r["workers"]) for r in out] == [
        ("serial", 1),
        ("serial", 3),
        ("threads", 1),
        ("threads", 3),
    ]
    for rec in out:
        check_record(rec)
        assert rec["ok"] and rec["sizing"] == "fixed" and rec["size"] == 7  # never calibrated
        assert rec["extra"]["mode_seen"] == rec["mode"] and rec["checksum"] == f"7x{rec['workers']}"
        assert rec["wall_s"] >= 0.01  # the measure() call itself is timed


def test_processes_mode_records_worker_cpu():
    out = run_workload("cpu", modes=["processes"], warmups="0")
    for rec in out:
        extra = rec["extra"]
        assert rec["pool"] == "multiprocessing"
        assert len(extra["worker_cpu_s"]) == rec["workers"]
        assert rec["cpu_s"] == pytest.approx(extra["parent_cpu_s"] + sum(extra["worker_cpu_s"]))


@pytest.mark.parametrize("how", ["env", "flag"])
def test_subprocess_pool_works_and_agrees(how):
    args = ["--pool", "subprocess"] if how == "flag" else []
    extra_env = {"GILBENCH_POOL": "subprocess"} if how == "env" else {}
    done = run(
        "--workload",
        "cpu",
        "--modes",
        "serial,processes",
        "--workers",
        "1,2",
        "--size",
        "300",
        "--reps",
        "1",
        "--warmups",
        "0",
        *args,
        **extra_env,
    )
    out = records(done)
    for rec in out:
        check_record(rec)
        assert rec["ok"], rec["error"]
    procs = [r for r in out if r["mode"] == "processes"]
    assert [r["pool"] for r in procs] == ["subprocess", "subprocess"]
    assert procs[1]["extra"]["pool_size"] == 2
    for workers in (1, 2):
        assert len({r["checksum"] for r in out if r["workers"] == workers}) == 1


def test_serve_protocol():
    """The subprocess pool's worker: hello line, one answer per task line, exit on EOF."""
    tasks = "".join(json.dumps({"size": 100, "index": i}) + "\n" for i in range(2))
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--serve", "--workload", "cpu"],
        input=tasks + "not json\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
    )
    assert done.returncode == 0, done.stderr
    hello, first, second, bad = [json.loads(line) for line in done.stdout.splitlines()]
    assert hello["ready"] is True and isinstance(hello["pid"], int)
    assert [first["index"], second["index"]] == [0, 1]
    assert first["ok"] and first["checksum"] == "25-1060" and first["cpu_s"] >= 0
    assert bad["ok"] is False and "bad task line" in bad["error"]


def test_asyncio_mode_overlaps_in_one_thread():
    out = run_workload("io", modes=["serial", "asyncio"], workers="3", warmups="0")
    serial, asyncio_rec = out
    assert asyncio_rec["mode"] == "asyncio" and asyncio_rec["ok"]
    assert asyncio_rec["checksum"] == serial["checksum"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--workload", "nope"], "unknown workload 'nope'"),
        (["--workload", "cpu", "--modes", "serial,fibres"], "unknown mode(s) fibres"),
        (["--workload", "cpu", "--size", "0"], "--size must be >= 1"),
        (["--workload", "cpu", "--size", "-3"], "--size must be >= 1"),
        (["--workload", "cpu", "--size", "big"], "--size: 'big' is not an integer"),
        (["--workload", "cpu", "--workers", "0"], "--workers must be >= 1"),
        (["--workload", "cpu", "--workers", "1,,2"], "--workers: '1,,2' is not a comma"),
        (["--workload", "cpu", "--workers", "1.5"], "--workers: '1.5' is not an integer"),
        (["--workload", "cpu", "--reps", "0"], "--reps must be >= 1"),
        (["--workload", "cpu", "--warmups", "-1"], "--warmups must be >= 0"),
        (["--workload", "cpu", "--pool", "threads"], "'threads' is not one of"),
        (["--modes", "serial"], "--workload or --plan is required"),
        (["--plan", "[{"], "--plan: not JSON"),
        (["--plan", "[]"], "--plan: expected a non-empty JSON list"),
        (["--plan", '[{"workload": "cpu"}]'], "--plan entry 0: cells: expected a non-empty"),
        (["--plan", '[{"workload": "cpu", "cells": [["serial", 1]], "reps": 0}]'],
         "--plan entry 0: reps must be >= 1"),
        (["--plan", '[{"workload": "cpu", "cells": [["fibres", 1]]}]'],
         "--plan entry 0: cells: unknown mode(s) fibres"),
        (["--plan", '[{"workload": "nope", "cells": [["serial", 1]]}]'],
         "--plan entry 0: workload: unknown workload 'nope'"),
        (["--plan", '[{"workload": "cpu", "cells": [["serial", 1]], "speed": 2}]'],
         "--plan entry 0: unknown field(s) speed"),
        (["--plan", '[{"workload": "cpu", "cells": [["serial", 1]]}]', "--workload", "cpu"],
         "--plan replaces --workload"),
        (["--workload", "cpu", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_input_is_one_stderr_line_and_exit_2(args, message):
    done = run(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gilbench_runner: error: ")
    assert message in lines[0]


def test_bad_pool_env_is_rejected_like_a_flag():
    done = run("--workload", "cpu", GILBENCH_POOL="bogus")
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1


def test_mode_the_workload_lacks_is_an_unsupported_record():
    out = records(
        run(
            "--workload",
            "cpu",
            "--modes",
            "asyncio,serial",
            "--workers",
            "1,2",
            "--size",
            "100",
            "--reps",
            "1",
            "--warmups",
            "0",
        )
    )
    unsupported = [r for r in out if r["mode"] == "asyncio"]
    assert len(unsupported) == 2  # one per cell, rep 0
    for rec in unsupported:
        check_record(rec)
        assert rec["ok"] is False and rec["unsupported"] is True and rec["rep"] == 0
        assert "does not define mode asyncio" in rec["error"]
        assert rec["wall_s"] is None and rec["checksum"] is None
    assert all(r["ok"] for r in out if r["mode"] == "serial")


@pytest.fixture
def fixture_workloads(tmp_path):
    (tmp_path / "wl_boom.py").write_text(FAILING_WORKLOAD, encoding="utf-8")
    (tmp_path / "wl_chatty.py").write_text(CHATTY_WORKLOAD, encoding="utf-8")
    (tmp_path / "wl_broken.py").write_text(BROKEN_WORKLOAD, encoding="utf-8")
    (tmp_path / "wl_timed.py").write_text(MEASURE_WORKLOAD, encoding="utf-8")
    (tmp_path / "wl_cpu.py").write_text(FAILING_WORKLOAD, encoding="utf-8")  # cannot shadow
    return str(tmp_path)


@pytest.mark.parametrize("pool", ["multiprocessing", "subprocess"])
def test_a_raising_workload_gives_ok_false_records(fixture_workloads, pool):
    done = run(
        "--workload",
        "boom",
        "--workers",
        "1,2",
        "--reps",
        "2",
        "--warmups",
        "1",
        "--pool",
        pool,
        GILBENCH_WORKLOADS_PATH=fixture_workloads,
    )
    out = records(done)
    # one failed record per cell: the rest of a failing cell is skipped
    assert [(r["mode"], r["workers"], r["rep"]) for r in out] == [
        (m, w, 0) for m in ("serial", "threads", "processes") for w in (1, 2)
    ]
    for rec in out:
        check_record(rec)
        assert rec["ok"] is False and rec["unsupported"] is False
        assert "ValueError: boom" in rec["error"]
        assert "Traceback" not in rec["error"]
    assert out[-1]["pool"] == pool
    assert "Traceback" not in done.stdout


def test_workloads_path_cannot_shadow_builtin_workloads(fixture_workloads):
    out = records(
        run(
            "--workload",
            "cpu",
            "--modes",
            "serial",
            "--size",
            "100",
            "--reps",
            "1",
            "--warmups",
            "0",
            GILBENCH_WORKLOADS_PATH=fixture_workloads,
        )
    )
    assert out[0]["ok"] and out[0]["checksum"]


def test_stray_prints_go_to_stderr(fixture_workloads):
    done = run(
        "--workload",
        "chatty",
        "--workers",
        "2",
        "--reps",
        "1",
        "--warmups",
        "0",
        GILBENCH_WORKLOADS_PATH=fixture_workloads,
    )
    out = records(done)
    assert [r["ok"] for r in out] == [True, True]
    assert "noise from unit" in done.stderr


def test_a_workload_that_cannot_be_imported_gives_ok_false_records(fixture_workloads):
    out = records(
        run(
            "--workload",
            "broken",
            "--modes",
            "serial,threads",
            "--workers",
            "1",
            "--size",
            "1",
            GILBENCH_WORKLOADS_PATH=fixture_workloads,
        )
    )
    assert len(out) == 2
    for rec in out:
        check_record(rec)
        assert rec["ok"] is False
        assert "ImportError: missing dependency" in rec["error"]


def test_list_describes_every_workload(fixture_workloads):
    out = records(run("--list"))
    names = [r["name"] for r in out]
    assert names == sorted(p.stem[3:] for p in WORKLOADS.glob("wl_*.py"))
    for rec in out:
        assert set(MODES.get(rec["name"], [])) <= set(rec["modes"])
        assert isinstance(rec["default_size"], int) and rec["default_size"] > 0
        assert rec["kind"] and rec["claim"] and rec["description"]
        assert isinstance(rec["custom_measure"], bool)
    with_fixtures = records(run("--list", GILBENCH_WORKLOADS_PATH=fixture_workloads))
    broken = [r for r in with_fixtures if r["name"] == "broken"]
    assert broken and "ImportError" in broken[0]["error"]
    assert {"boom", "chatty"} <= {r["name"] for r in with_fixtures}


def test_probe_prints_one_valid_json_object():
    done = subprocess.run(
        [sys.executable, str(PROBE)], capture_output=True, text=True, timeout=120, env=env()
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    facts = json.loads(line)
    assert facts["implementation"] == "cpython"
    assert facts["python_version"] == PY_VERSION
    assert facts["gil_enabled"] is HOST_GIL
    assert facts["cpu_count"] == os.cpu_count()
    assert facts["platform"] == sys.platform
    assert facts["executable"] == sys.executable
    topology = facts["topology"]
    assert topology["logical_cpus"] == sorted(os.sched_getaffinity(0))
    assert 1 <= topology["physical_cores"] <= len(topology["logical_cpus"])
    assert sorted(sum(topology["smt_siblings"], [])) == topology["logical_cpus"]
    assert set(facts["features"]) == {
        "threading",
        "multiprocessing",
        "subprocess",
        "asyncio",
        "hashlib",
        "zlib",
    }
    assert all(value is True for value in facts["features"].values()), facts["features"]
    # which C code the C-library workloads run on (a pure-Python fallback would show here)
    import hashlib
    import zlib

    libs = facts["c_libraries"]
    kind = type(hashlib.sha256())
    assert libs["sha256"] == f"{kind.__module__}.{kind.__name__}"
    assert libs["zlib"] == zlib.ZLIB_RUNTIME_VERSION


def test_probe_reports_a_broken_subprocess_as_false():
    done = subprocess.run(
        [sys.executable, str(PROBE)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env(GILBENCH_PYTHON="/nonexistent/python"),
    )
    assert done.returncode == 0, done.stderr
    features = json.loads(done.stdout)["features"]
    assert features["subprocess"] is False and features["threading"] is True


def test_warmup_seconds_warms_the_first_cell_and_every_process_pool():
    out = records(
        run(
            "--workload",
            "cpu",
            "--modes",
            "processes,serial",
            "--workers",
            "1,2",
            "--size",
            "20000",
            "--reps",
            "2",
            "--warmups",
            "1",
            "--warmup-seconds",
            "0.3",
        )
    )
    first = [r for r in out if (r["mode"], r["workers"]) == ("processes", 1)]
    assert sum(r["warmup"] for r in first) > 1  # the first cell warmed up past --warmups
    for record in out:
        assert record["ok"], record
        if record["mode"] == "processes":
            assert record["extra"]["pool_jit_warm_rounds"] >= 1
    for cell in {(r["mode"], r["workers"]) for r in out}:
        assert sum(not r["warmup"] for r in out if (r["mode"], r["workers"]) == cell) == 2
    later = [r for r in out if (r["mode"], r["workers"]) == ("serial", 2)]
    assert sum(r["warmup"] for r in later) == 1  # later cells keep --warmups


def test_no_warmup_seconds_means_no_pool_warm_rounds():
    out = records(
        run(
            "--workload",
            "cpu",
            "--modes",
            "processes",
            "--workers",
            "1",
            "--size",
            "2000",
            "--reps",
            "1",
            "--warmups",
            "0",
        )
    )
    assert [r["extra"]["pool_jit_warm_rounds"] for r in out] == [0]


def test_bad_warmup_seconds_is_one_line():
    done = run("--workload", "cpu", "--warmup-seconds", "-1")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "gilbench_runner: error: --warmup-seconds must be >= 0, got -1"
    ]


def test_a_plan_runs_several_workloads_in_one_process_in_its_order():
    plan = [
        {"workload": "zlib", "cells": [["threads", 2], ["serial", 1]], "size": 1, "reps": 2,
         "warmups": 0, "order_seed": 3},
        {"workload": "cpu", "cells": [["serial", 1]], "size": 500, "reps": 1, "warmups": 1},
    ]
    out, events = planned(run("--plan", json.dumps(plan), "--interleave", "--invocation", "2"))
    assert events == [{"event": "workload", "workload": "zlib"},
                      {"event": "workload", "workload": "cpu"}]
    for rec in out:
        check_record(rec)
        assert rec["ok"] and rec["invocation"] == 2
    assert [r["workload"] for r in out] == ["zlib"] * 4 + ["cpu"] * 2  # one after the other
    assert [r["position"] for r in out] == list(range(6))  # one process, one sequence
    assert {r["order_seed"] for r in out if r["workload"] == "zlib"} == {3}
    assert [(r["mode"], r["workers"], r["warmup"]) for r in out if r["workload"] == "cpu"] == [
        ("serial", 1, True), ("serial", 1, False)]


def test_a_workload_that_switches_the_gil_on_leaves_the_rest_for_a_fresh_process(monkeypatch):
    monkeypatch.syspath_prepend(str(WORKLOADS))
    import gilbench_runner as runner

    from harness.measure.matrix import EXIT_FRESH_PROCESS

    opts = runner.parse_args(["--plan", json.dumps(
        [{"workload": name, "cells": [["serial", 1]]} for name in ("numpy", "cpu", "zlib")])])
    ran = []
    states = iter([False, True])  # free-threaded at start; numpy's import switched it on
    monkeypatch.setattr(runner, "run_part", lambda part, opts, positions: ran.append(part.workload))
    monkeypatch.setattr(runner.probe, "gil_enabled", lambda: next(states))
    monkeypatch.setattr(runner, "memory_share", lambda: None)
    assert runner.run_parts(opts) == runner.EXIT_FRESH_PROCESS == EXIT_FRESH_PROCESS
    assert ran == ["numpy"]


def test_a_workload_that_leaves_the_container_half_full_leaves_the_rest_for_a_fresh_process(
    monkeypatch, tmp_path
):
    monkeypatch.syspath_prepend(str(WORKLOADS))
    import gilbench_runner as runner

    current, limit = tmp_path / "memory.current", tmp_path / "memory.max"
    current.write_text("1700000000\n")
    limit.write_text("3221225472\n")
    v2 = ((str(current), str(limit)),)
    assert runner.memory_share(v2) == pytest.approx(0.528, abs=0.001)
    limit.write_text("max\n")
    assert runner.memory_share(v2) is None  # no limit: nothing to run out of
    assert runner.memory_share(((str(tmp_path / "none"), str(limit)),)) is None
    assert runner.fresh_process_reason(True, True, 0.53) == (
        "left the container at 53% of its memory limit")
    assert runner.fresh_process_reason(True, True, 0.2) is None
    assert runner.fresh_process_reason(False, True, None) == "switched the GIL on"

    opts = runner.parse_args(["--plan", json.dumps(
        [{"workload": name, "cells": [["serial", 1]]} for name in ("numpy", "io", "cpu")])])
    shares = iter([0.2, 0.6])  # numpy leaves 20%, io 60% of the limit behind
    ran = []
    monkeypatch.setattr(runner, "run_part", lambda part, opts, positions: ran.append(part.workload))
    monkeypatch.setattr(runner, "memory_share", lambda: next(shares))
    assert runner.run_parts(opts) == runner.EXIT_FRESH_PROCESS
    assert ran == ["numpy", "io"]


def test_the_warm_up_budget_goes_to_the_first_workload_that_runs_code_here():
    # cpu_nogil cannot run off Cython (its cells fail at set-up), spawn_fresh's work is new
    # interpreters: neither spends the process's --warmup-seconds; cpu's first cell does
    plan = [
        {"workload": "cpu_nogil", "cells": [["serial", 1]], "size": 100, "reps": 1, "warmups": 1},
        {"workload": "spawn_fresh", "cells": [["serial", 1]], "size": 1, "reps": 1, "warmups": 1},
        {"workload": "cpu", "cells": [["serial", 1]], "size": 20000, "reps": 1, "warmups": 1},
        {"workload": "zlib", "cells": [["serial", 1]], "size": 1, "reps": 1, "warmups": 1},
    ]
    out, _ = planned(run("--plan", json.dumps(plan), "--warmup-seconds", "0.3"))
    warmups = {w: sum(r["warmup"] for r in out if r["workload"] == w) for w in
               ("spawn_fresh", "cpu", "zlib")}
    assert warmups["spawn_fresh"] == 1 and warmups["zlib"] == 1
    assert warmups["cpu"] > 1
    assert sum(r["wall_s"] for r in out if r["workload"] == "cpu" and r["warmup"]) >= 0.3
    assert [r["ok"] for r in out if r["workload"] == "cpu_nogil"] == [False]
