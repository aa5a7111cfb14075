"""clib: hashlib.sha256 and zlib.compress over large incompressible buffers (C code)."""
from __future__ import print_function, division

import hashlib
import zlib

from gilbench_common import xrange

KIND = "clib"
DESCRIPTION = ("sha256 + zlib.compress (level 6) of a 1 MiB incompressible buffer, SIZE times "
               "per unit: the time is spent in C code that releases the GIL.")
CLAIM = "C libraries such as hashlib and zlib release the GIL, so threads help there."
BLOCK_BYTES = 64 * 1024   # larger than zlib's 32 KiB window: repeats cannot be back-referenced
BUFFER_BLOCKS = 16        # 1 MiB per call
# measured per unit of size 3 (3 x (sha256 + compress) of 1 MiB): CPython 3.11 ~0.09-0.11 s,
# PyPy 3.9 the same (C code), Jython 2.7.3 ~0.1-0.25 s (Java's implementations).
DEFAULT_SIZE = 3
MODES = ("serial", "threads", "processes")


def _lcg_block(seed, length):
    """Deterministic pseudo-random bytes: the top byte of a 32-bit LCG (Numerical Recipes)."""
    out = bytearray(length)
    state = seed & 0xffffffff
    for i in xrange(length):
        state = (1664525 * state + 1013904223) & 0xffffffff
        out[i] = state >> 24
    return bytes(out)  # bytes on Python 3, str on Python 2 / Jython


# built at import time, i.e. before any timed region (the runner imports first)
BLOCK = _lcg_block(20240611, BLOCK_BYTES)
DATA = BLOCK * BUFFER_BLOCKS


def unit(size, index):
    digest = hashlib.sha256()
    compressed = 0
    for _ in xrange(size):
        digest.update(DATA)
        compressed += len(zlib.compress(DATA, 6))
    return "%s-%d" % (digest.hexdigest()[:16], compressed)
