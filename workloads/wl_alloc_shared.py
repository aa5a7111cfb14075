"""alloc_shared: every thread takes and drops references to ONE shared object (no allocation)."""
from __future__ import print_function, division

from gilbench_common import xrange

KIND = "alloc"
DESCRIPTION = ("SIZE iterations of: store a reference to one module-level object shared by "
               "every thread into a private 256-slot list and read an item of it (no allocation).")
CLAIM = ("The GIL exists because of reference counting: without it, threads that all change "
         "one shared object's reference count pay for it.")
RING = 256
# measured per unit: see the report of the change (host CPython 3.11).
DEFAULT_SIZE = 500000
MODES = ("serial", "threads", "processes")

SHARED = list(range(64))   # made at run time, so not immortal: its refcount really changes


def unit(size, index):
    acc = 0
    ring = [None] * RING
    for i in xrange(size):
        shared = SHARED                      # incref of the shared object ...
        ring[i & (RING - 1)] = shared        # ... another one, and a decref of the slot's old
        acc = (acc + shared[i & 63] + index) & 0xffffffff
    return "%d" % acc
