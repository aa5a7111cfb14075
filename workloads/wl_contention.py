"""contention: threads updating shared state under one threading.Lock + lock-free reads."""
from __future__ import print_function, division

import threading

from gilbench_common import combine_checksums, run_units, xrange

KIND = "contention"
DESCRIPTION = ("SIZE iterations of: increment a shared counter under one threading.Lock, then "
               "read a shared table without the lock; the counters' total enters the checksum.")
CLAIM = ("Without a GIL, threads that share state must take real locks and pay for contention; "
         "with a GIL the lock is rarely contended but nothing runs in parallel either.")
# measured per unit of size 200000: CPython 3.11 ~0.085 s, PyPy 3.9 ~13 ms, Jython 2.7.3
# ~0.03-0.07 s once warm.
DEFAULT_SIZE = 200000
MODES = ("serial", "threads")

LOCK = threading.Lock()
COUNTERS = [0] * 16           # shared, written under LOCK
TABLE = tuple(range(1024))    # shared, read without a lock


def unit(size, index):
    lock = LOCK
    counters = COUNTERS
    table = TABLE
    acc = 0
    for i in xrange(size):
        with lock:
            counters[i & 15] += 1
        acc += table[(i * 7 + index) & 1023]
    return acc


def total_increments():
    """Sum of the shared counters (every increment happened under the lock)."""
    with LOCK:
        return sum(COUNTERS)


def measure(mode, workers, size):
    """`workers` units, one after another (serial) or in threads. The checksum covers the
    units' results and how much the shared counters grew (workers x size when no update was
    lost), so a lost update changes it."""
    before = total_increments()
    checksums, walls = run_units(mode, workers, unit, size)
    grown = total_increments() - before
    return ("%s-%d" % (combine_checksums(checksums), grown),
            {"increments": grown, "unit_wall_s": [wall for _, wall in walls]})
