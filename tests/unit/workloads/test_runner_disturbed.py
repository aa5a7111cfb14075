"""Issue 10 items 5 and 6 in the runner: every unit's checksum is reported, and a steady
measurement other processes disturbed is measured again (bounded), by the harness's rule."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.analyse.integrity import cell_health
from harness.analyse.stats import frame_from_records
from harness.store.results import Record
from harness.vocabulary import DISTURBED_FLOOR_S, DISTURBED_SHARE

ROOT = Path(__file__).resolve().parents[3]
WORKLOADS = ROOT / "workloads"
RUNNER = WORKLOADS / "gilbench_runner.py"
sys.path.insert(0, str(WORKLOADS))

import gilbench_common as common  # noqa: E402
import gilbench_lines as lines  # noqa: E402
import gilbench_neighbours as neighbours  # noqa: E402
import gilbench_runner as runner  # noqa: E402

IDLE_STAT = "cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 {user} 0 0 5000 0 0 0 0 0 0\ncpu1 0 0 0 5000 0 0 0 0 0 0\n"
RULE = ["--disturbed-share", repr(DISTURBED_SHARE), "--disturbed-floor-s", repr(DISTURBED_FLOOR_S)]


class NoisyNeighbour:
    """A workload whose units, on the calls listed, coincide with another process taking a
    whole CPU-second on CPU 0: it adds that to the fake /proc/stat while it runs."""

    KIND = "cpu"
    MODES = ("serial", "threads")

    def __init__(self, stat: Path, noisy_calls: set[int]) -> None:
        self.stat = stat
        self.noisy_calls = noisy_calls
        self.calls = 0
        self.user_ticks = 0
        self.hz = neighbours.CpuCounters(None, path=str(stat)).hz
        self._write()

    def _write(self) -> None:
        self.stat.write_text(IDLE_STAT.format(user=self.user_ticks), encoding="utf-8")

    def unit(self, size: int, index: int) -> str:
        self.calls += 1
        if self.calls in self.noisy_calls:
            self.user_ticks += int(self.hz)  # one CPU-second of someone else's work
            self._write()
        return "%d-%d" % (size, index)


def _measure(tmp_path, monkeypatch, noisy_calls: set[int], *options: str) -> list[dict]:
    """Run a serial x1 cell (1 warm-up, 3 reps) in this process; the records it emitted."""
    out = io.StringIO()
    monkeypatch.setitem(lines.OUT, "stream", out)
    argv = ["--workload", "cpu", "--modes", "serial", "--workers", "1", "--reps", "3"]
    opts = runner.parse_args([*argv, "--warmups", "1", *options])
    module = NoisyNeighbour(tmp_path / "stat", noisy_calls)
    counters = neighbours.CpuCounters([0], path=str(module.stat), own=lambda: 0.0)
    cells = runner.plan_cells([("serial", 1)], 5, 5, None)
    runner.WorkloadRun(module, opts.parts[0], opts, counters=counters).run_sequential(cells)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_disturbed_measurement_is_kept_and_measured_again(tmp_path, monkeypatch):
    # the warm-up (call 1) and the first steady measurement and its repetition (2, 3) coincide
    # with the neighbour; a warm-up is never repeated
    out = _measure(tmp_path, monkeypatch, {1, 2, 3}, "--repeat-disturbed", "2", *RULE)
    assert [(r["rep"], r["warmup"], r["repeat_of"]) for r in out] == [
        (0, True, None), (1, False, None), (2, False, 1), (3, False, 2),
        (4, False, None), (5, False, None),
    ]
    others = [r["others_cpu_s"] for r in out]
    assert others[:3] == [pytest.approx(1.0)] * 3 and others[3:] == [0.0] * 3
    # the harness reads them by the same rule: 2 disturbed, both measured again, 3 clean
    records = [Record.from_dict({**r, "run_id": "r", "runtime": "rt"}) for r in out]
    health = cell_health(frame_from_records(records))[("rt", "cpu", "serial", 1)]
    assert (health.ok, health.disturbed, health.repeated, health.stayed_disturbed) == (5, 2, 2, 0)


def test_repetitions_are_bounded_per_cell(tmp_path, monkeypatch):
    out = _measure(tmp_path, monkeypatch, {2, 3}, "--repeat-disturbed", "1", *RULE)
    assert [r["repeat_of"] for r in out] == [None, None, 1, None, None]
    records = [Record.from_dict({**r, "run_id": "r", "runtime": "rt"}) for r in out]
    health = cell_health(frame_from_records(records))[("rt", "cpu", "serial", 1)]
    assert (health.disturbed, health.repeated, health.stayed_disturbed) == (2, 1, 1)


def test_without_repeat_disturbed_nothing_is_measured_again(tmp_path, monkeypatch):
    out = _measure(tmp_path, monkeypatch, {2})
    assert [r["repeat_of"] for r in out] == [None] * 4
    assert out[1]["others_cpu_s"] == pytest.approx(1.0)


def test_repeat_disturbed_needs_the_rule():
    with pytest.raises(runner.UsageError, match="needs --disturbed-share and --disturbed-floor-s"):
        runner.parse_args(["--workload", "cpu", "--repeat-disturbed", "2"])
    with pytest.raises(runner.UsageError, match="--disturbed-share must be >= 0"):
        runner.parse_args(["--workload", "cpu", "--repeat-disturbed", "2",
                           "--disturbed-share", "-1", "--disturbed-floor-s", "0.05"])


def test_every_executor_that_runs_units_reports_each_units_checksum():
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GILBENCH_")}
    argv = ["--workload", "io", "--modes", "serial,threads,processes,asyncio", "--workers", "1,3"]
    done = subprocess.run(
        [sys.executable, str(RUNNER), *argv, "--size", "2", "--reps", "1", "--warmups", "0"],
        capture_output=True, text=True, timeout=300, env=environ,
    )
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert {r["mode"] for r in out} == {"serial", "threads", "processes", "asyncio"}
    for rec in out:
        units = rec["unit_checksums"]
        assert rec["ok"] and len(units) == rec["workers"], rec
        assert rec["checksum"] == common.combine_checksums(list(enumerate(units)))
    # unit i is the same work whatever N and mode, and other work than unit j
    for index in range(3):
        assert len({r["unit_checksums"][index] for r in out if r["workers"] > index}) == 1
    assert all(len(set(r["unit_checksums"])) == 3 for r in out if r["workers"] == 3)


def test_a_workload_that_times_itself_reports_no_unit_checksums():
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GILBENCH_")}
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--workload", "contention", "--modes", "serial",
         "--size", "50", "--reps", "1", "--warmups", "0"],
        capture_output=True, text=True, timeout=120, env=environ,
    )
    assert done.returncode == 0, done.stderr
    (rec,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert rec["ok"] and rec["checksum"] and rec["unit_checksums"] is None
