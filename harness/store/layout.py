"""The reports folder and its run folders: paths, run ids, atomic writes, ``latest.md``.

::

    reports/
      runs/<run-id>/results.jsonl, meta.json, report.md, *.png   one run (the raw files + derived)
      latest.md                                                  the newest run's report, relinked
      history.md, history/*.png                                  the nightly history
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from harness.errors import GilbenchError, RunLocked

RUNS_DIR = "runs"
LATEST_FILE = "latest.md"
REPORT_FILE = "report.md"
HISTORY_FILE = "history.md"
HISTORY_CHART_DIR = "history"
LOCK_FILE = ".lock"
MIN_FREE_BYTES = 50 * 2**20  # a run refuses to start with less free space in the reports folder
LOCK_POLL_S = 1.0

RUN_ID_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")


def runs_dir(reports_dir: Path) -> Path:
    """``reports/runs``: one folder per run."""
    return Path(reports_dir) / RUNS_DIR


def run_dir(reports_dir: Path, run_id: str) -> Path:
    """The folder of one run."""
    return runs_dir(reports_dir) / run_id


def utc_now() -> datetime:
    """Now, in UTC, to the second (what meta.json and run ids record)."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """``2026-11-25T23:15:00Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id(suite: str, moment: datetime) -> str:
    """``20261125T231500Z-smoke``: sorts by time, names the suite."""
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{suite}"


def unique_run_id(reports_dir: Path, suite: str, moment: datetime) -> str:
    """A run id no run folder has yet: ``new_run_id``, plus ``-2``, ``-3``... when taken (call
    it under the reports lock, so two runs started in the same second cannot collide)."""
    base = new_run_id(suite, moment)
    run_id, number = base, 1
    while run_dir(reports_dir, run_id).exists():
        number += 1
        run_id = f"{base}-{number}"
    return run_id


def time_from_run_id(run_id: str) -> str:
    """The ISO time a run id starts with (the id itself when it does not start with one)."""
    match = RUN_ID_TIME.match(run_id)
    if not match:
        return run_id
    y, mo, d, h, mi, s = match.groups()
    return f"{y}-{mo}-{d}T{h}:{mi}:{s}Z"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; it replaces ``path`` only on success,
    so a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)\)")


def relink(markdown: str, prefix: str) -> str:
    """Prefix every relative link target (not ``#anchor``, absolute or ``scheme://``)."""

    def fix(match: re.Match[str]) -> str:
        target = match.group(2)
        if target.startswith(("#", "/", "mailto:")) or "://" in target:
            return match.group(0)
        return f"{match.group(1)}{prefix}/{target})"

    return _LINK.sub(fix, markdown)


def write_latest(reports_dir: Path, run_folder: Path, report_text: str) -> Path:
    """Write ``reports/latest.md``: a run's report with its links pointing into its folder."""
    prefix = Path(os.path.relpath(Path(run_folder).resolve(), Path(reports_dir).resolve()))
    target = Path(reports_dir) / LATEST_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, relink(report_text, prefix.as_posix()))
    return target


# -- one run at a time per reports folder --------------------------------------------------------


def lock_holder(reports_dir: Path) -> str:
    """Who holds the reports lock, as its lock file says ("pid 12 on host, run <id>")."""
    try:
        text = (Path(reports_dir) / LOCK_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or "unknown holder"


@contextmanager
def reports_lock(
    reports_dir: Path, owner: str, wait: bool, on_wait: Callable[[str], None] | None = None
) -> Iterator[Callable[[str], None]]:
    """Hold an exclusive flock on ``reports/.lock`` for the block (released by the kernel even
    when this process is killed). A second run waits (``wait``) or raises RunLocked at once.
    Yields ``announce(owner)``, which renames the holder (e.g. once the run id is known)."""
    path = Path(reports_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = lock_holder(reports_dir)
                if not wait:
                    raise RunLocked(
                        f"{path}: another run holds this reports folder ({holder}); "
                        "wait for it with --wait-lock, or use another --reports folder"
                    ) from None
                if on_wait is not None and not told:
                    on_wait(f"waiting for the run holding {path} ({holder}) to finish ...")
                    told = True
                time.sleep(LOCK_POLL_S)

        def announce(text: str) -> None:
            handle.seek(0)
            handle.truncate()
            handle.write(text + "\n")
            handle.flush()

        try:
            announce(owner)
            yield announce
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def owner_text(run_id: str) -> str:
    """How the lock file names its holder."""
    return f"pid {os.getpid()} on {socket.gethostname()}, run {run_id}"


# -- space and writability -----------------------------------------------------------------------


def check_writable(folder: Path, min_free: int | None = None) -> None:
    """Raise a one-line GilbenchError unless `folder` can be written and has `min_free` bytes
    (default MIN_FREE_BYTES)."""
    folder = Path(folder)
    min_free = MIN_FREE_BYTES if min_free is None else min_free
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        why = describe_os_error(exc)
        raise GilbenchError(f"{folder}: cannot write the reports folder ({why})") from None
    free = shutil.disk_usage(folder).free
    if free < min_free:
        raise GilbenchError(
            f"{folder}: only {free / 2**20:.1f} MiB free, a run needs at least "
            f"{min_free / 2**20:.0f} MiB (free some space or use another --reports folder)"
        )


def describe_os_error(exc: OSError) -> str:
    """``ENOSPC: No space left on device`` (the errno's name, then the system's words)."""
    name = errno.errorcode.get(exc.errno or 0, "error")
    return f"{name}: {exc.strerror or exc}"
