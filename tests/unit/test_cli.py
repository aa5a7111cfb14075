"""The command line: one clear line on bad input, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NO_DOCKER = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/gilbench-test.sock"}


def _harness(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env or os.environ,
                          capture_output=True, text=True, timeout=60)


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert lines[0].startswith("gilbench: error: ")
    return lines[0]


def test_docker_not_reachable_is_one_line():
    line = _one_error_line(_harness("images", env=NO_DOCKER))
    assert "Docker is not reachable at unix:///nonexistent/gilbench-test.sock" in line


def test_runtimes_without_docker_still_lists_every_runtime_with_the_reason():
    done = _harness("runtimes", "--json", env=NO_DOCKER)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    ids = [r["id"] for r in rows]
    assert ids[:2] == ["cpython-3.13", "cpython-3.13t"] and "ironpython-3.4" in ids
    assert all(r["status"] == "unavailable" and r["reason"] for r in rows)
    # a free-threaded 3.14 without its source tarball names the file it needs
    by_id = {r["id"]: r for r in rows}
    assert "Python-3.14.10.tar.xz" in by_id["cpython-3.14t"]["reason"]


def test_unknown_suite_is_one_line():
    line = _one_error_line(_harness("compare", "--backend", "local", "--suite", "nosuch"))
    assert "nosuch.yaml: suite not found" in line


def test_unknown_runtime_is_one_line():
    line = _one_error_line(_harness("compare", "--suite", "smoke", "--runtimes", "cpython-2.7",
                                    env=NO_DOCKER))
    assert "Docker is not reachable" in line or "unknown runtime id(s) cpython-2.7" in line


def test_bad_local_interpreter_spec_is_one_line():
    line = _one_error_line(_harness("compare", "--backend", "local", "--suite", "smoke",
                                    "--local", "nocommand"))
    assert "--local 'nocommand': expected NAME=COMMAND" in line


def test_report_of_a_missing_run_is_one_line(tmp_path):
    line = _one_error_line(_harness("report", str(tmp_path / "nothing")))
    assert "nothing" in line


def test_a_missing_local_interpreter_is_an_unavailable_runtime_not_a_crash(tmp_path):
    suite = tmp_path / "tiny.yaml"
    suite.write_text("reps: 1\nworkers: [1]\nworkloads:\n  cpu: {size: 100, modes: [serial]}\n")
    done = _harness("--quiet", "compare", "--backend", "local", "--local",
                    "gone=/nonexistent/python", "--suite", str(suite), "--reports", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    meta = json.loads(next((tmp_path / "runs").glob("*/meta.json")).read_text())
    assert meta["runtimes"]["gone"]["available"] is False
    assert "cannot start /nonexistent/python" in meta["runtimes"]["gone"]["reason"]


def test_a_second_run_on_a_locked_reports_folder_exits_75_with_one_line(tmp_path):
    from harness.store.layout import reports_lock

    with reports_lock(tmp_path, "pid 1 on elsewhere, run 20261130T000000Z-smoke", wait=False):
        done = _harness("compare", "--backend", "local", "--suite", "smoke",
                        "--reports", str(tmp_path))
    assert done.returncode == 75, done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("gilbench: error:")]
    assert "another run holds this reports folder (pid 1 on elsewhere" in line


def test_export_writes_pyperf_and_benchmark_action_files(tmp_path):
    golden = Path(__file__).resolve().parents[1] / "data" / "golden_run"
    run = tmp_path / "runs" / "20261125T231500Z-default"
    run.mkdir(parents=True)
    for name in ("results.jsonl", "meta.json"):
        (run / name).write_bytes((golden / name).read_bytes())
    done = _harness("export", str(run))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(run / "pyperf.json"), str(run / "benchmark-action.json")]
    pyperf = json.loads((run / "pyperf.json").read_text())
    names = {b["metadata"]["name"] for b in pyperf["benchmarks"]}
    assert "cpython-3.13/cpu/threads/w2" in names
    entries = json.loads((run / "benchmark-action.json").read_text())
    assert {e["unit"] for e in entries} == {"s"} and len(entries) == len(names)
    assert "pypy-3.11/hash/processes/w2" in done.stderr  # the failed cell is named, not exported
