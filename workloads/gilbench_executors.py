"""Executors: one per (mode, size) of a workload; each times `workers` units serially, in
threads, in an asyncio loop, through the process pool, or by the workload's own measure().

Portable: Python 2.7 (Jython) and 3.4+ (IronPython); stdlib only.
"""
from __future__ import print_function, division

import sys

import gilbench_common as common
from gilbench_lines import current_error

MAX_WARMUP_REPS = 200  # --warmup-seconds never makes a cell run longer than this many warm-ups
ROUNDTRIP_ROUNDS = 20  # empty-task rounds timed per processes cell


class Unsupported(Exception):
    """The mode cannot exist here (workload does not define it, runtime lacks it)."""


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


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
