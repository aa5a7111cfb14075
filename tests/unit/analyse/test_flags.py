"""The nightly flag rule on hand-made series: one night, two nights, standing, recovered,
the spread floor, runtime changes, speedups."""

from __future__ import annotations

import pytest

from harness.analyse.flags import (
    BELOW_THRESHOLD,
    IMPROVEMENT,
    MIN_PREVIOUS,
    NEW,
    NOT_ENOUGH,
    ONE_NIGHT,
    RECOVERED,
    REGRESSION,
    STANDING,
    THRESHOLD,
    TWO_NIGHTS,
    WITHIN_NOISE,
    WITHIN_RANGE,
    Baseline,
    judge_series,
)

# ten ordinary nights: +-3 % around 1.0, deterministic
CALM = [1.00, 1.03, 0.97, 1.01, 0.99, 1.02, 0.98, 1.00, 1.03, 0.97]


def _states(values, envs=None, **kw):
    steps = judge_series(values, envs or [0] * len(values), **kw)
    return [(s.verdict, s.state) for s in steps], steps


def test_first_nights_are_not_enough_history():
    states, _ = _states(CALM[: MIN_PREVIOUS + 1])
    assert [v for v, _ in states[:MIN_PREVIOUS]] == [NOT_ENOUGH] * MIN_PREVIOUS
    assert states[MIN_PREVIOUS][0] != NOT_ENOUGH


def test_a_lasting_step_stays_listed_until_it_recovers():
    values = CALM + [1.31, 1.30, 1.33, 1.29] + [1.01, 0.99]
    states, steps = _states(values)
    assert states[10] == (REGRESSION, NEW) and steps[10].rule == ONE_NIGHT
    assert states[11:14] == [(REGRESSION, STANDING)] * 3
    assert all(s.since == 10 for s in steps[10:15])
    assert all(s.baseline.nights == steps[10].baseline.nights for s in steps[10:15])
    assert states[14] == (REGRESSION, RECOVERED)
    assert states[15][1] is None  # judged afresh, and the step's nights are not its baseline
    assert not set(steps[15].baseline.nights) & {10, 11, 12, 13}


def test_two_nights_confirm_a_step_one_night_cannot_carry():
    values = CALM + [1.08, 1.09]
    states, steps = _states(values)
    assert states[10][1] is None and states[10][0] in (WITHIN_NOISE, WITHIN_RANGE)
    assert abs(steps[10].change) < steps[10].needed  # one night alone: not enough
    assert states[11] == (REGRESSION, NEW)
    assert (steps[11].rule, steps[11].since) == (TWO_NIGHTS, 10)
    # the pair's baseline leaves out the two nights just before it
    assert steps[11].baseline.nights == tuple(range(7, -1, -1))
    # a pair on opposite sides of the level is never a step
    states, _ = _states(CALM + [1.09, 0.93])
    assert all(state is None for _, state in states)


def test_a_small_change_is_never_flagged_however_steady_the_series():
    steady = [1.0] * 12 + [1.0 + THRESHOLD * 0.9] * 2
    states, steps = _states(steady)
    assert all(state is None for _, state in states)
    assert states[12][0] == BELOW_THRESHOLD


def test_identical_nights_do_not_make_every_wobble_a_flag():
    states, steps = _states([1.0, 1.0, 1.0, 1.08])  # three identical nights: the floor holds
    assert states[3] == (WITHIN_NOISE, None)
    assert steps[3].baseline.spread > 0
    states, _ = _states([1.0] * 8 + [1.30])  # more nights: a real step still shows
    assert states[8] == (REGRESSION, NEW)


def test_a_night_like_one_seen_before_is_not_news():
    quiet = [1 + (v - 1) / 3 for v in CALM]  # +-1 %: the spread floor decides
    states, steps = _states(quiet[:5] + [1.16] + quiet[5:] + [1.14])
    assert abs(steps[-1].change) >= steps[-1].needed  # big enough, and not noise ...
    assert states[-1] == (WITHIN_RANGE, None)  # ... but one baseline night was even slower
    states, _ = _states(quiet + [1.14])
    assert states[-1] == (REGRESSION, NEW)


def test_speedups_regress_downwards():
    values = [2.0 * v for v in CALM] + [1.4]
    states, _ = _states(values, higher_is_worse=False)
    assert states[-1] == (REGRESSION, NEW)
    states, _ = _states([2.0 * v for v in CALM] + [2.8], higher_is_worse=False)
    assert states[-1] == (IMPROVEMENT, NEW)


def test_a_runtime_change_is_flagged_after_change_then_becomes_the_baseline():
    values = CALM + [1.3] * (MIN_PREVIOUS + 1)
    envs = ["old"] * len(CALM) + ["new"] * (MIN_PREVIOUS + 1)
    states, steps = _states(values, envs)
    assert states[10] == (REGRESSION, NEW) and steps[10].baseline.older == 9
    assert [s for _, s in states[11 : 10 + MIN_PREVIOUS]] == [STANDING] * (MIN_PREVIOUS - 1)
    last = steps[10 + MIN_PREVIOUS]  # the new build has MIN_PREVIOUS nights: its own baseline
    assert last.state is None and last.baseline.older is None
    assert last.baseline.level == pytest.approx(1.3)


def test_needed_change_shrinks_with_more_nights():
    _, few = _states(CALM[:4])
    _, many = _states(CALM + [1.0])
    assert few[-1].needed > many[-1].needed > THRESHOLD
    one = many[-1].baseline
    assert one.needed(2, 0.007) < one.needed(1, 0.007)
    steady = Baseline(nights=tuple(range(14)), level=0.0, spread=0.001, low=-0.001, high=0.001)
    assert steady.needed(1, 0.007) == THRESHOLD  # the practical threshold is the floor
    assert one.needed(1, 0.007) > THRESHOLD
