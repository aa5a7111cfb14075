"""convoy: I/O round-trip latency in the main thread while N CPU-bound threads run."""
from __future__ import print_function, division

import threading
import time

from gilbench_common import LoopbackPair, crc, payload, percentile, perf_counter, xrange
from probe import cpu_affinity, cpu_count

KIND = "latency"
DESCRIPTION = ("Times SIZE round trips (1 ms sleep + 64-byte loopback TCP send/recv) in the main "
               "thread while WORKERS (<= cores - 1) CPU-bound threads spin (serial: none, the "
               "baseline); reports the latency of round trips made while they spin.")
CLAIM = ("Under a GIL an I/O-bound thread waits behind CPU-bound threads (convoy effect), and "
         "which thread runs next is close to random.")
SLEEP_S = 0.001
PAYLOAD_LEN = 64
SPIN = 200   # loop iterations per busy-thread progress step (~10-20 us on CPython)
# measured for size 60 without busy threads: CPython 3.11 and PyPy 3.9 ~0.07 s (p50 ~1.1 ms);
# behind 1-4 busy threads GIL CPython took ~0.5-1 s (p50 8-17 ms: a switch interval, 5 ms, per
# GIL handoff), PyPy p50 1.4-7 ms; Jython 2.7.3 ~0.3-0.6 s (slow loopback sockets, no GIL).
# A busy thread stops by itself after this long. Compiled code (Cython) never offers the GIL
# to other threads, so without a bound its busy threads would starve the main thread for ever;
# with it, no round trip completes while they spin: busy_never_yielded = true, and the latency
# fields are null (not the bound divided by SIZE, which would be a constant).
MAX_BUSY_S = 2.5
DEFAULT_SIZE = 60
MODES = ("serial", "threads")


def _roundtrips(size, index, latencies, finished=None, flags=None):
    """`size` timed round trips; with `finished`, appends to `flags` whether each one
    completed while no busy thread had stopped yet."""
    pair = LoopbackPair()
    try:
        value = 0
        for step in xrange(size):
            data = payload(index, step, PAYLOAD_LEN)
            start = perf_counter()
            time.sleep(SLEEP_S)
            back = pair.roundtrip(data)
            latencies.append(perf_counter() - start)
            if finished is not None:
                flags.append(finished[0] == 0)
            value = crc(back, value)
    finally:
        pair.close()
    return "%08x" % value


def unit(size, index):
    return _roundtrips(size, index, [])


def _spin(slot, progress, stop, go, finished, lock):
    go.wait()
    deadline = time.time() + MAX_BUSY_S
    while not stop[0] and time.time() < deadline:
        x = 0
        for i in xrange(SPIN):
            x += i * i
        progress[slot] += 1
    with lock:
        finished[0] += 1


def cores():
    """CPUs this process may run on (the container's cpuset), else the runtime's count."""
    return cpu_affinity() or cpu_count() or 1


def _latency_fields(latencies):
    ordered = sorted(latencies)
    if not ordered:
        return dict.fromkeys(("latency_ms_p50", "latency_ms_p90", "latency_ms_p99",
                              "latency_ms_max", "latency_ms_mean"))
    return {
        "latency_ms_p50": round(percentile(ordered, 0.50) * 1e3, 4),
        "latency_ms_p90": round(percentile(ordered, 0.90) * 1e3, 4),
        "latency_ms_p99": round(percentile(ordered, 0.99) * 1e3, 4),
        "latency_ms_max": round(ordered[-1] * 1e3, 4),
        "latency_ms_mean": round(sum(ordered) / len(ordered) * 1e3, 4),
    }


def _run_phase(busy, size):
    """Start `busy` spinning threads, do `size` round trips, stop and join the threads.
    Returns (checksum, latencies of the round trips made while every busy thread spun,
    per-thread progress, phase seconds)."""
    progress = [0] * busy
    stop = [False]
    finished = [0]
    go = threading.Event()
    lock = threading.Lock()
    threads = [threading.Thread(target=_spin, args=(slot, progress, stop, go, finished, lock))
               for slot in range(busy)]
    start = perf_counter()
    for thread in threads:
        thread.daemon = True
        thread.start()
    try:
        latencies = []
        flags = []
        go.set()
        checksum = _roundtrips(size, 0, latencies, finished if busy else None, flags)
        done = list(progress)
    finally:
        stop[0] = True
        for thread in threads:
            thread.join()
    if busy:
        latencies = [value for value, during in zip(latencies, flags) if during]
    return checksum, latencies, done, perf_counter() - start


def measure(mode, workers, size):
    """Returns (checksum, extra). serial: no busy threads; threads: `workers` busy threads,
    at most cores - 1 so the I/O thread has a core of its own (more raises an error).

    The phase is timed from before the busy threads start until they are joined; its length
    per round trip is phase_ms_per_roundtrip. Latencies count only round trips completed while
    every busy thread was still spinning: none at all means the busy threads never let the
    I/O thread run (busy_never_yielded)."""
    busy = workers if mode == "threads" else 0
    available = cores()
    if busy > available - 1:
        raise ValueError("convoy needs busy threads <= cores - 1 (%d cores here), got %d"
                         % (available, busy))
    checksum, latencies, done, elapsed = _run_phase(busy, size)
    extra = _latency_fields(latencies)
    extra.update({
        "roundtrips": size,
        "busy_threads": busy,
        "cores": available,
        "roundtrips_while_busy": len(latencies) if busy else None,
        "busy_never_yielded": (not latencies) if busy else None,
        "phase_ms_per_roundtrip": round(elapsed / size * 1e3, 4),
    })
    total = sum(done)
    if busy:
        extra["busy_steps_per_s"] = round(total / elapsed, 1) if elapsed > 0 else None
        extra["busy_share"] = [round(count / total, 4) if total else None for count in done]
        if total:
            shares = [count / total for count in done]
            extra["busy_share_min"] = round(min(shares), 4)
            extra["busy_share_max"] = round(max(shares), 4)
    return checksum, extra
