"""Cells that cannot be judged: wrong checksums, lost repetitions, scatter, busy neighbours."""

from __future__ import annotations

import numpy as np

from harness.analyse.integrity import (
    cell_health,
    checksum_mismatches,
    disturbance,
    disturbed,
    instability,
    unit_checksum_mismatches,
)
from harness.analyse.stats import frame_from_records
from harness.store.results import Record


def _rec(mode: str, wall: float, *, workers: int = 2, inv: int = 0, rep: int = 0, ok: bool = True,
         checksum: str = "aa", error: str | None = None, others: float | None = 0.0,
         units: list[str] | None = None, repeat_of: int | None = None) -> Record:
    return Record(run_id="r", runtime="rt", workload="cpu", mode=mode, workers=workers, size=10,
                  rep=rep, warmup=False, ok=ok, wall_s=wall if ok else None, cpu_s=wall,
                  checksum=checksum if ok else None, error=error, invocation=inv,
                  others_cpu_s=others, unit_checksums=units, repeat_of=repeat_of)


def _steady(mode: str, walls: list[float], **kw) -> list[Record]:
    return [_rec(mode, w, rep=i, inv=i % 3, **kw) for i, w in enumerate(walls)]


def test_a_wrong_checksum_makes_the_parallel_cell_invalid_not_the_serial_one():
    df = frame_from_records(_steady("serial", [1.0] * 6) + _steady("threads", [0.5] * 5)
                            + [_rec("threads", 0.5, rep=9, checksum="bb")])
    found = checksum_mismatches(df)
    assert list(found) == [("rt", "cpu", "threads", 2)]
    assert "1 of 6 measurement(s) computed checksum bb" in found[("rt", "cpu", "threads", 2)]
    health = cell_health(df)
    assert health[("rt", "cpu", "serial", 2)].judgeable
    assert not health[("rt", "cpu", "threads", 2)].judgeable


def test_a_timed_out_repetition_is_counted_and_blocks_a_complete_verdict():
    df = frame_from_records(_steady("threads", [0.5] * 4)
                            + [_rec("threads", 0, ok=False, error="timeout: no result for 300 s")])
    health = cell_health(df)[("rt", "cpu", "threads", 2)]
    assert (health.ok, health.timed_out, health.failed) == (4, 1, 0)
    assert "4 of 5 ok, 1 timed out" in health.problems
    assert not health.judgeable


def test_scatter_and_disagreeing_invocations_are_unstable():
    assert instability({0: np.array([1.0, 1.01, 0.99]), 1: np.array([1.0, 1.02, 1.0])}) is None
    assert "spread" in instability({0: np.array([1.0, 1.6, 0.6, 1.2, 0.8])})
    drifted = {0: np.array([1.0, 1.001, 0.999]), 1: np.array([1.4, 1.401, 1.399])}
    assert "invocation medians differ by 40%" in instability(drifted)
    # the drift between processes this machine shows anyway is covered by the intervals
    assert instability({0: np.array([1.0, 1.001]), 1: np.array([1.2, 1.201])}) is None


def test_a_measurement_that_shared_its_cpus_is_disturbed_and_left_out():
    records = _steady("threads", [0.5] * 5) + [_rec("threads", 1.0, rep=7, others=0.9)]
    df = frame_from_records(records)
    assert disturbed(df).tolist() == [False] * 5 + [True]
    health = cell_health(df)[("rt", "cpu", "threads", 2)]
    assert health.disturbed == 1 and health.judgeable and health.unstable is None
    # jiffy-sized noise on a short measurement is not a disturbance
    assert not disturbed(frame_from_records([_rec("serial", 0.05, others=0.02)])).any()


def _units(mode: str, workers: int, *, wrong: dict[int, str] | None = None, n: int = 3,
           with_field: bool = True) -> list[Record]:
    """``n`` measurements of one cell over invocations; unit i computes ``u<i>`` unless wrong.
    The cell's checksum agrees within its worker count (a cell alone at its N cannot be told
    wrong by it)."""
    units = [(wrong or {}).get(i, f"u{i}") for i in range(workers)]
    return [_rec(mode, 0.5, workers=workers, rep=rep, inv=rep, checksum=f"n{workers}",
                 units=units if with_field else None) for rep in range(n)]


def test_a_wrong_unit_at_n4_invalidates_only_the_n4_cell():
    records = (_units("serial", 1) + _units("serial", 2) + _units("threads", 1)
               + _units("threads", 2) + _units("threads", 4, wrong={1: "bad"}))
    df = frame_from_records(records)
    assert checksum_mismatches(df) == {}  # the cell checksum cannot compare N=4 with N=2
    found = unit_checksum_mismatches(df)
    assert list(found) == [("rt", "cpu", "threads", 4)]
    assert found[("rt", "cpu", "threads", 4)] == (
        "wrong result: unit 1 computed checksum bad in 3 of 3 measurement(s); "
        "the same unit gave u1 in serial"
    )
    health = cell_health(df)
    assert not health[("rt", "cpu", "threads", 4)].judgeable
    assert health[("rt", "cpu", "threads", 4)].problems[0].startswith("wrong result: unit 1")
    assert all(h.judgeable for key, h in health.items() if key[3] != 4)


def test_without_serial_the_most_common_unit_checksum_is_the_reference():
    records = _units("threads", 2, n=4) + _units("threads", 4, wrong={0: "bad"}, n=2)
    found = unit_checksum_mismatches(frame_from_records(records))
    assert list(found) == [("rt", "cpu", "threads", 4)]
    assert found[("rt", "cpu", "threads", 4)].endswith("gave u0 in most measurements (no serial ran it)")


def test_records_without_unit_checksums_are_judged_as_before():
    records = (_units("serial", 2, with_field=False) + _units("threads", 2, with_field=False)
               + _units("threads", 4, wrong={1: "bad"}, with_field=False))
    df = frame_from_records(records)
    assert unit_checksum_mismatches(df) == {}
    assert all(h.judgeable for h in cell_health(df).values())


def test_disturbed_measurements_measured_again_are_counted_per_cell_and_run():
    # invocation 0: rep 1 disturbed, measured again as rep 2 (disturbed too), again as rep 3;
    # invocation 1: rep 1 disturbed and the runner's budget was spent: it stayed disturbed
    threads = [
        _rec("threads", 0.5, rep=0, inv=0), _rec("threads", 0.5, rep=1, inv=0, others=0.4),
        _rec("threads", 0.5, rep=2, inv=0, others=0.4, repeat_of=1),
        _rec("threads", 0.5, rep=3, inv=0, repeat_of=2),
        _rec("threads", 0.5, rep=0, inv=1), _rec("threads", 0.5, rep=1, inv=1, others=0.4),
        # a repetition in another invocation does not replace invocation 1's rep 1
        _rec("threads", 0.5, rep=4, inv=0, repeat_of=1),
    ]
    health = cell_health(frame_from_records(_steady("serial", [1.0] * 3) + threads))
    cell = health[("rt", "cpu", "threads", 2)]
    assert (cell.disturbed, cell.repeated, cell.stayed_disturbed) == (3, 2, 1)
    assert "3 measurement(s) disturbed by other processes (left out; 2 measured again)" in (
        cell.problems)
    run = disturbance(health)
    assert (run.measurements, run.disturbed, run.repeated, run.stayed_disturbed) == (10, 3, 2, 1)
