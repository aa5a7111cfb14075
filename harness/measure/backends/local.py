"""Runs the runner with interpreters on the host: no container, no cpuset, clearly labelled.

For machines without Docker and for fast tests. Records it produces say `backend: local`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.errors import ConfigError, ImageBuildError
from harness.measure.backends.base import ExecRequest, Log, Outcome, pump_lines, tail
from harness.measure.host import local_host
from harness.measure.images import ImageStatus
from harness.measure.probes import probe_output
from harness.measure.runtimes import Runtime
from harness.store.meta import EngineFacts, HostFacts

PROBE_TIMEOUT_S = 120.0  # a host interpreter's probe; generous for a cold JVM


class LocalBackend:
    """Executes requests as host processes; `interpreters` maps runtime id -> command."""

    name = "local"
    containerised = False

    def __init__(self, interpreters: dict[str, list[str]], workloads_dir: Path) -> None:
        self.interpreters = interpreters
        self.workloads_dir = workloads_dir

    def prepare(
        self, root: Path, runtimes: list[Runtime], build: bool, log: Log, on_build_line: Log
    ) -> dict[str, ImageStatus]:
        """Probe every interpreter (nothing to build); one that cannot start is failed."""
        return {rt.id: self._probe(rt) for rt in runtimes}

    def _probe(self, runtime: Runtime) -> ImageStatus:
        try:
            probe = probe_output(self, runtime, timeout_s=PROBE_TIMEOUT_S)
        except ImageBuildError as exc:
            return ImageStatus(runtime.id, "", "failed", reason=str(exc))
        return ImageStatus(runtime.id, "", "built", probe=probe, action="probed")

    def sweep(self) -> int:
        """Host processes die with their session: nothing is ever left behind."""
        return 0

    def host_facts(self) -> HostFacts:
        """This machine."""
        return local_host()

    def engine_facts(self) -> EngineFacts | None:
        """No engine."""
        return None

    def cpuset(self, requested: str | None, host: HostFacts) -> str | None:
        """Host processes are not pinned."""
        return None

    def execute(self, request: ExecRequest, on_line: Callable[[str], None]) -> Outcome:
        """Run one runner process to completion (or timeout); it is killed on any exit path."""
        command = self.interpreters[request.runtime_id]
        env = {
            **os.environ,
            **request.environment,
            "GILBENCH_PYTHON": shlex.join(command),
            "PYTHONUNBUFFERED": "1",
        }
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


def local_interpreters(specs: tuple[str, ...]) -> dict[str, list[str]]:
    """`NAME=COMMAND` pairs (default: this interpreter as `local-python`)."""
    if not specs:
        return {"local-python": [sys.executable]}
    parsed = {}
    for spec in specs:
        name, sep, command = spec.partition("=")
        if not sep or not name or not command.strip():
            raise ConfigError(f"--local {spec!r}: expected NAME=COMMAND, e.g. pypy=/usr/bin/pypy3")
        parsed[name] = shlex.split(command)
    return parsed


def local_runtime(name: str) -> Runtime:
    """A host interpreter as a runtime of its own (family ``local``)."""
    return Runtime(
        id=name,
        family="local",
        image="",
        dockerfile="",
        context="",
        build_args={},
        expected_gil=None,
        warmups=1,
        description="host interpreter (not containerised)",
    )


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the runner and any pool workers it started (same session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 9)
