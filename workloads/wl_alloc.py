"""alloc: allocation and reference-count pressure on private and shared objects."""
from __future__ import print_function, division

from gilbench_common import xrange

KIND = "alloc"
DESCRIPTION = ("SIZE iterations of: create and drop a small object, a list and a tuple, and read "
               "one shared module-level object that every thread touches.")
CLAIM = ("The GIL exists because of reference counting: without it (free-threaded CPython) "
         "refcount traffic on shared objects and allocation cost more per thread.")
# measured per unit of size 120000: CPython 3.11 ~0.1 s, PyPy 3.9 ~3 ms (its JIT and nursery
# GC make short-lived objects nearly free), Jython 2.7.3 ~0.15 s.
DEFAULT_SIZE = 120000
MODES = ("serial", "threads", "processes")


class Item(object):
    __slots__ = ("key", "value")

    def __init__(self, key, value):
        self.key = key
        self.value = value


class Shared(object):
    def __init__(self):
        self.weights = [(i * 2654435761) & 0xffff for i in range(64)]


SHARED = Shared()   # one object read by every thread (not immortal: real refcount traffic)


RING = 256   # recent objects kept alive: they escape, so a JIT cannot elide the allocations


def unit(size, index):
    acc = 0
    ring = [None] * RING
    for i in xrange(size):
        shared = SHARED                     # global load + incref of the shared object
        weight = shared.weights[i & 63]
        item = Item(i, weight)              # private allocations ...
        pair = (item, [item.value, index])
        ring[i & (RING - 1)] = pair         # ... each one dropped RING iterations later
        acc = (acc + pair[1][0] + pair[0].key + pair[1][1]) & 0xffffffff
    return acc
