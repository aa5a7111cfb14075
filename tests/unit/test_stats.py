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


def test_compare_samples_against_direct_computation():
    c = stats.compare_samples(A, B)
    assert c.ratio == pytest.approx(np.median(A) / np.median(B))
    assert c.p_value == pytest.approx(sps.mannwhitneyu(A, B, alternative="two-sided").pvalue)
    assert c.effect == pytest.approx(cliffs_delta(A, B)) == 1.0
    assert c.p_adjusted == c.p_value and c.testable and c.significant
    assert (c.n_a, c.n_b) == (6, 5)


def test_compare_samples_interval_is_a_seeded_percentile_bootstrap():
    c = stats.compare_samples(A, B)
    direct = sps.bootstrap(
        (np.array(A), np.array(B)),
        lambda x, y, axis: np.median(x, axis=axis) / np.median(y, axis=axis),
        n_resamples=stats.N_RESAMPLES, method="percentile", vectorized=True, axis=-1,
        rng=np.random.default_rng(stats.SEED),
    )  # fmt: skip
    assert (c.ci_low, c.ci_high) == (direct.confidence_interval.low, direct.confidence_interval.high)
    # an independent numpy bootstrap (other stream) agrees to within Monte-Carlo error
    rng = np.random.default_rng(12345)
    ra = np.median(rng.choice(A, (20000, len(A))), axis=1)
    rb = np.median(rng.choice(B, (20000, len(B))), axis=1)
    low, high = np.percentile(ra / rb, [2.5, 97.5])
    assert c.ci_low == pytest.approx(low, rel=0.02)
    assert c.ci_high == pytest.approx(high, rel=0.02)
    assert stats.compare_samples(A, B) == c  # deterministic


def test_overlapping_samples_are_not_significant():
    a = [1.00, 1.03, 0.98, 1.01, 0.99]
    b = [1.01, 0.97, 1.02, 1.00, 0.99]
    c = stats.compare_samples(a, b)
    assert c.p_value == pytest.approx(sps.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    assert c.effect == pytest.approx(cliffs_delta(a, b))
    assert not c.significant
    assert c.ci_low < 1 < c.ci_high


def test_three_plus_three_samples_can_never_be_significant():
    exact = sps.mannwhitneyu([1, 2, 3], [4, 5, 6], alternative="two-sided", method="exact")
    assert stats.min_attainable_p(3, 3) == pytest.approx(exact.pvalue) == pytest.approx(0.1)
    assert stats.min_attainable_p(5, 5) == pytest.approx(2 / math.comb(10, 5))
    c = stats.compare_samples([1.0, 1.1, 1.2], [2.0, 2.1, 2.2])
    assert not c.testable and not c.significant
    assert stats.compare_samples([1.0, 1.1, 1.2, 1.3], [2.0, 2.1, 2.2, 2.3]).testable


def test_benjamini_hochberg_by_hand():
    ps = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 -> p*m/rank = 0.02, 0.02, 0.04, 0.04 (already monotone)
    expected = {0.01: 0.02, 0.04: 0.04, 0.03: 0.04, 0.005: 0.02}
    comps = [stats.Comparison(1.0, 1.0, 1.0, p, 0.0, 5, 5, p) for p in ps]
    untestable = stats.Comparison(1.0, 1.0, 1.0, 0.1, 0.0, 3, 3, 0.1)
    adjusted = stats.adjust_pvalues([*comps, untestable])
    for c in adjusted[:4]:
        assert c.p_adjusted == pytest.approx(expected[c.p_value])
    assert adjusted[4] == untestable  # left out of the family, unchanged
    assert [c.significant for c in adjusted] == [True, True, True, True, False]


def test_geomean_ratio_by_hand():
    pairs = [([2.0, 2.2, 1.8], [1.0, 1.1, 0.9]), ([1.0, 1.0, 1.1], [4.0, 4.2, 3.9]),
             ([3.0, 3.1, 2.9, 3.3], [1.5, 1.4, 1.6])]  # fmt: skip
    ratios = [np.median(a) / np.median(b) for a, b in pairs]
    expected = (ratios[0] * ratios[1] * ratios[2]) ** (1 / 3)
    e = stats.geomean_ratio(pairs)
    assert e.value == pytest.approx(expected)
    assert e.n == 3
    assert e.ci_low <= expected <= e.ci_high


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
