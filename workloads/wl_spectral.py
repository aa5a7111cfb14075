"""spectral: the Benchmarks Game's spectral-norm kernel in pure Python (float arithmetic)."""
from __future__ import print_function, division

import math

from gilbench_common import xrange

KIND = "cpu"
DESCRIPTION = ("Spectral norm of the infinite matrix A(i,j) = 1/((i+j)(i+j+1)/2+i+1) truncated "
               "to SIZE x SIZE, by 10 power iterations of A'A in pure Python.")
CLAIM = ("PyPy's JIT makes pure-Python code much faster than CPython, by a margin that depends "
         "on the program (float loops here, integer loops in cpu and fannkuch).")
ITERATIONS = 10
# measured per unit: see the report of the change (host CPython 3.11).
DEFAULT_SIZE = 100
MODES = ("serial", "threads", "processes")
CALIBRATE = False  # never scaled up for calibrated scaling cells: its work grows with the square of size


def _a(i, j):
    ij = i + j
    return 1.0 / (ij * (ij + 1) // 2 + i + 1)


def _times(v, n, transposed):
    out = []
    for i in xrange(n):
        total = 0.0
        for j in xrange(n):
            total += (_a(j, i) if transposed else _a(i, j)) * v[j]
        out.append(total)
    return out


def unit(size, index):
    """Same work for every index; IEEE-754 doubles in a fixed order give the same digits on
    every runtime."""
    u = [1.0] * size
    v = u
    for _ in xrange(ITERATIONS):
        v = _times(_times(u, size, False), size, True)
        u = _times(_times(v, size, False), size, True)
    vbv = sum(x * y for x, y in zip(u, v))
    vv = sum(x * x for x in v)
    return "%.9f" % math.sqrt(vbv / vv)
