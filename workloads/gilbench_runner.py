"""gilbench in-container runner: runs workloads in several modes and worker counts and prints
one JSON record per measurement on stdout (docs/formats.md, "The in-container runner").

    gilbench_runner.py --plan '[{"workload": "cpu", "cells": [["serial", 1], ["threads", 2]],
                                 "size": 3000, "reps": 5, "warmups": 1}, ...]' [options below]
    gilbench_runner.py --workload cpu --modes serial,threads,processes --workers 1,2,4 \
                       --size 3000 --reps 5 --warmups 1 [--pool auto|multiprocessing|subprocess] \
                       [--scaling-min-unit-s 0.1 [--scaled-size N]] [--invocation K] [--interleave [--order-seed S]] \
                       [--repeat-disturbed K --disturbed-share F --disturbed-floor-s S]
    gilbench_runner.py --list
    gilbench_runner.py --serve --workload cpu     (internal: a subprocess-pool worker)

Portable: Python 2.7 (Jython 2.7.3) and 3.4+ (CPython, free-threaded CPython, PyPy,
IronPython on Mono); stdlib only. Stdout carries nothing but JSON lines; logs go to stderr.
Bad arguments: one line on stderr, exit 2. Anything a workload raises becomes an ok:false record.
Exit 75 (EX_TEMPFAIL): a workload switched the GIL back on (an extension module on a
free-threaded build), or left the container above half its memory limit; the workloads after
it were left for a fresh process.

This file plans and runs the cells; beside it: gilbench_executors (timing N units per mode),
gilbench_pools (the process pools and their workers), gilbench_neighbours (other processes'
CPU time), gilbench_lines (records on stdout, logs on stderr).
"""
from __future__ import print_function, division

import argparse
import gc
import json
import math
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import gilbench_common as common  # noqa: E402
import gilbench_lines as lines  # noqa: E402
import probe  # noqa: E402
from gilbench_lines import as_text, current_error, emit, log  # noqa: E402
from gilbench_executors import MAX_WARMUP_REPS, Unsupported, make_executor  # noqa: E402
from gilbench_neighbours import CpuCounters, disturbed, neighbour_fields  # noqa: E402
from gilbench_pools import Pools, serve  # noqa: E402

# Record schema history: 1 -- first format; 2 -- adds invocation, position, order_seed, sizing,
# unit_s, pool_roundtrip_s, cpuset_busy_s, steal_s, others_cpu_s (all additive); later, still 2:
# unit_checksums, repeat_of (optional).
SCHEMA = 2
POOL_KINDS = ("auto", "multiprocessing", "subprocess")
MAX_SCALE = 1000                  # calibration never multiplies the suite size by more
EXIT_FRESH_PROCESS = 75           # the rest of the plan needs a fresh process (see the docstring)

class UsageError(Exception):
    pass


# --- argument parsing -------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _parser():
    parser = _Parser(prog=lines.PROG, description="Run gilbench workloads; JSON lines on stdout.")
    parser.add_argument("--workload", help="workload name (see --list)")
    parser.add_argument("--modes", help="comma-separated: serial,threads,processes,asyncio "
                                        "(default: the workload's own MODES)")
    parser.add_argument("--workers", default="1", help="comma-separated worker counts (default 1)")
    parser.add_argument("--size", help="size of one unit (default: the workload's DEFAULT_SIZE)")
    parser.add_argument("--reps", default="3", help="measured repetitions per cell (default 3)")
    parser.add_argument("--warmups", default="1", help="warm-up repetitions per cell (default 1)")
    parser.add_argument("--warmup-seconds", default="0",
                        help="the first cell this process runs keeps warming up until its "
                             "warm-up reps took this many seconds (JITs; default 0)")
    parser.add_argument("--pool", default=None,
                        help="processes-mode pool: auto (multiprocessing where it works, else "
                             "subprocess), multiprocessing, subprocess (default: $GILBENCH_POOL "
                             "or auto)")
    parser.add_argument("--scaling-min-unit-s", default="0",
                        help="scale the size of the scaling cells up until one serial unit "
                             "takes at least this many seconds (default 0: off)")
    parser.add_argument("--scaled-size", default=None,
                        help="with --scaling-min-unit-s: the size the first invocation's "
                             "calibration chose (the suite size: none); used without timing, "
                             "so every invocation of a cell measures the same work")
    parser.add_argument("--invocation", default="0",
                        help="invocation number copied into every record (default 0)")
    parser.add_argument("--interleave", action="store_true",
                        help="run repetition r of every cell, then repetition r+1, ...")
    parser.add_argument("--order-seed", default=None,
                        help="with --interleave: shuffle the cells of each round with this seed")
    parser.add_argument("--repeat-disturbed", default="0",
                        help="measure a steady repetition again when other processes disturbed "
                             "it, at most this many extra times per cell (default 0: never)")
    parser.add_argument("--disturbed-share", default=None,
                        help="with --repeat-disturbed: disturbed when others used more than this "
                             "share of the wall time ...")
    parser.add_argument("--disturbed-floor-s", default=None,
                        help="... and more than this many CPU seconds")
    parser.add_argument("--plan", default=None,
                        help="several workloads in this one process, in this order: a JSON list "
                             "of {workload, cells: [[mode, workers], ...], size, reps, warmups, "
                             "order_seed, scaled_size} (replaces --workload and its options)")
    parser.add_argument("--list", action="store_true", help="one JSON line per workload")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    return parser


def _int(text, what, minimum):
    try:
        value = int(str(text).strip())
    except ValueError:
        raise UsageError("%s: %r is not an integer" % (what, text))
    if value < minimum:
        raise UsageError("%s must be >= %d, got %d" % (what, minimum, value))
    return value


def _float(text, what):
    try:
        value = float(str(text).strip())
    except ValueError:
        raise UsageError("%s: %r is not a number" % (what, text))
    if value < 0 or value != value:
        raise UsageError("%s must be >= 0, got %s" % (what, text))
    return value


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _csv(text, what):
    items = [part.strip() for part in str(text).split(",")]
    if not items or any(not part for part in items):
        raise UsageError("%s: %r is not a comma-separated list" % (what, text))
    return items


class Options(object):
    pass


class Part(object):
    """One workload this process runs: its cells (mode, workers), size and repetitions."""

    def __init__(self, workload, modes, workers, cells, size, reps, warmups, order_seed,
                 scaled_size):
        self.workload = workload
        self.modes = modes            # None: the workload's own MODES (with `workers`)
        self.workers = workers
        self.cells = cells            # [(mode, workers)] or None: the modes x workers grid
        self.size = size
        self.reps = reps
        self.warmups = warmups
        self.order_seed = order_seed
        self.scaled_size = scaled_size

    def pairs(self, module=None):
        """The (mode, workers) cells in the order asked for (without the workload's module,
        a grid of unnamed modes is serial only)."""
        if self.cells is not None:
            return list(self.cells)
        modes = self.modes
        if modes is None:
            modes = list(module.MODES) if module is not None else ["serial"]
        return [(mode, workers) for mode in modes for workers in self.workers]

    def workers_of(self, mode, module):
        return [workers for m, workers in self.pairs(module) if m == mode]


def _modes(items, what):
    modes = _unique(items)
    unknown = [mode for mode in modes if mode not in common.ALL_MODES]
    if unknown:
        raise UsageError("%s: unknown mode(s) %s (known: %s)"
                         % (what, ", ".join(unknown), ", ".join(common.ALL_MODES)))
    return modes


def _known_workload(name, catalogue, what):
    if name not in catalogue:
        raise UsageError("%s: unknown workload %r (known: %s)"
                         % (what, name, ", ".join(sorted(catalogue))))
    return name


def _part_from_args(args, catalogue):
    """The one workload of --workload/--modes/--workers/... (running the runner by hand)."""
    workload = _known_workload(args.workload, catalogue, "--workload")
    modes = None if args.modes is None else _modes(_csv(args.modes, "--modes"), "--modes")
    workers = _unique([_int(part, "--workers", 1) for part in _csv(args.workers, "--workers")])
    size = None if args.size is None else _int(args.size, "--size", 1)
    order_seed = None if args.order_seed is None else _int(args.order_seed, "--order-seed", 0)
    scaled_size = None if args.scaled_size is None else _int(args.scaled_size, "--scaled-size", 1)
    return Part(workload, modes, workers, None, size, _int(args.reps, "--reps", 1),
                _int(args.warmups, "--warmups", 0), order_seed, scaled_size)


PLAN_FIELDS = ("workload", "cells", "size", "reps", "warmups", "order_seed", "scaled_size")


def _parts_from_plan(text, catalogue):
    """The workloads of --plan: a JSON list of {"workload", "cells": [[mode, workers], ...],
    "size", "reps", "warmups", "order_seed", "scaled_size"} (the last four optional)."""
    try:
        entries = json.loads(as_text(text))
    except ValueError:
        raise UsageError("--plan: not JSON: %s" % sys.exc_info()[1])
    if not isinstance(entries, list) or not entries:
        raise UsageError("--plan: expected a non-empty JSON list of workload entries")
    parts = []
    for number, entry in enumerate(entries):
        where = "--plan entry %d" % number
        if not isinstance(entry, dict):
            raise UsageError("%s: expected an object, got %r" % (where, entry))
        unknown = sorted(set(entry) - set(PLAN_FIELDS))
        if unknown:
            raise UsageError("%s: unknown field(s) %s (known: %s)"
                             % (where, ", ".join(unknown), ", ".join(PLAN_FIELDS)))
        workload = _known_workload(entry.get("workload"), catalogue, where + ": workload")
        cells = entry.get("cells")
        if not isinstance(cells, list) or not cells or not all(
                isinstance(cell, list) and len(cell) == 2 for cell in cells):
            raise UsageError("%s: cells: expected a non-empty list of [mode, workers]" % where)
        _modes([cell[0] for cell in cells], where + ": cells")
        cells = _unique([(str(mode), _int(workers, where + ": cells: workers", 1))
                         for mode, workers in cells])

        def number_or_none(key, minimum):
            value = entry.get(key)
            return None if value is None else _int(value, "%s: %s" % (where, key), minimum)

        parts.append(Part(workload, None, None, cells, number_or_none("size", 1),
                          _int(entry.get("reps", 3), where + ": reps", 1),
                          _int(entry.get("warmups", 1), where + ": warmups", 0),
                          number_or_none("order_seed", 0), number_or_none("scaled_size", 1)))
    if len(_unique([part.workload for part in parts])) != len(parts):
        raise UsageError("--plan: a workload appears twice")
    return parts


def parse_args(argv):
    args = _parser().parse_args(argv)
    opts = Options()
    opts.list = args.list
    opts.serve = args.serve
    opts.workload = args.workload
    if opts.list:
        return opts
    if args.plan is not None and (args.workload or args.serve):
        raise UsageError("--plan replaces --workload (and its --modes, --workers, ...)")
    if not opts.workload and args.plan is None:
        raise UsageError("--workload or --plan is required (or --list)")
    opts.catalogue = common.discover()
    if opts.serve:
        _known_workload(opts.workload, opts.catalogue, "--workload")
        return opts
    opts.planned = args.plan is not None
    if opts.planned:
        opts.parts = _parts_from_plan(args.plan, opts.catalogue)
    else:
        opts.parts = [_part_from_args(args, opts.catalogue)]
    opts.warmup_seconds = _float(args.warmup_seconds, "--warmup-seconds")
    opts.min_unit_s = _float(args.scaling_min_unit_s, "--scaling-min-unit-s")
    if opts.min_unit_s <= 0 and any(part.scaled_size is not None for part in opts.parts):
        raise UsageError("--scaled-size needs --scaling-min-unit-s")
    opts.invocation = _int(args.invocation, "--invocation", 0)
    opts.interleave = args.interleave
    if not opts.interleave and any(part.order_seed is not None for part in opts.parts):
        raise UsageError("--order-seed needs --interleave")
    opts.repeat_disturbed = _int(args.repeat_disturbed, "--repeat-disturbed", 0)
    opts.disturbed_rule = None
    if opts.repeat_disturbed:
        if args.disturbed_share is None or args.disturbed_floor_s is None:
            raise UsageError("--repeat-disturbed needs --disturbed-share and --disturbed-floor-s")
        opts.disturbed_rule = (_float(args.disturbed_share, "--disturbed-share"),
                               _float(args.disturbed_floor_s, "--disturbed-floor-s"))
    opts.first_cell = True
    pool = args.pool if args.pool is not None else os.environ.get("GILBENCH_POOL", "auto")
    pool = (pool or "auto").strip()
    if pool not in POOL_KINDS:
        raise UsageError("--pool / GILBENCH_POOL: %r is not one of %s"
                         % (pool, ", ".join(POOL_KINDS)))
    opts.pool = pool
    return opts


# --- calibration: scaling cells get units long enough to scale ------------------------------

def take_warmup_budget(module, opts):
    """--warmup-seconds for the first warm-up in this process that runs workload code here (a
    JIT's own start-up is paid once), 0 afterwards; a start-up workload's work is new
    interpreters, so it leaves the budget to the next workload."""
    if not opts.first_cell or getattr(module, "KIND", None) == "startup":
        return 0.0
    opts.first_cell = False
    return opts.warmup_seconds


def prepare(module, part):
    """The workload's own set-up in this process (``prepare()``, optional), before any cell and
    any pool turns to it; a failure is logged and left to the cells, which record their own."""
    hook = getattr(module, "prepare", None)
    if hook is None:
        return
    try:
        hook()
    except KeyboardInterrupt:
        raise
    except:  # noqa: E722
        log("preparing %s failed: %s" % (part.workload, current_error()))


def calibrate(module, size, modes, part, opts):
    """(size for the scaling cells, measured unit seconds or None). Times one serial unit at the
    suite size after the warm-up; scales the size by ceil(min_unit_s / t), at most MAX_SCALE."""
    if opts.min_unit_s <= 0 or hasattr(module, "measure") or not getattr(module, "CALIBRATE", True):
        return size, None  # a workload whose work is not proportional to its size opts out
    unsupported = getattr(module, "UNSUPPORTED", {})
    if all(unsupported.get(mode) for mode in modes):
        return size, None  # nothing will run here (e.g. numpy missing): the cells say why
    if part.scaled_size is not None:  # an earlier invocation chose: the same work in every one
        return part.scaled_size, None
    try:
        warmed = 0
        # a JIT's own start-up only once per process: later workloads warm up like a cell
        deadline = common.perf_counter() + take_warmup_budget(module, opts)
        while warmed < max(1, part.warmups) or (common.perf_counter() < deadline
                                                and warmed < MAX_WARMUP_REPS):
            module.unit(size, 0)
            warmed += 1
        start = common.perf_counter()
        module.unit(size, 0)
        unit_s = common.perf_counter() - start
    except KeyboardInterrupt:
        raise
    except:  # noqa: E722 -- the cells themselves will record the error
        log("calibration of %s failed (%s); fixed size" % (part.workload, current_error()))
        return size, None
    if unit_s >= opts.min_unit_s:
        return size, unit_s
    factor = MAX_SCALE if unit_s <= 0 else min(MAX_SCALE, int(math.ceil(opts.min_unit_s / unit_s)))
    log("%s: one unit of size %d took %.4f s < %.3f s; scaling cells use size %d (x%d)"
        % (part.workload, size, unit_s, opts.min_unit_s, size * factor, factor))
    return size * factor, unit_s


# --- cells and records ----------------------------------------------------------------------

class Cell(object):
    """One (mode, workers, size) cell and its progress within this invocation."""

    def __init__(self, mode, workers, size, sizing, unit_s):
        self.mode = mode
        self.workers = workers
        self.size = size
        self.sizing = sizing
        self.unit_s = unit_s
        self.rep = 0
        self.repeats = 0      # disturbed steady repetitions measured again so far
        self.failed = False

    def group(self):
        return (self.mode, self.size)


def plan_cells(pairs, size, scaled_size, unit_s):
    """Cells in run order, from (mode, workers) pairs. Calibrated: the serial cells at the suite
    size (cross-runtime speed, `fixed`), then every cell at the calibrated size (`calibrated`)."""
    if scaled_size == size:
        return [Cell(mode, workers, size, "fixed", None) for mode, workers in pairs]
    fixed = [Cell(mode, workers, size, "fixed", None) for mode, workers in pairs
             if mode == "serial"]
    return fixed + [Cell(mode, workers, scaled_size, "calibrated", unit_s)
                    for mode, workers in pairs]


_FACTS = {}


def _facts():
    if not _FACTS:
        _FACTS["implementation"] = probe.implementation()
        _FACTS["python_version"] = probe.python_version()
    return _FACTS


def base_record(part, kind, cell, opts, warmup):
    facts = _facts()
    return {
        "schema": SCHEMA,
        "implementation": facts["implementation"],
        "python_version": facts["python_version"],
        "gil_enabled": probe.gil_enabled(),    # live: an import may have re-enabled the GIL
        "workload": part.workload,
        "kind": kind,
        "mode": cell.mode,
        "workers": cell.workers,
        "size": cell.size,
        "sizing": cell.sizing,
        "unit_s": cell.unit_s,
        "rep": cell.rep,
        "warmup": warmup,
        "invocation": opts.invocation,
        "order_seed": part.order_seed,
        "position": None,
        "wall_s": None,
        "cpu_s": None,
        "pool_roundtrip_s": None,
        "cpuset_busy_s": None,
        "steal_s": None,
        "others_cpu_s": None,
        "ok": False,
        "error": None,
        "unsupported": False,
        "checksum": None,
        "unit_checksums": None,
        "repeat_of": None,
        "pool": None,
        "extra": {},
        "ts": None,
    }


def _finish(record):
    record["gil_enabled"] = probe.gil_enabled()
    record["ts"] = time.time()
    emit(record)


class SetupFailure(object):
    """Why the executor of a (mode, size) group could not be started."""

    def __init__(self, error, unsupported):
        self.error = error
        self.unsupported = unsupported


class Positions(object):
    """The order of measurements in this process, over all of its workloads."""

    def __init__(self):
        self.next = 0

    def take(self):
        self.next += 1
        return self.next - 1


class WorkloadRun(object):
    """Runs the cells of one workload in this process: executors, counters, positions."""

    def __init__(self, module, part, opts, counters=None, positions=None):
        self.module = module
        self.part = part
        self.opts = opts
        self.executors = {}
        self.positions = positions if positions is not None else Positions()
        self.counters = counters if counters is not None else CpuCounters(probe.allowed_cpus())

    def fail(self, cell, error, unsupported):
        record = base_record(self.part, self.module.KIND, cell, self.opts, False)
        record["error"] = error
        record["unsupported"] = unsupported
        _finish(record)
        cell.failed = True

    def open(self, cells):
        """Start the executor of each (mode, size) group; its cells fail if that cannot be."""
        for cell in cells:
            group = cell.group()
            if group not in self.executors:
                self.executors[group] = self._start(cell.mode, cell.size)
            executor = self.executors[group]
            if isinstance(executor, SetupFailure):
                self.fail(cell, executor.error, executor.unsupported)

    def _start(self, mode, size):
        """The executor, or a SetupFailure when it cannot exist."""
        module = self.module
        reason = getattr(module, "UNSUPPORTED", {}).get(mode)
        if reason:  # the workload says why this mode cannot exist in this runtime
            return SetupFailure(reason, True)
        if mode not in module.MODES:
            return SetupFailure("workload %s does not define mode %s (its modes: %s)"
                                % (self.part.workload, mode, ", ".join(module.MODES)), True)
        try:
            return make_executor(mode, module, size, self.part, self.opts)
        except KeyboardInterrupt:
            raise
        except Unsupported:
            return SetupFailure(str(sys.exc_info()[1]), True)
        except:  # noqa: E722
            return SetupFailure("%s setup failed: %s" % (mode, current_error()), False)

    def close(self, cells):
        for group in _unique([cell.group() for cell in cells]):
            executor = self.executors.pop(group, None)
            if executor is None or isinstance(executor, SetupFailure):
                continue
            try:
                executor.close()
            except Exception:
                log("closing the %s executor failed: %s" % (group[0], current_error()))

    def warm(self, cell):
        """Warm-up reps: --warmups, and on the process's first cell at least --warmup-seconds
        (its warm-up records show the whole curve; it also warms the JIT for later cells)."""
        budget = 0.0 if cell.failed else take_warmup_budget(self.module, self.opts)
        warmed = 0.0
        while not cell.failed and (cell.rep < self.part.warmups or
                                   (warmed < budget and cell.rep < MAX_WARMUP_REPS)):
            record = self.measure(cell, True)
            if record["ok"]:
                warmed += record["wall_s"]

    def measure(self, cell, warmup, repeat_of=None):
        """One repetition of a cell -> its emitted record; a raising workload fails the cell.
        ``repeat_of``: the rep of the disturbed measurement this one measures again."""
        opts = self.opts
        executor = self.executors[cell.group()]
        record = base_record(self.part, self.module.KIND, cell, opts, warmup)
        record["pool"] = executor.pool
        record["repeat_of"] = repeat_of
        record["position"] = self.positions.take()
        if cell.mode == "processes" and executor.pool is not None:
            record["pool_roundtrip_s"] = executor.roundtrip(cell.workers)
        before = self.counters.read()
        try:
            result = executor.run(cell.workers)
        except KeyboardInterrupt:
            raise
        except:  # noqa: E722 -- the workload raised: record it, skip the rest of the cell
            record["error"] = current_error()
            _finish(record)
            log("%s %s workers=%d rep %d failed: %s"
                % (self.part.workload, cell.mode, cell.workers, cell.rep, record["error"]))
            cell.failed = True
            return record
        after = self.counters.read()
        record.update(result)
        record.update(neighbour_fields(before, after, record["cpu_s"]))
        record["extra"]["cpu_timer"] = common.CPU_TIMER_NAME
        record["ok"] = True
        _finish(record)
        cell.rep += 1
        return record

    def steady(self, cell):
        """One steady repetition; one measured during disturbance is kept (emitted) and
        measured again at once, at most --repeat-disturbed extra times per cell."""
        repeat_of = None
        while not cell.failed:
            record = self.measure(cell, False, repeat_of)
            if cell.repeats >= self.opts.repeat_disturbed or not (
                    record["ok"] and disturbed(record, self.opts.disturbed_rule)):
                return
            cell.repeats += 1
            repeat_of = record["rep"]
            log("%s %s workers=%d rep %d disturbed (others used %.3f s of the CPUs in %.3f s); "
                "measuring it again" % (self.part.workload, cell.mode, cell.workers,
                                        repeat_of, record["others_cpu_s"], record["wall_s"]))

    def run_sequential(self, cells):
        """All repetitions of a cell, then the next cell; one executor group open at a time."""
        groups = _unique([cell.group() for cell in cells])
        for group in groups:
            members = [cell for cell in cells if cell.group() == group]
            self.open(members)
            try:
                for cell in members:
                    self.warm(cell)
                    for _ in range(self.part.reps):
                        self.steady(cell)
            finally:
                self.close(members)

    def run_interleaved(self, cells):
        """Warm-ups per cell first, then round r runs repetition r of every cell (shuffled
        with --order-seed when given)."""
        seed = self.part.order_seed
        shuffler = None if seed is None else random.Random(seed)
        self.open(cells)
        try:
            for cell in cells:
                self.warm(cell)
            for _ in range(self.part.reps):
                order = list(cells)
                if shuffler is not None:
                    shuffler.shuffle(order)
                for cell in order:
                    self.steady(cell)
        finally:
            self.close(cells)


def run_part(part, opts, positions):
    """Measure one workload's cells; a workload that cannot be loaded fails all of them."""
    size = part.size
    try:
        module = common.load_workload(part.workload, opts.catalogue)
    except KeyboardInterrupt:
        raise
    except:  # noqa: E722 -- a broken workload file: every requested cell fails
        error = "cannot load workload %r: %s" % (part.workload, current_error())
        for mode, workers in part.pairs():
            record = base_record(part, None, Cell(mode, workers, size, "fixed", None), opts,
                                 False)
            record["error"] = error
            _finish(record)
        return
    size = size if size is not None else int(module.DEFAULT_SIZE)
    pairs = part.pairs(module)
    modes = _unique([mode for mode, _ in pairs])
    prepare(module, part)
    scaled_size, unit_s = calibrate(module, size, modes, part, opts)
    cells = plan_cells(pairs, size, scaled_size, unit_s)
    run = WorkloadRun(module, part, opts, positions=positions)
    if opts.interleave:
        run.run_interleaved(cells)
    else:
        run.run_sequential(cells)


# the container's memory (cgroup v2, then v1): in use, and its limit
CGROUP_MEMORY = (("/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.max"),
                 ("/sys/fs/cgroup/memory/memory.usage_in_bytes",
                  "/sys/fs/cgroup/memory/memory.limit_in_bytes"))
FRESH_PROCESS_MEMORY_SHARE = 0.5


def memory_share(sources=CGROUP_MEMORY):
    """The share of the container's memory limit its processes use now, or None (no limit, or
    not in a container)."""
    for used_path, limit_path in sources:
        try:
            with open(used_path) as handle:
                used = int(handle.read().split()[0])
            with open(limit_path) as handle:
                limit = handle.read().split()[0]
        except (IOError, OSError, ValueError, IndexError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 1 << 60:
            return None
        return used / int(limit)
    return None


def fresh_process_reason(gil_before, gil_now, memory_now):
    """Why the workloads left need a fresh process, or None: the GIL was switched (they would
    run with a GIL they were not meant to have), or the container holds more than half its
    memory limit after a collection (what an earlier workload grew would push a later one
    over the limit: PyPy keeps numpy's cpyext memory)."""
    if gil_now != gil_before:
        return "switched the GIL %s" % ("on" if gil_now else "off")
    if memory_now is not None and memory_now > FRESH_PROCESS_MEMORY_SHARE:
        return "left the container at %.0f%% of its memory limit" % (100 * memory_now)
    return None


def run_parts(opts):
    """Every workload of the plan, in order, in this process. Returns the exit code: 0, or
    EXIT_FRESH_PROCESS when others remain that need a fresh process (fresh_process_reason);
    the harness runs them in a fresh container."""
    positions = Positions()
    opts.pools = Pools(max([1] + [workers for part in opts.parts
                                  for mode, workers in part.pairs() if mode == "processes"]))
    gil = probe.gil_enabled()
    try:
        for index, part in enumerate(opts.parts):
            if opts.planned:  # tells the harness which workload runs from now on
                emit({"event": "workload", "workload": part.workload})
            run_part(part, opts, positions)
            # what the workload left behind is not the next one's to collect (PyPy does not
            # see numpy's memory behind cpyext and would let it grow to the memory limit)
            gc.collect()
            reason = fresh_process_reason(gil, probe.gil_enabled(), memory_share())
            if reason and index + 1 < len(opts.parts):
                log("%s %s; leaving %s for a fresh process"
                    % (part.workload, reason, ", ".join(p.workload for p in opts.parts[index + 1:])))
                return EXIT_FRESH_PROCESS
        return 0
    finally:
        opts.pools.close()


def list_workloads():
    catalogue = common.discover()
    for name in sorted(catalogue):
        try:
            info = common.workload_info(name, common.load_workload(name, catalogue))
        except KeyboardInterrupt:
            raise
        except:  # noqa: E722
            info = {"name": name, "error": current_error()}
        emit(info)
    return 0


def main(argv=None):
    real_stdout = lines.OUT["stream"] = sys.stdout
    sys.stdout = sys.stderr   # stray prints (workloads, libraries) must not corrupt the records
    try:
        try:
            opts = parse_args(sys.argv[1:] if argv is None else argv)
        except UsageError:
            log("error: %s" % sys.exc_info()[1])
            return 2
        if opts.list:
            return list_workloads()
        if opts.serve:
            return serve(opts.workload, opts.catalogue)
        return run_parts(opts)
    finally:
        sys.stdout = real_stdout


if __name__ == "__main__":
    sys.exit(main())
