"""zlib: zlib.compress of a large incompressible buffer (C code that releases the GIL)."""
from __future__ import print_function, division

import zlib

from gilbench_common import crc, lcg_bytes, xrange

KIND = "clib"
DESCRIPTION = ("Compresses a 1 MiB pseudo-random buffer with zlib level 6 SIZE times per unit "
               "(its 64 KiB blocks exceed zlib's 32 KiB window, so nothing can be referenced).")
CLAIM = "C libraries such as zlib release the GIL, so threads help there."
BLOCK_BYTES = 64 * 1024
BUFFER_BLOCKS = 16
# measured per unit: see the report of the change (host CPython 3.11).
DEFAULT_SIZE = 4
MODES = ("serial", "threads", "processes")

BLOCK = lcg_bytes(20240611, BLOCK_BYTES)
DATA = BLOCK * BUFFER_BLOCKS   # built at import, before any timed region


def unit(size, index):
    value = 0
    total = 0
    for _ in xrange(size):
        packed = zlib.compress(DATA, 6)
        total += len(packed)
        value = crc(packed, value)
    return "%08x-%d" % (value, total)
