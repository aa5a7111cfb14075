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
import probe  # noqa: E402

# Record schema history: 1 -- first format; 2 -- adds invocation, position, order_seed, sizing,
# unit_s, pool_roundtrip_s, cpuset_busy_s, steal_s, others_cpu_s (all additive); later, still 2:
# unit_checksums, repeat_of (optional).
SCHEMA = 2
PROG = "gilbench_runner"
POOL_KINDS = ("auto", "multiprocessing", "subprocess")
MAX_WARMUP_REPS = 200  # --warmup-seconds never makes a cell run longer than this many warm-ups
POOL_POLL_S = 0.2                 # how often a waiting parent checks its pool workers are alive
WARM_ROUNDS = 20                  # pool warm-up rounds until every worker has answered
WARM_TIMEOUT_S = 60               # a multiprocessing pool whose workers never answer is unusable
ROUNDTRIP_ROUNDS = 20             # empty-task rounds timed per processes cell
MAX_SCALE = 1000                  # calibration never multiplies the suite size by more
CLOSE_TIMEOUT_S = 30
EXIT_FRESH_PROCESS = 75           # the rest of the plan needs a fresh process (see the docstring)
PROC_STAT = "/proc/stat"

# Records go to the real stdout; anything else printing to sys.stdout lands on stderr.
_OUT = sys.stdout


def emit(obj):
    _OUT.write(json.dumps(obj, sort_keys=True) + "\n")
    _OUT.flush()


def log(message):
    sys.stderr.write("%s: %s\n" % (PROG, message))
    sys.stderr.flush()


def current_error():
    """Text of the exception being handled -- also Java/.NET exceptions, which on Jython do
    not derive from Exception (hence the bare excepts around workload code)."""
    return common.describe_exception(sys.exc_info()[1])


def as_text(data):
    """Pipe data as text: json.loads on a 3.4-level runtime (IronPython) refuses bytes."""
    if isinstance(data, bytes) and not isinstance(data, str):
        return data.decode("utf-8")
    return data


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


class UsageError(Exception):
    pass


class Unsupported(Exception):
    """The mode cannot exist here (workload does not define it, runtime lacks it)."""


# --- argument parsing -------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _parser():
    parser = _Parser(prog=PROG, description="Run gilbench workloads; JSON lines on stdout.")
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


# --- noisy neighbours: host-wide per-CPU counters -----------------------------------------

def _clock_ticks():
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except:  # noqa: E722 -- no os.sysconf on Jython / IronPython
        return 100.0


# CPU time of every process of this container (cgroup v2, then v1): the workload's helper
# processes (the io peer, pool workers, spawned interpreters) are ours, not neighbours
CGROUP_CPU = (("/sys/fs/cgroup/cpu.stat", "usage_usec", 1e-6),
              ("/sys/fs/cgroup/cpuacct/cpuacct.usage", None, 1e-9),
              ("/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage", None, 1e-9))
IN_CONTAINER = os.path.exists("/.dockerenv")


def container_cpu_s(sources=CGROUP_CPU):
    """CPU seconds used by this container's processes so far, or None where unknown."""
    for path, key, scale in sources:
        try:
            with open(path) as handle:
                text = handle.read()
        except (IOError, OSError):
            continue
        try:
            if key is None:
                return int(text.split()[0]) * scale
            for line in text.splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value) * scale
        except (ValueError, IndexError):
            continue
    return None


class CpuCounters(object):
    """Busy and steal seconds of some CPUs from /proc/stat (host-wide, also in a container).
    busy = user + nice + system + irq + softirq + steal (everything but idle and iowait; guest
    time is already inside user/nice). In a container also the container's own CPU time."""

    def __init__(self, cpus, path=PROC_STAT, own=None):
        self.cpus = None if cpus is None else set(cpus)
        self.path = path
        self.hz = _clock_ticks()
        self.own = own if own is not None else (container_cpu_s if IN_CONTAINER else None)

    def read(self):
        """(busy_s, steal_s, own_s) summed over the CPUs (own_s: the container's CPU time, None
        outside one), or None where /proc/stat cannot be read."""
        try:
            with open(self.path) as handle:
                lines = handle.readlines()
            busy = steal = seen = 0
            for line in lines:
                parts = line.split()
                if not parts or not parts[0].startswith("cpu") or parts[0] == "cpu":
                    continue
                if self.cpus is not None and int(parts[0][3:]) not in self.cpus:
                    continue
                ticks = [int(value) for value in parts[1:9]] + [0] * 8
                busy += ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
                steal += ticks[7]
                seen += 1
        except:  # noqa: E722 -- unreadable or unexpected: no data, never a failed cell
            return None
        if not seen:
            return None
        return busy / self.hz, steal / self.hz, self.own() if self.own else None


def neighbour_fields(before, after, cpu_s):
    """cpuset_busy_s, steal_s, others_cpu_s of one measurement (None where unknown). Ours is
    the container's CPU time where known (helper processes included), else ``cpu_s``."""
    if before is None or after is None:
        return {"cpuset_busy_s": None, "steal_s": None, "others_cpu_s": None}
    busy = max(0.0, after[0] - before[0])
    ours = cpu_s
    if before[2] is not None and after[2] is not None:
        ours = max(0.0, after[2] - before[2])
    others = None if ours is None else max(0.0, busy - ours)
    return {"cpuset_busy_s": round(busy, 6), "steal_s": round(max(0.0, after[1] - before[1]), 6),
            "others_cpu_s": None if others is None else round(others, 6)}


def disturbed(record, rule):
    """The harness's rule (harness.vocabulary.is_disturbed), ``rule`` = (share, floor_s): other
    processes used more than ``share`` of the wall time and more than ``floor_s`` CPU seconds."""
    others, wall = record.get("others_cpu_s"), record.get("wall_s")
    if rule is None or others is None or wall is None:
        return False
    share, floor_s = rule
    return others > max(share * wall, floor_s)


# --- executors: one per (mode, size) -- they time `workers` units ----------------------------

def _unit_result(checksums, walls, cpu_s, extra=None):
    """checksums: [(index, checksum)], walls: [(index, seconds)]."""
    result = {"checksum": common.combine_checksums(checksums),
              "unit_checksums": common.unit_checksums(checksums), "cpu_s": cpu_s,
              "extra": extra or {}}
    result["extra"]["unit_wall_s"] = [round(wall, 6) for _, wall in sorted(walls)]
    return result


class SerialExecutor(object):
    pool = None

    def __init__(self, module, workload, size, workers_list):
        self.module = module
        self.size = size

    def run(self, workers):
        unit = self.module.unit
        checksums, walls = [], []
        cpu0 = common.cpu_time()
        start = common.perf_counter()
        for index in common.xrange(workers):
            t0 = common.perf_counter()
            checksums.append((index, unit(self.size, index)))
            walls.append((index, common.perf_counter() - t0))
        wall = common.perf_counter() - start
        result = _unit_result(checksums, walls, common.cpu_delta(cpu0, common.cpu_time()))
        result["wall_s"] = wall
        return result

    def close(self):
        pass


class ThreadExecutor(object):
    pool = None

    def __init__(self, module, workload, size, workers_list):
        try:
            import threading
        except ImportError:
            raise Unsupported("this runtime has no threading module")
        self.threading = threading
        self.module = module
        self.size = size

    def _body(self, index, results):
        try:
            t0 = common.perf_counter()
            checksum = self.module.unit(self.size, index)
            results[index] = (True, checksum, common.perf_counter() - t0)
        except:  # noqa: E722 -- Java/.NET exceptions too
            results[index] = (False, sys.exc_info()[1], None)

    def run(self, workers):
        results = [None] * workers
        threads = [self.threading.Thread(target=self._body, args=(index, results))
                   for index in range(workers)]
        cpu0 = common.cpu_time()
        start = common.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = common.perf_counter() - start
        cpu = common.cpu_delta(cpu0, common.cpu_time())
        for index, item in enumerate(results):
            if item is None:
                raise RuntimeError("thread %d finished without a result" % index)
            if not item[0]:
                raise item[1]
        result = _unit_result([(i, r[1]) for i, r in enumerate(results)],
                              [(i, r[2]) for i, r in enumerate(results)], cpu)
        result["wall_s"] = wall
        return result

    def close(self):
        pass


class AsyncioExecutor(object):
    pool = None

    def __init__(self, module, workload, size, workers_list):
        try:
            import asyncio  # noqa: F401
        except ImportError:
            raise Unsupported("this runtime has no asyncio module")
        if not hasattr(module, "async_unit"):
            raise RuntimeError("workload lists asyncio in MODES but has no async_unit()")
        try:
            self.coro_fn = module.async_unit()
            import asyncio_units
        except SyntaxError:
            raise Unsupported("asyncio_units needs async/await (Python 3.5+): %s"
                              % current_error())
        self.units = asyncio_units
        self.size = size
        self.loop = asyncio_units.new_loop()

    def run(self, workers):
        cpu0 = common.cpu_time()
        start = common.perf_counter()
        results = self.units.run_units(self.loop, self.coro_fn, self.size, workers)
        wall = common.perf_counter() - start
        cpu = common.cpu_delta(cpu0, common.cpu_time())
        result = _unit_result([(r[0], r[1]) for r in results], [(r[0], r[2]) for r in results],
                              cpu)
        result["wall_s"] = wall
        return result

    def close(self):
        self.units.close_loop(self.loop)


class MeasureExecutor(object):
    """Workloads with their own measure(mode, workers, size) -> (checksum, extra)."""
    pool = None

    def __init__(self, module, workload, size, workers_list, mode):
        self.module = module
        self.size = size
        self.mode = mode

    def run(self, workers):
        cpu0 = common.cpu_time()
        start = common.perf_counter()
        checksum, extra = self.module.measure(self.mode, workers, self.size)
        wall = common.perf_counter() - start
        return {"checksum": str(checksum), "wall_s": wall,
                "cpu_s": common.cpu_delta(cpu0, common.cpu_time()), "extra": dict(extra or {})}

    def close(self):
        pass


# --- pool workers: the workload is imported once per worker, never per task -----------------

_WORKER = {"name": None, "module": None, "error": None, "catalogue": None, "loaded": {}}


def worker_init(workload, catalogue):
    """Pool-worker start-up: import the workload once (an error is answered by every task)."""
    _WORKER["catalogue"] = catalogue
    worker_load(workload)


def worker_load(workload):
    """Make `workload` the one this worker runs, importing it once (a shared pool's worker
    runs several workloads, one after the other; what the last one left behind is collected
    first: PyPy does not see numpy's memory behind cpyext)."""
    if _WORKER["name"] not in (None, workload):
        gc.collect()
    _WORKER["name"] = workload
    _WORKER["module"] = _WORKER["loaded"].get(workload)
    _WORKER["error"] = None
    if _WORKER["module"] is None:
        try:
            _WORKER["module"] = common.load_workload(workload, _WORKER["catalogue"])
            _WORKER["loaded"][workload] = _WORKER["module"]
        except:  # noqa: E722 -- a raising initializer makes multiprocessing respawn it for ever
            _WORKER["error"] = current_error()


def timed_unit(module, size, index):
    """One unit timed with this (worker) process's own clocks -> the answer dict."""
    try:
        cpu0 = common.cpu_time()
        t0 = common.perf_counter()
        checksum = module.unit(size, index)
        wall = common.perf_counter() - t0
        cpu = common.cpu_delta(cpu0, common.cpu_time())
    except KeyboardInterrupt:
        raise
    except:  # noqa: E722 -- Java/.NET exceptions too
        return {"index": index, "ok": False, "error": current_error()}
    return {"index": index, "ok": True, "checksum": str(checksum), "wall_s": wall,
            "cpu_s": cpu, "pid": os.getpid()}


def task_unit(workload, size, index):
    if _WORKER["name"] != workload:  # never time one workload's unit as another's
        return {"index": index, "ok": False,
                "error": "pool worker %s runs %s, not %s" % (os.getpid(), _WORKER["name"],
                                                               workload)}
    if _WORKER["module"] is None:
        return {"index": index, "ok": False, "error": _WORKER["error"] or "worker not set up"}
    return timed_unit(_WORKER["module"], size, index)


def task_load(workload, pause):
    """Turn this worker to `workload`; the pause lets every worker take one such task."""
    worker_load(workload)
    time.sleep(pause)
    return os.getpid(), _WORKER["error"]


def task_ping(index):
    """The empty task: what a round trip through the pool costs without any work."""
    return {"index": index, "ok": True, "pid": os.getpid()}


def task_warm(pause):
    time.sleep(pause)
    return os.getpid()


# --- process pools ------------------------------------------------------------------------

class MultiprocessingPool(object):
    kind = "multiprocessing"

    def __init__(self, workload, catalogue, processes):
        import multiprocessing
        self.processes = processes
        self.broken = None
        self.workload = workload
        self.pool = multiprocessing.Pool(processes, worker_init, (workload, catalogue))
        # multiprocessing.Pool silently replaces a dead worker and waits forever for the task
        # it held: watch the original workers instead (none of them exits while the pool lives)
        self.workers = list(getattr(self.pool, "_pool", []))
        try:
            self._warm()
        except:  # noqa: E722
            self.pool.terminate()
            self.pool.join()
            raise

    def _warm(self):
        """Wait until every worker has started (and imported the workload) and answered; a
        pool in which none answers within WARM_TIMEOUT_S is unusable (a runtime whose
        multiprocessing starts no workers would otherwise hang here)."""
        pids = set()
        deadline = time.time() + WARM_TIMEOUT_S
        for _ in range(WARM_ROUNDS):
            pending = [self.pool.apply_async(task_warm, (0.02,)) for _ in range(self.processes)]
            pids.update(self._collect(pending, deadline))
            if len(pids) >= self.processes:
                return
        log("multiprocessing pool: only %d of %d workers answered the warm-up"
            % (len(pids), self.processes))

    def use(self, workload):
        """Turn every worker to `workload` (each imports it once), outside any timed region:
        rounds of one load task per worker until each worker has answered one."""
        if workload == self.workload:
            return
        self.workload = None  # half turned: units refused (task_unit checks the name)
        pids = set()
        deadline = time.time() + WARM_TIMEOUT_S
        for _ in range(WARM_ROUNDS):
            pending = [self.pool.apply_async(task_load, (workload, 0.02))
                       for _ in range(self.processes)]
            for pid, error in self._collect(pending, deadline):
                if error:
                    raise RuntimeError("pool worker cannot load %s: %s" % (workload, error))
                pids.add(pid)
            if len(pids) >= self.processes:
                self.workload = workload
                return
        raise RuntimeError("multiprocessing pool: only %d of %d workers turned to %s"
                           % (len(pids), self.processes, workload))

    def _map(self, func, argses):
        if self.broken:
            raise RuntimeError(self.broken)
        return self._collect([self.pool.apply_async(func, args) for args in argses])

    def _collect(self, pending, deadline=None):
        """The results of `pending`, failing at once when a pool worker has died (or, with a
        `deadline`, when it has passed)."""
        for item in pending:
            while not item.ready():
                if deadline is not None and time.time() > deadline:
                    self.broken = "no pool worker answered within %d s" % WARM_TIMEOUT_S
                    raise RuntimeError(self.broken)
                item.wait(POOL_POLL_S)
                dead = dead_worker_message(self.workers)
                if dead:
                    self.broken = dead
                    raise RuntimeError(dead)
        return [item.get() for item in pending]

    def run(self, size, workers):
        return self._map(task_unit, [(self.workload, size, index) for index in range(workers)])

    def ping(self, workers):
        return self._map(task_ping, [(index,) for index in range(workers)])

    def close(self):
        if self.broken:  # a lost task would keep close() + join() waiting
            self.pool.terminate()
        else:
            self.pool.close()
        self.pool.join()


def dead_worker_message(processes):
    """'pool worker <pid> died (...)' for the first of `processes` that has exited, else None."""
    for process in processes:
        code = process.exitcode
        if code is None:
            continue
        if code == -9:
            how = "exit -9: killed, OOM?"
        elif code < 0:
            how = "exit %d: killed by signal %d" % (code, -code)
        else:
            how = "exit %d" % code
        return "pool worker %s died (%s)" % (process.pid, how)
    return None


class SubprocessPool(object):
    """Portable pool: N children of the same runtime running this file in --serve mode,
    speaking JSON lines over binary pipes (Jython and IronPython have no working
    multiprocessing.Pool; IronPython's pipes give bytes, which its json.loads refuses).
    One pool serves every workload of the process (`use`): its children are interpreters that
    take seconds to start on the JVM and Mono."""
    kind = "subprocess"

    def __init__(self, workload, catalogue, processes):
        import subprocess
        command = probe.interpreter_command() + [os.path.abspath(__file__), "--serve",
                                                 "--workload", workload]
        self.processes = processes
        self.broken = None
        self.children = []
        self.workload = workload
        try:
            for _ in range(processes):
                self.children.append(subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE))
            for child in self.children:   # all start in parallel; wait for each one's hello
                hello = self._read(child)
                if not hello.get("ready"):
                    raise RuntimeError("pool worker failed to start: %s"
                                       % hello.get("error", hello))
        except:  # noqa: E722
            self.close()
            raise

    def use(self, workload):
        """Make `workload` the one every worker runs: each imports it (once; outside any timed
        region) or says why it cannot."""
        if workload == self.workload:
            return
        self.workload = None  # half turned until every worker answered
        answers = self._exchange([{"load": workload, "index": index}
                                  for index in range(len(self.children))])
        for answer in answers:
            if not answer.get("ok"):
                raise RuntimeError("pool worker cannot load %s: %s"
                                   % (workload, answer.get("error")))
        self.workload = workload

    def _read(self, child):
        line = as_text(child.stdout.readline())
        if not line:
            child.poll()
            raise RuntimeError("pool worker pid %s exited (code %s) without answering"
                               % (child.pid, child.returncode))
        try:
            return json.loads(line)
        except ValueError:
            raise RuntimeError("pool worker pid %s wrote a non-JSON line: %r"
                               % (child.pid, line[:200]))

    def _exchange(self, tasks):
        """Send task i to child i, then read every answer."""
        if self.broken:
            raise RuntimeError("subprocess pool is unusable after an earlier error: %s"
                               % self.broken)
        if len(tasks) > len(self.children):
            raise RuntimeError("pool has %d workers, %d requested"
                               % (len(self.children), len(tasks)))
        try:
            for index, task in enumerate(tasks):
                stdin = self.children[index].stdin
                stdin.write((json.dumps(task) + "\n").encode("ascii"))
                stdin.flush()
            return [self._read(self.children[index]) for index in range(len(tasks))]
        except:  # noqa: E722 -- answers may now be out of step with the tasks
            self.broken = current_error()
            raise

    def run(self, size, workers):
        return self._exchange([{"workload": self.workload, "size": size, "index": index}
                               for index in range(workers)])

    def ping(self, workers):
        return self._exchange([{"ping": True, "index": index} for index in range(workers)])

    def close(self):
        for child in self.children:
            try:
                child.stdin.close()       # EOF: the worker leaves its loop and exits
            except Exception:
                pass
        deadline = time.time() + CLOSE_TIMEOUT_S
        for child in self.children:
            while child.poll() is None and time.time() < deadline:
                time.sleep(0.01)
            if child.poll() is None:
                log("pool worker pid %s did not exit; killing it" % child.pid)
                try:
                    child.kill()
                    child.wait()
                except Exception:
                    pass
            try:
                child.stdout.close()
            except Exception:
                pass
        self.children = []


class Pools(object):
    """The process pool of this runner process, started once with the most workers any cell
    of the plan needs and kept for every workload (`use` turns its workers to the next one;
    their start-up -- a fork, a spawned interpreter, a JVM -- is paid once). One that broke is
    replaced. `auto` remembers why multiprocessing could not be used."""

    def __init__(self, processes):
        self.processes = processes
        self.shared = None
        self.fallback = None

    def get(self, kind, workload, catalogue, processes):
        """(pool, fallback reason, fresh: its workers never ran a unit)."""
        if kind == "auto" and self.fallback is None and common.IS_CLI:
            self.fallback = "multiprocessing is not supported on IronPython"
        wanted = "multiprocessing" if kind == "multiprocessing" or (
            kind == "auto" and self.fallback is None) else "subprocess"
        reason = self.fallback if kind == "auto" else None
        pool = self.shared
        if (pool is not None and not pool.broken and pool.kind == wanted
                and pool.processes >= processes):
            try:
                pool.use(workload)
                return pool, reason, False
            except KeyboardInterrupt:
                raise
            except:  # noqa: E722 -- a pool that cannot turn is replaced by a fresh one
                log("the %s pool could not turn to %s (%s); starting a fresh one"
                    % (pool.kind, workload, current_error()))
        self.close()
        size = max(processes, self.processes)
        if wanted == "multiprocessing":
            try:
                self.shared = MultiprocessingPool(workload, catalogue, size)
                return self.shared, None, True
            except KeyboardInterrupt:
                raise
            except:  # noqa: E722
                reason = "multiprocessing.Pool unusable (%s)" % current_error()
                if kind == "multiprocessing":
                    raise RuntimeError(reason)
                log("%s; using the subprocess pool" % reason)
                self.fallback = reason
        self.shared = SubprocessPool(workload, catalogue, size)
        return self.shared, reason, True

    def close(self):
        if self.shared is not None:
            pool, self.shared = self.shared, None
            pool.close()


class ProcessExecutor(object):
    def __init__(self, module, workload, size, workers_list, pools, pool_kind, catalogue,
                 warm_seconds=0.0):
        try:
            import subprocess  # noqa: F401
        except ImportError:
            raise Unsupported("this runtime has no subprocess module")
        self.size = size
        self.workload = workload
        self.impl, self.fallback, fresh = pools.get(pool_kind, workload, catalogue,
                                                    max(workers_list))
        self.pool = self.impl.kind
        try:
            if fresh:
                self.jit_warm_rounds = self._warm_jit(max(workers_list), warm_seconds)
            else:  # warm interpreters: one round of this workload's code (then cell warm-ups)
                self.jit_warm_rounds = self._warm_jit(max(workers_list), 0.0, 1)
            self.roundtrips = dict((workers, self._roundtrip(workers))
                                   for workers in workers_list)
        except:  # noqa: E722 -- a pool that failed here is not used again
            self.impl.broken = self.impl.broken or current_error()
            raise

    def roundtrip(self, workers):
        return self.roundtrips.get(workers)

    def _warm_jit(self, max_workers, seconds, at_least=0):
        """A fresh pool's workers are fresh interpreters: on a JIT runtime (--warmup-seconds
        > 0) run real units on all of them, untimed, for that long before any cell is measured.
        A reused pool's workers already ran other workloads: `at_least` rounds of this one."""
        rounds = 0
        deadline = common.perf_counter() + seconds
        while rounds < at_least or (common.perf_counter() < deadline
                                    and rounds < MAX_WARMUP_REPS):
            self.impl.run(self.size, max_workers)
            rounds += 1
        return rounds

    def _roundtrip(self, workers):
        """Median wall time of handing `workers` empty tasks to the pool and collecting them."""
        times = []
        for _ in range(ROUNDTRIP_ROUNDS):
            start = common.perf_counter()
            self.impl.ping(workers)
            times.append(common.perf_counter() - start)
        return median(times)

    def run(self, workers):
        self.impl.use(self.workload)
        cpu0 = common.cpu_time()
        start = common.perf_counter()
        answers = self.impl.run(self.size, workers)
        wall = common.perf_counter() - start
        parent_cpu = common.cpu_delta(cpu0, common.cpu_time())
        for answer in answers:
            if not answer.get("ok"):
                raise RuntimeError("worker unit %s failed: %s"
                                   % (answer.get("index"), answer.get("error")))
        worker_cpu = [answer.get("cpu_s") for answer in answers]
        cpu = None
        if parent_cpu is not None and None not in worker_cpu:
            cpu = parent_cpu + sum(worker_cpu)
        extra = {"parent_cpu_s": parent_cpu, "worker_cpu_s": worker_cpu,
                 "pool_size": self.impl.processes, "pool_jit_warm_rounds": self.jit_warm_rounds}
        if self.fallback:
            extra["pool_fallback"] = self.fallback
        result = _unit_result([(a["index"], a["checksum"]) for a in answers],
                              [(a["index"], a["wall_s"]) for a in answers], cpu, extra)
        result["wall_s"] = wall
        return result

    def close(self):
        pass  # the pool outlives the workload: Pools.close, when the process ends


def make_executor(mode, module, size, part, opts):
    workload, workers_list = part.workload, part.workers_of(mode, module)
    if hasattr(module, "measure"):
        if mode == "threads":
            ThreadExecutor(module, workload, size, workers_list)   # checks threading exists
        return MeasureExecutor(module, workload, size, workers_list, mode)
    if mode == "serial":
        return SerialExecutor(module, workload, size, workers_list)
    if mode == "threads":
        return ThreadExecutor(module, workload, size, workers_list)
    if mode == "asyncio":
        return AsyncioExecutor(module, workload, size, workers_list)
    if mode == "processes":
        return ProcessExecutor(module, workload, size, workers_list, opts.pools, opts.pool,
                               opts.catalogue, opts.warmup_seconds)
    raise Unsupported("unknown mode %r" % mode)


# --- calibration: scaling cells get units long enough to scale ------------------------------

def take_warmup_budget(module, opts):
    """--warmup-seconds for the first warm-up in this process that runs workload code here (a
    JIT's own start-up is paid once), 0 afterwards; a start-up workload's work is new
    interpreters, so it leaves the budget to the next workload."""
    if not opts.first_cell or getattr(module, "KIND", None) == "startup":
        return 0.0
    opts.first_cell = False
    return opts.warmup_seconds


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


# --- subprocess-pool worker -------------------------------------------------------------

def _answer(line):
    """One task line -> its answer. The worker's workload is in _WORKER, as in a
    multiprocessing pool's worker (a shared pool's worker runs several, one after the other)."""
    try:
        task = json.loads(line)
        index = int(task["index"])
        if task.get("ping"):
            return task_ping(index)
        if task.get("load"):
            worker_load(str(task["load"]))
            if _WORKER["error"]:
                return {"index": index, "ok": False, "error": _WORKER["error"]}
            return {"index": index, "ok": True, "pid": os.getpid()}
        size = int(task["size"])
        workload = task.get("workload", _WORKER["name"])
    except KeyboardInterrupt:
        raise
    except:  # noqa: E722 -- a bad line
        return {"ok": False, "index": None, "error": "bad task line: %s" % current_error()}
    return task_unit(workload, size, index)


def serve(opts):
    """--serve: import the workload once, then answer each stdin line -- {"size": S,
    "index": I} (a unit), {"ping": true, "index": I} (the empty task) or {"load": NAME,
    "index": I} (import another workload, once, and run its units from now on) -- with one
    JSON line."""
    worker_init(opts.workload, opts.catalogue)
    if _WORKER["error"]:
        emit({"ready": False, "pid": os.getpid(), "error": _WORKER["error"]})
        return 1
    emit({"ready": True, "pid": os.getpid()})
    stdin = getattr(sys.stdin, "buffer", sys.stdin)
    while True:
        line = as_text(stdin.readline())
        if not line:
            return 0
        line = line.strip()
        if line:
            emit(_answer(line))


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
    global _OUT
    _OUT = sys.stdout
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
            return serve(opts)
        return run_parts(opts)
    finally:
        sys.stdout = _OUT


if __name__ == "__main__":
    sys.exit(main())
