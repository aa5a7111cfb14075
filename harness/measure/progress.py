"""What the user sees while things run: rich progress on a terminal, plain lines for cron."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Display:
    """Log lines, build-log streaming and a cells done/total bar with ETA; `quiet` for cron
    prints only warnings and the final result."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.console = Console(stderr=True, highlight=False)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, markup=False, soft_wrap=True)

    def warn(self, message: str) -> None:
        # soft_wrap: a long line (e.g. the --resume command) stays one line to copy
        self.console.print(f"warning: {message}", markup=False, style="yellow", soft_wrap=True)

    def build_line(self, line: str) -> None:
        """One line of a build log: the `Step n/m` lines are shown; a failed build shows its
        last lines in the error instead."""
        if not self.quiet and line.startswith("Step "):
            self.console.print(f"  | {line[:160]}", markup=False, style="dim")

    def start_cells(self, total: int) -> None:
        if self.quiet or not self.console.is_terminal:
            return
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self._progress.start()
        self._task = self._progress.add_task("cells", total=total)

    def cell_started(self, label: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=label)
        elif not self.quiet:
            self.console.print(f"running {label}", markup=False)

    def cell_done(self, label: str, outcome: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)
            if outcome != "ok":
                self._progress.console.print(f"{label}: {outcome}", markup=False, style="red")
        elif not self.quiet or outcome != "ok":
            self.console.print(f"  {label}: {outcome}", markup=False)

    def stop_cells(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> Display:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_cells()


def result_line(text: str) -> None:
    """The one line a caller scripts against (e.g. the report path), on stdout."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
