"""Issue 14 items 1-3 end to end with the local backend (real processes, no Docker): one run per
reports folder, unique run ids, SIGTERM like Ctrl-C, a full disk stops the run cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.errors import GilbenchError, RunLocked
from harness.measure.progress import Display
from harness.measure.session import CompareOptions, compare
from harness.store import layout
from harness.store.results import RESULTS_FILE, iter_records

ROOT = Path(__file__).resolve().parents[3]
SUITE = """description: reliability tests
timeout_s: 120
reps: {reps}
warmups: 0
workers: [1]
workloads:
  cpu: {{size: {size}, modes: [serial]}}
"""


def _suite(tmp_path: Path, reps: int = 1, size: int = 200) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(SUITE.format(reps=reps, size=size), encoding="utf-8")
    return path


def _options(tmp_path: Path, reports: Path, **extra: object) -> CompareOptions:
    return CompareOptions(
        suite=str(_suite(tmp_path)),
        backend="local",
        local=(f"py={sys.executable}",),
        reports_dir=reports,
        **extra,  # type: ignore[arg-type]
    )


def test_a_second_run_refuses_at_once_naming_the_holder(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    owner = layout.owner_text("20261201T000000Z-other")
    with layout.reports_lock(reports, owner, wait=False), pytest.raises(RunLocked) as caught:
        compare(ROOT, _options(tmp_path, reports), Display(quiet=True))
    message = str(caught.value)
    assert "\n" not in message and f"pid {os.getpid()}" in message
    assert "run 20261201T000000Z-other" in message and "--wait-lock" in message
    assert not layout.runs_dir(reports).exists()  # nothing was started


def test_a_waiting_run_starts_when_the_holder_ends(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    acquired = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with layout.reports_lock(reports, "pid 1 on elsewhere, run x", wait=False):
            acquired.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    acquired.wait(30)
    waited: list[str] = []
    timer = threading.Timer(1.0, release.set)
    timer.start()
    with layout.reports_lock(reports, "second", wait=True, on_wait=waited.append):
        assert release.is_set()
        assert (reports / layout.LOCK_FILE).read_text().strip() == "second"
    thread.join()
    assert len(waited) == 1 and "pid 1 on elsewhere, run x" in waited[0]


def test_two_runs_in_the_same_second_get_separate_folders(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    first = compare(ROOT, _options(tmp_path, reports), Display(quiet=True))
    moment = layout.utc_now()
    taken = layout.new_run_id("tiny", moment)
    layout.run_dir(reports, taken).mkdir(parents=True, exist_ok=True)
    second = layout.unique_run_id(reports, "tiny", moment)
    assert second == f"{taken}-2" and layout.time_from_run_id(second) == layout.iso(moment)
    assert first.name != second and (first / RESULTS_FILE).is_file()


def test_sigterm_keeps_results_marks_interrupted_and_prints_a_one_line_resume(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports"
    suite = _suite(tmp_path, reps=200, size=20000)
    argv = [sys.executable, "-m", "harness", "compare", "--backend", "local", "--local",
            f"py={sys.executable}", "--suite", str(suite), "--reports", str(reports)]
    env = {**os.environ, "COLUMNS": "60"}  # a narrow terminal must not wrap the command
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    deadline = time.monotonic() + 120
    results: list[Path] = []
    while time.monotonic() < deadline and not results:
        results = [p for p in reports.glob(f"runs/*/{RESULTS_FILE}") if p.stat().st_size]
        time.sleep(0.2)
    assert results, "no record arrived"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    run_dir = results[0].parent
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "interrupted"
    assert list(iter_records(results[0]))  # what was measured is kept
    lines = [line for line in stderr.splitlines() if "stopped by SIGTERM" in line]
    assert len(lines) == 1, stderr
    resume = f"{sys.executable} -m harness compare --resume {run_dir.name}"
    assert resume in lines[0] and f"--reports {reports}" in lines[0]


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 256 KiB tmpfs (root only; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_too_little_free_space_refuses_before_any_work(small_disk: Path, tmp_path: Path) -> None:
    with pytest.raises(GilbenchError) as caught:
        compare(ROOT, _options(tmp_path, small_disk / "reports"), Display(quiet=True))
    assert "MiB free, a run needs at least 50 MiB" in str(caught.value)
    assert not layout.runs_dir(small_disk / "reports").exists()


def test_a_full_disk_mid_run_stops_cleanly_and_resume_cuts_the_torn_line(
    small_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout, "MIN_FREE_BYTES", 0)  # let it start, then fill the disk
    reports = small_disk / "reports"
    options = CompareOptions(suite=str(_suite(tmp_path, reps=5000, size=10)), backend="local",
                             local=(f"py={sys.executable}",), reports_dir=reports)
    with pytest.raises(GilbenchError) as caught:
        compare(ROOT, options, Display(quiet=True))
    message = str(caught.value)
    assert "\n" not in message and "ENOSPC" in message and "--resume" in message
    run_dir = next(layout.runs_dir(reports).iterdir())
    text = (run_dir / RESULTS_FILE).read_bytes()
    assert text.endswith(b"\n")  # the torn last line was cut when the write failed
    assert len(list(iter_records(run_dir / RESULTS_FILE))) == text.count(b"\n")
    status = json.loads((run_dir / "meta.json").read_text())["status"]
    # a full disk may refuse meta.json too: then the message says so
    assert status == "interrupted" or "it still says running" in message
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    resumed = compare(ROOT, CompareOptions(backend="local", local=(f"py={sys.executable}",),
                                           reports_dir=reports, resume=run_dir.name),
                      Display(quiet=True))
    records = list(iter_records(resumed / RESULTS_FILE))  # no line was appended onto a torn one
    assert (resumed / RESULTS_FILE).read_bytes().endswith(b"\n")
    assert sum(1 for r in records if r.ok and not r.warmup) == 5000
    assert json.loads((resumed / "meta.json").read_text())["status"] == "complete"
