"""Write the synthetic nightly history checked in next to this file (deterministic, seeded).

    .venv/bin/python tests/data/history/generate.py      # rewrites tests/data/history/runs/

``tests/unit/analyse/test_history.py`` checks that the checked-in folders are exactly this
output and uses ``write_night`` to build further scenarios in temporary folders (a lasting
step, a failed or missing newest night, a runtime or host change, a machine name).

What is planted (machine ``bench-a``, newest night 2026-11-24):

* regression: cpython-3.13 ``cpu`` +30 % in every mode (serial time flagged; speedups unchanged),
  on a night that also timed out a cell and took 6 min instead of ~49 s;
* noise-only wobble: pypy-3.11 ``io`` threads, 10 % per-sample noise every night and an unlucky
  newest draw whose value is ~14 % off -- within the nights' own noise;
* night-level wobble: pypy-3.11 ``cpu`` +14 % on 11-20 (reverted), +10 % on the newest night --
  within the noise and the range previous nights already showed;
* last-night-only dip: cpython-3.13 ``io`` -12 % on 11-23 only -- the newest night is +14 %
  against the last night but not against the previous nights' level;
* an interrupted night (11-21, partial, cpython ``cpu`` +35 %: visible if it leaked into a
  baseline), a newly failing cell (cpython-3.13 ``io`` threads timed out on the newest night);
* ``bench-b``: a failed night and two complete nights, pypy upgraded on the last one;
* a folder with a corrupt ``meta.json``, one with an unknown schema, and a ``smoke`` run.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.store.results import Record  # noqa: E402

HERE = Path(__file__).resolve().parent
REPS, WARMUPS = 5, 1


@dataclass(frozen=True)
class Machine:
    hostname: str
    cpu_model: str
    cpus: int
    kernel: str
    engine: str
    speed: float  # multiplies every time
    name: str | None = None  # GILBENCH_MACHINE (meta ``machine``), when the user set one


BENCH_A = Machine("bench-a", "AMD EPYC 7B13", 2, "6.12.48+deb13-amd64", "20.10.24", 1.0)
BENCH_B = Machine("bench-b", "Intel(R) Xeon(R) Gold 6230", 4, "6.1.0-40-amd64", "26.1.5", 1.4)

# runtime -> (implementation, python_version, gil_enabled)
RUNTIMES = {"cpython-3.13": ("cpython", "3.13.5", True), "pypy-3.11": ("pypy", "3.11.11", None)}
WORKLOADS = {"cpu": 3000, "io": 20}
# (runtime, workload, mode, workers) -> seconds on a speed-1.0 machine
BASE = {
    ("cpython-3.13", "cpu", "serial", 1): 1.00,
    ("cpython-3.13", "cpu", "threads", 2): 2.10,
    ("cpython-3.13", "cpu", "processes", 2): 1.12,
    ("cpython-3.13", "io", "serial", 2): 0.40,
    ("cpython-3.13", "io", "threads", 2): 0.205,
    ("pypy-3.11", "cpu", "serial", 1): 0.25,
    ("pypy-3.11", "cpu", "threads", 2): 0.56,
    ("pypy-3.11", "cpu", "processes", 2): 0.29,
    ("pypy-3.11", "io", "serial", 2): 0.41,
    ("pypy-3.11", "io", "threads", 2): 0.21,
}
NOISY = {("pypy-3.11", "io", "threads", 2): 0.10}  # per-sample sigma; default below
SAMPLE_SIGMA, NIGHT_SIGMA = 0.015, 0.01


@dataclass(frozen=True)
class NightSpec:
    machine: Machine
    started: str  # YYYYmmddTHHMMSSZ
    seed: int
    status: str = "complete"
    suite: str = "nightly"
    factors: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (runtime, workload)
    fixed: Mapping[tuple[str, str, str, int], tuple[float, ...]] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)  # runtime -> python_version
    images: Mapping[str, str] = field(default_factory=dict)  # runtime -> image id
    cells: tuple[tuple[str, str, str, int], ...] = tuple(BASE)
    failing: Mapping[tuple[str, str, str, int], str] = field(default_factory=dict)
    revision: str = "0123abc"  # harness_revision

    @property
    def run_id(self) -> str:
        return f"{self.started}-{self.suite}"


def image_id(runtime: str, version: str) -> str:
    return "sha256:" + hashlib.sha256(f"{runtime}/{version}".encode()).hexdigest()


def write_night(runs_dir: Path, spec: NightSpec) -> Path:
    """Write one run folder (meta.json + results.jsonl) the way ``harness.measure.matrix`` does."""
    rng = random.Random(spec.seed)
    folder = runs_dir / spec.run_id
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime.strptime(spec.started, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    clock = start.timestamp() + 5.0
    lines, workload_wall = [], 0.0
    night_noise = {cell[:2]: rng.gauss(1.0, NIGHT_SIGMA) for cell in BASE}
    for cell in spec.cells:
        runtime, workload, mode, workers = cell
        impl, default_version, gil = RUNTIMES[runtime]
        common = dict(
            run_id=spec.run_id,
            runtime=runtime,
            workload=workload,
            mode=mode,
            workers=workers,
            size=WORKLOADS[workload],
            implementation=impl,
            python_version=spec.versions.get(runtime, default_version),
            gil_enabled=gil,
            kind=workload,
        )
        if cell in spec.failing:
            clock += 300.0
            record = Record(
                rep=0,
                warmup=False,
                ok=False,
                error=spec.failing[cell],
                stderr_tail="Traceback (most recent call last): ...",
                ts=clock,
                **common,
            )
            lines.append(record.to_json())
            continue
        mean = BASE[cell] * spec.machine.speed * night_noise[cell[:2]]
        mean *= spec.factors.get((runtime, workload), 1.0)
        sigma = NOISY.get(cell, SAMPLE_SIGMA)
        fixed = spec.fixed.get(cell)
        for rep in range(WARMUPS + REPS):
            warm = rep < WARMUPS
            if fixed is not None and not warm:
                wall = mean * fixed[rep - WARMUPS]
            else:
                wall = mean * math.exp(rng.gauss(0.0, sigma)) * (1.3 if warm else 1.0)
            cpu = (
                wall
                * (workers if mode == "processes" else 1.0)
                * (0.05 if workload == "io" else 0.99)
            )
            clock += wall + 0.01
            workload_wall += 0.0 if warm else wall
            record = Record(
                rep=rep,
                warmup=warm,
                ok=True,
                wall_s=round(wall, 5),
                cpu_s=round(cpu, 5),
                checksum=f"{workload}-{WORKLOADS[workload]}-{workers}",
                pool="multiprocessing" if mode == "processes" else None,
                ts=round(clock, 3),
                **common,
            )
            lines.append(record.to_json())
    (folder / "results.jsonl").write_text("".join(line + "\n" for line in lines))
    finished = datetime.fromtimestamp(clock + 2.0, UTC)
    meta = _meta(spec, start, finished, workload_wall)
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return folder


def _meta(spec: NightSpec, start: datetime, finished: datetime, workload_wall: float) -> dict:
    m = spec.machine
    runtimes = {}
    for runtime, (impl, version, gil) in RUNTIMES.items():
        version = spec.versions.get(runtime, version)
        runtimes[runtime] = {
            "family": impl,
            "expected_gil": gil is not None,
            "image": f"gilbench/{runtime}:latest",
            "image_id": spec.images.get(runtime, image_id(runtime, version)),
            "recipe_hash": hashlib.sha256(runtime.encode()).hexdigest()[:16],
            "available": True,
            "reason": None,
            "probe": {
                "implementation": impl,
                "python_version": version,
                "gil_enabled": gil,
                "cpu_count": m.cpus,
                "platform": "linux",
            },
        }
    done = spec.status in ("complete", "failed")
    named = {"machine": m.name} if m.name else {}
    return {
        **named,
        "schema": 1,
        "run_id": spec.run_id,
        "status": spec.status,
        "suite": {
            "name": spec.suite,
            "reps": REPS,
            "warmups": WARMUPS,
            "workers": [1, 2],
            "workloads": {name: {"size": size} for name, size in WORKLOADS.items()},
        },
        "backend": "docker",
        "command": f"make nightly SUITE={spec.suite}",
        "baseline": "cpython-3.13",
        "host": {
            "hostname": m.hostname,
            "cpu_model": m.cpu_model,
            "cores": m.cpus,
            "kernel": m.kernel,
            "os": "Debian GNU/Linux 13 (trixie)",
            "memory_gib": 15.6,
        },
        "docker": {"engine_version": m.engine, "api_version": "1.41"},
        "harness_revision": spec.revision,
        "cpuset": f"0-{m.cpus - 1}",
        "cpus": m.cpus,
        "memory_limit": "2g",
        "started_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "finished_at": finished.strftime("%Y-%m-%dT%H:%M:%SZ") if done else None,
        "wall_total_s": round((finished - start).total_seconds(), 1) if done else None,
        "workload_wall_s": round(workload_wall, 3) if done else None,
        "runtimes": runtimes,
    }


def standard_nights() -> list[NightSpec]:
    """The checked-in history (see the module docstring for what is planted where)."""
    a, b = BENCH_A, BENCH_B
    io_threads = ("pypy-3.11", "io", "threads", 2)
    partial = tuple(c for c in BASE if c[:2] == ("cpython-3.13", "cpu"))
    return [
        NightSpec(a, "20261118T230000Z", seed=1),
        NightSpec(a, "20261119T230000Z", seed=2),
        NightSpec(a, "20261120T230000Z", seed=3, factors={("pypy-3.11", "cpu"): 1.14}),
        NightSpec(
            a,
            "20261121T230000Z",
            seed=4,
            status="interrupted",
            cells=partial,
            factors={("cpython-3.13", "cpu"): 1.35},
        ),
        NightSpec(a, "20261122T230000Z", seed=5),
        NightSpec(a, "20261123T230000Z", seed=6, factors={("cpython-3.13", "io"): 0.88}),
        NightSpec(
            a,
            "20261124T230000Z",
            seed=7,
            factors={("cpython-3.13", "cpu"): 1.30, ("pypy-3.11", "cpu"): 1.11},
            fixed={io_threads: (0.97, 1.30, 1.17, 1.02, 1.21)},
            failing={("cpython-3.13", "io", "threads", 2): "timeout after 300 s"},
        ),
        NightSpec(b, "20261122T220000Z", seed=11, status="failed", cells=()),
        NightSpec(b, "20261123T220000Z", seed=12),
        NightSpec(b, "20261124T220000Z", seed=13, versions={"pypy-3.11": "3.11.13"}),
        NightSpec(a, "20261122T100000Z", seed=21, suite="smoke", cells=partial),
    ]


def write_fixtures(dest: Path) -> None:
    """Write the whole checked-in history under ``dest/runs/``."""
    runs = dest / "runs"
    for spec in standard_nights():
        write_night(runs, spec)
    corrupt = write_night(runs, NightSpec(BENCH_A, "20261122T090000Z", seed=31, cells=()))
    text = (corrupt / "meta.json").read_text()
    (corrupt / "meta.json").write_text(text[: len(text) // 2])  # torn mid-write
    future = write_night(runs, NightSpec(BENCH_A, "20261123T090000Z", seed=32, cells=()))
    meta = json.loads((future / "meta.json").read_text())
    meta["schema"] = 99
    (future / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    shutil.rmtree(HERE / "runs", ignore_errors=True)
    write_fixtures(HERE)
    print(f"wrote {sum(1 for _ in (HERE / 'runs').iterdir())} run folders under {HERE / 'runs'}")
