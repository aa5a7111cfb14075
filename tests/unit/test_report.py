"""Golden-file tests of the report: a small synthetic run -> exactly the checked-in report.md.

The fixture in ``tests/data/golden_run/`` is produced by :func:`write_synthetic_run` below.
After an intended change of the report (or of the generator), regenerate it with::

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_report.py

and review the diff of ``tests/data/golden_run/report.md`` like code.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from harness import report
from harness.results import Record, write_meta

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden_run"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
RUN_ID = "20261125T231500Z-default"
T0 = 1795734900.0  # 2026-11-25T23:15:00Z

# --- the synthetic run ------------------------------------------------------------------------
# Plausible numbers for a 2-core machine: per-unit serial seconds, and speedup over serial per
# (mode, N). Noise is lognormal (3%), seeded per cell, so the fixture is reproducible.

RUNTIMES = {
    # id: implementation, version, gil_enabled, warm-up reps, cold factor of each warm-up rep
    "cpython-3.13": ("cpython", "3.13.5", True, 1, [1.06]),
    "cpython-3.13t": ("cpython", "3.13.5", False, 1, [1.08]),
    "pypy-3.11": ("pypy", "3.11.11", None, 3, [3.1, 1.35, 1.08]),
    "jython-2.7": ("jython", "2.7.3", None, 3, [4.2, 1.7, 1.12]),
}
REPS = 5

# workload: kind, size, {mode: workers}, unit seconds per runtime
WORKLOADS = {
    "cpu": ("cpu", 3000, {"serial": [1, 2, 4], "threads": [1, 2, 4], "processes": [1, 2, 4]},
            {"cpython-3.13": 0.200, "cpython-3.13t": 0.236, "pypy-3.11": 0.040,
             "jython-2.7": 0.290}),
    "io": ("io", 20, {"serial": [2, 4], "threads": [2, 4], "processes": [2, 4],
                      "asyncio": [2, 4]},
           {"cpython-3.13": 0.0512, "cpython-3.13t": 0.0513, "pypy-3.11": 0.0511,
            "jython-2.7": 0.0530}),
    "clib": ("clib", 16, {"serial": [2], "threads": [2], "processes": [2]},
             {"cpython-3.13": 0.080, "cpython-3.13t": 0.081, "pypy-3.11": 0.082,
              "jython-2.7": 0.120}),
    "contention": ("contention", 200000, {"serial": [2], "threads": [2]},
                   {"cpython-3.13": 0.120, "cpython-3.13t": 0.170, "pypy-3.11": 0.030,
                    "jython-2.7": 0.200}),
    "alloc": ("alloc", 100000, {"serial": [2], "threads": [2], "processes": [2]},
              {"cpython-3.13": 0.150, "cpython-3.13t": 0.190, "pypy-3.11": 0.050,
               "jython-2.7": 0.180}),
    "convoy": ("latency", 200, {"serial": [2], "threads": [2]},
               {"cpython-3.13": 0.5, "cpython-3.13t": 0.5, "pypy-3.11": 0.5,
                "jython-2.7": 0.5}),
    "spawn": ("startup", 2, {"serial": [2], "threads": [2]},
              {"cpython-3.13": 0.035, "cpython-3.13t": 0.038, "pypy-3.11": 0.080,
               "jython-2.7": 1.90}),
}  # fmt: skip

# (workload, mode, runtime) -> {N: speedup}; missing -> 1.0
SPEEDUP = {
    ("cpu", "threads", "cpython-3.13"): {1: 0.99, 2: 0.97, 4: 0.95},
    ("cpu", "threads", "cpython-3.13t"): {1: 0.99, 2: 1.90, 4: 1.93},
    ("cpu", "threads", "pypy-3.11"): {1: 0.99, 2: 0.93, 4: 0.90},
    ("cpu", "threads", "jython-2.7"): {1: 0.98, 2: 1.70, 4: 1.74},
    ("cpu", "processes", "cpython-3.13"): {1: 0.97, 2: 1.88, 4: 1.92},
    ("cpu", "processes", "cpython-3.13t"): {1: 0.97, 2: 1.86, 4: 1.90},
    ("cpu", "processes", "pypy-3.11"): {1: 0.96, 2: 1.82, 4: 1.88},
    ("cpu", "processes", "jython-2.7"): {1: 0.95, 2: 1.55, 4: 1.60},
    ("clib", "threads", "*"): {2: 1.90},
    ("clib", "threads", "jython-2.7"): {2: 1.84},
    ("clib", "processes", "*"): {2: 1.85},
    ("contention", "threads", "cpython-3.13"): {2: 0.92},
    ("contention", "threads", "cpython-3.13t"): {2: 0.55},
    ("contention", "threads", "pypy-3.11"): {2: 0.95},
    ("contention", "threads", "jython-2.7"): {2: 0.48},
    ("alloc", "threads", "cpython-3.13"): {2: 0.96},
    ("alloc", "threads", "cpython-3.13t"): {2: 1.35},
    ("alloc", "threads", "pypy-3.11"): {2: 0.94},
    ("alloc", "threads", "jython-2.7"): {2: 1.45},
    ("alloc", "processes", "*"): {2: 1.85},
    ("alloc", "processes", "jython-2.7"): {2: 1.50},
    ("spawn", "threads", "*"): {2: 1.60},
    ("spawn", "threads", "jython-2.7"): {2: 1.30},
}
for _mode, _s in (("threads", 0.985), ("processes", 0.965), ("asyncio", 0.99)):
    SPEEDUP[("io", _mode, "*")] = {2: 2 * _s, 4: 4 * _s * (0.98 if _mode == "processes" else 1)}

# convoy: median I/O round-trip latency (ms) with no busy thread / with N busy threads
CONVOY_MS = {
    "cpython-3.13": (0.085, 5.3),
    "cpython-3.13t": (0.088, 0.12),
    "pypy-3.11": (0.080, 4.1),
    "jython-2.7": (0.150, 0.21),
}

FAILED = ("pypy-3.11", "clib", "processes")
UNSUPPORTED = ("jython-2.7", "io", "asyncio")
SHORT = ("jython-2.7", "convoy", "threads")  # times out after 2 steady reps -> inconclusive
STDERR = (
    "Traceback (most recent call last):\n"
    '  File "/gilbench/workloads/gilbench_runner.py", line 212, in run_processes\n'
    "    results = pool.map(unit, args)\n"
    "OSError: [Errno 12] Cannot allocate memory"
)


def _speedup(workload: str, mode: str, runtime: str, n: int) -> float:
    table = SPEEDUP.get((workload, mode, runtime)) or SPEEDUP.get((workload, mode, "*")) or {}
    return table.get(n, 1.0)


def _cpu_wall(kind: str, mode: str, runtime: str, speedup: float, n: int) -> float:
    if kind == "io":
        return 0.03
    if kind == "latency":
        return 0.05 if mode == "serial" else float(n)
    gil_bound = mode == "threads" and kind != "clib" and runtime in ("cpython-3.13", "pypy-3.11")
    if mode == "serial" or gil_bound:
        return 1.08 if runtime == "jython-2.7" else 1.0
    return max(1.0, min(speedup * 1.02, float(n)))


def synthetic_records() -> list[Record]:
    """The golden run's records, in the order a real run appends them."""
    records = []
    ts = T0 + 10.0
    for runtime, (impl, version, gil, warmups, cold) in RUNTIMES.items():
        for workload, (kind, size, modes, unit) in WORKLOADS.items():
            first_cell = True
            for mode, workers in modes.items():
                for n in workers:
                    key = f"{runtime}/{workload}/{mode}/{n}"
                    rng = np.random.default_rng(zlib.crc32(key.encode()))
                    common = dict(
                        run_id=RUN_ID, runtime=runtime, workload=workload, mode=mode,
                        workers=n, size=size, backend="docker", implementation=impl,
                        python_version=version, gil_enabled=gil, kind=kind,
                        pool=("subprocess" if runtime == "jython-2.7" else "multiprocessing")
                        if mode == "processes" else None,
                    )  # fmt: skip
                    if (runtime, workload, mode) == UNSUPPORTED:
                        records.append(Record(
                            **common, rep=0, warmup=False, ok=False, unsupported=True,
                            error="asyncio is not available on Jython 2.7 (Python 2 language)",
                            ts=round(ts, 3),
                        ))  # fmt: skip
                        continue
                    if (runtime, workload, mode) == FAILED:
                        records.append(Record(
                            **common, rep=0, warmup=False, ok=False,
                            error="OSError: [Errno 12] Cannot allocate memory",
                            stderr_tail=STDERR, ts=round(ts, 3),
                        ))  # fmt: skip
                        continue
                    speedup = _speedup(workload, mode, runtime, n)
                    base = unit[runtime] if kind == "latency" else unit[runtime] * n / speedup
                    total = warmups + REPS
                    for rep in range(total):
                        if (runtime, workload, mode) == SHORT and rep == warmups + 2:
                            records.append(Record(
                                **common, rep=rep, warmup=False, ok=False,
                                error="timeout after 300 s", stderr_tail="(no output)",
                                ts=round(ts, 3),
                            ))  # fmt: skip
                            break
                        factor = 1.0
                        if rep < warmups:
                            factor = cold[rep] if first_cell else 1 + (cold[rep] - 1) * 0.25
                        wall = base * factor * math.exp(rng.normal(0, 0.03))
                        ratio = _cpu_wall(kind, mode, runtime, speedup, n)
                        cpu = wall * ratio * math.exp(rng.normal(0, 0.01))
                        extra = {}
                        if kind == "latency":
                            quiet, busy = CONVOY_MS[runtime]
                            p50 = (quiet if mode == "serial" else busy) * math.exp(
                                rng.normal(0, 0.06)
                            )
                            extra = {
                                "latency_ms_p50": round(p50, 4),
                                "latency_ms_p90": round(p50 * 1.6, 4),
                                "latency_ms_max": round(p50 * 3.1, 4),
                            }
                        ts += wall + 0.01
                        records.append(Record(
                            **common, rep=rep, warmup=rep < warmups, ok=True,
                            wall_s=round(wall, 6), cpu_s=round(cpu, 6),
                            checksum=f"{zlib.crc32(f'{workload}/{size}/{n}'.encode()):08x}",
                            extra=extra, ts=round(ts, 3),
                        ))  # fmt: skip
                    first_cell = False
    return records


def synthetic_meta() -> dict:
    """The golden run's meta.json."""

    def probe(impl: str, version: str, gil: bool | None, mp: bool, aio: bool) -> dict:
        return {
            "implementation": impl, "python_version": version, "gil_enabled": gil,
            "cpu_count": 2, "platform": "java21.0.5" if impl == "jython" else "linux",
            "features": {"threading": True, "multiprocessing": mp, "subprocess": True,
                         "asyncio": aio, "hashlib": True, "zlib": True},
        }  # fmt: skip

    runtimes = {}
    for rid, (impl, version, gil, _, _) in RUNTIMES.items():
        family = rid.split("-")[0]
        runtimes[rid] = {
            "family": family, "expected_gil": None if gil is None else gil,
            "image": f"gilbench/{rid}:latest",
            "image_id": "sha256:" + f"{zlib.crc32(rid.encode()):08x}" * 8,
            "recipe_hash": f"{zlib.crc32(rid.encode()) ^ 0xFFFF:08x}",
            "available": True, "reason": None,
            "probe": probe(impl, version, gil, impl != "jython", impl != "jython"),
        }  # fmt: skip
    runtimes["pypy-3.11"]["expected_gil"] = True
    runtimes["ironpython-3.4"] = {
        "family": "ironpython", "expected_gil": None, "image": "gilbench/ironpython-3.4:latest",
        "image_id": None, "recipe_hash": None, "available": False,
        "reason": "IronPython.3.4.2.zip could not be downloaded (github.com unreachable) and "
                  "no drop-in file at runtimes/ironpython/IronPython.3.4.2.zip",
        "probe": None,
    }  # fmt: skip
    return {
        "schema": 1,
        "run_id": RUN_ID,
        "status": "complete",
        "suite": {"name": "default", "reps": REPS, "warmups": 1,
                  "warmups_by_family": {"pypy": 3, "jython": 3, "ironpython": 3},
                  "workers": [1, 2, 4], "timeout_s": 300, "memory": "2g",
                  "workloads": {w: {"size": spec[1], "modes": list(spec[2])}
                                for w, spec in WORKLOADS.items()}},
        "backend": "docker",
        "command": "make compare SUITE=default",
        "baseline": "cpython-3.13",
        "host": {"hostname": "bench-vm", "cpu_model": "Intel(R) Xeon(R) CPU @ 2.20GHz",
                 "cores": 2, "kernel": "6.1.0-27-amd64", "os": "Debian GNU/Linux 13 (trixie)",
                 "memory_gib": 23.4},
        "docker": {"engine_version": "20.10.24", "api_version": "1.41"},
        "harness_revision": "0123456789abcdef0123456789abcdef01234567",
        "cpuset": "0-1", "cpus": 2, "memory_limit": "2g",
        "started_at": "2026-11-25T23:15:00Z", "finished_at": "2026-11-25T23:21:47Z",
        "wall_total_s": 407.2, "workload_wall_s": 236.9,
        "runtimes": runtimes,
    }  # fmt: skip


def write_synthetic_run(run_dir: Path) -> None:
    """Write the synthetic results.jsonl + meta.json into ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [record.to_json() for record in synthetic_records()]
    (run_dir / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_meta(run_dir, synthetic_meta())
