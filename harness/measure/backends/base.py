"""What a backend executes (ExecRequest) and what comes back (Outcome), tox-4 style.

Backends only execute; deciding what a failure means is the run matrix's job.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from harness.store.meta import EngineFacts, HostFacts

if TYPE_CHECKING:
    from harness.measure.images import ImageStatus
    from harness.measure.runtimes import Runtime

Log = Callable[[str], None]

STDERR_TAIL_LINES = 25


@dataclass(frozen=True)
class ExecRequest:
    """Run the in-container runner with `argv` for one runtime (`image`: docker only).

    `idle_timeout_s`: kill when no stdout line arrives for this long (a hung cell);
    `total_timeout_s`: kill when the whole execution takes longer than this.
    """

    runtime_id: str
    image: str
    argv: tuple[str, ...]
    idle_timeout_s: float
    total_timeout_s: float
    memory: str = "2g"
    cpuset: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)  # extra variables for the runner


@dataclass(frozen=True)
class Outcome:
    """How an execution ended. Stdout lines were already delivered through the callback."""

    exit_code: int | None
    timed_out: str | None  # None, or why it was killed ("no output for 300 s")
    oom_killed: bool
    stderr_tail: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.oom_killed


class Executor(Protocol):
    """Runs the runner (every backend)."""

    def execute(self, request: ExecRequest, on_line: Log) -> Outcome: ...


class ImageEngine(Executor, Protocol):
    """What building and checking images needs from a container engine (the Docker backend)."""

    def image(self, ref: str) -> tuple[str, dict[str, str]] | None: ...

    def try_pull(self, ref: str) -> str | None: ...

    def import_rootfs(self, tarball: Path, ref: str, labels: Mapping[str, str]) -> str: ...

    def build(
        self,
        context: Path,
        dockerfile: str,
        tag: str,
        buildargs: Mapping[str, str],
        labels: Mapping[str, str],
        on_log: Log,
    ) -> str: ...


class Backend(Protocol):
    """Executes runner requests; `docker` and `local` implement it.

    The run driver knows a backend only through these methods: it never asks which one it has.
    """

    name: str
    containerised: bool

    def execute(self, request: ExecRequest, on_line: Log) -> Outcome: ...

    def prepare(
        self, root: Path, runtimes: list[Runtime], build: bool, log: Log, on_build_line: Log
    ) -> dict[str, ImageStatus]:
        """Make every runtime runnable (build or check images; probe) and say how each is."""
        ...

    def sweep(self) -> int:
        """Remove what earlier runs left behind (containers); returns how many."""
        ...

    def host_facts(self) -> HostFacts:
        """The machine the workloads run on."""
        ...

    def engine_facts(self) -> EngineFacts | None:
        """The container engine, where there is one."""
        ...

    def cpuset(self, requested: str | None, host: HostFacts) -> str | None:
        """The CPUs the workloads are pinned to (None: not pinned)."""
        ...


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    """The last `lines` lines of `text`."""
    return "\n".join(deque(text.splitlines(), maxlen=lines))


def split_lines(chunks: Iterable[bytes]) -> Iterable[str]:
    """Reassemble a stream of byte chunks into text lines (a chunk may hold part of a line)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")


_END = object()


def pump_lines(
    lines: Iterable[str],
    on_line: Callable[[str], None],
    idle_timeout_s: float,
    total_timeout_s: float,
) -> str | None:
    """Deliver `lines` (read in a thread) to `on_line` while enforcing both timeouts.

    Returns None when the stream ended by itself, else the reason it was cut off. The caller
    kills the process or container then, which ends the reader thread.
    """
    inbox: queue.Queue[object] = queue.Queue()

    def reader() -> None:
        try:
            for line in lines:
                inbox.put(line)
        finally:
            inbox.put(_END)

    threading.Thread(target=reader, name="gilbench-stdout", daemon=True).start()
    started = time.monotonic()
    while True:
        remaining = total_timeout_s - (time.monotonic() - started)
        if remaining <= 0:
            return f"timeout: the container ran longer than {total_timeout_s:.0f} s"
        try:
            item = inbox.get(timeout=min(idle_timeout_s, remaining))
        except queue.Empty:
            if time.monotonic() - started >= total_timeout_s:
                return f"timeout: the container ran longer than {total_timeout_s:.0f} s"
            return f"timeout: no result for {idle_timeout_s:.0f} s (hung?)"
        if item is _END:
            return None
        on_line(str(item))
