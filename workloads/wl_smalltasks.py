"""smalltasks: many tiny tasks, so handing work to a process pool costs more than the work."""
from __future__ import print_function, division

import atexit

from gilbench_common import IS_CLI, crc, describe_exception, payload, supported_modes
from gilbench_common import to_bytes, xrange

KIND = "ipc"
DESCRIPTION = ("SIZE tiny tasks per measurement (crc32 of a 1 KiB argument plus a 200-step "
               "integer loop, ~20 us on CPython) run in-process, spread over WORKERS threads, "
               "or sent one by one (chunksize 1) through a WORKERS-process multiprocessing pool.")
CLAIM = ("Multiprocessing sidesteps the GIL only when a task outweighs pickling and pipe "
         "traffic: with tiny tasks processes are slower than one thread.")
PAYLOAD_LEN = 1024
LOOP = 200
# measured per measurement: see the report of the change (host CPython 3.11).
DEFAULT_SIZE = 2000
MODES = ("serial", "threads", "processes")
CALIBRATE = False  # never scaled up for calibrated scaling cells: it measures many small tasks: bigger ones would defeat it

UNSUPPORTED = {}
try:
    if IS_CLI:
        raise ImportError("IronPython's multiprocessing.Pool cannot start (no sem_open)")
    import multiprocessing
except ImportError as _exc:   # Jython 2.7 has no multiprocessing at all
    multiprocessing = None
    UNSUPPORTED["processes"] = ("multiprocessing is not available in this runtime: %s"
                                % describe_exception(_exc))
MODES = supported_modes(MODES, UNSUPPORTED)

_POOL = {}        # the one live pool: "workers", "pool" (made on the first, warm-up, call)
_PAYLOADS = {}    # size -> the task arguments, made once per size


def task(data):
    """One tiny task: a few microseconds of work on a 1 KiB argument."""
    acc = 0
    for i in xrange(LOOP):
        acc = (acc * 31 + i) & 0xffff
    return crc(data, acc)


def _checksum(results):
    value = 0
    for result in results:
        value = crc(to_bytes("%d," % result), value)
    return "%08x" % value


def unit(size, index):
    """The serial work of one measurement (index is ignored: all tasks run once)."""
    return _checksum(map(task, _arguments(size)))


def _arguments(size):
    if size not in _PAYLOADS:
        _PAYLOADS[size] = [payload(i, i % 7, PAYLOAD_LEN) for i in xrange(size)]
    return _PAYLOADS[size]


def _threaded(workers, arguments):
    import threading
    results = [None] * len(arguments)

    def body(start):
        for i in xrange(start, len(arguments), workers):
            results[i] = task(arguments[i])

    threads = [threading.Thread(target=body, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _pool(workers):
    if _POOL.get("workers") != workers:
        close_pool()
        _POOL.update(workers=workers, pool=multiprocessing.Pool(workers))
    return _POOL["pool"]


def close_pool():
    pool = _POOL.pop("pool", None)
    _POOL.clear()
    if pool is not None:
        pool.terminate()
        pool.join()


atexit.register(close_pool)


def measure(mode, workers, size):
    """All SIZE tasks per measurement, whatever WORKERS is; the checksum covers every result
    in task order."""
    if mode == "threads":
        checksum = _checksum(_threaded(workers, _arguments(size)))
    elif mode == "processes":
        checksum = _checksum(_pool(workers).imap(task, _arguments(size), 1))
    else:
        checksum = unit(size, 0)
    return checksum, {"tasks": size}
