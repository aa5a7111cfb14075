"""`make compare`: suite + registry -> images -> the run matrix -> results -> report.

A pipeline of small steps (nox style): anything that fails for one runtime or cell becomes a
record with its reason, and the rest goes on. Raw results are on disk before any aggregation.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, GilbenchError, Interrupted
from harness.measure.backends.base import Backend
from harness.measure.backends.docker import DockerBackend
from harness.measure.backends.local import LocalBackend, local_interpreters, local_runtime
from harness.measure.config import Suite, load_suite, suite_from_meta
from harness.measure.host import cpu_list, cpuset_size, harness_revision, narrow_topology
from harness.measure.images import ImageStatus
from harness.measure.matrix import (
    Cell,
    GroupRunner,
    cell_of,
    completed_cells,
    failed_runtime_records,
    idle_timeout,
    plan_groups,
    set_aside_partial,
)
from harness.measure.progress import Display
from harness.measure.runtimes import Runtime, load_registry, select
from harness.store import layout
from harness.store.layout import describe_os_error, iso, utc_now
from harness.store.meta import COMPLETE, INTERRUPTED, RUNNING, RunMeta, RuntimeMeta
from harness.store.results import (
    RESULTS_FILE,
    SCHEMA_VERSION,
    append_record,
    iter_records,
    read_meta,
    truncate_torn_tail,
    write_meta,
)
from harness.vocabulary import DEFAULT_BASELINE

# write errors that stop a run cleanly (the run is kept, marked interrupted, resumable)
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EIO})
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # handled like Ctrl-C (systemd stop, CI cancel)


@dataclass(frozen=True)
class CompareOptions:
    """Everything `python -m harness compare` takes."""

    suite: str = "default"
    runtimes: tuple[str, ...] = ()
    backend: str = "docker"
    local: tuple[str, ...] = ()  # NAME=COMMAND for the local backend
    cpuset: str | None = None
    reports_dir: Path = Path("reports")
    resume: str | None = None
    build: bool = True
    baseline: str = DEFAULT_BASELINE
    command: str = ""
    wait_lock: bool = False  # wait for a run holding the reports folder instead of refusing


@dataclass
class RunState:
    """The run being made: its folder, suite, runtimes and their statuses."""

    run_id: str
    run_dir: Path
    suite: Suite
    runtimes: list[Runtime]
    statuses: dict[str, ImageStatus] = field(default_factory=dict)
    meta: RunMeta | None = None


def compare(root: Path, options: CompareOptions, display: Display) -> Path:
    """Run a comparison end to end; returns the run folder. Raises Interrupted on Ctrl-C,
    SIGTERM or SIGHUP, RunLocked when another run holds the reports folder."""
    started = time.monotonic()
    layout.check_writable(options.reports_dir)
    backend = _backend(root, options)
    backend.cpuset(options.cpuset, backend.host_facts())  # a bad --cpuset fails before any work
    with (
        layout.reports_lock(
            options.reports_dir, layout.owner_text("starting"), options.wait_lock, display.info
        ) as announce,
        _signals_as_interrupt(),
    ):
        state = _resume_state(root, options) if options.resume else _new_state(root, options)
        announce(layout.owner_text(state.run_id))
        state.run_dir.mkdir(parents=True, exist_ok=True)
        _repair_results(state, display)
        swept = backend.sweep()
        if swept:
            display.warn(f"removed {swept} container(s) left by runs that are gone")
        try:
            state.statuses = _prepare_runtimes(backend, root, state, options, display)
            state.meta = _initial_meta(root, backend, state, options)
            write_meta(state.run_dir, state.meta)
            _run_matrix(backend, state, options, display)
        except KeyboardInterrupt as exc:
            if state.meta is not None:
                _finish_meta(state, INTERRUPTED, started)
            why = f"stopped by {exc}" if isinstance(exc, Stopped) else "interrupted"
            raise Interrupted(
                f"{why}: what was measured is kept in {state.run_dir}; finish it with: "
                f"{resume_command(root, options, state.run_id)}"
            ) from None
        except OSError as exc:
            if exc.errno not in WRITE_ERRNOS:
                raise
            raise _write_failure(root, options, state, started, exc) from None
        _finish_meta(state, COMPLETE, started)
    return state.run_dir


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived; str() is the signal's name."""


@contextlib.contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into Stopped (a KeyboardInterrupt) while the block runs, so a
    stopped run ends like Ctrl-C: containers removed, results kept, meta marked interrupted."""

    def stop(signum: int, _frame: object) -> None:
        raise Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def resume_command(root: Path, options: CompareOptions, run_id: str) -> str:
    """The one-line shell command that finishes `run_id` with this very interpreter."""
    argv = [sys.executable, "-m", "harness", "compare", "--resume", run_id]
    if Path(options.reports_dir).resolve() != (root / "reports").resolve():
        argv += ["--reports", str(options.reports_dir)]
    if options.backend != "docker":
        argv += ["--backend", options.backend]
        for spec in options.local:
            argv += ["--local", spec]
    return shlex.join(argv)


def _repair_results(state: RunState, display: Display) -> None:
    """--resume: cut a torn final line so new records do not land on it, and say so."""
    dropped = truncate_torn_tail(state.run_dir / RESULTS_FILE)
    if dropped:
        display.warn(
            f"{state.run_dir / RESULTS_FILE}: removed a torn last line ({dropped} bytes of an "
            "interrupted write); its cell runs again"
        )


def _write_failure(
    root: Path, options: CompareOptions, state: RunState, started: float, exc: OSError
) -> GilbenchError:
    """Cut the torn last line, mark the run interrupted (if meta.json can still be written)
    and say so in one line."""
    try:
        truncate_torn_tail(state.run_dir / RESULTS_FILE)
        _finish_meta(state, INTERRUPTED, started)
        marked = "marked interrupted"
    except OSError:
        marked = "meta.json could not be updated: it still says running"
    return GilbenchError(
        f"{state.run_dir}: cannot write ({describe_os_error(exc)}); the run stopped "
        f"({marked}); free space or fix the folder, then finish it with: "
        f"{resume_command(root, options, state.run_id)}"
    )


# -- set-up ------------------------------------------------------------------------------------


def _backend(root: Path, options: CompareOptions) -> Backend:
    if options.backend == "docker":
        return DockerBackend()
    if options.backend == "local":
        return LocalBackend(local_interpreters(options.local), root / "workloads")
    raise ConfigError(f"--backend: expected docker or local, got {options.backend!r}")


def _new_state(root: Path, options: CompareOptions) -> RunState:
    suite = load_suite(root, options.suite)
    run_id = layout.unique_run_id(options.reports_dir, suite.name, utc_now())
    runtimes = _select_runtimes(root, options, suite)
    return RunState(run_id, layout.run_dir(options.reports_dir, run_id), suite, runtimes)


def _select_runtimes(root: Path, options: CompareOptions, suite: Suite) -> list[Runtime]:
    if options.backend == "local":
        return [local_runtime(name) for name in local_interpreters(options.local)]
    wanted = list(options.runtimes) or list(suite.runtimes)
    source = "RUNTIMES/--runtimes" if options.runtimes else f"suite {suite.name}: runtimes"
    return select(load_registry(root), wanted, source)


def _resume_state(root: Path, options: CompareOptions) -> RunState:
    run_dir = layout.run_dir(options.reports_dir, str(options.resume))
    meta = read_meta(run_dir)
    suite = suite_from_meta(meta.suite, f"{run_dir}/meta.json")
    ids = list(meta.runtimes)
    if options.backend == "local":
        runtimes = [local_runtime(name) for name in ids]
    else:
        runtimes = select(load_registry(root), ids, f"{run_dir}/meta.json: runtimes")
    return RunState(meta.run_id, run_dir, suite, runtimes, meta=meta)


def _prepare_runtimes(
    backend: Backend, root: Path, state: RunState, options: CompareOptions, display: Display
) -> dict[str, ImageStatus]:
    return backend.prepare(root, state.runtimes, options.build, display.info, display.build_line)


def _initial_meta(
    root: Path, backend: Backend, state: RunState, options: CompareOptions
) -> RunMeta:
    host = backend.host_facts()
    cpuset = backend.cpuset(options.cpuset, host)
    if host.topology and cpuset:  # what the cpuset offers of the machine's cores
        host = replace(host, topology=narrow_topology(host.topology, cpu_list(cpuset)))
    previous = state.meta
    return RunMeta(
        schema=SCHEMA_VERSION,
        run_id=state.run_id,
        status=RUNNING,
        suite=state.suite.as_dict(),
        backend=backend.name,
        machine=(previous.machine if previous else None)
        or os.environ.get("GILBENCH_MACHINE", "").strip()
        or None,
        containerised=backend.containerised,
        command=(previous.command if previous else None) or options.command,
        baseline=options.baseline,
        host=host,
        docker=backend.engine_facts(),
        harness_revision=harness_revision(root),
        cpuset=cpuset,
        cpus=cpuset_size(cpuset) if cpuset else host.cores,
        memory_limit=state.suite.memory if backend.containerised else None,
        started_at=(previous.started_at if previous else None) or iso(utc_now()),
        finished_at=None,
        wall_total_s=previous.wall_total_s if previous else None,
        attempts=(previous.attempts if previous else 0) + 1,
        runtimes={rt.id: _runtime_meta(rt, state.statuses[rt.id]) for rt in state.runtimes},
    )


def _runtime_meta(runtime: Runtime, status: ImageStatus) -> RuntimeMeta:
    return RuntimeMeta(
        family=runtime.family,
        description=runtime.description,
        expected_gil=runtime.expected_gil,
        gil_twin=runtime.gil_twin,
        image=runtime.image or None,
        image_id=status.image_id,
        recipe_hash=status.recipe_hash,
        available=status.available,
        state=status.state,
        reason=status.reason,
        probe=status.probe,
    )


# -- the matrix --------------------------------------------------------------------------------


def _run_matrix(
    backend: Backend, state: RunState, options: CompareOptions, display: Display
) -> None:
    results = state.run_dir / RESULTS_FILE
    groups = plan_groups(state.suite, state.runtimes)
    done = completed_cells(results, groups)
    moved = set_aside_partial(state.run_dir, done)
    if moved:
        display.info(
            f"resume: {moved} record(s) of unfinished cells set aside in "
            "results.partial.jsonl; those cells run again"
        )
    for runtime in state.runtimes:
        status = state.statuses[runtime.id]
        if status.available:
            continue
        lost = [g for g in groups if g.runtime.id == runtime.id]
        for record in failed_runtime_records(
            state.run_id, backend.name, lost, f"runtime {status.state}: {status.reason}"
        ):
            if cell_of(record) not in done:
                append_record(results, record)
    runnable = [g for g in groups if state.statuses[g.runtime.id].available]
    total = sum(1 for g in runnable for c in g.cells if c not in done)

    def label(cell: Cell) -> str:
        return f"{cell.runtime} {cell.workload} {cell.mode} x{cell.workers}"

    def on_done(cell: Cell, record: Any) -> None:
        outcome = (
            "ok"
            if record is None or record.ok
            else ("n/a: " if record.unsupported else "FAILED: ")
            + str(record.error).splitlines()[0][:120]
        )
        display.cell_done(label(cell), outcome)

    runner = GroupRunner(
        backend,
        state.run_id,
        results,
        idle_timeout_s=idle_timeout(state.suite),
        total_timeout_s=float(state.suite.timeout_s),
        memory=state.suite.memory,
        cpuset=state.meta.cpuset if state.meta else None,
        on_cell_done=on_done,
        on_cell_start=lambda cell: display.cell_started(label(cell)),
    )
    display.start_cells(total)
    try:
        for group in runnable:
            runner.run(group, done)
            write_meta(state.run_dir, state.meta)
    finally:
        display.stop_cells()


def _finish_meta(state: RunState, status: str, started: float) -> None:
    results = state.run_dir / RESULTS_FILE
    workload_wall = 0.0
    if results.is_file():
        workload_wall = sum(r.wall_s or 0.0 for r in iter_records(results) if r.ok)
    assert state.meta is not None
    previous_total = float(state.meta.wall_total_s or 0.0)
    state.meta = state.meta.updated(
        status=status,
        finished_at=iso(utc_now()),
        wall_total_s=round(previous_total + time.monotonic() - started, 3),
        workload_wall_s=round(workload_wall, 3),
    )
    write_meta(state.run_dir, state.meta)
