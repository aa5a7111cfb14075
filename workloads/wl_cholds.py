"""cholds: C code that holds the GIL -- sorting a large list of ints (the negative control)."""
from __future__ import print_function, division

from gilbench_common import xrange

KIND = "cholds"
DESCRIPTION = ("Sorts a copy of a shared list of 100000 pseudo-random ints SIZE times per unit "
               "with the built-in sorted(), C code that never releases the GIL.")
CLAIM = ("Only C code that releases the GIL lets threads help: C work that holds it (sorting) "
         "does not scale with threads on GIL runtimes.")
LENGTH = 100000
# measured per unit: see the report of the change (host CPython 3.11).
DEFAULT_SIZE = 2
MODES = ("serial", "threads", "processes")


def _lcg_ints(seed, count):
    out = []
    state = seed
    for _ in xrange(count):
        state = (1103515245 * state + 12345) & 0x7fffffff
        out.append(state)
    return out


VALUES = _lcg_ints(20240611, LENGTH)   # shared by every thread, built at import


def unit(size, index):
    total = 0
    for _ in xrange(size):
        ordered = sorted(VALUES)
        total = (total * 31 + sum(ordered[::997])) & 0xffffffff
    return "%08x" % total
