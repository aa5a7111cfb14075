"""Runs the runner with interpreters on the host: no container, no cpuset, clearly labelled.

For machines without Docker and for fast tests. Records it produces say `backend: local`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.measure.backends.base import ExecRequest, Outcome, pump_lines, tail


class LocalBackend:
    """Executes requests as host processes; `interpreters` maps runtime id -> command."""

    name = "local"
    containerised = False

    def __init__(self, interpreters: dict[str, list[str]], workloads_dir: Path) -> None:
        self.interpreters = interpreters
        self.workloads_dir = workloads_dir

    def execute(self, request: ExecRequest, on_line: Callable[[str], None]) -> Outcome:
        """Run one runner process to completion (or timeout); it is killed on any exit path."""
        command = self.interpreters[request.runtime_id]
        env = {**os.environ, "GILBENCH_PYTHON": shlex.join(command), "PYTHONUNBUFFERED": "1"}
        started = time.monotonic()
        with tempfile.TemporaryFile() as stderr_file:
            try:
                process = subprocess.Popen(
                    [*command, *request.argv],
                    cwd=self.workloads_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=stderr_file,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:  # no such interpreter: a failed runtime, not a crash
                return Outcome(None, None, False, f"cannot start {shlex.join(command)}: {exc}", 0.0)
            try:
                assert process.stdout is not None
                lines = (
                    raw.decode("utf-8", errors="replace").rstrip("\n") for raw in process.stdout
                )
                timed_out = pump_lines(
                    lines, on_line, request.idle_timeout_s, request.total_timeout_s
                )
            finally:
                if process.poll() is None:
                    _kill_group(process)
                exit_code = process.wait()
            stderr_file.seek(0)
            stderr = stderr_file.read().decode("utf-8", errors="replace")
        return Outcome(
            exit_code=exit_code,
            timed_out=timed_out,
            oom_killed=False,
            stderr_tail=tail(stderr),
            duration_s=time.monotonic() - started,
        )


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the runner and any pool workers it started (same session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 9)
