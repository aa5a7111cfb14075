"""The run matrix: invocation x runtime x workload x mode x workers.

One container per (invocation, runtime): a fresh interpreter process runs every workload of
the suite, in a seeded order (one JVM or Mono start per round, not one per workload).
Invocations are the unit of replication; they run round-robin (round 1 of every runtime, then
round 2, ...) so slow drift of the host is spread over every runtime. Every cell ends as
records in results.jsonl: measurements, or one `ok: false` record with the reason (failed
build, exception, timeout, OOM, garbage on stdout). Nothing stops the rest: after a crash the
workloads not yet finished run on in a fresh container.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
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
# The runner's exit code when a workload switched the GIL back on: the workloads after it get a
# fresh process (gilbench_runner.EXIT_FRESH_PROCESS); nothing failed.
EXIT_FRESH_PROCESS = 75


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix; its records are its repetitions."""

    runtime: str
    workload: str
    mode: str
    workers: int
    invocation: int = 0


def _seed(*parts: object) -> int:
    return zlib.crc32(":".join(str(p) for p in parts).encode("utf-8"))


@dataclass(frozen=True)
class Part:
    """One workload of a group: the suite's plan for it, its warm-ups and its cells."""

    plan: WorkloadPlan
    warmups: int
    cells: tuple[Cell, ...]
    order_seed: int = 0  # the seed of its interleaved cell order (fixed: a rerun repeats it)


@dataclass(frozen=True)
class Group:
    """One invocation of a runtime: every workload in one container, one after the other.

    When the process ends early, the workload that was running gets the blame (interleaved:
    all its unfinished cells, which were all running; else the running cell) and the rest run
    on in a fresh container.
    """

    runtime: Runtime
    parts: tuple[Part, ...]  # in run order
    warmup_seconds: float = 0.0
    invocation: int = 0
    interleave: bool = False
    scaling_min_unit_s: float = 0.0
    repeat_disturbed: int = 0

    @property
    def cells(self) -> tuple[Cell, ...]:
        """Every cell of the group, in run order."""
        return tuple(cell for part in self.parts for cell in part.cells)

    def part(self, workload: str) -> Part:
        """The part of `workload`."""
        return next(p for p in self.parts if p.plan.name == workload)


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

    def settle(self, group: Group, measured: Iterable[str]) -> None:
        """After a calibrating group: the workloads that measured something but did not scale
        ran at the suite's size (a serial-only workload says so only by the absence of
        scaling)."""
        if group.scaling_min_unit_s > 0:
            for workload in measured:
                plan = group.part(workload).plan
                self.sizes.setdefault((group.runtime.id, plan.name), plan.size)

    def chosen(self, group: Group) -> dict[str, int]:
        """The sizes chosen earlier for the group's workloads (a calibrating group only)."""
        if group.scaling_min_unit_s <= 0:
            return {}
        runtime = group.runtime.id
        return {
            p.plan.name: self.sizes[(runtime, p.plan.name)]
            for p in group.parts
            if (runtime, p.plan.name) in self.sizes
        }


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
    """The matrix in run order: per invocation, per runtime, one group of every workload (in a
    seeded order per invocation when interleaved, else the suite's order)."""
    groups = []
    runtimes = list(runtimes)
    for invocation in range(suite.invocations):
        for runtime in runtimes:
            parts = [
                Part(
                    plan,
                    suite.warmups_for(runtime, plan),
                    tuple(
                        Cell(runtime.id, plan.name, mode, workers, invocation)
                        for mode in plan.modes
                        for workers in plan.workers
                    ),
                    _seed(runtime.id, plan.name, invocation),
                )
                for plan in suite.workloads
            ]
            if suite.interleave:
                random.Random(_seed(runtime.id, invocation)).shuffle(parts)
            groups.append(
                Group(
                    runtime,
                    tuple(parts),
                    suite.warmup_seconds_by_family.get(runtime.family, 0.0),
                    invocation=invocation,
                    interleave=suite.interleave,
                    scaling_min_unit_s=suite.scaling_min_unit_s,
                    repeat_disturbed=suite.repeat_disturbed,
                )
            )
    return groups


def runner_argv(
    group: Group, cells: Iterable[Cell], scaled: Mapping[str, int] | None = None
) -> tuple[str, ...]:
    """Runner arguments for `cells` of one group: one ``--plan`` entry per workload, in the
    group's order; `scaled`: the scaling cells' size an earlier invocation chose, per workload."""
    wanted = set(cells)
    scaled = scaled or {}
    plan = []
    for part in group.parts:
        mine = [[c.mode, c.workers] for c in part.cells if c in wanted]
        if not mine:
            continue
        entry: dict[str, Any] = {
            "workload": part.plan.name,
            "cells": mine,
            "size": part.plan.size,
            "reps": part.plan.reps,
            "warmups": part.warmups,
        }
        if group.interleave:
            entry["order_seed"] = part.order_seed
        if part.plan.name in scaled:
            entry["scaled_size"] = scaled[part.plan.name]
        plan.append(entry)
    options: tuple[str, ...] = ("--invocation", str(group.invocation))
    if group.interleave:
        options += ("--interleave",)
    if group.scaling_min_unit_s > 0:
        options += ("--scaling-min-unit-s", f"{group.scaling_min_unit_s:g}")
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
        "--plan",
        json.dumps(plan, separators=(",", ":")),
        "--warmup-seconds",
        f"{group.warmup_seconds:g}",
        *options,
    )


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
        self.total_timeout_s = total_timeout_s  # per workload: a container of k gets k times it
        self.memory = memory
        self.cpuset = cpuset
        self.on_cell_done = on_cell_done
        self.on_cell_start = on_cell_start
        self.scaled_sizes = ScaledSizes.from_results(results)
        self.measured: set[str] = set()  # workloads of the running group with an ok record

    def run(self, group: Group, done: set[Cell]) -> None:
        """Run every cell of `group` not in `done`; each ends with records, whatever happens."""
        ledger = CellLedger(ended=set(done))
        self.measured = set()
        while True:
            batch = [c for c in group.cells if c not in ledger.ended]
            if not batch:
                self.scaled_sizes.settle(group, self.measured)
                return
            ended_before = len(ledger.ended)
            last: list[Cell] = []  # the cell of the newest record: the one running now
            outcome = self._execute(group, batch, ledger, last)
            for part in group.parts:
                self._settle(group, [c for c in batch if c.workload == part.plan.name], ledger)
            unfinished = [c for c in batch if c not in ledger.ended]
            if not unfinished:
                continue
            if outcome.exit_code == EXIT_FRESH_PROCESS and len(ledger.ended) > ended_before:
                continue  # the runner asked for a fresh process (GIL switched, memory): no blame
            for cell in self._blamed(group, unfinished, ledger, last):
                self._fail(group, cell, ledger, _describe(outcome), outcome.stderr_tail)

    def _settle(self, group: Group, cells: list[Cell], ledger: CellLedger) -> None:
        """End the cells of a workload the runner has finished that have all repetitions."""
        if cells:
            for cell in ledger.settle(cells, group.part(cells[0].workload).plan.reps):
                self.on_cell_done(cell, None)

    @staticmethod
    def _blamed(
        group: Group, unfinished: list[Cell], ledger: CellLedger, last: list[Cell]
    ) -> list[Cell]:
        """The cells a process that ended early takes with it: the running cell (the newest
        record's, else the first unfinished one), or, interleaved, every unfinished cell of
        its workload (they were all running). Later workloads run on in a fresh container."""
        running = _running(unfinished, ledger, last)
        if running is None:
            return []
        if group.interleave:
            return [c for c in unfinished if c.workload == running.workload]
        return [running]

    def _execute(
        self, group: Group, batch: list[Cell], ledger: CellLedger, last: list[Cell]
    ) -> Outcome:
        index = {(c.workload, c.mode, c.workers): c for c in batch}
        workloads = list(dict.fromkeys(c.workload for c in batch))
        request = ExecRequest(
            runtime_id=group.runtime.id,
            image=group.runtime.image,
            argv=runner_argv(group, batch, self.scaled_sizes.chosen(group)),
            idle_timeout_s=self.idle_timeout_s,
            total_timeout_s=self.total_timeout_s * len(workloads),
            memory=self.memory,
            cpuset=self.cpuset,
            labels={"gilbench.run": self.run_id, "gilbench.runtime": group.runtime.id},
            environment=dict(group.runtime.environment),
        )
        self.on_cell_start(batch[0])

        def turn_to(cell: Cell) -> None:
            """`cell` runs now; a workload the runner has left is finished (it never goes back)."""
            if last and last[0].workload != cell.workload:
                self._settle(group, [c for c in batch if c.workload == last[0].workload], ledger)
                self.on_cell_start(cell)
            last[:] = [cell]

        def on_line(line: str) -> None:
            if not line.strip():
                return
            data = _json_object(line)
            if data is not None and data.get("event") == "workload":
                starting = data.get("workload")
                if starting in workloads:  # what goes wrong from now on is this workload's
                    turn_to(next(c for c in batch if c.workload == starting))
                    return
            cell = None
            if data is not None and all(k in data for k in RUNNER_FIELDS):
                cell = index.get((data["workload"], data["mode"], data["workers"]))
            if data is None or cell is None:
                current = _running(batch, ledger, last)
                if current is not None:
                    self._fail(group, current, ledger, f"garbage on stdout: {line[:200]!r}", None)
                return
            turn_to(cell)
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
        if record.ok:
            self.measured.add(record.workload)
        calibrating = group.scaling_min_unit_s > 0
        reps = group.part(cell.workload).plan.reps
        if ledger.note(cell, record, reps, calibrating, group.repeat_disturbed):
            self.on_cell_done(cell, record)

    def _fail(
        self, group: Group, cell: Cell, ledger: CellLedger, reason: str, stderr: str | None
    ) -> None:
        part = group.part(cell.workload)
        record = Record(
            run_id=self.run_id,
            runtime=cell.runtime,
            workload=cell.workload,
            mode=cell.mode,
            workers=cell.workers,
            size=part.plan.size,
            rep=ledger.next_rep.get(cell, 0),
            warmup=False,
            ok=False,
            backend=self.backend.name,
            kind=part.plan.kind,
            error=reason,
            stderr_tail=stderr or None,
            ts=time.time(),
            invocation=group.invocation,
        )
        self._append(group, cell, record, ledger)  # an ok: false record ends its cell


def _running(cells: list[Cell], ledger: CellLedger, last: list[Cell]) -> Cell | None:
    """The cell a stray line or an early end belongs to: the one that reported last, else the
    first open one."""
    if last and last[0] not in ledger.ended:
        return last[0]
    return next((c for c in cells if c not in ledger.ended), None)


def _json_object(line: str) -> dict[str, Any] | None:
    """A runner line as a JSON object (a record, or ``{"event": "workload", ...}``), else None."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


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
            size=part.plan.size,
            rep=0,
            warmup=False,
            ok=False,
            backend=backend,
            kind=part.plan.kind,
            error=reason,
            ts=time.time(),
            invocation=group.invocation,
        )
        for group in groups
        for part in group.parts
        for cell in part.cells
    ]


def cell_of(record: Record) -> Cell:
    """The matrix cell a record belongs to."""
    return Cell(record.runtime, record.workload, record.mode, record.workers, record.invocation)


def completed_cells(results: Path, groups: Iterable[Group]) -> set[Cell]:
    """Cells an earlier attempt finished (all steady repetitions, or an `ok: false` record)."""
    expected = {
        c: (p.plan.reps, g.repeat_disturbed) for g in groups for p in g.parts for c in p.cells
    }
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
