"""cpu: pure-Python CPU work (prime counting by trial division)."""
from __future__ import print_function, division

from gilbench_common import xrange

KIND = "cpu"
DESCRIPTION = "Counts the primes below SIZE by trial division in pure Python (no I/O, no C calls)."
CLAIM = ("CPython and PyPy have a GIL, so CPU-bound threads do not run in parallel while Jython, "
         "IronPython and free-threaded CPython threads do, and processes sidestep the GIL.")
# measured per unit of size 60000 (2-core VM, busy host; CPU seconds): CPython 3.11 ~0.09 s,
# PyPy 3.9 ~5 ms once warm, Jython 2.7.3 ~0.1-0.2 s.
DEFAULT_SIZE = 60000
MODES = ("serial", "threads", "processes")


def unit(size, index):
    """Every index does the same work; the checksum is the count and the sum of the primes."""
    count = 0
    total = 0
    for n in xrange(2, size):
        d = 2
        prime = True
        while d * d <= n:
            if n % d == 0:
                prime = False
                break
            d += 1
        if prime:
            count += 1
            total += n
    return "%d-%d" % (count, total)
