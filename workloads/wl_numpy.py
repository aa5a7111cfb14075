"""numpy: float64 matrix products (BLAS code that releases the GIL), BLAS threads pinned to 1."""
from __future__ import print_function, division

import os

from gilbench_common import describe_exception, supported_modes, xrange

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"   # before numpy loads BLAS: only our own threads run in parallel

try:
    import numpy
    UNSUPPORTED = {}
except ImportError as _exc:
    numpy = None
    UNSUPPORTED = dict.fromkeys(("serial", "threads", "processes"),
                                "numpy is not installed in this runtime: %s"
                                % describe_exception(_exc))

KIND = "clib"
DESCRIPTION = ("SIZE float64 matrix products (256 x 256, integer-valued so every result is exact "
               "whatever the BLAS summation order) per unit, BLAS pinned to one thread.")
CLAIM = "C libraries such as numpy release the GIL, so threads help there."
N = 256
# measured per unit: see the report of the change (host CPython 3.11).
DEFAULT_SIZE = 50
MODES = ("serial", "threads", "processes")
MODES = supported_modes(MODES, UNSUPPORTED)


def _matrices():
    """Deterministic integer-valued matrices in [0, 8): products stay exact in float64."""
    values = numpy.arange(N * N, dtype=numpy.int64)
    a = ((values * 2654435761) >> 7) % 8
    b = ((values * 40503 + 12345) >> 3) % 8
    return a.reshape(N, N).astype(numpy.float64), b.reshape(N, N).astype(numpy.float64)


A, B = _matrices() if numpy is not None else (None, None)


def unit(size, index):
    if numpy is None:
        raise RuntimeError(UNSUPPORTED["serial"])
    # two buffers per unit, written in place: no garbage per step (PyPy's GC does not see
    # numpy's memory behind cpyext, so per-step arrays piled up to the container's limit)
    shifted = numpy.empty_like(B)
    product = numpy.empty_like(A)
    total = 0
    for step in xrange(size):
        numpy.add(B, float(step % 4), out=shifted)
        numpy.dot(A, shifted, out=product)   # entries <= 256 * 7 * 10: exact
        total = (total * 31 + int(product.sum())) % 1000000007
    return "%d" % total
