"""One night's series: what enters a night's value and its samples."""

from __future__ import annotations

from harness.analyse.nights import CALIBRATED, SeriesKey, night_series
from harness.store.results import Record


def _record(mode: str, workers: int, invocation: int, rep: int, wall: float, **extra) -> Record:
    fields = dict(
        run_id="20261201T000000Z-nightly", runtime="cpython-3.13", workload="cpu", mode=mode,
        workers=workers, size=1000, rep=rep, warmup=False, ok=True, kind="cpu",
        invocation=invocation, wall_s=wall, cpu_s=wall,
    )  # fmt: skip
    return Record(**{**fields, **extra})


def _cell(mode: str, workers: int, walls: dict[int, list[float]], **extra) -> list[Record]:
    return [
        _record(mode, workers, invocation, rep, wall, **extra)
        for invocation, values in walls.items()
        for rep, wall in enumerate(values)
    ]


SERIAL = SeriesKey("cpython-3.13", "cpu", 1000, "serial", 2)
THREADS = SeriesKey("cpython-3.13", "cpu", 1000, "threads", 2)


def test_a_disturbed_measurement_does_not_enter_the_nights_value():
    clean = _cell("serial", 2, {0: [1.0], 1: [1.0]}, others_cpu_s=0.0)
    disturbed = _record("serial", 2, 0, 1, 2.0, others_cpu_s=1.0)  # another process: 1 s of 2
    night = night_series([*clean, disturbed], cpus=2)
    assert night.values[SERIAL] == 1.0
    assert 2.0 not in night.samples[SERIAL]


def test_a_calibrated_size_gives_speedups_but_no_serial_time():
    walls = {0: [1.0, 1.0], 1: [1.2, 1.2]}
    records = _cell("serial", 2, walls, sizing="calibrated") + _cell(
        "threads", 2, {0: [0.5, 0.5], 1: [0.6, 0.6]}, sizing="calibrated"
    )
    night = night_series(records, cpus=2)
    calibrated = SeriesKey("cpython-3.13", "cpu", CALIBRATED, "threads", 2)
    assert set(night.values) == {calibrated}
    assert abs(night.values[calibrated] - 2.0) < 1e-9


def test_samples_pair_serial_and_parallel_of_the_same_invocation_only():
    records = _cell("serial", 2, {0: [1.0, 1.0]}) + _cell(
        "threads", 2, {0: [0.5, 0.5], 1: [0.5, 0.5]}
    )
    night = night_series(records, cpus=2)
    assert night.samples[THREADS] == (2.0, 2.0)  # invocation 1 has no serial to pair with
