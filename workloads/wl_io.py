"""io: blocking waits -- a short sleep plus a loopback TCP round trip, SIZE times."""
from __future__ import print_function, division

import time

from gilbench_common import LoopbackPair, crc, payload, xrange

KIND = "io"
DESCRIPTION = ("Sleeps 5 ms then does one 64-byte loopback TCP round trip, SIZE times per unit "
               "(almost all of it is waiting, with the GIL released).")
CLAIM = ("I/O-bound threads overlap even under the GIL, and asyncio overlaps the same waits in "
         "one thread.")
SLEEP_S = 0.005
PAYLOAD_LEN = 64
# measured per unit of size 20 (wall): CPython 3.11 and PyPy 3.9 ~0.11 s (20 x 5 ms sleep;
# a round trip is ~25 us); Jython 2.7.3 ~0.3-0.8 s: its Netty-backed sockets took 5-40 ms per
# loopback round trip on the busy host, and CPU time besides.
DEFAULT_SIZE = 20
MODES = ("serial", "threads", "processes", "asyncio")


def unit(size, index):
    pair = LoopbackPair()
    try:
        value = 0
        for step in xrange(size):
            time.sleep(SLEEP_S)
            value = crc(pair.roundtrip(payload(index, step, PAYLOAD_LEN)), value)
    finally:
        pair.close()
    return "%08x" % value


def async_unit():
    """The coroutine twin of unit() (same checksum); its module needs Python 3.5+."""
    import asyncio_units
    return asyncio_units.io_unit
