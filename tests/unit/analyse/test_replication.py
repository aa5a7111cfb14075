"""Intervals on invocations: calibrated on simulated null cells, and able to find real effects.

The simulation follows what this machine does: every invocation (process) drifts by ~5%
(shared by the cells it measures), each cell of it by another ~3%, repetitions by ~2%.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.analyse.replication import (
    INCONCLUSIVE,
    NO,
    RANGE,
    T_INTERVAL,
    YES,
    judge,
    level,
    paired_ratio,
    unpaired_ratio,
)

THRESHOLD = 1.5  # a "scales" rule of thumb: at least 1.5x at 2 workers


def _cell_pair(rng, true_ratio: float, invocations: int = 3, reps: int = 3):
    """serial and parallel times by invocation; serial / parallel has ``true_ratio``."""
    serial, parallel = {}, {}
    for inv in range(invocations):
        drift = rng.normal(0, 0.05)
        serial[inv] = np.exp(drift + rng.normal(0, 0.03) + rng.normal(0, 0.02, reps))
        parallel[inv] = np.exp(drift + rng.normal(0, 0.03) + rng.normal(0, 0.02, reps)) / true_ratio
    return serial, parallel


def test_null_cells_get_a_false_verdict_at_most_5_percent_of_the_time():
    rng = np.random.default_rng(20261130)
    verdicts = [judge(paired_ratio(*_cell_pair(rng, THRESHOLD)), THRESHOLD) for _ in range(400)]
    false = sum(v != INCONCLUSIVE for v in verdicts) / len(verdicts)
    assert false <= 0.05, false


def test_a_true_effect_is_found():
    rng = np.random.default_rng(7)
    found = [judge(paired_ratio(*_cell_pair(rng, 2.0)), THRESHOLD) for _ in range(200)]
    assert found.count(YES) / len(found) >= 0.9
    absent = [judge(paired_ratio(*_cell_pair(rng, 1.0)), THRESHOLD) for _ in range(200)]
    assert absent.count(NO) / len(absent) >= 0.9


def test_unpaired_null_comparisons_stay_within_5_percent():
    rng = np.random.default_rng(3)
    false = 0
    for _ in range(400):
        a = {i: np.exp(rng.normal(0, 0.05) + rng.normal(0, 0.02, 3)) for i in range(3)}
        b = {i: np.exp(rng.normal(0, 0.05) + rng.normal(0, 0.02, 3)) for i in range(3)}
        interval = unpaired_ratio(a, b)
        false += interval.low > 1 or interval.high < 1
    assert false / 400 <= 0.05


def test_repetitions_of_one_process_are_not_independent_evidence():
    # 1 invocation x 50 repetitions: a range, never a verdict, however many repetitions
    rng = np.random.default_rng(1)
    serial, parallel = _cell_pair(rng, 2.0, invocations=1, reps=50)
    interval = paired_ratio(serial, parallel)
    assert interval.method == RANGE and not interval.is_confidence
    assert judge(interval, THRESHOLD) == INCONCLUSIVE


def test_level_is_the_geometric_mean_of_invocation_medians():
    interval = level({0: [1.0, 2.0, 3.0], 1: [4.0, 4.0, 4.0]})
    assert interval.value == pytest.approx(math.sqrt(2.0 * 4.0))
    assert interval.method == T_INTERVAL and interval.low < interval.value < interval.high
    assert level({0: [1.0, 3.0, 2.0]}) == level({0: [1.0, 3.0, 2.0]})
    assert (level({0: [1.0, 3.0, 2.0]}).low, level({0: [1.0, 3.0, 2.0]}).high) == (1.0, 3.0)


def test_only_invocations_that_measured_both_cells_pair_up():
    interval = paired_ratio({0: [2.0], 1: [2.0], 2: [9.0]}, {0: [1.0], 1: [1.0]})
    assert (interval.invocations, interval.value) == (2, pytest.approx(2.0))
