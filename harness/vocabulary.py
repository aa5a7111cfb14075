"""The words every layer shares: modes, workload kinds, report order, the baseline, the ceiling,
the disturbance rule.

One place, so that the run driver, the statistics, the nights and the report cannot disagree
on what "parallel", "waiting work", "the N a verdict is judged at" or "disturbed" mean.
"""

from __future__ import annotations

from collections.abc import Iterable

SERIAL = "serial"
PARALLEL_MODES = ("threads", "processes", "asyncio")
MODES = (SERIAL, *PARALLEL_MODES)

DEFAULT_BASELINE = "cpython-3.13"

# Waiting (sleep, socket) needs no core, so N waiting units can overlap N-fold even on one core:
# for these kinds the ceiling is N, for every other kind it is min(N, cores).
WAIT_KINDS = frozenset({"io"})
# Kinds that time the OS (sleeps, scheduling latency, fork/exec), not the interpreter: shown in
# the serial table but left out of the "serial speed" and "free-threading cost" geometric means.
# ``ipc`` (many tiny tasks through a pool) times pickling and pipes, not the interpreter either.
NOT_SPEED_KINDS = frozenset({"io", "latency", "startup", "ipc"})
# The compute kernels: pure-Python speed (the JIT claim's geometric mean covers these only).
COMPUTE_KINDS = frozenset({"cpu"})
# Kinds whose threads must NOT scale while a GIL is held: pure Python (``cpu``) and C code that
# keeps the GIL (``cholds``, the contrast to ``clib``, whose C code releases it).
GIL_BOUND_KINDS = frozenset({"cpu", "cholds"})
# Kinds whose threads mode is judged by latency inflation instead of a speedup.
LATENCY_KINDS = frozenset({"latency"})
# the mean, not the median: a thread that never yields the GIL (compiled Cython loops) delays a
# few round trips by seconds and leaves the rest untouched, which only the mean shows
LATENCY_METRIC = "extra.latency_ms_mean"
STARTUP_KINDS = frozenset({"startup"})

# A measurement is *disturbed* when other processes used more than this share of its wall time
# on the cell's CPUs ... (the runner gets both numbers as arguments: it repeats such a
# measurement by the same rule the analysis leaves it out by)
DISTURBED_SHARE = 0.25
# ... and more than this much CPU time (/proc/stat counts 10 ms jiffies on every CPU)
DISTURBED_FLOOR_S = 0.05

# Report order of the known workloads (the order of the claims); unknown ones follow by name.
# ``clib``, ``alloc`` and ``spawn`` are the names of older runs (split since), kept in place.
WORKLOAD_ORDER = (
    "cpu", "spectral", "fannkuch",
    "io",
    "hash", "zlib", "numpy", "clib", "cholds", "cpu_nogil",
    "contention",
    "alloc_private", "alloc_shared", "alloc_type", "alloc",
    "convoy",
    "smalltasks",
    "spawn_fresh", "spawn_mp", "spawn",
)  # fmt: skip


def mode_rank(mode: str) -> int:
    """Sort key for modes: serial, threads, processes, asyncio, then unknown modes."""
    return MODES.index(mode) if mode in MODES else len(MODES)


def workload_rank(workload: str) -> tuple[int, str]:
    """Sort key: the known workloads in claim order, then the others by name."""
    known = workload in WORKLOAD_ORDER
    return (WORKLOAD_ORDER.index(workload) if known else len(WORKLOAD_ORDER), workload)


def ceiling(kind: str | None, workers: int, cpus: int | None) -> int:
    """The best speedup physics allows: N for waiting work, else min(N, cores)."""
    if kind in WAIT_KINDS or cpus is None:
        return workers
    return min(workers, cpus)


def pick_workers(kind: str | None, available: Iterable[int], cpus: int | None) -> int | None:
    """The N a verdict is judged at: the largest N >= 2 that fits the cores (any N for I/O).

    A latency probe is judged with N >= 1 busy threads that leave the measuring thread a core
    (N <= cores - 1), else at its smallest N.
    """
    if kind in LATENCY_KINDS:
        ns = sorted({int(n) for n in available if n >= 1})
        within = [n for n in ns if cpus is None or n <= cpus - 1]
        return (within[-1] if within else ns[0]) if ns else None
    ns = sorted({int(n) for n in available if n >= 2})
    if not ns:
        return None
    if kind in WAIT_KINDS or cpus is None:
        return ns[-1]
    within = [n for n in ns if n <= cpus]
    return within[-1] if within else ns[0]


def is_disturbed(others_cpu_s: float | None, wall_s: float | None) -> bool:
    """Did other processes use the measurement's CPUs noticeably (the rule above)?"""
    if others_cpu_s is None or wall_s is None:
        return False
    return others_cpu_s > max(DISTURBED_SHARE * wall_s, DISTURBED_FLOOR_S)


def find_twins(runtime_ids: Iterable[str]) -> dict[str, str]:
    """Free-threaded builds and their GIL twin, by convention: ``<id>t`` pairs with ``<id>``."""
    ids = set(runtime_ids)
    return {rid: rid[:-1] for rid in sorted(ids) if rid.endswith("t") and rid[:-1] in ids}
