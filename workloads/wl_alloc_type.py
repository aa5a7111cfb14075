"""alloc_type: every thread creates instances of ONE shared class (the type's refcount)."""
from __future__ import print_function, division

from gilbench_common import xrange

KIND = "alloc"
DESCRIPTION = ("SIZE iterations of: create an instance (two slots, set in __init__) of one class "
               "shared by every thread and keep it alive for 256 iterations.")
CLAIM = ("The GIL exists because of reference counting: without it, threads that create "
         "instances of one shared class contend on that class's reference count.")
RING = 256
# measured per unit: see the report of the change (host CPython 3.11).
DEFAULT_SIZE = 200000
MODES = ("serial", "threads", "processes")


class Item(object):
    """Every instance holds a reference to this one heap type."""
    __slots__ = ("key", "value")

    def __init__(self, key, value):
        self.key = key
        self.value = value


def unit(size, index):
    acc = 0
    ring = [None] * RING
    for i in xrange(size):
        item = Item(i, index)                # allocation + incref of the shared class
        ring[i & (RING - 1)] = item
        acc = (acc + item.key + item.value) & 0xffffffff
    return "%d" % acc
