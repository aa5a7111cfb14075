"""The reports folder and its run folders: paths, run ids, atomic writes, ``latest.md``.

::

    reports/
      runs/<run-id>/results.jsonl, meta.json, report.md, *.png   one run (the raw files + derived)
      latest.md                                                  the newest run's report, relinked
      history.md, history/*.png                                  the nightly history
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

RUNS_DIR = "runs"
LATEST_FILE = "latest.md"
REPORT_FILE = "report.md"
HISTORY_FILE = "history.md"
HISTORY_CHART_DIR = "history"

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
