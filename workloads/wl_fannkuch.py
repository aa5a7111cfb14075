"""fannkuch: the Benchmarks Game's fannkuch-redux kernel in pure Python (permutations)."""
from __future__ import print_function, division

from gilbench_common import xrange

KIND = "cpu"
DESCRIPTION = ("Fannkuch-redux of SIZE: for every permutation of 1..SIZE count the prefix "
               "reversals until 1 comes first, in pure Python (list slicing and integer loops).")
CLAIM = ("PyPy's JIT makes pure-Python code much faster than CPython, by a margin that depends "
         "on the program (permutations and list slices here).")
# measured per unit: see the report of the change (host CPython 3.11).
DEFAULT_SIZE = 8
MODES = ("serial", "threads", "processes")
CALIBRATE = False  # never scaled up for calibrated scaling cells: its work grows factorially with size


def _flips(perm):
    perm = list(perm)
    flips = 0
    first = perm[0]
    while first:
        perm[:first + 1] = perm[first::-1]
        flips += 1
        first = perm[0]
    return flips


def unit(size, index):
    """Returns "checksum-maxflips" (the program's two outputs); same work for every index.
    Permutations come in the program's own order (count array rotations), which fixes the
    sign of each permutation's term in the checksum."""
    perm = list(xrange(size))
    count = [0] * size
    checksum = 0
    max_flips = 0
    sign = 1
    r = size
    while True:
        while r != 1:
            count[r - 1] = r
            r -= 1
        flips = _flips(perm)
        max_flips = max(max_flips, flips)
        checksum += sign * flips
        sign = -sign
        while True:
            if r == size:
                return "%d-%d" % (checksum, max_flips)
            first = perm[0]
            perm[:r] = perm[1:r + 1]
            perm[r] = first
            count[r] -= 1
            if count[r] > 0:
                break
            r += 1
