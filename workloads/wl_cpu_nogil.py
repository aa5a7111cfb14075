"""cpu_nogil: cpu's prime count in typed C that Cython runs inside `with nogil:`."""
from __future__ import print_function, division

from gilbench_common import describe_exception

# The kernel (cpu_nogil_kernel.pyx) is a compiled module that exists in the Cython image only.
try:
    import cpu_nogil_kernel
    UNSUPPORTED = {}
except ImportError as _exc:
    cpu_nogil_kernel = None
    UNSUPPORTED = dict.fromkeys(("serial", "threads", "processes"),
                                "needs Cython: `with nogil:` is a Cython construct (%s)"
                                % describe_exception(_exc))

KIND = "clib"
DESCRIPTION = ("Counts the primes below SIZE by trial division as cpu does, in typed C code that "
               "Cython runs inside `with nogil:` (the GIL released).")
CLAIM = "C code that releases the GIL lets threads run in parallel."
# cpu's size: the same SIZE gives the same work and the same checksum as cpu
DEFAULT_SIZE = 60000
MODES = ("serial", "threads", "processes")


def unit(size, index):
    """Every index does the same work; the checksum is cpu's: the count and sum of the primes."""
    if cpu_nogil_kernel is None:
        raise RuntimeError(UNSUPPORTED["serial"])
    count, total = cpu_nogil_kernel.count_primes(size)
    return "%d-%d" % (count, total)
