"""Helpers shared by the runner and the workloads: compat shims, timers, checksums,
workload discovery, the unit task the process pools run, a loopback TCP pair.

Portable: Python 2.7 (Jython 2.7.3) and 3.4+ (CPython, free-threaded CPython, PyPy,
IronPython); stdlib only.
"""
from __future__ import print_function, division

import hashlib
import os
import platform
import socket
import sys
import time
import zlib

try:
    xrange = xrange  # noqa: F821 -- Python 2 / Jython
except NameError:
    xrange = range

PY2 = sys.version_info[0] == 2


def _implementation():
    """cpython, pypy, jython, ironpython: by sys.implementation / platform, never sys.platform
    (IronPython 3 says "linux")."""
    name = getattr(getattr(sys, "implementation", None), "name", None)
    if not name:
        try:
            name = platform.python_implementation()
        except Exception:
            name = ""
    return str(name).lower()


IMPLEMENTATION = _implementation()
IS_JAVA = IMPLEMENTATION == "jython" or sys.platform.startswith("java")
IS_CLI = IMPLEMENTATION == "ironpython" or sys.platform == "cli"

# What a platform call may raise: on Jython a java.lang.Throwable is not an Exception.
PLATFORM_ERRORS = (Exception,)
if IS_JAVA:
    try:
        from java.lang import Throwable as _JavaThrowable
        PLATFORM_ERRORS = (Exception, _JavaThrowable)
    except ImportError:
        pass

perf_counter = getattr(time, "perf_counter", time.time)
if IS_JAVA and not hasattr(time, "perf_counter"):
    try:  # Jython's time.time() ticks in milliseconds; nanoTime is the JVM's monotonic clock
        from java.lang import System as _JavaSystem

        def perf_counter():
            return _JavaSystem.nanoTime() / 1e9
    except PLATFORM_ERRORS:
        pass

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD_PREFIX = "wl_"
REQUIRED_ATTRS = ("KIND", "DESCRIPTION", "CLAIM", "DEFAULT_SIZE", "MODES", "unit")
ALL_MODES = ("serial", "threads", "processes", "asyncio")


def to_bytes(text):
    """ASCII text -> bytes on Python 3, str on Python 2 / Jython."""
    return text.encode("ascii")


def describe_exception(exc):
    """'TypeName: message' -- what an ok:false record carries (never a traceback)."""
    message = ""
    try:
        message = str(exc)
    except Exception:
        try:
            message = repr(exc)
        except Exception:
            pass
    name = getattr(type(exc), "__name__", None) or exc.__class__.__name__
    return ("%s: %s" % (name, message)) if message else name


# --- process CPU time ---------------------------------------------------------------------

def _proc_stat_cpu():
    """utime + stime of this process from /proc/self/stat (Linux), in seconds."""
    with open("/proc/self/stat") as handle:
        data = handle.read()
    fields = data[data.rindex(")") + 2:].split()
    ticks = 100.0
    try:
        ticks = float(os.sysconf("SC_CLK_TCK"))
    except Exception:
        pass
    return (int(fields[11]) + int(fields[12])) / ticks


def _make_cpu_timer():
    """Return (function, name): process CPU seconds (all threads) of this process."""
    candidates = []
    if IS_CLI:
        def dotnet():
            import System
            return System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds
        candidates.append((dotnet, "dotnet-process"))
    if IS_JAVA:
        try:
            from java.lang.management import ManagementFactory
            bean = ManagementFactory.getOperatingSystemMXBean()
            candidates.append((lambda: bean.getProcessCpuTime() / 1e9, "jmx-process"))
        except PLATFORM_ERRORS:
            pass
    process_time = getattr(time, "process_time", None)
    if process_time is not None:
        candidates.append((process_time, "process_time"))
    candidates.append((_proc_stat_cpu, "proc-stat"))
    if hasattr(os, "times") and not IS_JAVA:  # Jython's os.times() is not CPU seconds
        candidates.append((lambda: sum(os.times()[:2]), "os.times"))
    for func, name in candidates:
        try:
            value = func()
            if value is not None and value >= 0:
                float(value)
                return func, name
        except PLATFORM_ERRORS:
            continue
    return (lambda: None), None


_cpu_timer, CPU_TIMER_NAME = _make_cpu_timer()


def cpu_time():
    """Process CPU seconds (user + system, every thread), or None where nothing works."""
    try:
        value = _cpu_timer()
        return None if value is None else float(value)
    except PLATFORM_ERRORS:
        return None


def cpu_delta(start, end):
    if start is None or end is None:
        return None
    return max(0.0, end - start)


# --- checksums ------------------------------------------------------------------------------

def combine_checksums(pairs):
    """Combine (index, unit checksum) pairs into one hex string, independent of the order the
    units finished in. Same units -> same string, on every runtime."""
    text = ";".join("%d:%s" % (index, value) for index, value in sorted(pairs))
    return hashlib.sha256(to_bytes(text)).hexdigest()[:16]


def unit_checksums(pairs):
    """The unit checksums of (index, unit checksum) pairs as text, in index order: unit i's
    work is the same whatever N, so cells of different worker counts can be compared."""
    return ["%s" % value for _, value in sorted(pairs)]


def crc(data, value=0):
    return zlib.crc32(data, value) & 0xffffffff


def lcg_bytes(seed, length):
    """Deterministic pseudo-random bytes: the top byte of a 32-bit LCG (Numerical Recipes)."""
    out = bytearray(length)
    state = seed & 0xffffffff
    for i in xrange(length):
        state = (1664525 * state + 1013904223) & 0xffffffff
        out[i] = state >> 24
    return bytes(out)  # bytes on Python 3, str on Python 2 / Jython


# --- workload discovery ---------------------------------------------------------------------

def workload_dirs():
    """The runner's own folder, then the folders in $GILBENCH_WORKLOADS_PATH (os.pathsep)."""
    dirs = [HERE]
    for entry in os.environ.get("GILBENCH_WORKLOADS_PATH", "").split(os.pathsep):
        entry = entry.strip()
        if entry and os.path.isdir(entry):
            dirs.append(os.path.abspath(entry))
    return dirs


def discover():
    """{workload name: (folder, module name)}; the first folder defining a name wins."""
    found = {}
    for folder in workload_dirs():
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for filename in names:
            if filename.startswith(WORKLOAD_PREFIX) and filename.endswith(".py"):
                module = filename[:-3]
                name = module[len(WORKLOAD_PREFIX):]
                if name and name not in found:
                    found[name] = (folder, module)
    return found


class WorkloadError(Exception):
    """Unknown or malformed workload."""


def load_workload(name, catalogue=None):
    catalogue = catalogue if catalogue is not None else discover()
    if name not in catalogue:
        raise WorkloadError("unknown workload %r (known: %s)"
                            % (name, ", ".join(sorted(catalogue)) or "none"))
    folder, module_name = catalogue[name]
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module = sys.modules.get(module_name)
    if module is None:
        __import__(module_name)
        module = sys.modules[module_name]
    missing = [attr for attr in REQUIRED_ATTRS if not hasattr(module, attr)]
    if missing:
        raise WorkloadError("workload %r lacks %s" % (name, ", ".join(missing)))
    return module


def workload_info(name, module):
    return {
        "name": name,
        "kind": module.KIND,
        "description": module.DESCRIPTION,
        "claim": module.CLAIM,
        "default_size": module.DEFAULT_SIZE,
        "modes": list(module.MODES),
        "custom_measure": hasattr(module, "measure"),
    }


# --- loopback TCP -------------------------------------------------------------------------

def _recv_exact(sock, count):
    chunks = []
    while count > 0:
        chunk = sock.recv(count)
        if not chunk:
            raise IOError("loopback peer closed the connection")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


class LoopbackPair(object):
    """A connected TCP pair on 127.0.0.1 (loopback exists even with --network none).

    Both ends live in the calling thread: payloads are small (<< the socket buffers), so a
    sendall never blocks waiting for the other end."""

    def __init__(self):
        # The listener stays open until close(): on Jython an accepted socket shares its
        # listener's Netty event loop, and closing the listener first makes Netty complain.
        self.client = self.server = None
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.listener.bind(("127.0.0.1", 0))
            self.listener.listen(1)
            self.client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.client.connect(self.listener.getsockname())
            self.server, _ = self.listener.accept()
        except PLATFORM_ERRORS:
            self.close()
            raise
        for sock in (self.client, self.server):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except Exception:
                pass

    def roundtrip(self, payload):
        """client -> server, server echoes it reversed -> client; returns what came back."""
        self.client.sendall(payload)
        data = _recv_exact(self.server, len(payload))
        self.server.sendall(data[::-1])
        return _recv_exact(self.client, len(payload))

    def close(self):
        for sock in (self.client, self.server, self.listener):
            if sock is not None:
                try:
                    sock.close()
                except Exception:
                    pass


def payload(index, step, length=64):
    """Deterministic ASCII payload for round trip `step` of unit `index`."""
    text = ("gilbench:%d:%d:" % (index, step))
    text = (text * (length // len(text) + 1))[:length]
    return to_bytes(text)


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    rank = int(fraction * len(sorted_values) + 0.999999999)
    rank = min(max(rank, 1), len(sorted_values))
    return sorted_values[rank - 1]


# --- helpers for workloads with their own measure() ------------------------------------------

def run_units(mode, workers, func, size):
    """Run func(size, index) for index 0..workers-1, one after another (serial) or each in its
    own thread (threads). Returns ([(index, checksum)], [(index, wall_s)])."""
    results = [None] * workers

    def body(index):
        try:
            t0 = perf_counter()
            value = func(size, index)
            results[index] = (True, value, perf_counter() - t0)
        except PLATFORM_ERRORS:
            results[index] = (False, sys.exc_info()[1], None)

    if mode == "threads":
        import threading
        threads = [threading.Thread(target=body, args=(index,)) for index in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for index in range(workers):
            body(index)
    for index, item in enumerate(results):
        if item is None:
            raise RuntimeError("unit %d finished without a result" % index)
        if not item[0]:
            raise item[1]
    return ([(i, r[1]) for i, r in enumerate(results)],
            [(i, round(r[2], 6)) for i, r in enumerate(results)])


def supported_modes(modes, unsupported):
    """MODES minus the modes this runtime cannot run (``unsupported``: {mode: reason}): the
    runner turns a requested mode missing from MODES into an ``unsupported`` record (n/a)."""
    return tuple(mode for mode in modes if mode not in unsupported)
