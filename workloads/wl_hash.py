"""hash: hashlib.sha256 over a large incompressible buffer (C code that releases the GIL)."""
from __future__ import print_function, division

import hashlib

from gilbench_common import lcg_bytes, xrange

KIND = "clib"
DESCRIPTION = ("Feeds a 1 MiB pseudo-random buffer to one hashlib.sha256 object SIZE times per "
               "unit (1 MiB per update, far above the size where hashlib releases the GIL).")
CLAIM = "C libraries such as hashlib release the GIL, so threads help there."
UPDATE_BYTES = 1024 * 1024
# measured per unit: see the report of the change (host CPython 3.11).
DEFAULT_SIZE = 128
MODES = ("serial", "threads", "processes")

DATA = lcg_bytes(20240611, 64 * 1024) * (UPDATE_BYTES // (64 * 1024))  # built before timing


def unit(size, index):
    digest = hashlib.sha256()
    for _ in xrange(size):
        digest.update(DATA)
    return digest.hexdigest()[:16]
