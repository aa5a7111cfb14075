"""gilbench in-container runner: runs one workload in several modes and worker counts and
prints one JSON record per measurement on stdout (docs/formats.md, "The in-container runner").

    gilbench_runner.py --workload cpu --modes serial,threads,processes --workers 1,2,4 \
                       --size 3000 --reps 5 --warmups 1 [--pool auto|multiprocessing|subprocess]
    gilbench_runner.py --list
    gilbench_runner.py --serve --workload cpu     (internal: a subprocess-pool worker)

Portable: Python 2.7 (Jython 2.7.3) and 3.4+ (CPython, free-threaded CPython, PyPy,
IronPython on Mono); stdlib only. Stdout carries nothing but JSON lines; logs go to stderr.
Bad arguments: one line on stderr, exit 2. Anything a workload raises becomes an ok:false record.
"""
from __future__ import print_function, division

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import gilbench_common as common  # noqa: E402
import probe  # noqa: E402

SCHEMA = 1
PROG = "gilbench_runner"
POOL_KINDS = ("auto", "multiprocessing", "subprocess")
MAX_WARMUP_REPS = 200  # --warmup-seconds never makes a cell run longer than this many warm-ups
TASK_TIMEOUT_S = 24 * 3600        # the harness enforces the real (per-container) timeout
WARM_ROUNDS = 20                  # pool warm-up rounds until every worker has answered
CLOSE_TIMEOUT_S = 30

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


class UsageError(Exception):
    pass


class Unsupported(Exception):
    """The mode cannot exist here (workload does not define it, runtime lacks it)."""


# --- argument parsing -------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _parser():
    parser = _Parser(prog=PROG, description="Run one gilbench workload; JSON lines on stdout.")
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
    if value < 0:
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


def parse_args(argv):
    args = _parser().parse_args(argv)
    opts = Options()
    opts.list = args.list
    opts.serve = args.serve
    opts.workload = args.workload
    if opts.list:
        return opts
    if not opts.workload:
        raise UsageError("--workload is required (or --list)")
    opts.catalogue = common.discover()
    if opts.workload not in opts.catalogue:
        raise UsageError("unknown workload %r (known: %s)"
                         % (opts.workload, ", ".join(sorted(opts.catalogue))))
    if opts.serve:
        return opts
    opts.modes = None
    if args.modes is not None:
        opts.modes = _unique(_csv(args.modes, "--modes"))
        unknown = [mode for mode in opts.modes if mode not in common.ALL_MODES]
        if unknown:
            raise UsageError("unknown mode(s) %s (known: %s)"
                             % (", ".join(unknown), ", ".join(common.ALL_MODES)))
    opts.workers = _unique([_int(part, "--workers", 1) for part in _csv(args.workers, "--workers")])
    opts.size = None if args.size is None else _int(args.size, "--size", 1)
    opts.reps = _int(args.reps, "--reps", 1)
    opts.warmups = _int(args.warmups, "--warmups", 0)
    opts.warmup_seconds = _float(args.warmup_seconds, "--warmup-seconds")
    opts.first_cell = True
    pool = args.pool if args.pool is not None else os.environ.get("GILBENCH_POOL", "auto")
    pool = (pool or "auto").strip()
    if pool not in POOL_KINDS:
        raise UsageError("--pool / GILBENCH_POOL: %r is not one of %s"
                         % (pool, ", ".join(POOL_KINDS)))
    opts.pool = pool
    return opts


# --- executors: one per (mode) -- they time `workers` units -----------------------------------

def _unit_result(checksums, walls, cpu_s, extra=None):
    """checksums: [(index, checksum)], walls: [(index, seconds)]."""
    result = {"checksum": common.combine_checksums(checksums), "cpu_s": cpu_s,
              "extra": extra or {}}
    result["extra"]["unit_wall_s"] = [round(wall, 6) for _, wall in sorted(walls)]
    return result


class SerialExecutor(object):
    pool = None

    def __init__(self, module, workload, size, max_workers):
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

    def __init__(self, module, workload, size, max_workers):
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

    def __init__(self, module, workload, size, max_workers):
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

    def __init__(self, module, workload, size, max_workers, mode):
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


# --- process pools ------------------------------------------------------------------------

class MultiprocessingPool(object):
    kind = "multiprocessing"

    def __init__(self, workload, processes):
        import multiprocessing
        self.workload = workload
        self.processes = processes
        self.pool = multiprocessing.Pool(processes)
        try:
            self._warm()
        except:  # noqa: E722
            self.pool.terminate()
            self.pool.join()
            raise

    def _warm(self):
        """Import the workload in the workers and wait until every one of them has answered."""
        pids = set()
        for _ in range(WARM_ROUNDS):
            pending = [self.pool.apply_async(common.warm_task, (self.workload, 0.02))
                       for _ in range(self.processes)]
            for item in pending:
                pids.add(item.get(TASK_TIMEOUT_S))
            if len(pids) >= self.processes:
                return
        log("multiprocessing pool: only %d of %d workers answered the warm-up"
            % (len(pids), self.processes))

    def run(self, size, workers):
        pending = [self.pool.apply_async(common.run_unit_task, (self.workload, size, index))
                   for index in range(workers)]
        return [item.get(TASK_TIMEOUT_S) for item in pending]

    def close(self):
        self.pool.close()
        self.pool.join()


class SubprocessPool(object):
    """Portable pool: N children of the same runtime running this file in --serve mode,
    speaking JSON lines over their stdin/stdout (Jython and IronPython have no working
    multiprocessing.Pool)."""
    kind = "subprocess"

    def __init__(self, workload, processes):
        import subprocess
        command = probe.interpreter_command() + [os.path.abspath(__file__), "--serve",
                                                 "--workload", workload]
        self.processes = processes
        self.broken = None
        self.children = []
        try:
            for _ in range(processes):
                self.children.append(subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    universal_newlines=True))
            for child in self.children:   # all start in parallel; wait for each one's hello
                hello = self._read(child)
                if not hello.get("ready"):
                    raise RuntimeError("pool worker failed to start: %s"
                                       % hello.get("error", hello))
        except:  # noqa: E722
            self.close()
            raise

    def _read(self, child):
        line = child.stdout.readline()
        if not line:
            child.poll()
            raise RuntimeError("pool worker pid %s exited (code %s) without answering"
                               % (child.pid, child.returncode))
        try:
            return json.loads(line)
        except ValueError:
            raise RuntimeError("pool worker pid %s wrote a non-JSON line: %r"
                               % (child.pid, line[:200]))

    def run(self, size, workers):
        if self.broken:
            raise RuntimeError("subprocess pool is unusable after an earlier error: %s"
                               % self.broken)
        if workers > len(self.children):
            raise RuntimeError("pool has %d workers, %d requested" % (len(self.children), workers))
        try:
            for index in range(workers):
                stdin = self.children[index].stdin
                stdin.write(json.dumps({"size": size, "index": index}) + "\n")
                stdin.flush()
            return [self._read(self.children[index]) for index in range(workers)]
        except:  # noqa: E722 -- answers may now be out of step with the tasks
            self.broken = current_error()
            raise

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


def make_pool(kind, workload, processes):
    """Returns (pool, fallback_reason)."""
    if kind in ("auto", "multiprocessing"):
        try:
            return MultiprocessingPool(workload, processes), None
        except KeyboardInterrupt:
            raise
        except:  # noqa: E722
            reason = "multiprocessing.Pool unusable (%s)" % current_error()
            if kind == "multiprocessing":
                raise RuntimeError(reason)
            log("%s; using the subprocess pool" % reason)
            return SubprocessPool(workload, processes), reason
    return SubprocessPool(workload, processes), None


class ProcessExecutor(object):
    def __init__(self, module, workload, size, max_workers, pool_kind, warm_seconds=0.0):
        try:
            import subprocess  # noqa: F401
        except ImportError:
            raise Unsupported("this runtime has no subprocess module")
        self.size = size
        self.impl, self.fallback = make_pool(pool_kind, workload, max_workers)
        self.pool = self.impl.kind
        self.jit_warm_rounds = self._warm_jit(max_workers, warm_seconds)

    def _warm_jit(self, max_workers, seconds):
        """Every pool worker is a fresh interpreter: on a JIT runtime (--warmup-seconds > 0)
        run real units on all of them, untimed, for that long before any cell is measured."""
        rounds = 0
        deadline = common.perf_counter() + seconds
        while common.perf_counter() < deadline and rounds < MAX_WARMUP_REPS:
            self.impl.run(self.size, max_workers)
            rounds += 1
        return rounds

    def run(self, workers):
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
        self.impl.close()


def make_executor(mode, module, workload, size, max_workers, pool_kind, warm_seconds=0.0):
    if hasattr(module, "measure"):
        if mode == "threads":
            ThreadExecutor(module, workload, size, max_workers)   # checks threading exists
        return MeasureExecutor(module, workload, size, max_workers, mode)
    if mode == "serial":
        return SerialExecutor(module, workload, size, max_workers)
    if mode == "threads":
        return ThreadExecutor(module, workload, size, max_workers)
    if mode == "asyncio":
        return AsyncioExecutor(module, workload, size, max_workers)
    if mode == "processes":
        return ProcessExecutor(module, workload, size, max_workers, pool_kind, warm_seconds)
    raise Unsupported("unknown mode %r" % mode)


# --- records ------------------------------------------------------------------------------

_FACTS = {}


def _facts():
    if not _FACTS:
        _FACTS["implementation"] = probe.implementation()
        _FACTS["python_version"] = probe.python_version()
    return _FACTS


def base_record(workload, kind, mode, workers, size, rep, warmup):
    facts = _facts()
    return {
        "schema": SCHEMA,
        "implementation": facts["implementation"],
        "python_version": facts["python_version"],
        "gil_enabled": probe.gil_enabled(),    # live: an import may have re-enabled the GIL
        "workload": workload,
        "kind": kind,
        "mode": mode,
        "workers": workers,
        "size": size,
        "rep": rep,
        "warmup": warmup,
        "wall_s": None,
        "cpu_s": None,
        "ok": False,
        "error": None,
        "unsupported": False,
        "checksum": None,
        "pool": None,
        "extra": {},
        "ts": None,
    }


def _finish(record):
    record["gil_enabled"] = probe.gil_enabled()
    record["ts"] = time.time()
    emit(record)


def run_cells(opts):
    workload = opts.workload
    try:
        module = common.load_workload(workload, opts.catalogue)
    except KeyboardInterrupt:
        raise
    except:  # noqa: E722 -- a broken workload file: every requested cell fails
        error = "cannot load workload %r: %s" % (workload, current_error())
        for mode in (opts.modes or ["serial"]):
            for workers in opts.workers:
                record = base_record(workload, None, mode, workers, opts.size, 0, False)
                record["error"] = error
                _finish(record)
        return
    size = opts.size if opts.size is not None else int(module.DEFAULT_SIZE)
    modes = opts.modes if opts.modes is not None else list(module.MODES)
    for mode in modes:
        _run_mode(module, workload, mode, size, opts)


def _fail_cells(module, workload, mode, size, workers_list, error, unsupported):
    for workers in workers_list:
        record = base_record(workload, module.KIND, mode, workers, size, 0, False)
        record["error"] = error
        record["unsupported"] = unsupported
        _finish(record)


def _run_mode(module, workload, mode, size, opts):
    if mode not in module.MODES:
        _fail_cells(module, workload, mode, size, opts.workers,
                    "workload %s does not define mode %s (its modes: %s)"
                    % (workload, mode, ", ".join(module.MODES)), True)
        return
    try:
        executor = make_executor(mode, module, workload, size, max(opts.workers), opts.pool,
                                 opts.warmup_seconds)
    except KeyboardInterrupt:
        raise
    except Unsupported:
        _fail_cells(module, workload, mode, size, opts.workers, str(sys.exc_info()[1]), True)
        return
    except:  # noqa: E722
        _fail_cells(module, workload, mode, size, opts.workers,
                    "%s setup failed: %s" % (mode, current_error()), False)
        return
    try:
        for workers in opts.workers:
            # the first cell of a process also warms the JIT for the cells after it: it warms
            # up for at least --warmup-seconds (its warm-up records show the whole curve)
            budget = opts.warmup_seconds if opts.first_cell else 0.0
            opts.first_cell = False
            warmed = 0.0
            rep = 0
            steady = 0
            while steady < opts.reps:
                warming = rep < opts.warmups or (warmed < budget and rep < MAX_WARMUP_REPS)
                record = base_record(workload, module.KIND, mode, workers, size, rep, warming)
                record["pool"] = executor.pool
                try:
                    result = executor.run(workers)
                except KeyboardInterrupt:
                    raise
                except:  # noqa: E722 -- the workload raised: record it, skip the rest of the cell
                    record["error"] = current_error()
                    _finish(record)
                    log("%s %s workers=%d rep %d failed: %s"
                        % (workload, mode, workers, rep, record["error"]))
                    break
                record.update(result)
                record["extra"]["cpu_timer"] = common.CPU_TIMER_NAME
                record["ok"] = True
                _finish(record)
                rep += 1
                if warming:
                    warmed += record["wall_s"]
                else:
                    steady += 1
    finally:
        try:
            executor.close()
        except Exception:
            log("closing the %s executor failed: %s" % (mode, current_error()))


# --- subprocess-pool worker -------------------------------------------------------------

def serve(opts):
    """--serve: read {"size": S, "index": I} lines on stdin, answer one JSON line each."""
    try:
        common.load_workload(opts.workload, opts.catalogue)
    except KeyboardInterrupt:
        raise
    except:  # noqa: E722
        emit({"ready": False, "pid": os.getpid(), "error": current_error()})
        return 1
    emit({"ready": True, "pid": os.getpid()})
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        line = line.strip()
        if not line:
            continue
        try:
            task = json.loads(line)
            size = int(task["size"])
            index = int(task["index"])
        except Exception:
            emit({"ok": False, "index": None, "error": "bad task line: %s" % current_error()})
            continue
        try:
            answer = common.run_unit_task(opts.workload, size, index)
        except KeyboardInterrupt:
            raise
        except:  # noqa: E722 -- Java/.NET exceptions escape run_unit_task's except Exception
            answer = {"index": index, "ok": False, "error": current_error()}
        emit(answer)


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
        run_cells(opts)
        return 0
    finally:
        sys.stdout = _OUT


if __name__ == "__main__":
    sys.exit(main())
