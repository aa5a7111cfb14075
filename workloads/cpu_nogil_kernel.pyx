# cython: language_level=3, cdivision=True
"""The kernel of wl_cpu_nogil: wl_cpu's prime count in typed C, run with the GIL released.

Cython source, compiled only in the Cython image (runtimes/cython/Dockerfile); on every other
runtime no module of this name exists and wl_cpu_nogil declares its modes unsupported.
cdivision: n and d are positive and d >= 2, so C's % is Python's and cannot divide by zero.
"""


cdef void _count_primes(long long size, long long *count, long long *total) noexcept nogil:
    """wl_cpu.unit's loop in C integers: every step runs without the GIL."""
    cdef long long n, d
    cdef bint prime
    count[0] = 0
    total[0] = 0
    for n in range(2, size):
        d = 2
        prime = True
        while d * d <= n:
            if n % d == 0:
                prime = False
                break
            d += 1
        if prime:
            count[0] += 1
            total[0] += n


def count_primes(long long size):
    """(count, sum) of the primes below ``size``, counted with the GIL released."""
    cdef long long count = 0, total = 0
    with nogil:
        _count_primes(size, &count, &total)
    return count, total
