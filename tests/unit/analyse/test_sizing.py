"""A calibrating run measures serial cells at two sizes: every summary keeps them apart."""

from __future__ import annotations

from pathlib import Path

from harness.analyse.run import analyse
from harness.store.meta import RunMeta
from harness.store.results import Record, write_meta

RUN_ID = "20261201T000000Z-sizing"
SUITE_SIZE, SCALED_SIZE = 1000, 3000
# (mode, sizing, size): wall time of every repetition (cold and steady alike)
WALLS = {
    ("serial", "fixed", SUITE_SIZE): 1.0,
    ("serial", "calibrated", SCALED_SIZE): 3.0,
    ("threads", "calibrated", SCALED_SIZE): 1.5,
}


def _run(tmp_path: Path):
    run = tmp_path / RUN_ID
    run.mkdir()
    records = [
        Record(
            run_id=RUN_ID, runtime="cpython-3.13", workload="cpu", mode=mode, workers=2,
            size=size, rep=rep, warmup=rep == 0, ok=True, kind="cpu", invocation=invocation,
            sizing=sizing, wall_s=wall, cpu_s=wall * (2 if mode == "threads" else 1),
            implementation="cpython", python_version="3.13.5", gil_enabled=False,
            ts=1.0e9 + invocation * 100 + order * 10 + rep,
        )  # fmt: skip
        for invocation in range(3)
        for order, ((mode, sizing, size), wall) in enumerate(WALLS.items())
        for rep in range(4)
    ]
    (run / "results.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    meta = {
        "schema": 2, "run_id": RUN_ID, "status": "complete", "backend": "docker",
        "baseline": "cpython-3.13", "cpus": 2,
        "suite": {"name": "sizing", "workloads": {"cpu": {"size": SUITE_SIZE}}},
        "runtimes": {"cpython-3.13": {"family": "cpython", "available": True,
                                      "probe": {"implementation": "cpython"}}},
    }  # fmt: skip
    write_meta(run, RunMeta.from_dict(meta))
    return analyse(run)


def test_cell_summaries_never_mix_the_two_sizes(tmp_path):
    a = _run(tmp_path)
    assert a.cell("cpython-3.13", "cpu", "serial", 2)["median"] == 3.0  # the scaling reference
    assert a.fixed_cell("cpython-3.13", "cpu", "serial", 2)["median"] == 1.0  # cross-runtime
    assert a.speedups[("cpython-3.13", "cpu", "threads", 2)].comparison.ratio == 2.0
    # steady at each size: the spread between the two sizes is no instability
    assert a.health[("cpython-3.13", "cpu", "serial", 2)].unstable is None


def test_the_warm_up_ratio_compares_a_cold_run_with_steady_runs_of_the_same_size(tmp_path):
    a = _run(tmp_path)
    assert a.warmup_cells[("cpython-3.13", "cpu")] == ("serial", 2)
    assert a.warmup["cpython-3.13"].value == 1.0  # a mixed median (2.0) would give 0.5
    curve = a.warmup_curves[("cpython-3.13", "cpu")]
    assert set(curve.relative) == {1.0}
