"""The run matrix: invocation x runtime x workload x mode x workers.

One container per (invocation, runtime, workload) group. Invocations are the unit of
replication (a fresh interpreter process each); they run round-robin (round 1 of every runtime,
then round 2, ...) so slow drift of the host is spread over every runtime. Every cell ends as
records in results.jsonl: measurements, or one `ok: false` record with the reason (failed
build, exception, timeout, OOM, garbage on stdout). Nothing stops the rest.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.measure.backends.base import Backend, ExecRequest, Outcome
from harness.measure.config import Suite, WorkloadPlan
from harness.measure.runtimes import Runtime
from harness.store.layout import write_text_atomic
from harness.store.results import RESULTS_FILE, Record, ResultsError, append_record, iter_records
from harness.vocabulary import DISTURBED_FLOOR_S, DISTURBED_SHARE, is_disturbed

RUNNER = "gilbench_runner.py"
RUNNER_FIELDS = ("workload", "mode", "workers", "rep", "ok")
IDLE_TIMEOUT_FLOOR_S = 60


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix; its records are its repetitions."""

    runtime: str
    workload: str
    mode: str
    workers: int
    invocation: int = 0


@dataclass(frozen=True)
class Group:
    """The cells of one invocation of a runtime x workload: they run in one container.

    Not interleaved, a hang or crash blames the running cell and the rest run again in a fresh
    container; interleaved, every cell was running, so every unfinished cell fails with it.
    """

    runtime: Runtime
    plan: WorkloadPlan
    warmups: int
    cells: tuple[Cell, ...]
    warmup_seconds: float = 0.0
    invocation: int = 0
    interleave: bool = False
    scaling_min_unit_s: float = 0.0
    repeat_disturbed: int = 0
    scaled_size: int | None = None

    @property
    def order_seed(self) -> int:
        """The seed of the interleaved cell order: fixed by the group, so a rerun repeats it."""
        key = f"{self.runtime.id}:{self.plan.name}:{self.invocation}"
        return zlib.crc32(key.encode("utf-8"))


@dataclass
class ScaledSizes:
    """The size of the scaling cells per (runtime, workload), as the first invocation that
    calibrated chose it. Later invocations, and a fresh container after a crash, are given that
    size instead of timing a unit again: a unit near the threshold would otherwise be scaled in
    one invocation and not in the next, and the invocations of one cell would measure
    different work (seen here: Cython ``cpu`` at 0.08 s in one invocation, 0.1 s in two)."""

    sizes: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def from_results(cls, results: Path) -> ScaledSizes:
        """The choices an earlier attempt of the run recorded (a resumed run keeps them)."""
        known = cls()
        if results.is_file():
            for record in iter_records(results):
                known.note(record)
        return known

    def note(self, record: Record) -> None:
        """Learn from a record: a calibrated one carries the chosen size; a parallel one at the
        suite's size means no scaling was needed."""
        if not record.ok:
            return
        key = (record.runtime, record.workload)
        if record.sizing == "calibrated" or record.mode != "serial":
            self.sizes.setdefault(key, record.size)

    def settle(self, group: Group) -> None:
        """After a calibrating group that measured something: what it did not scale, it ran at
        the suite's size (a serial-only workload says so only by the absence of scaling)."""
        if group.scaling_min_unit_s > 0:
            self.sizes.setdefault((group.runtime.id, group.plan.name), group.plan.size)

    def apply(self, group: Group) -> Group:
        """``group`` with the size chosen earlier, if any."""
        size = self.sizes.get((group.runtime.id, group.plan.name))
        if size is None or group.scaling_min_unit_s <= 0:
            return group
        return replace(group, scaled_size=size)


@dataclass
class CellLedger:
    """What has arrived so far, per cell: steady (measured) repetitions per sizing and whether
    the cell has ended. Warm-up records are not counted: a runner may warm a JIT up for
    longer. Nor is a disturbed repetition the runner measures again (``repeat_disturbed``
    per cell and sizing, by the runner's rule): counting it would end the cell before its
    repetition arrives. A calibrating runner measures serial cells twice (the suite's fixed
    size for cross-runtime speed, then the calibrated size): such a cell is complete when it
    has ``expected`` repetitions of every sizing it reported, which only the end of the
    runner's process can tell (``settle``)."""

    counts: dict[tuple[Cell, str], int] = field(default_factory=dict)
    repeated: dict[tuple[Cell, str], int] = field(default_factory=dict)
    ended: set[Cell] = field(default_factory=set)
    next_rep: dict[Cell, int] = field(default_factory=dict)

    def note(
        self, cell: Cell, record: Record, expected: int, calibrating: bool, repeat_disturbed: int
    ) -> bool:
        """Count a record; True when this record ends the cell (a failure, or the last
        repetition of a cell that cannot get another sizing)."""
        if cell in self.ended:
            return False
        self.next_rep[cell] = record.rep + 1
        if not record.warmup:
            key = (cell, record.sizing)
            if self._repeated(key, record, repeat_disturbed):
                self.repeated[key] = self.repeated.get(key, 0) + 1
            else:
                self.counts[key] = self.counts.get(key, 0) + 1
        if not record.ok or (not calibrating and self.complete(cell, expected)):
            self.ended.add(cell)
            return True
        return False

    def _repeated(self, key: tuple[Cell, str], record: Record, repeat_disturbed: int) -> bool:
        """Will the runner measure this repetition again (disturbed, budget left)?"""
        return (
            record.ok
            and self.repeated.get(key, 0) < repeat_disturbed
            and is_disturbed(record.others_cpu_s, record.wall_s)
        )

    def complete(self, cell: Cell, expected: int) -> bool:
        """Every sizing of ``cell`` has ``expected`` steady repetitions."""
        sizings = [n for (c, _), n in self.counts.items() if c == cell]
        return bool(sizings) and all(n >= expected for n in sizings)

    def settle(self, cells: Iterable[Cell], expected: int) -> list[Cell]:
        """After the runner's process ended: the cells it completed (now ended)."""
        done = [c for c in cells if c not in self.ended and self.complete(c, expected)]
        self.ended.update(done)
        return done


def plan_groups(suite: Suite, runtimes: Iterable[Runtime]) -> list[Group]:
    """The matrix in run order: per runtime, per workload, cells in the runner's own order."""
    groups = []
    runtimes = list(runtimes)
    for invocation in range(suite.invocations):
        for runtime in runtimes:
            for plan in suite.workloads:
                cells = tuple(
                    Cell(runtime.id, plan.name, mode, workers, invocation)
                    for mode in plan.modes
                    for workers in plan.workers
                )
                groups.append(
                    Group(
                        runtime,
                        plan,
                        suite.warmups_for(runtime, plan),
                        cells,
                        suite.warmup_seconds_by_family.get(runtime.family, 0.0),
                        invocation=invocation,
                        interleave=suite.interleave,
                        scaling_min_unit_s=suite.scaling_min_unit_s,
                        repeat_disturbed=suite.repeat_disturbed,
                    )
                )
    return groups


def runner_argv(group: Group, cells: list[Cell]) -> tuple[str, ...]:
    """Runner arguments for `cells` of one group (one mode, or a full modes x workers grid)."""
    modes = list(dict.fromkeys(c.mode for c in cells))
    workers = sorted({c.workers for c in cells})
    options: tuple[str, ...] = ("--invocation", str(group.invocation))
    if group.interleave:
        options += ("--interleave", "--order-seed", str(group.order_seed))
    if group.scaling_min_unit_s > 0:
        options += ("--scaling-min-unit-s", f"{group.scaling_min_unit_s:g}")
        if group.scaled_size is not None:
            options += ("--scaled-size", str(group.scaled_size))
    if group.repeat_disturbed > 0:  # the runner repeats by the rule the analysis leaves out by
        options += (
            "--repeat-disturbed",
            str(group.repeat_disturbed),
            "--disturbed-share",
            repr(DISTURBED_SHARE),
            "--disturbed-floor-s",
            repr(DISTURBED_FLOOR_S),
        )
    return (
        RUNNER,
        "--workload",
        group.plan.name,
        "--modes",
        ",".join(modes),
        "--workers",
        ",".join(str(w) for w in workers),
        "--size",
        str(group.plan.size),
        "--reps",
        str(group.plan.reps),
        "--warmups",
        str(group.warmups),
        "--warmup-seconds",
        f"{group.warmup_seconds:g}",
        *options,
    )


def next_batch(group: Group, remaining: list[Cell]) -> list[Cell]:
    """The longest prefix of `remaining` the runner can take in one call (a grid; every cell
    when interleaved, since an interleaved invocation must measure its cells together)."""
    if group.interleave:
        return remaining
    first_mode = remaining[0].mode
    same_mode = [c for c in remaining if c.mode == first_mode]
    workers = {c.workers for c in same_mode}
    grid = [c for c in remaining if {x.workers for x in remaining if x.mode == c.mode} == workers]
    return grid if len(grid) == len(remaining) else same_mode


class GroupRunner:
    """Runs one group's cells through a backend, turning every outcome into records."""

    def __init__(
        self,
        backend: Backend,
        run_id: str,
        results: Path,
        idle_timeout_s: float,
        total_timeout_s: float,
        memory: str,
        cpuset: str | None,
        on_cell_done: Callable[[Cell, Record | None], None],
        on_cell_start: Callable[[Cell], None],
    ) -> None:
        self.backend = backend
        self.run_id = run_id
        self.results = results
        self.idle_timeout_s = idle_timeout_s
        self.total_timeout_s = total_timeout_s
        self.memory = memory
        self.cpuset = cpuset
        self.on_cell_done = on_cell_done
        self.on_cell_start = on_cell_start
        self.scaled_sizes = ScaledSizes.from_results(results)
        self.measured = 0  # ok records of the group running now

    def run(self, group: Group, done: set[Cell]) -> None:
        """Run every cell of `group` not in `done`; each ends with records, whatever happens."""
        ledger = CellLedger(ended=set(done))
        self.measured = 0
        while True:
            remaining = [c for c in group.cells if c not in ledger.ended]
            if not remaining:
                if self.measured:
                    self.scaled_sizes.settle(group)
                return
            group = self.scaled_sizes.apply(group)
            batch = next_batch(group, remaining)
            self.on_cell_start(batch[0])
            outcome = self._execute(group, batch, ledger)
            for cell in ledger.settle(batch, group.plan.reps):
                self.on_cell_done(cell, None)
            unfinished = [c for c in batch if c not in ledger.ended]
            # The cell that was running when it ended gets the blame and the stderr tail; the
            # cells after it are tried again in a fresh container -- unless the invocation was
            # interleaved: then they were all running, and all of them ended with it.
            for cell in unfinished[: len(unfinished) if group.interleave else 1]:
                self._fail(group, cell, ledger, _describe(outcome), outcome.stderr_tail)

    def _execute(self, group: Group, batch: list[Cell], ledger: CellLedger) -> Outcome:
        index = {(c.mode, c.workers): c for c in batch}
        last: list[Cell] = []  # the cell of the newest record: the one running now
        request = ExecRequest(
            runtime_id=group.runtime.id,
            image=group.runtime.image,
            argv=runner_argv(group, batch),
            idle_timeout_s=self.idle_timeout_s,
            total_timeout_s=self.total_timeout_s,
            memory=self.memory,
            cpuset=self.cpuset,
            labels={"gilbench.run": self.run_id, "gilbench.runtime": group.runtime.id},
            environment=dict(group.runtime.environment),
        )

        def on_line(line: str) -> None:
            if not line.strip():
                return
            data = _parse_runner_line(line)
            cell = index.get((data.get("mode"), data.get("workers"))) if data else None
            if data is None or cell is None or data.get("workload") != group.plan.name:
                current = _running(batch, ledger, last)
                if current is not None:
                    self._fail(group, current, ledger, f"garbage on stdout: {line[:200]!r}", None)
                return
            last[:] = [cell]
            if cell in ledger.ended:
                return  # a failed cell is failed once: later output of it is not measured
            try:
                record = Record.from_dict(
                    {
                        **data,
                        "run_id": self.run_id,
                        "runtime": group.runtime.id,
                        "backend": self.backend.name,
                    },
                    where="runner output",
                )
            except ResultsError as exc:
                self._fail(group, cell, ledger, str(exc), None)
                return
            self._append(group, cell, record, ledger)

        return self.backend.execute(request, on_line)

    def _append(self, group: Group, cell: Cell, record: Record, ledger: CellLedger) -> None:
        append_record(self.results, record)
        self.scaled_sizes.note(record)
        self.measured += record.ok
        calibrating = group.scaling_min_unit_s > 0
        if ledger.note(cell, record, group.plan.reps, calibrating, group.repeat_disturbed):
            self.on_cell_done(cell, record)

    def _fail(
        self, group: Group, cell: Cell, ledger: CellLedger, reason: str, stderr: str | None
    ) -> None:
        record = Record(
            run_id=self.run_id,
            runtime=cell.runtime,
            workload=cell.workload,
            mode=cell.mode,
            workers=cell.workers,
            size=group.plan.size,
            rep=ledger.next_rep.get(cell, 0),
            warmup=False,
            ok=False,
            backend=self.backend.name,
            kind=group.plan.kind,
            error=reason,
            stderr_tail=stderr or None,
            ts=time.time(),
            invocation=group.invocation,
        )
        self._append(group, cell, record, ledger)  # an ok: false record ends its cell


def _running(batch: list[Cell], ledger: CellLedger, last: list[Cell]) -> Cell | None:
    """The cell a stray line belongs to: the one that reported last, else the first open one."""
    if last and last[0] not in ledger.ended:
        return last[0]
    return next((c for c in batch if c not in ledger.ended), None)


def _parse_runner_line(line: str) -> dict[str, Any] | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or any(k not in data for k in RUNNER_FIELDS):
        return None
    return data


def _describe(outcome: Outcome) -> str:
    if outcome.timed_out:
        return outcome.timed_out
    if outcome.oom_killed:
        return "out of memory: the container was OOM-killed"
    if outcome.exit_code == 0:
        return "the runner exited without reporting this cell"
    return f"the runner exited with code {outcome.exit_code} before finishing this cell"


def failed_runtime_records(
    run_id: str, backend: str, groups: Iterable[Group], reason: str
) -> list[Record]:
    """One `ok: false` record per cell of a runtime that could not be built or probed."""
    return [
        Record(
            run_id=run_id,
            runtime=cell.runtime,
            workload=cell.workload,
            mode=cell.mode,
            workers=cell.workers,
            size=group.plan.size,
            rep=0,
            warmup=False,
            ok=False,
            backend=backend,
            kind=group.plan.kind,
            error=reason,
            ts=time.time(),
            invocation=group.invocation,
        )
        for group in groups
        for cell in group.cells
    ]


def cell_of(record: Record) -> Cell:
    """The matrix cell a record belongs to."""
    return Cell(record.runtime, record.workload, record.mode, record.workers, record.invocation)


def completed_cells(results: Path, groups: Iterable[Group]) -> set[Cell]:
    """Cells an earlier attempt finished (all steady repetitions, or an `ok: false` record)."""
    expected = {c: (g.plan.reps, g.repeat_disturbed) for g in groups for c in g.cells}
    if not results.is_file():
        return set()
    ledger = CellLedger()
    for record in iter_records(results):
        cell = cell_of(record)
        if cell in expected:
            reps, repeat_disturbed = expected[cell]
            ledger.note(cell, record, reps, True, repeat_disturbed)
    by_reps: dict[int, list[Cell]] = {}
    for cell, (reps, _) in expected.items():
        by_reps.setdefault(reps, []).append(cell)
    for reps, cells in by_reps.items():
        ledger.settle(cells, reps)
    return ledger.ended


def set_aside_partial(run_dir: Path, done: set[Cell]) -> int:
    """Move records of unfinished cells to results.partial.jsonl (kept, not lost), so a
    resumed cell is not mistaken for a full one. Returns how many records moved."""
    results = run_dir / RESULTS_FILE
    if not results.is_file():
        return 0
    keep, partial = [], []
    for record in iter_records(results):
        (keep if cell_of(record) in done else partial).append(record.to_json())
    if partial:
        with (run_dir / "results.partial.jsonl").open("a", encoding="utf-8") as handle:
            handle.write("\n".join(partial) + "\n")
        write_text_atomic(results, "".join(line + "\n" for line in keep))
    return len(partial)


def idle_timeout(suite: Suite) -> float:
    """How long a container may print nothing before it counts as hung."""
    return float(max(IDLE_TIMEOUT_FLOOR_S, suite.timeout_s // 2))
