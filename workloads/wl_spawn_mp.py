"""spawn_mp: start a worker with multiprocessing's default start method (fork where default)."""
from __future__ import print_function, division

from gilbench_common import IS_CLI, combine_checksums, crc, describe_exception, run_units
from gilbench_common import supported_modes, to_bytes, xrange

KIND = "startup"
DESCRIPTION = ("Starts SIZE multiprocessing.Process children with the runtime's default start "
               "method (recorded as extra.start_method) one after another, each answering once "
               "over a Pipe.")
CLAIM = ("Processes sidestep the GIL at the price of a start-up, which multiprocessing's default "
         "(fork on Linux CPython and PyPy) makes far cheaper than a fresh interpreter.")
# measured per unit: see the report of the change (host CPython 3.11).
DEFAULT_SIZE = 2
MODES = ("serial", "threads")

try:
    if IS_CLI:
        raise ImportError("IronPython's multiprocessing cannot start processes (no sem_open)")
    import multiprocessing
    START_METHOD = getattr(multiprocessing, "get_start_method", lambda: "fork")()  # 2.7: fork
    UNSUPPORTED = {}
except ImportError as _exc:   # Jython 2.7 has no multiprocessing at all
    multiprocessing = START_METHOD = None
    UNSUPPORTED = dict.fromkeys(MODES, "multiprocessing is not available in this runtime: %s"
                                % describe_exception(_exc))
MODES = supported_modes(MODES, UNSUPPORTED)


def _child(conn, message):
    conn.send(message[::-1])
    conn.close()


def unit(size, index):
    if multiprocessing is None:
        raise RuntimeError(UNSUPPORTED["serial"])
    value = 0
    for step in xrange(size):
        message = "gilbench-spawn-%d-%d" % (index, step)
        parent, child = multiprocessing.Pipe()
        process = multiprocessing.Process(target=_child, args=(child, message))
        process.start()
        child.close()
        reply = parent.recv()
        parent.close()
        process.join()
        if process.exitcode != 0 or reply != message[::-1]:
            raise RuntimeError("child exited with %s and answered %r"
                               % (process.exitcode, reply[:80]))
        value = crc(to_bytes(reply), value)
    return "%08x" % value


def measure(mode, workers, size):
    """`workers` units, one after another (serial) or in threads; extra names the method."""
    checksums, walls = run_units(mode, workers, unit, size)
    return combine_checksums(checksums), {"start_method": START_METHOD,
                                          "unit_wall_s": [wall for _, wall in walls]}
