"""Probe the running interpreter and print ONE JSON object on stdout (docs/formats.md).

Portable: CPython 2.7/3.4+, PyPy, Jython 2.7, IronPython 3.4; stdlib only.
It never crashes: a feature whose check raises anything is reported as false.

gil_enabled rule (also used by the runner, live, for every record):
  * ``sys._is_gil_enabled()`` where it exists (CPython 3.13+: True on the default build,
    False on a free-threaded build unless an extension module re-enabled the GIL);
  * True on CPython without it (every CPython before 3.13 has a GIL) and on PyPy (PyPy has a
    GIL; should a PyPy grow ``sys._is_gil_enabled`` it wins);
  * null (None) on Jython and IronPython, which have no GIL at all.
"""
from __future__ import print_function, division

import json
import os
import sys

FEATURES = ("threading", "multiprocessing", "subprocess", "asyncio", "hashlib", "zlib")
TIMEOUT_S = 60


def implementation():
    """Lowercase implementation name: cpython, pypy, jython, ironpython (or whatever it says)."""
    impl = getattr(sys, "implementation", None)
    name = getattr(impl, "name", None)
    if not name:
        try:
            import platform
            name = platform.python_implementation()
        except Exception:
            name = None
    if not name:
        if sys.platform.startswith("java"):
            name = "jython"
        elif sys.platform == "cli":
            name = "ironpython"
        else:
            name = "cpython"
    return str(name).lower()


def implementation_version():
    """The implementation's own version (PyPy 7.3.19, IronPython 3.4.2, ...), x.y.z."""
    impl = getattr(sys, "implementation", None)
    version = getattr(impl, "version", None)
    if version is None:
        version = getattr(sys, "pypy_version_info", None) or sys.version_info
    try:
        return "%d.%d.%d" % tuple(version[:3])
    except Exception:
        return None


def python_version():
    return "%d.%d.%d" % tuple(sys.version_info[:3])


def gil_enabled():
    """True/False where the runtime has a GIL notion, None on Jython/IronPython (see above)."""
    check = getattr(sys, "_is_gil_enabled", None)
    if check is not None:
        try:
            return bool(check())
        except Exception:
            pass
    name = implementation()
    if name in ("cpython", "pypy"):
        return True
    return None


def cpu_count():
    """Logical CPUs the runtime reports (not the container's cpuset: see cpu_affinity)."""
    count = None
    try:
        count = os.cpu_count()
    except Exception:
        pass
    if not count:
        try:
            import multiprocessing
            count = multiprocessing.cpu_count()
        except Exception:
            pass
    if not count and implementation() == "ironpython":
        try:
            import System
            count = System.Environment.ProcessorCount
        except Exception:
            pass
    if not count and implementation() == "jython":
        try:
            from java.lang import Runtime
            count = Runtime.getRuntime().availableProcessors()
        except Exception:
            pass
    return int(count) if count else None


def cpu_affinity():
    """How many CPUs this process may run on (the container's cpuset), where the runtime can
    tell (see allowed_cpus; on Jython also the JVM's count, which honours cpusets)."""
    cpus = allowed_cpus()
    if cpus:
        return len(cpus)
    if implementation() == "jython":
        try:
            from java.lang import Runtime
            return int(Runtime.getRuntime().availableProcessors())
        except:  # noqa: E722
            pass
    return None


def parse_cpu_list(text):
    """'0-2,5' -> [0, 1, 2, 5] (the kernel's cpu-list format)."""
    cpus = []
    for part in text.strip().split(","):
        if part.strip():
            low, _, high = part.strip().partition("-")
            cpus.extend(range(int(low), int(high or low) + 1))
    return sorted(set(cpus))


def _read_text(path):
    with open(path) as handle:
        return handle.read()


def allowed_cpus():
    """Sorted CPU numbers this process may run on, or None (= all CPUs) where nothing tells:
    sched_getaffinity, else /proc/self/status, else the cgroup's effective cpuset."""
    try:
        return sorted(os.sched_getaffinity(0))
    except:  # noqa: E722 -- absent on PyPy < 3.x, Jython, IronPython
        pass
    try:
        for line in _read_text("/proc/self/status").splitlines():
            if line.startswith("Cpus_allowed_list:"):
                return parse_cpu_list(line.split(":", 1)[1])
    except:  # noqa: E722
        pass
    try:
        return parse_cpu_list(_read_text("/sys/fs/cgroup/cpuset.cpus.effective")) or None
    except:  # noqa: E722
        return None


def topology(root="/sys/devices/system/cpu", cpus=None):
    """CPU topology of the CPUs this process may run on: `logical_cpus`, `physical_cores`
    (distinct (package, core_id)), `packages`, `smt_siblings` (groups of those CPUs sharing a
    physical core). Fields are null where /sys does not tell."""
    if cpus is None:
        cpus = allowed_cpus()
    if cpus is None:
        cpus = parse_cpu_list(_read_text(os.path.join(root, "online")))
    result = {"logical_cpus": cpus, "physical_cores": None, "packages": None,
              "smt_siblings": None}
    cores = {}
    try:
        for cpu in cpus:
            folder = os.path.join(root, "cpu%d" % cpu, "topology")
            key = (int(_read_text(os.path.join(folder, "physical_package_id"))),
                   int(_read_text(os.path.join(folder, "core_id"))))
            cores.setdefault(key, []).append(cpu)
    except:  # noqa: E722 -- no /sys topology (some VMs, non-Linux): counts stay unknown
        return result
    result["physical_cores"] = len(cores)
    result["packages"] = len(set(package for package, _ in cores))
    result["smt_siblings"] = sorted(cores.values())
    return result


def interpreter_command():
    """Command (list) starting another interpreter of this runtime: $GILBENCH_PYTHON or
    sys.executable. GILBENCH_PYTHON may hold several words, e.g. ``mono /opt/ipy/ipy.exe``."""
    env = os.environ.get("GILBENCH_PYTHON", "").strip()
    if env:
        try:
            import shlex
            return shlex.split(env)
        except Exception:
            return env.split()
    exe = sys.executable
    if not exe:
        exe = {"jython": "jython", "ironpython": "ipy", "pypy": "pypy3"}.get(
            implementation(), "python")
    return [exe]


def _square(x):
    return x * x


def _check_threading():
    import threading
    box = []
    thread = threading.Thread(target=box.append, args=(42,))
    thread.start()
    thread.join(TIMEOUT_S)
    return box == [42]


def _check_multiprocessing():
    import multiprocessing
    pool = multiprocessing.Pool(1)
    try:
        result = pool.map_async(_square, [1, 2, 3]).get(TIMEOUT_S)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return list(result) == [1, 4, 9]


def _check_subprocess():
    import subprocess
    proc = subprocess.Popen(interpreter_command() + ["-c", "print('gilbench-probe-ok')"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, _ = proc.communicate()
    if not isinstance(out, str):
        out = out.decode("ascii", "replace")
    return proc.returncode == 0 and "gilbench-probe-ok" in out


def _check_asyncio():
    import asyncio
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(asyncio.sleep(0, result=42)) == 42
    finally:
        loop.close()


def _check_hashlib():
    import hashlib
    digest = hashlib.sha256(b"abc").hexdigest()
    return digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _check_zlib():
    import zlib
    data = b"gilbench" * 1000
    packed = zlib.compress(data)
    return len(packed) < len(data) and zlib.decompress(packed) == data


def _works(check):
    try:
        return bool(check())
    except KeyboardInterrupt:
        raise
    except:  # noqa: E722 -- also Java/.NET exceptions: any failure means "does not work"
        return False


def features(names=FEATURES):
    checks = {
        "threading": _check_threading,
        "multiprocessing": _check_multiprocessing,
        "subprocess": _check_subprocess,
        "asyncio": _check_asyncio,
        "hashlib": _check_hashlib,
        "zlib": _check_zlib,
    }
    return dict((name, _works(checks[name])) for name in names)


def c_libraries():
    """Which implementations the C-library workloads run on: hashlib's sha256 (OpenSSL's, the
    builtin module, or the JVM's) with the OpenSSL version, zlib's runtime version, numpy's
    version and BLAS (a pure-Python fallback would go unnoticed otherwise)."""
    import hashlib
    kind = type(hashlib.sha256())
    found = {"sha256": "%s.%s" % (kind.__module__, kind.__name__)}
    try:
        import ssl
        found["openssl"] = ssl.OPENSSL_VERSION
    except ImportError:
        found["openssl"] = None
    try:
        import zlib
        found["zlib"] = getattr(zlib, "ZLIB_RUNTIME_VERSION", None) or zlib.ZLIB_VERSION
    except ImportError:
        found["zlib"] = None
    try:
        import numpy
        found["numpy"] = numpy.__version__
        config = getattr(numpy, "show_config", None)
        blas = getattr(getattr(numpy, "__config__", None), "CONFIG", {}) if config else {}
        found["blas"] = (blas.get("Build Dependencies", {}).get("blas", {}) or {}).get("name")
    except ImportError:
        found["numpy"] = None
    return found


def _safe(func, default=None):
    try:
        return func()
    except KeyboardInterrupt:
        raise
    except:  # noqa: E722
        return default


def compiled_workloads():
    """True when the workload modules load as compiled extensions (the Cython runtime)."""
    import wl_cpu
    return os.path.splitext(wl_cpu.__file__)[1] in (".so", ".pyd")


def probe():
    return {
        "compiled_workloads": _safe(compiled_workloads),
        "implementation": _safe(implementation),
        "implementation_version": _safe(implementation_version),
        "python_version": _safe(python_version),
        "gil_enabled": _safe(gil_enabled),
        "cpu_count": _safe(cpu_count),
        "cpu_affinity": _safe(cpu_affinity),
        "topology": _safe(topology),
        "platform": _safe(lambda: sys.platform),
        "executable": _safe(lambda: sys.executable),
        "features": _safe(features, {}),
        "c_libraries": _safe(c_libraries, {}),
    }


def main():
    result = probe()
    # anything a check printed went to stderr; stdout carries only this one object
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
