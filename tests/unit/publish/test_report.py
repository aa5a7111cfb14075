"""Golden-file tests of the report: a small synthetic run -> exactly the checked-in report.md.

The fixture in ``tests/data/golden_run/`` is produced by :func:`write_synthetic_run` below.
After an intended change of the report (or of the generator), regenerate it with::

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/publish/test_report.py

and review the diff of ``tests/data/golden_run/report.md`` like code.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.analyse import stats
from harness.analyse.run import Analysis, Speedup, analyse
from harness.publish import report
from harness.publish.report import judge, verdicts
from harness.store import layout
from harness.store.meta import RunMeta
from harness.store.results import Record, write_meta

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "golden_run"
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
REPS = 3  # steady repetitions per invocation
INVOCATIONS = 3  # fresh processes per cell, in rounds over the runtimes
DRIFT = 0.04  # lognormal sd of a process's speed (shared by the cells it measures)

# workload: kind, size, {mode: workers}, unit seconds per runtime
WORKLOADS = {
    "cpu": ("cpu", 3000, {"serial": [1, 2, 4], "threads": [1, 2, 4], "processes": [1, 2, 4]},
            {"cpython-3.13": 0.200, "cpython-3.13t": 0.236, "pypy-3.11": 0.040,
             "jython-2.7": 0.290}),
    "io": ("io", 20, {"serial": [2, 4], "threads": [2, 4], "processes": [2, 4],
                      "asyncio": [2, 4]},
           {"cpython-3.13": 0.0512, "cpython-3.13t": 0.0513, "pypy-3.11": 0.0511,
            "jython-2.7": 0.0530}),
    "spectral": ("cpu", 100, {"serial": [1]},
                 {"cpython-3.13": 0.180, "cpython-3.13t": 0.205, "pypy-3.11": 0.022,
                  "jython-2.7": 0.260}),
    "fannkuch": ("cpu", 8, {"serial": [1]},
                 {"cpython-3.13": 0.160, "cpython-3.13t": 0.190, "pypy-3.11": 0.045,
                  "jython-2.7": 0.210}),
    "hash": ("clib", 16, {"serial": [2], "threads": [2], "processes": [2]},
             {"cpython-3.13": 0.080, "cpython-3.13t": 0.081, "pypy-3.11": 0.082,
              "jython-2.7": 0.120}),
    "zlib": ("clib", 16, {"serial": [2], "threads": [2]},
             {"cpython-3.13": 0.090, "cpython-3.13t": 0.091, "pypy-3.11": 0.092,
              "jython-2.7": 0.130}),
    "numpy": ("clib", 50, {"serial": [2], "threads": [2]},
              {"cpython-3.13": 0.100, "cpython-3.13t": 0.101, "pypy-3.11": 0.140,
               "jython-2.7": 0.100}),
    "cholds": ("cholds", 2, {"serial": [2], "threads": [2]},
               {"cpython-3.13": 0.110, "cpython-3.13t": 0.125, "pypy-3.11": 0.060,
                "jython-2.7": 0.150}),
    "contention": ("contention", 200000, {"serial": [2], "threads": [2]},
                   {"cpython-3.13": 0.120, "cpython-3.13t": 0.170, "pypy-3.11": 0.030,
                    "jython-2.7": 0.200}),
    "alloc_private": ("alloc", 200000, {"serial": [2], "threads": [2]},
                      {"cpython-3.13": 0.150, "cpython-3.13t": 0.180, "pypy-3.11": 0.050,
                       "jython-2.7": 0.180}),
    "alloc_shared": ("alloc", 500000, {"serial": [2], "threads": [2]},
                     {"cpython-3.13": 0.140, "cpython-3.13t": 0.190, "pypy-3.11": 0.045,
                      "jython-2.7": 0.170}),
    "alloc_type": ("alloc", 200000, {"serial": [2], "threads": [2]},
                   {"cpython-3.13": 0.150, "cpython-3.13t": 0.200, "pypy-3.11": 0.050,
                    "jython-2.7": 0.175}),
    "convoy": ("latency", 200, {"serial": [2], "threads": [2]},
               {"cpython-3.13": 0.5, "cpython-3.13t": 0.5, "pypy-3.11": 0.5,
                "jython-2.7": 0.5}),
    "smalltasks": ("ipc", 2000, {"serial": [2], "threads": [2], "processes": [2]},
                   {"cpython-3.13": 0.060, "cpython-3.13t": 0.070, "pypy-3.11": 0.020,
                    "jython-2.7": 0.090}),
    "spawn_fresh": ("startup", 1, {"serial": [2]},  # a unit starts 1 process
                    {"cpython-3.13": 0.035, "cpython-3.13t": 0.038, "pypy-3.11": 0.080,
                     "jython-2.7": 1.90}),
    "spawn_mp": ("startup", 1, {"serial": [2]},
                 {"cpython-3.13": 0.0021, "cpython-3.13t": 0.0024, "pypy-3.11": 0.0035,
                  "jython-2.7": 0.001}),
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
    ("hash", "threads", "*"): {2: 1.90},
    ("hash", "threads", "jython-2.7"): {2: 1.84},
    ("hash", "processes", "*"): {2: 1.85},
    ("zlib", "threads", "*"): {2: 1.88},
    ("numpy", "threads", "*"): {2: 1.80},
    ("numpy", "threads", "pypy-3.11"): {2: 1.45},
    ("cholds", "threads", "*"): {2: 0.97},
    ("cholds", "threads", "cpython-3.13t"): {2: 1.85},
    ("cholds", "threads", "jython-2.7"): {2: 1.70},
    ("contention", "threads", "cpython-3.13"): {2: 0.92},
    ("contention", "threads", "cpython-3.13t"): {2: 0.55},
    ("contention", "threads", "pypy-3.11"): {2: 0.95},
    ("contention", "threads", "jython-2.7"): {2: 0.48},
    ("alloc_private", "threads", "cpython-3.13"): {2: 0.97},
    ("alloc_private", "threads", "cpython-3.13t"): {2: 1.85},
    ("alloc_private", "threads", "pypy-3.11"): {2: 0.95},
    ("alloc_private", "threads", "jython-2.7"): {2: 1.70},
    ("alloc_shared", "threads", "cpython-3.13"): {2: 0.96},
    ("alloc_shared", "threads", "cpython-3.13t"): {2: 1.30},
    ("alloc_shared", "threads", "pypy-3.11"): {2: 0.94},
    ("alloc_shared", "threads", "jython-2.7"): {2: 1.60},
    ("alloc_type", "threads", "cpython-3.13"): {2: 0.95},
    ("alloc_type", "threads", "cpython-3.13t"): {2: 1.10},
    ("alloc_type", "threads", "pypy-3.11"): {2: 0.94},
    ("alloc_type", "threads", "jython-2.7"): {2: 1.62},
    # many 1 ms tasks: pickling and pipes eat the gain of a second core
    ("smalltasks", "processes", "*"): {2: 0.55},
    ("smalltasks", "processes", "jython-2.7"): {2: 0.12},
}
for _mode, _s in (("threads", 0.985), ("processes", 0.965), ("asyncio", 0.99)):
    SPEEDUP[("io", _mode, "*")] = {2: 2 * _s, 4: 4 * _s * (0.98 if _mode == "processes" else 1)}

# convoy: median I/O round-trip latency (ms) with no busy thread / with N busy threads, and the
# smallest busy thread's share of progress (fair: 0.5 each with 2 threads)
CONVOY_MS = {
    "cpython-3.13": (1.085, 6.3, 0.36),
    "cpython-3.13t": (1.088, 1.12, 0.49),
    "pypy-3.11": (1.080, 5.1, 0.31),
    "jython-2.7": (1.150, 1.21, 0.48),
}

FAILED = ("pypy-3.11", "hash", "processes")
UNSUPPORTED = {
    ("jython-2.7", "io", "asyncio"): "asyncio is not available on Jython 2.7 (Python 2 language)",
    ("jython-2.7", "numpy", "serial"): "numpy is not installed: no build exists for Jython 2.7",
    ("jython-2.7", "numpy", "threads"): "numpy is not installed: no build exists for Jython 2.7",
    ("jython-2.7", "spawn_mp", "serial"): "multiprocessing is not available on Jython 2.7",
}
START_METHOD = {"cpython-3.13": "fork", "cpython-3.13t": "fork", "pypy-3.11": "fork"}
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
    gil_bound = mode == "threads" and kind not in ("clib", "ipc")
    gil_bound = gil_bound and runtime in ("cpython-3.13", "pypy-3.11")
    if mode == "serial" or gil_bound:
        return 1.08 if runtime == "jython-2.7" else 1.0
    return max(1.0, min(speedup * 1.02, float(n)))


def synthetic_records() -> list[Record]:
    """The golden run's records, in the order a real run appends them."""
    records = []
    ts = T0 + 10.0
    for invocation, (runtime, (impl, version, gil, warmups, cold)) in (
        (i, item) for i in range(INVOCATIONS) for item in RUNTIMES.items()
    ):
        drift_rng = np.random.default_rng(zlib.crc32(f"{runtime}/{invocation}".encode()))
        drift = math.exp(drift_rng.normal(0, DRIFT))
        for workload, (kind, size, modes, unit) in WORKLOADS.items():
            first_cell = True
            for mode, workers in modes.items():
                for n in workers:
                    key = f"{runtime}/{workload}/{mode}/{n}/{invocation}"
                    rng = np.random.default_rng(zlib.crc32(key.encode()))
                    offset = math.exp(rng.normal(0, 0.02))  # this cell in this process
                    common = dict(
                        run_id=RUN_ID, runtime=runtime, workload=workload, mode=mode,
                        workers=n, size=size, backend="docker", implementation=impl,
                        python_version=version, gil_enabled=gil, kind=kind,
                        pool=("subprocess" if runtime == "jython-2.7" else "multiprocessing")
                        if mode == "processes" else None, invocation=invocation,
                    )  # fmt: skip
                    if (runtime, workload, mode) in UNSUPPORTED:
                        records.append(Record(
                            **common, rep=0, warmup=False, ok=False, unsupported=True,
                            error=UNSUPPORTED[(runtime, workload, mode)],
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
                        if (runtime, workload, mode) == SHORT and rep == warmups + 2 and (
                            invocation == 1
                        ):
                            records.append(Record(
                                **common, rep=rep, warmup=False, ok=False,
                                error="timeout after 300 s", stderr_tail="(no output)",
                                ts=round(ts, 3),
                            ))  # fmt: skip
                            break
                        factor = 1.0
                        if rep < warmups:
                            factor = cold[rep] if first_cell else 1 + (cold[rep] - 1) * 0.25
                        wall = base * drift * offset * factor * math.exp(rng.normal(0, 0.02))
                        ratio = _cpu_wall(kind, mode, runtime, speedup, n)
                        cpu = wall * ratio * math.exp(rng.normal(0, 0.01))
                        # serial units run one after another; parallel ones all at once
                        alone = wall / n if mode == "serial" else wall
                        per_unit = [alone * math.exp(rng.normal(0, 0.02)) for _ in range(n)]
                        extra: dict = {"unit_wall_s": [round(u, 6) for u in per_unit]}
                        if workload == "spawn_mp":
                            extra["start_method"] = START_METHOD[runtime]
                        if kind == "latency":
                            quiet, busy, low = CONVOY_MS[runtime]
                            p50 = (quiet if mode == "serial" else busy) * math.exp(
                                rng.normal(0, 0.06)
                            )
                            extra.update({
                                "busy_threads": 0 if mode == "serial" else n,
                                "latency_ms_p50": round(p50, 4),
                                "latency_ms_p90": round(p50 * 1.6, 4),
                                "latency_ms_p99": round(p50 * 2.4, 4),
                                "latency_ms_max": round(p50 * 3.1, 4),
                                "latency_ms_mean": round(p50 * 1.2, 4),
                                "roundtrips": 20,
                                "roundtrips_while_busy": None if mode == "serial" else 20,
                                "busy_never_yielded": None if mode == "serial" else False,
                            })  # fmt: skip
                            if mode == "threads":
                                share = low + rng.normal(0, 0.01)
                                extra.update({
                                    "busy_share": [round(share, 4), round(1 - share, 4)],
                                    "busy_share_min": round(share, 4),
                                    "busy_share_max": round(1 - share, 4),
                                })  # fmt: skip
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
            "c_libraries": {"sha256": "sun.security.provider.SHA2$SHA256", "openssl": None,
                            "zlib": None, "numpy": None} if impl == "jython" else
                           {"sha256": "_hashlib.HASH", "openssl": "OpenSSL 3.5.1 1 Jul 2025",
                            "zlib": "1.3.1", "numpy": "2.4.6", "blas": "scipy-openblas"},
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
                 "memory_gib": 23.4,
                 "topology": {"logical_cpus": [0, 1], "physical_cores": 2,
                              "smt_siblings": [[0], [1]]}},
        "docker": {"engine_version": "20.10.24", "api_version": "1.41"},
        "harness_revision": "0123456789abcdef0123456789abcdef01234567",
        "cpuset": "0-1", "cpus": 2, "memory_limit": "2g",
        "started_at": "2026-11-25T23:15:00Z", "finished_at": "2026-11-25T23:31:52Z",
        "wall_total_s": 1012.4, "workload_wall_s": 767.2,
        "runtimes": runtimes,
    }  # fmt: skip


def write_synthetic_run(run_dir: Path) -> None:
    """Write the synthetic results.jsonl + meta.json into ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [record.to_json() for record in synthetic_records()]
    (run_dir / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_meta(run_dir, RunMeta.from_dict(synthetic_meta()))


# --- the golden run --------------------------------------------------------------------------


GOLDEN_README = """\
# Golden run (test fixture)

A small synthetic run (plausible numbers for a 2-core machine), not a measurement.
`results.jsonl` + `meta.json` are written by `write_synthetic_run` in
`tests/unit/publish/test_report.py`; `report.md` is what `harness.publish.report.write_report` must produce from
them, byte for byte; `expected_pngs.txt` names the charts it must write beside it.
Regenerate all of it after an intended change with
`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/publish/test_report.py` and review the diff.
"""


def _copy_inputs(target: Path, source: Path = GOLDEN) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in ("results.jsonl", "meta.json"):
        shutil.copyfile(source / name, target / name)
    return target


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    """The golden inputs analysed and reported into a scratch run folder (once per module)."""
    if UPDATE:
        write_synthetic_run(GOLDEN)
        (GOLDEN / "README.md").write_text(GOLDEN_README, encoding="utf-8")
    run = _copy_inputs(tmp_path_factory.mktemp("runs") / RUN_ID)
    a = analyse(run)
    report.write(a)
    if UPDATE:
        shutil.copyfile(run / "report.md", GOLDEN / "report.md")
        names = sorted(p.name for p in run.glob("*.png"))
        (GOLDEN / "expected_pngs.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    return a


@pytest.fixture(scope="module")
def generated(golden: Analysis) -> Path:
    return golden.run_dir


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    """A run folder with the golden run's `cpu` records of two runtimes (fast to report)."""
    run = tmp_path / RUN_ID
    run.mkdir()
    lines = (GOLDEN / "results.jsonl").read_text().splitlines()
    wanted = {"cpython-3.13", "pypy-3.11"}
    keep = [
        line for line in lines
        if json.loads(line)["workload"] == "cpu" and json.loads(line)["runtime"] in wanted
    ]  # fmt: skip
    (run / "results.jsonl").write_text("\n".join(keep) + "\n")
    shutil.copyfile(GOLDEN / "meta.json", run / "meta.json")
    return run


def test_fixture_is_what_the_generator_writes(generated, tmp_path):
    write_synthetic_run(tmp_path)
    for name in ("results.jsonl", "meta.json"):
        assert (tmp_path / name).read_bytes() == (GOLDEN / name).read_bytes(), (
            f"{name} differs from the generator: run with UPDATE_GOLDEN=1"
        )


def test_report_matches_golden_file(generated):
    expected = (GOLDEN / "report.md").read_text(encoding="utf-8")
    actual = (generated / "report.md").read_text(encoding="utf-8")
    assert actual == expected, "report.md changed: review, then run with UPDATE_GOLDEN=1"


def test_charts_are_the_expected_files_and_embedded(generated):
    expected = (GOLDEN / "expected_pngs.txt").read_text(encoding="utf-8").split()
    assert sorted(p.name for p in generated.glob("*.png")) == expected
    text = (generated / "report.md").read_text(encoding="utf-8")
    for name in expected:
        assert f"]({name})" in text
        assert (generated / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_input_gives_byte_identical_output(mini, tmp_path):
    path = report.write_report(mini)
    assert path == mini / "report.md"
    first = {p.name: p.read_bytes() for p in sorted(mini.iterdir())}
    assert {"report.md", "speedup-cpu.png", "serial-vs-baseline.png", "warmup.png"} <= set(first)
    report.write_report(mini)
    assert {p.name: p.read_bytes() for p in sorted(mini.iterdir())} == first


def test_latest_links_point_into_the_run_folder(generated):
    reports = generated.parent.parent
    runs = reports / "runs"
    runs.mkdir(exist_ok=True)
    run = runs / RUN_ID
    if not run.exists():
        shutil.copytree(generated, run)
    latest = report.write_latest(run, reports)
    assert latest == reports / "latest.md"
    text = latest.read_text(encoding="utf-8")
    assert f"](runs/{RUN_ID}/speedup-cpu.png)" in text
    assert "](#convoy-effect)" in text  # in-page anchors are left alone
    assert text.replace(f"runs/{RUN_ID}/", "") == (run / "report.md").read_text(encoding="utf-8")


def test_relink_leaves_absolute_and_anchor_links():
    md = "![a](x.png) [b](#top) [c](https://e.org/y.png) [d](/abs.png)"
    assert layout.relink(md, "runs/r") == (
        "![a](runs/r/x.png) [b](#top) [c](https://e.org/y.png) [d](/abs.png)"
    )


# --- what a reader must find ------------------------------------------------------------------


def _verdict_table(text: str) -> list[list[str]]:
    section = text.split("## Verdicts", 1)[1].split("\n\n", 2)[1]
    lines = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]


def test_every_verdict_carries_its_number_and_interval(generated):
    rows = _verdict_table((generated / "report.md").read_text(encoding="utf-8"))
    assert len(rows) == len([c for c in verdicts.CLAIMS if c.needs is None])  # no cpu_nogil
    for row in rows:
        for cell in row[1:]:
            if cell.startswith((judge.YES, judge.PARTLY, judge.NO, judge.WARN)):
                assert "95% CI" in cell and "×" in cell or "%" in cell, cell


def test_reader_sees_unavailable_failed_unsupported_and_inconclusive(generated):
    text = (generated / "report.md").read_text(encoding="utf-8")
    meta = json.loads((GOLDEN / "meta.json").read_text())
    assert meta["runtimes"]["ironpython-3.4"]["reason"] in text
    assert "OSError: [Errno 12] Cannot allocate memory" in text
    assert 'File "/gilbench/workloads/gilbench_runner.py", line 212' in text  # stderr tail
    assert "🚫 n/a: asyncio: asyncio is not available on Jython 2.7" in text
    # a timed-out repetition: the cell is listed with it and its verdict is not judged
    assert "⚠️ not judged: threads: 8 of 9 ok, 1 timed out (mean latency" in text
    assert "| jython-2.7 | `convoy`   | threads | 2   | 8 of 9 ok, 1 timed out |" in text
    assert "- **timeout after 300 s** — 1 cell(s): jython-2.7 · `convoy` · threads · N=2" in text
    assert "| jython-2.7              | jython           | 2.7.3    | no GIL (JVM)" in text
    assert "make compare SUITE=default" in text
    assert f"python -m harness report reports/runs/{RUN_ID}" in text
    assert "N > 2" in text  # beyond the cores is called out, not judged a failure


def _raw(runtime: str, workload: str, mode: str, n: int, inv: int | None = None) -> list[float]:
    """Steady wall times straight from the checked-in JSON lines (no pandas, no harness code),
    of one invocation or all."""
    out = []
    for line in (GOLDEN / "results.jsonl").read_text().splitlines():
        r = json.loads(line)
        cell = (r["runtime"], r["workload"], r["mode"], r["workers"])
        steady = cell == (runtime, workload, mode, n) and r["ok"] and not r["warmup"]
        if steady and (inv is None or r["invocation"] == inv):
            out.append(r["wall_s"])
    return out


def test_speedups_and_geomean_agree_with_the_raw_records(golden):
    a = golden
    for rt in ("cpython-3.13", "cpython-3.13t", "jython-2.7", "pypy-3.11"):
        s = a.speedups[(rt, "cpu", "threads", 2)]
        # one ratio of medians per invocation (serial and threads from the same process),
        # their geometric mean, and Student's t over their logs
        logs = [
            math.log(np.median(_raw(rt, "cpu", "serial", 2, inv))
                     / np.median(_raw(rt, "cpu", "threads", 2, inv)))
            for inv in range(INVOCATIONS)
        ]
        half = 4.302652729911275 * np.std(logs, ddof=1) / math.sqrt(INVOCATIONS)  # t(0.975, 2)
        assert s.comparison.ratio == pytest.approx(math.exp(np.mean(logs)))
        assert s.comparison.ci_low == pytest.approx(math.exp(np.mean(logs) - half))
        assert s.comparison.ci_high == pytest.approx(math.exp(np.mean(logs) + half))
        assert s.comparison.invocations == INVOCATIONS and s.ceiling == 2
    assert a.speedups[("cpython-3.13", "cpu", "threads", 4)].ceiling == 2
    assert a.speedups[("cpython-3.13", "io", "threads", 4)].ceiling == 4
    # pypy's serial speed (the JIT claim): per round, the geometric mean over the compute
    # kernels; then the geometric mean over the rounds (invocation i of each runtime)
    rounds = []
    for inv in range(INVOCATIONS):
        ratios = []
        for workload, n in (("cpu", 4), ("spectral", 1), ("fannkuch", 1)):
            base = np.median(_raw("cpython-3.13", workload, "serial", n, inv))
            ratios.append(base / np.median(_raw("pypy-3.11", workload, "serial", n, inv)))
        rounds.append(np.prod(ratios) ** (1 / 3))
    expected = np.prod(rounds) ** (1 / INVOCATIONS)
    assert a.kernel_geomean["pypy-3.11"].value == pytest.approx(expected)
    assert a.kernel_geomean["pypy-3.11"].n == 3
    assert a.serial_geomean["pypy-3.11"].n == 11  # every speed workload; not io/ipc/startup
    assert a.twins == {"cpython-3.13t": "cpython-3.13"}


def test_expected_verdicts_on_the_golden_run(golden):
    a = golden
    rows = {row.claim.key: row.cells for row in verdicts.verdict_rows(a)}
    cpu = rows["cpu-threads"]
    assert cpu["cpython-3.13"].symbol == judge.NO
    assert cpu["pypy-3.11"].symbol == judge.NO
    assert cpu["cpython-3.13t"].symbol == judge.YES
    assert cpu["jython-2.7"].symbol == judge.YES
    assert cpu["ironpython-3.4"].symbol == judge.UNAVAILABLE
    assert rows["convoy"]["cpython-3.13"].text.startswith("convoy:")
    assert rows["convoy"]["cpython-3.13t"].text.startswith("no convoy:")
    assert rows["convoy"]["jython-2.7"].symbol == judge.WARN  # a timed-out rep: not judged
    assert rows["asyncio"]["jython-2.7"].symbol == judge.NA
    assert rows["serial-speed"]["pypy-3.11"].symbol == judge.YES
    assert rows["warmup"]["pypy-3.11"].symbol == judge.WARN
    assert rows["free-threading"]["cpython-3.13t"].symbol == judge.YES
    assert rows["free-threading"]["cpython-3.13"].symbol == judge.NOT_APPLICABLE


def test_new_workload_claims_on_the_golden_run(golden):
    rows = {row.claim.key: row.cells for row in verdicts.verdict_rows(golden)}
    clib = rows["clib-threads"]
    assert clib["cpython-3.13"].symbol == judge.YES
    assert "contrast `cholds` (holds the GIL) ❌" not in str(clib["cpython-3.13"])
    assert "contrast `cholds` (holds the GIL) no: 0.9" in clib["cpython-3.13"].text
    assert "`numpy` n/a: threads: numpy is not installed" in clib["jython-2.7"].text
    assert clib["pypy-3.11"].symbol == judge.PARTLY  # numpy threads only 1.45x
    spawn = rows["spawn"]["cpython-3.13"].text
    assert spawn.startswith("fresh interpreter: ") and "default start method (fork): " in spawn
    jython = rows["spawn"]["jython-2.7"].text
    assert "default start method: 🚫 n/a: serial: multiprocessing is not available" in jython
    assert rows["smalltasks"]["cpython-3.13"].text.startswith("slower: ")
    refcount = rows["refcount"]["cpython-3.13t"]
    assert refcount.symbol == judge.PARTLY and "against `alloc_private` scales" in refcount.text


def test_contrast_that_scales_on_a_gil_runtime_is_a_warning(golden):
    cholds = {k: s for k, s in golden.speedups.items() if k[1] == "cholds"}
    swapped = dict(golden.speedups)
    for key in cholds:  # give the GIL runtimes the free-threaded build's scaling cholds
        swapped[key] = golden.speedups[("cpython-3.13t", "cholds", "threads", 2)]
    rows = verdicts.verdict_rows(replace(golden, speedups=swapped))
    cell = next(r.cells for r in rows if r.claim.key == "clib-threads")["cpython-3.13"]
    assert cell.symbol == judge.WARN and "something is wrong" in cell.text
    line = report.render(replace(golden, speedups=swapped), {}).split("- **cpython-3.13**")[1]
    assert "C-library threads: not judged (the contrast `cholds`, C code that holds the GIL, " \
        "scales on a GIL runtime)" in line.split("\n")[0]


def test_busy_threads_that_never_yield_are_named_not_a_latency(golden):
    key = ("cpython-3.13", "convoy", 2)
    figures = dict(golden.convoy_figures)
    figures[key] = replace(figures[key], busy_ms=math.nan, never_yielded=True)
    a = replace(golden, convoy_figures=figures)
    verdict = verdicts.convoy_verdict(a, "cpython-3.13")
    assert verdict.symbol == judge.NO
    assert verdict.text.startswith("convoy: the 2 busy threads never yielded the GIL")
    assert "never yielded the GIL" in report.render(a, {}).split("## Convoy effect")[1]


def test_convoy_never_yielded_is_read_from_the_records(golden):
    assert golden.convoy_figures[("cpython-3.13", "convoy", 2)].never_yielded is False


def test_a_run_with_the_old_workload_names_still_renders(tmp_path):
    old = GOLDEN / "old_names"  # a schema-1 run from before clib, alloc and spawn were split
    _copy_inputs(tmp_path, old)
    report.write_report(tmp_path)
    if UPDATE:
        shutil.copyfile(tmp_path / "report.md", old / "report.md")
    expected = (old / "report.md").read_text(encoding="utf-8")
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == expected


def test_baseline_is_configurable(mini):
    a = analyse(mini, baseline="pypy-3.11")
    assert a.runtime_ids[0] == "pypy-3.11"
    text = report.render(a, {})
    assert "## Serial speed vs pypy-3.11" in text
    assert "| cpython-3.13 | ℹ️ the baseline" not in text


def test_a_run_without_results_still_reports_every_runtime(tmp_path):
    (tmp_path / "results.jsonl").write_text("")
    meta = synthetic_meta()
    meta["status"] = "failed"
    write_meta(tmp_path, RunMeta.from_dict(meta))
    text = report.write_report(tmp_path).read_text(encoding="utf-8")
    assert "The run is **failed**" in text
    for rid in [*RUNTIMES, "ironpython-3.4"]:
        assert f"| {rid}" in text
    assert "No measurements in this run." in text
    assert not list(tmp_path.glob("*.png"))


def test_local_backend_is_labelled_not_containerised(golden):
    local = replace(golden, meta=golden.meta.updated(backend="local"))
    assert "**not containerised**" in report.render(local, {}).split("## How to read")[0]


# --- verdict rules on constructed numbers ------------------------------------------------------


def _made_speedup(serial: list[float], parallel: list[float], n: int = 2, kind: str = "cpu",
                  invocations: int = 3):
    """serial/parallel repetitions spread round-robin over ``invocations`` processes."""
    def split(values: list[float]) -> dict[int, list[float]]:
        return {i: values[i::invocations] for i in range(invocations)}

    comparison = stats.compare_invocations(split(serial), split(parallel), paired=True)
    return Speedup("rt", "w", kind, "threads", n, min(n, 2), comparison, 1.0)


def test_judge_speedup_rules():
    serial = [2.00, 2.02, 1.98, 2.04, 1.97, 2.01]
    scales = judge.judge_speedup(_made_speedup(serial, [1.0, 1.02, 0.99, 1.01, 1.03, 1.0]), 2)
    assert scales.symbol == judge.YES
    assert scales.text.startswith("scales: 1.99× (95% CI ")
    assert scales.text.endswith(", 3 invocations; CPU/wall 1.00)")
    assert "invocations" not in judge.judge_speedup(
        _made_speedup(serial, [1.0, 1.02, 0.99, 1.01, 1.03, 1.0]), 2, usual=3).text
    assert scales.value == pytest.approx(1.99, abs=0.005) and scales.word == "scales"
    rule = judge.speedup_rule(_made_speedup(serial, [1.0] * 6), 2)
    assert rule == "at 2 threads: *scales* needs ≥ 1.50× (ceiling 2)"
    partly = judge.judge_speedup(_made_speedup(serial, [1.6, 1.62, 1.59, 1.61, 1.63, 1.6]), 2)
    assert partly.symbol == judge.PARTLY
    slower = judge.judge_speedup(_made_speedup(serial, [2.4, 2.42, 2.39, 2.41, 2.43, 2.4]), 2)
    assert (slower.symbol, slower.text[:7]) == (judge.NO, "slower:")
    same = judge.judge_speedup(_made_speedup(serial, [2.01, 1.99, 2.03, 1.96, 2.02, 2.0]), 2)
    assert same.symbol == judge.NO and same.text.startswith("no: 1.00×")
    # the interval reaches both sides of the 1.5x threshold: no verdict, the interval shown
    wide = judge.judge_speedup(_made_speedup(serial, [1.1, 1.6, 1.35, 1.5, 1.2, 1.45]), 2)
    assert wide.symbol == judge.INCONCLUSIVE and "straddles the threshold" in wide.text
    few = judge.judge_speedup(_made_speedup(serial, [1.0, 1.01]), 2)
    assert (few.symbol, few.text) == (judge.INCONCLUSIVE, "inconclusive: 6+2 samples")
    one = judge.judge_speedup(_made_speedup(serial, [1.0, 1.01, 1.02] * 2, invocations=1), 2)
    assert one.symbol == judge.INCONCLUSIVE
    assert "range" in one.text and "1 invocation" in one.text and "one invocation" in one.text
    beyond = judge.speedup_rule(_made_speedup(serial, [1.0, 1.02, 0.99, 1.01, 1.03, 1.0], n=4), 2)
    assert beyond == "at 4 threads: *scales* needs ≥ 1.50× (ceiling 2, N > 2 cores)"


def test_a_cell_with_a_wrong_checksum_or_a_lost_rep_is_not_judged():
    good = _made_speedup([2.0, 2.02, 1.98, 2.04, 1.97, 2.01], [1.0, 1.02, 0.99, 1.01, 1.03, 1.0])
    assert judge.judge_speedup(good, 2).symbol == judge.YES
    for problem in ("threads: wrong result: 1 of 6 measurement(s) computed checksum bb, ...",
                    "threads: 5 of 6 ok, 1 timed out"):
        bad = replace(good, problems=(problem,), judgeable=False)
        verdict = judge.judge_speedup(bad, 2)
        assert verdict.symbol == judge.WARN and verdict.text.startswith(f"not judged: {problem}")
        assert verdict.why == problem
    shaky = replace(good, problems=("threads: unstable: spread 14% of the median (over 10%)",))
    verdict = judge.judge_speedup(shaky, 2)  # judged, with the warning beside it
    assert verdict.symbol == judge.YES and "⚠️ threads: unstable" in verdict.text


def test_units_that_slowed_each_other_down_are_said_beside_the_speedup():
    serial = [2.00, 2.02, 1.98, 2.04, 1.97, 2.01]
    base = _made_speedup(serial, [1.4, 1.42, 1.38, 1.41, 1.43, 1.4])  # ~1.43x: partly
    parallel = replace(base, mode="processes", cpu_wall=1.9, unit_slowdown=1.40)
    verdict = judge.judge_speedup(parallel, 2)
    assert verdict.note == "each unit 1.40× slower side by side"
    assert "CPU/wall 1.90; each unit 1.40× slower side by side)" in verdict.text
    # not where the CPUs were not both busy (GIL threads wait, they are not slowed down), not
    # below the notable slowdown, not for waiting work, not where units were not timed
    for quiet in (replace(parallel, cpu_wall=1.05), replace(parallel, unit_slowdown=1.10),
                  replace(parallel, kind="io"), replace(parallel, unit_slowdown=float("nan"))):
        assert judge.judge_speedup(quiet, 2).note == ""
        assert "side by side" not in judge.judge_speedup(quiet, 2).text
    # 4 units on 2 CPUs take turns: twice as long each is sharing, not slowing each other down
    four = replace(parallel, workers=4, ceiling=2)
    assert judge.judge_speedup(replace(four, unit_slowdown=2.1), 2).note == ""
    assert judge.judge_speedup(replace(four, unit_slowdown=2.8), 2).note == (
        "each unit 1.40× slower side by side"
    )


def test_a_cpu_speedup_above_its_ceiling_is_called_impossible_not_scaling():
    serial = [3.00, 3.03, 2.97, 3.06, 2.96, 3.0]
    superlinear = _made_speedup(serial, [1.0, 1.02, 0.99, 1.01, 1.03, 1.0])  # ~3x, ceiling 2
    verdict = judge.judge_speedup(superlinear, 2)
    assert verdict.symbol == judge.WARN
    assert verdict.text.startswith("impossible: 2.98× (95% CI")
    assert "above the physical ceiling" in verdict.text
    waiting = _made_speedup(serial, [1.0, 1.02, 0.99, 1.01, 1.03, 1.0], kind="io")
    assert judge.judge_speedup(waiting, 2).symbol == judge.YES  # waits may overlap freely


def test_two_runs_side_by_side_count_agreeing_verdicts_and_drift(golden):
    from harness.publish.stability import compare_runs

    same = compare_runs(golden, golden)
    assert same.agreeing == same.verdicts > 0 and not same.disagreements
    assert (same.drift_p50, same.drift_p90) == (0.0, 0.0)
    # a second run where every cell took 10% longer and cpython-3.13t's cpu threads lost
    cells = golden.cells.assign(median=golden.cells["median"] * 1.1)
    key = ("cpython-3.13t", "cpu", "threads", 2)
    slowed = replace(golden.speedups[key], comparison=replace(
        golden.speedups[key].comparison, ratio=1.0, ci_low=0.95, ci_high=1.04))
    other = replace(golden, cells=cells, speedups={**golden.speedups, key: slowed})
    diff = compare_runs(golden, other)
    assert diff.drift_p50 == pytest.approx(0.1) and diff.drift_p90 == pytest.approx(0.1)
    (d,) = [d for d in diff.disagreements if d.runtime == "cpython-3.13t" and "CPU" in d.claim]
    assert not d.flagged and d.first.startswith("✅") and d.second.startswith("❌")
    assert f"{len(diff.unflagged)} differ unflagged" in diff.lines()[0]


def test_one_line_per_runtime_says_what_the_verdicts_say(generated):
    text = (generated / "report.md").read_text(encoding="utf-8")
    section = text.split("## In one line per runtime", 1)[1].split("\n## ", 1)[0]
    assert text.index("## In one line per runtime") < text.index("## How to read")
    lines = {line.split("**")[1]: line for line in section.splitlines() if line.startswith("- ")}
    assert "CPU threads don't scale (0.976×); CPU processes scale (1.86×)" in lines["cpython-3.13"]
    assert "inconclusive (numpy 1.45×)" in lines["pypy-3.11"]  # said as inconclusive
    assert "faster (5.30×)" in lines["pypy-3.11"]
    assert "not judged (threads: 8 of 9 ok, 1 timed out)" in lines["jython-2.7"]
    assert "asyncio tasks: n/a" in lines["jython-2.7"]
    assert "single-thread speed vs cpython-3.13: inconclusive (0.850×)" in lines["cpython-3.13t"]
    assert "runtime unavailable" in lines["ironpython-3.4"]


def test_seed_marks_stand_apart_from_the_verdicts(golden):
    from harness.publish.report import seed

    rows = {row.claim.key: row for row in verdicts.verdict_rows(golden)}
    cpu = rows["cpu-threads"]
    assert str(cpu.seed["cpython-3.13"]) == seed.HOLDS  # "no" on a GIL runtime: as the seed says
    assert str(cpu.seed["jython-2.7"]) == seed.HOLDS
    assert str(cpu.seed["cpython-3.13t"]) == f"{seed.CONTRADICTED}: the seed predates free-threading"
    assert cpu.seed["ironpython-3.4"] is None
    assert str(rows["convoy"].seed["jython-2.7"]) == seed.NOT_JUDGED  # a timed-out rep
    assert rows["spawn"].seed == dict.fromkeys(rows["spawn"].seed)  # not a claim: no marks
    assert rows["serial-speed"].seed["cpython-3.13t"] is None
    text = (golden.run_dir / "report.md").read_text(encoding="utf-8")
    assert "judged at 2 threads: *scales* needs ≥ 1.50× (ceiling 2)" in text
    for row in _verdict_table(text):  # the rule and the ceiling are said once, in the claim
        assert not any("needs ≥" in cell or "ceiling" in cell for cell in row[1:]), row
