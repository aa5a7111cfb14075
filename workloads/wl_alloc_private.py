"""alloc_private: allocation only -- each thread creates and drops its own built-in objects."""
from __future__ import print_function, division

from gilbench_common import xrange

KIND = "alloc"
DESCRIPTION = ("SIZE iterations of: create a 2-tuple and a 2-list of ints (built-in types, "
               "nothing shared) and keep each pair alive for 256 iterations.")
CLAIM = ("Private allocation scales on a runtime without a GIL: the baseline the shared-object "
         "and shared-type cases are compared with.")
RING = 256   # recent objects kept alive: they escape, so a JIT cannot elide the allocations
# measured per unit: see the report of the change (host CPython 3.11).
DEFAULT_SIZE = 200000
MODES = ("serial", "threads", "processes")


def unit(size, index):
    acc = 0
    ring = [None] * RING
    for i in xrange(size):
        pair = (i, [i & 0xffff, index])      # two private allocations of built-in types
        ring[i & (RING - 1)] = pair
        acc = (acc + pair[0] + pair[1][0] + pair[1][1]) & 0xffffffff
    return "%d" % acc
