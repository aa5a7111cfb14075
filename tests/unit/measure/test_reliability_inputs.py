"""Issue 14 items 1, 2 and 7 without Docker: torn lines, container ownership, and one-line
errors for bad inputs (workload files, memory, cpuset, YAML, drop-in path, build-log escapes)."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError, GilbenchError, RuntimeUnavailable
from harness.measure.backends.docker import (
    DEADLINE_LABEL,
    HOST_LABEL,
    LABEL,
    PID_LABEL,
    UNOWNED_MAX_AGE_S,
    check_cpuset,
    owner_gone,
    strip_ansi,
)
from harness.measure.config import load_suite
from harness.measure.dropins import validate_required_file
from harness.measure.progress import Display
from harness.measure.runtimes import RequiredFile
from harness.measure.session import CompareOptions, compare
from harness.store import layout
from harness.store.results import RESULTS_FILE, iter_records, truncate_torn_tail

ROOT = Path(__file__).resolve().parents[3]
GOOD = 'KIND = "cpu"\nDEFAULT_SIZE = 10\nMODES = ("serial",)\n\ndef unit(size, index):\n    return 1\n'


# -- item 2: torn lines ------------------------------------------------------------------------


def test_truncate_torn_tail_cuts_only_an_unfinished_last_line(tmp_path: Path) -> None:
    path = tmp_path / RESULTS_FILE
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": ')
    assert truncate_torn_tail(path) == len(b'{"c": ')
    assert path.read_bytes() == b'{"a": 1}\n{"b": 2}\n'
    assert truncate_torn_tail(path) == 0  # a whole file is left alone
    path.write_bytes(b'{"only": ')
    assert truncate_torn_tail(path) == len(b'{"only": ') and path.read_bytes() == b""


def test_resume_cuts_a_torn_line_before_appending_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "tiny.yaml"
    suite.write_text("timeout_s: 60\nreps: 2\nwarmups: 0\nworkers: [1]\n"
                     "workloads:\n  cpu: {size: 100, modes: [serial]}\n", encoding="utf-8")
    reports = tmp_path / "reports"
    local = (f"py={sys.executable}",)
    run = compare(ROOT, CompareOptions(suite=str(suite), backend="local", local=local,
                                       reports_dir=reports), Display())
    results = run / RESULTS_FILE
    whole = results.read_bytes()
    results.write_bytes(whole[: whole.rindex(b"\n", 0, len(whole) - 1) + 1] + b'{"schema": 2, "ru')
    compare(ROOT, CompareOptions(backend="local", local=local, reports_dir=reports,
                                 resume=run.name), Display())
    records = list(iter_records(results))  # every line parses: nothing was appended onto it
    assert results.read_bytes().count(b"\n") == len(records)
    assert sum(1 for r in records if r.ok and not r.warmup) == 2
    assert "removed a torn last line (17 bytes" in capsys.readouterr().err


def test_an_unwritable_reports_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(GilbenchError) as caught:
        layout.check_writable(blocker)
    assert str(caught.value).startswith(f"{blocker}: cannot write the reports folder (EEXIST")


# -- item 1: which containers the sweep may remove ----------------------------------------------


def _labels(pid: int, host: str, deadline: float) -> dict[str, str]:
    return {LABEL: "true", PID_LABEL: str(pid), HOST_LABEL: host,
            DEADLINE_LABEL: str(int(deadline))}


def _dead_pid() -> int:
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_sweep_keeps_live_runs_and_removes_orphans() -> None:
    now = 1_000_000.0
    here = socket.gethostname()
    assert not owner_gone(_labels(os.getpid(), here, now + 600), now - 5, now)  # live run
    assert owner_gone(_labels(_dead_pid(), here, now + 600), now - 5, now)  # its harness died
    assert not owner_gone(_labels(1, "another-host", now + 600), now - 5, now)  # not ours to judge
    assert owner_gone(_labels(1, "another-host", now - 1), now - 900, now)  # past its deadline
    # a build container inheriting gilbench.managed from an old base image: only when stale
    assert not owner_gone({LABEL: "true"}, now - 60, now)
    assert owner_gone({LABEL: "true"}, now - UNOWNED_MAX_AGE_S - 1, now)


# -- item 7: one-line errors for bad inputs -----------------------------------------------------


def _project(tmp_path: Path, broken: str) -> Path:
    root = tmp_path / "project"
    (root / "workloads" / "suites").mkdir(parents=True)
    (root / "workloads" / "wl_good.py").write_text(GOOD)
    (root / "workloads" / "wl_bad.py").write_text(broken)
    return root


def _suite_file(root: Path, body: str) -> Path:
    path = root / "workloads" / "suites" / "t.yaml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("broken", "why"),
    [
        ("def unit(size, index:\n    return 1\n", "SyntaxError"),
        (GOOD.replace("DEFAULT_SIZE = 10", 'DEFAULT_SIZE = "10k"'), "DEFAULT_SIZE: expected an"),
    ],
)
def test_a_broken_workload_file_breaks_only_the_suites_that_use_it(
    tmp_path: Path, broken: str, why: str
) -> None:
    root = _project(tmp_path, broken)
    good = load_suite(root, str(_suite_file(root, "workloads:\n  good: {size: 5}\n")))
    assert [p.name for p in good.workloads] == ["good"]
    with pytest.raises(ConfigError) as caught:
        load_suite(root, str(_suite_file(root, "workloads:\n  bad: {size: 5}\n")))
    message = str(caught.value)
    assert "\n" not in message and "wl_bad.py" in message and why in message


def test_memory_below_the_minimum_names_the_field(tmp_path: Path) -> None:
    root = _project(tmp_path, GOOD)
    path = _suite_file(root, "memory: 1k\nworkloads:\n  good: {size: 5}\n")
    with pytest.raises(ConfigError, match=r"t\.yaml: memory: 1k is below the minimum 64m"):
        load_suite(root, str(path))
    assert load_suite(root, str(_suite_file(root, "memory: 64m\nworkloads:\n  good: {size: 5}\n")))


def test_malformed_yaml_keeps_pyyamls_reason(tmp_path: Path) -> None:
    root = _project(tmp_path, GOOD)
    path = _suite_file(root, "workloads:\n  good: {size: 5\n")
    with pytest.raises(ConfigError) as caught:
        load_suite(root, str(path))
    assert "malformed YAML at line" in str(caught.value)
    assert "expected ',' or '}'" in str(caught.value)


def test_a_cpuset_the_host_does_not_have_is_refused() -> None:
    check_cpuset("0-1", 2)
    check_cpuset("1", 2)
    with pytest.raises(ConfigError, match=r"--cpuset 5-7: CPU\(s\) 5, 6, 7 do not exist"):
        check_cpuset("5-7", 2)
    with pytest.raises(ConfigError, match="expected CPU numbers"):
        check_cpuset("a-b", 2)


def test_a_directory_at_the_drop_in_path_is_a_clear_reason(tmp_path: Path) -> None:
    (tmp_path / "IronPython.zip").mkdir()
    required = RequiredFile("IronPython.zip", None, None, ("lib/",))
    with pytest.raises(RuntimeUnavailable, match="IronPython.zip: is a directory"):
        validate_required_file(tmp_path, required)


def test_build_log_escapes_are_stripped() -> None:
    line = "\x1b[1;31merror:\x1b[0m gcc failed \x1b]0;title\x07done\x1b[K"
    assert strip_ansi(line) == "error: gcc failed done"
