"""harness.analyse.stats and harness.analyse.run against values computed independently in the test."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from harness.analyse import stats
from harness.store.results import Record
from harness.vocabulary import ceiling, find_twins, pick_workers

RUN = "20260101T000000Z-test"


def rec(rep: int, wall: float | None, **kw: object) -> Record:
    """A record of cell cpython/cpu/threads/2 unless overridden."""
    base: dict[str, object] = dict(
        run_id=RUN, runtime="rt", workload="cpu", mode="threads", workers=2, size=10,
        rep=rep, warmup=False, ok=True, wall_s=wall, cpu_s=None if wall is None else wall * 1.5,
        kind="cpu",
    )  # fmt: skip
    base.update(kw)
    return Record(**base)  # type: ignore[arg-type]


# --- frame and cells ---------------------------------------------------------------------------


def test_load_frame_one_row_per_record_with_flattened_extra(tmp_path):
    records = [rec(0, 1.0, warmup=True), rec(1, 2.0, extra={"latency_ms_p50": 0.5})]
    (tmp_path / "results.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    df = stats.load_frame(tmp_path)
    assert len(df) == 2
    assert list(df["rep"]) == [0, 1]
    assert math.isnan(df.loc[0, "extra.latency_ms_p50"])
    assert df.loc[1, "extra.latency_ms_p50"] == 0.5
    assert df.loc[1, "cpu_wall"] == pytest.approx(1.5)
    assert "extra" not in df.columns


def test_summarize_cells_matches_numpy_on_the_steady_samples():
    walls = [9.0, 1.0, 1.2, 0.9, 1.1, 1.3, 1.05]  # rep 0 is a cold warm-up
    records = [rec(i, w, warmup=(i == 0)) for i, w in enumerate(walls)]
    records.append(rec(7, None, ok=False, error="boom"))  # a failed rep does not count
    row = stats.summarize_cells(stats.frame_from_records(records)).iloc[0]
    steady = np.array(walls[1:])
    q1, med, q3 = np.percentile(steady, [25, 50, 75])
    assert row["status"] == "ok"
    assert (row["n"], row["n_warmup"], row["n_failed"]) == (6, 1, 1)
    assert row["median"] == pytest.approx(med)
    assert (row["q1"], row["q3"], row["iqr"]) == pytest.approx((q1, q3, q3 - q1))
    assert row["ci_low"] <= med <= row["ci_high"]
    assert row["cpu_wall"] == pytest.approx(1.5)
    assert row["cold"] == 9.0
    assert row["warmup_ratio"] == pytest.approx(9.0 / med)


def test_summarize_cells_statuses():
    records = [
        rec(0, 1.0, workload="a"), rec(1, 1.1, workload="a"),  # 2 samples
        rec(0, None, workload="b", ok=False, error="timeout after 300 s"),
        rec(0, None, workload="c", ok=False, unsupported=True, error="no asyncio"),
        rec(0, 1.0, workload="d"), rec(1, 1.0, workload="d"),
        rec(2, None, workload="d", ok=False, error="killed"),
    ]  # fmt: skip
    cells = stats.summarize_cells(stats.frame_from_records(records)).set_index("workload")
    assert cells.loc["a", "status"] == "inconclusive"
    assert cells.loc["a", "reason"] == "2 steady samples (need ≥3)"
    assert (cells.loc["b", "status"], cells.loc["b", "reason"]) == ("failed", "timeout after 300 s")
    assert (cells.loc["c", "status"], cells.loc["c", "reason"]) == ("unsupported", "no asyncio")
    assert cells.loc["d", "status"] == "inconclusive"
    assert cells.loc["d", "reason"] == "2 steady samples (need ≥3); 1 failed: killed"


# --- comparisons -------------------------------------------------------------------------------

A = [1.02, 0.98, 1.05, 1.00, 0.97, 1.01]
B = [0.53, 0.55, 0.51, 0.52, 0.56]


def cliffs_delta(a: list[float], b: list[float]) -> float:
    """P(a > b) - P(a < b) over all pairs, by brute force."""
    pairs = list(itertools.product(a, b))
    return (sum(x > y for x, y in pairs) - sum(x < y for x, y in pairs)) / len(pairs)


def test_compare_invocations_against_direct_computation():
    a = {0: A[:3], 1: A[3:]}
    b = {0: B[:3], 1: B[3:]}
    c = stats.compare_invocations(a, b, paired=True)
    logs = [math.log(np.median(a[i]) / np.median(b[i])) for i in (0, 1)]
    half = sps.t.ppf(0.975, 1) * np.std(logs, ddof=1) / math.sqrt(2)
    assert c.ratio == pytest.approx(math.exp(np.mean(logs)))
    assert (c.ci_low, c.ci_high) == (
        pytest.approx(math.exp(np.mean(logs) - half)), pytest.approx(math.exp(np.mean(logs) + half))
    )
    # the repetition-level test is kept for the detail tables only
    assert c.p_value == pytest.approx(sps.mannwhitneyu(A, B, alternative="two-sided").pvalue)
    assert c.effect == pytest.approx(cliffs_delta(A, B)) == 1.0
    assert (c.n_a, c.n_b, c.invocations, c.method) == (6, 5, 2, "t")
    assert c.testable and c.significant == (c.ci_low > 1 or c.ci_high < 1)


def test_overlapping_invocations_are_not_significant():
    a = {0: [1.00, 1.03, 0.98], 1: [1.01, 0.99, 1.02], 2: [0.97, 1.0, 1.01]}
    b = {0: [1.01, 0.97, 1.02], 1: [1.00, 0.99, 1.03], 2: [1.02, 0.98, 1.0]}
    c = stats.compare_invocations(a, b, paired=False)
    assert not c.significant and c.ci_low < 1 < c.ci_high


def test_one_invocation_is_never_testable_however_many_repetitions():
    c = stats.compare_invocations({0: [1.0] * 20 + [1.1]}, {0: [2.0] * 20 + [2.1]}, paired=True)
    assert (c.method, c.invocations) == ("range", 1) and not c.testable and not c.significant


def _comparison(p: float, method: str = "t") -> stats.Comparison:
    return stats.Comparison(1.0, 1.0, 1.0, p, 0.0, 5, 5, p, 3, method)


def test_benjamini_hochberg_by_hand():
    ps = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 -> p*m/rank = 0.02, 0.02, 0.04, 0.04 (already monotone)
    expected = {0.01: 0.02, 0.04: 0.04, 0.03: 0.04, 0.005: 0.02}
    untestable = _comparison(0.1, method="range")
    adjusted = stats.adjust_pvalues([*[_comparison(p) for p in ps], untestable])
    for c in adjusted[:4]:
        assert c.p_adjusted == pytest.approx(expected[c.p_value])
    assert adjusted[4] == untestable  # left out of the family, unchanged
    assert stats.benjamini_hochberg(ps) == pytest.approx([expected[p] for p in ps])


def test_geomean_over_rounds_by_hand():
    pairs = [({0: [2.0, 2.2], 1: [1.8, 1.9]}, {0: [1.0, 1.1], 1: [0.9, 1.0]}),
             ({0: [1.0, 1.0], 1: [1.1, 1.2]}, {0: [4.0, 4.2], 1: [3.9, 4.0]})]  # fmt: skip
    rounds = [
        math.exp(np.mean([math.log(np.median(a[i]) / np.median(b[i])) for a, b in pairs]))
        for i in (0, 1)
    ]
    e = stats.geomean_invocations(pairs)
    assert e.value == pytest.approx(math.sqrt(rounds[0] * rounds[1]))
    assert e.n == 2 and e.ci_low <= e.value <= e.ci_high


def test_median_estimate_of_constant_samples_has_a_point_interval():
    e = stats.median_estimate([2.0, 2.0, 2.0])
    assert (e.value, e.ci_low, e.ci_high, e.n) == (2.0, 2.0, 2.0, 3)
    assert math.isnan(stats.median_estimate([1.0]).ci_low)


# --- analysis helpers ---------------------------------------------------------------------------


def test_ceiling_is_cores_for_cpu_work_and_n_for_waiting():
    assert ceiling("cpu", 4, 2) == 2
    assert ceiling("cpu", 1, 2) == 1
    assert ceiling("io", 4, 2) == 4
    assert ceiling("cpu", 4, None) == 4


def test_verdict_n_is_the_largest_that_fits_the_cores():
    assert pick_workers("cpu", [1, 2, 4], 2) == 2
    assert pick_workers("io", [1, 2, 4], 2) == 4
    assert pick_workers("cpu", [4, 8], 2) == 4  # nothing fits: the smallest N >= 2
    assert pick_workers("cpu", [1], 2) is None


def test_twins_are_found_by_naming_convention():
    ids = ["cpython-3.13", "cpython-3.13t", "cpython-3.14t", "pypy-3.11", "jython-2.7"]
    assert find_twins(ids) == {"cpython-3.13t": "cpython-3.13"}
