"""gilbench's process pools: the runner's pool workers (the workload is imported once per
worker, never per task) and the two pools that hand them units -- multiprocessing where it
works, a portable JSON-lines subprocess pool where it does not (Jython, IronPython) -- and
`Pools`, the one pool of a runner process, turned from workload to workload.

Portable: Python 2.7 (Jython 2.7.3) and 3.4+ (CPython, PyPy, IronPython on Mono); stdlib only.
"""
from __future__ import print_function, division

import gc
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import gilbench_common as common  # noqa: E402
import probe  # noqa: E402
from gilbench_lines import as_text, current_error, emit, log  # noqa: E402

# a subprocess-pool worker is this runner in --serve mode
RUNNER = os.path.join(HERE, "gilbench_runner.py")
POOL_POLL_S = 0.2                 # how often a waiting parent checks its pool workers are alive
WARM_ROUNDS = 20                  # pool warm-up rounds until every worker has answered
WARM_TIMEOUT_S = 60               # a multiprocessing pool whose workers never answer is unusable
CLOSE_TIMEOUT_S = 30

# the measuring process's environment variables with this prefix reach its pool workers when
# a pool turns to a workload (a worker started earlier did not inherit them): what a
# workload's `prepare` left for its workers, e.g. the address of the io peer
SHARED_ENV_PREFIX = "GILBENCH_SHARED_"

# --- pool workers: the workload is imported once per worker, never per task -----------------

_WORKER = {"name": None, "module": None, "error": None, "catalogue": None, "loaded": {}}


def worker_init(workload, catalogue):
    """Pool-worker start-up: import the workload once (an error is answered by every task)."""
    _WORKER["catalogue"] = catalogue
    worker_load(workload)


def shared_environ():
    """The variables a pool worker takes over from this process (SHARED_ENV_PREFIX)."""
    return dict((key, value) for key, value in os.environ.items()
                if key.startswith(SHARED_ENV_PREFIX))


def worker_load(workload, shared=None):
    """Make `workload` the one this worker runs, importing it once (a shared pool's worker
    runs several workloads, one after the other; what the last one left behind is collected
    first: PyPy does not see numpy's memory behind cpyext); `shared`: the parent's
    shared_environ()."""
    for key, value in (shared or {}).items():
        os.environ[str(key)] = str(value)
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


def task_load(workload, pause, shared=None):
    """Turn this worker to `workload`; the pause lets every worker take one such task."""
    worker_load(workload, shared)
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
        shared = shared_environ()
        for _ in range(WARM_ROUNDS):
            pending = [self.pool.apply_async(task_load, (workload, 0.02, shared))
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
        command = probe.interpreter_command() + [RUNNER, "--serve", "--workload", workload]
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
        shared = shared_environ()
        answers = self._exchange([{"load": workload, "index": index, "environ": shared}
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


# --- the subprocess-pool worker's loop (gilbench_runner.py --serve) -------------------------

def _answer(line):
    """One task line -> its answer. The worker's workload is in _WORKER, as in a
    multiprocessing pool's worker (a shared pool's worker runs several, one after the other)."""
    try:
        task = json.loads(line)
        index = int(task["index"])
        if task.get("ping"):
            return task_ping(index)
        if task.get("load"):
            worker_load(str(task["load"]), task.get("environ"))
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


def serve(workload, catalogue):
    """--serve: import the workload once, then answer each stdin line -- {"size": S,
    "index": I} (a unit), {"ping": true, "index": I} (the empty task) or {"load": NAME,
    "index": I, "environ": {...}} (take over the parent's shared variables, import another
    workload, once, and run its units from now on) -- with one JSON line."""
    worker_init(workload, catalogue)
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
