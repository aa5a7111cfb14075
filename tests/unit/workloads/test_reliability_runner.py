"""Issue 14 item 4 (runner part): a pool worker killed by the OOM killer fails its cell at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RUNNER = ROOT / "workloads" / "gilbench_runner.py"

# a unit that SIGKILLs its own pool worker (what the OOM killer does) on the second task
SUICIDAL_WORKLOAD = """
import os
import signal
KIND = "cpu"
DESCRIPTION = "Kills its own process on unit 1."
CLAIM = "None."
DEFAULT_SIZE = 10
MODES = ("serial", "processes")


def unit(size, index):
    if index == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return size + index
"""


def test_a_killed_pool_worker_fails_the_cell_at_once_and_the_runner_exits(tmp_path: Path) -> None:
    folder = tmp_path / "wl"
    folder.mkdir()
    (folder / "wl_suicidal.py").write_text(SUICIDAL_WORKLOAD, encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GILBENCH_")}
    environ["GILBENCH_WORKLOADS_PATH"] = str(folder)
    argv = ["--workload", "suicidal", "--modes", "processes", "--workers", "2"]
    argv += ["--size", "10", "--reps", "3", "--warmups", "0", "--pool", "multiprocessing"]
    # before the fix multiprocessing.Pool waited for the lost task for 24 h: the timeout fails it
    done = subprocess.run(
        [sys.executable, str(RUNNER), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == 1, records  # failed once, not measured afterwards
    (record,) = records
    assert record["ok"] is False and record["rep"] == 0 and record["workers"] == 2
    assert "pool worker" in record["error"]
    assert "died (exit -9: killed, OOM?)" in record["error"]
