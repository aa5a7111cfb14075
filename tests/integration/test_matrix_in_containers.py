"""The run matrix against real containers: failures become records, nothing is left behind,
and Ctrl-C keeps what was measured and --resume finishes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.measure.config import WorkloadInfo, parse_suite
from harness.measure.matrix import GroupRunner, plan_groups
from harness.measure.runtimes import Runtime
from harness.store.results import iter_records, read_meta

ROOT = Path(__file__).resolve().parents[2]
FAKE_RUNNER = ROOT / "tests" / "data" / "fake_runner.py"
TEST_IMAGE = "gilbench-test/fake-runner:latest"


@pytest.fixture(scope="module")
def fake_runtime(backend, available, tmp_path_factory):
    """An image of an available runtime whose runner misbehaves on request."""
    host = next((r for r in available if r.family in ("pypy", "cpython", "cython")), None)
    if host is None:
        pytest.skip("no Python 3 runtime image under test")
    context = tmp_path_factory.mktemp("fake-image")
    (context / "gilbench_runner.py").write_text(FAKE_RUNNER.read_text())
    (context / "Dockerfile").write_text(
        f"FROM {host.image}\nCOPY gilbench_runner.py /opt/gilbench/workloads/gilbench_runner.py\n"
    )
    backend.build(context, "Dockerfile", TEST_IMAGE, {}, {"gilbench.test": "true"}, lambda _l: None)
    yield Runtime(id="fake-1", family=host.family, image=TEST_IMAGE, dockerfile="", context="",
                  build_args={}, expected_gil=None, warmups=0, description="")
    backend.remove_image(TEST_IMAGE)


@pytest.mark.parametrize(
    ("workload", "error_start"),
    [
        ("boom", "ZeroDivisionError"),
        ("hang", "timeout: no result for 20 s"),
        ("junk", "garbage on stdout"),
        ("die", "the runner exited with code 7"),
    ],
)
def test_a_bad_cell_fails_alone_in_a_container(backend, fake_runtime, tmp_path, workload, error_start):
    catalogue = {workload: WorkloadInfo(workload, "cpu", 1, ("serial", "threads"))}
    suite = parse_suite({"reps": 2, "warmups": 0, "workers": [1, 2, 4],
                         "workloads": {workload: {"size": 1}}}, "t", "t.yaml", catalogue)
    (group,) = plan_groups(suite, [fake_runtime])
    results = tmp_path / "results.jsonl"
    runner = GroupRunner(backend, "it-fail", results, idle_timeout_s=20, total_timeout_s=300,
                         memory="512m", cpuset="0", on_cell_done=lambda c, r: None,
                         on_cell_start=lambda c: None)
    runner.run(group, set())
    records = list(iter_records(results))
    failed = [r for r in records if not r.ok]
    assert [(r.mode, r.workers) for r in failed] == [("threads", 2)]
    assert failed[0].error.startswith(error_start)
    healthy = {(r.mode, r.workers) for r in records if r.ok}
    assert {("serial", 1), ("serial", 2), ("serial", 4), ("threads", 1), ("threads", 4)} <= healthy
    assert backend.containers("gilbench.run=it-fail") == []


def _results_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def test_ctrl_c_keeps_results_and_resume_finishes(backend, available, tmp_path):
    runtime = next((r for r in available if r.family == "pypy"), available[0])
    suite = tmp_path / "tiny.yaml"
    suite.write_text(
        "reps: 3\nwarmups: 0\nworkers: [1, 2]\n"
        "workloads:\n  io: {size: 40, modes: [serial, threads]}\n  cpu: {size: 3000, modes: [serial, threads]}\n"
    )
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "harness", "--quiet", "compare", "--suite", str(suite),
               "--runtimes", runtime.id, "--reports", str(reports), "--no-build"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 300
    results = None
    while time.monotonic() < deadline:
        runs = list((reports / "runs").glob("*")) if (reports / "runs").is_dir() else []
        if runs and _results_lines(runs[0] / "results.jsonl") >= 2:
            results = runs[0] / "results.jsonl"
            break
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    assert results is not None, "no result arrived in time"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr
    run_dir = results.parent
    kept = _results_lines(results)
    assert kept >= 2
    assert read_meta(run_dir).status == "interrupted"
    assert backend.containers(f"gilbench.run={run_dir.name}") == []

    resume = [sys.executable, "-m", "harness", "--quiet", "compare", "--resume", run_dir.name,
              "--reports", str(reports), "--no-build"]
    done = subprocess.run(resume, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    meta = read_meta(run_dir)
    assert meta.status == "complete" and meta.attempts == 2
    cells: dict[tuple, int] = {}
    for record in iter_records(results):
        assert record.ok, record
        key = (record.workload, record.mode, record.workers)
        cells[key] = cells.get(key, 0) + 1
    assert cells == {(w, m, n): 3 for w in ("io", "cpu") for m in ("serial", "threads") for n in (1, 2)}
    assert done.stdout.strip().endswith("report.md")
    assert json.loads((run_dir / "meta.json").read_text())["run_id"] == run_dir.name
