"""Cells that cannot be judged: wrong checksums, lost repetitions, scatter, busy neighbours."""

from __future__ import annotations

import numpy as np

from harness.analyse.integrity import cell_health, checksum_mismatches, disturbed, instability
from harness.analyse.stats import frame_from_records
from harness.store.results import Record


def _rec(mode: str, wall: float, *, workers: int = 2, inv: int = 0, rep: int = 0, ok: bool = True,
         checksum: str = "aa", error: str | None = None, others: float | None = 0.0) -> Record:
    return Record(run_id="r", runtime="rt", workload="cpu", mode=mode, workers=workers, size=10,
                  rep=rep, warmup=False, ok=ok, wall_s=wall if ok else None, cpu_s=wall,
                  checksum=checksum if ok else None, error=error, invocation=inv,
                  others_cpu_s=others)


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
