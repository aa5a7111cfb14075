"""Regression and improvement flags on night-level values: one value per night per series.

Every complete night gives each series ONE value (``Night.values``: the run report's
estimators over the invocations). The nights of a series are replayed oldest first, and each
night is judged against a *baseline*: up to ``PREVIOUS_NIGHTS`` earlier judged nights of the
same machine, before the candidate step, on the same runtime build and host set-up.

- **level** = median of the baseline nights' values; **spread** = standard deviation of their
  logs after clipping each at ``CLIP`` robust spreads (1.4826 x MAD) from the median, so one
  wild night cannot inflate it, and never below ``SPREAD_FLOOR`` (three identical nights do
  not make every wobble a flag). The MAD alone is too noisy a spread from <= 14 nights: in
  simulation it flagged 3-5x more noise than its nominal rate.
- **newest night alone** (large steps): flagged when its distance from the level exceeds the
  two-sided Student-t quantile at ``ALPHA_ONE`` (n - 1 degrees of freedom) times the spread of
  one night against a median of n nights, sqrt(1 + pi / 2n); it must also change by at least
  ``THRESHOLD`` and lie outside the baseline nights' range.
- **newest two nights together** (a step confirmed by a second night): both on the same side
  of the level, their mean beyond the t quantile at ``ALPHA_TWO`` times sqrt(1/2 + pi / 2n),
  at least ``THRESHOLD`` and outside the range. This baseline leaves out the ``GAP`` nights
  just before the pair: a step that began a night or two earlier, still unflagged, would
  otherwise sit in its own baseline.
- A flagged step stays listed (*standing*) while each new night stays out, judged against the
  baseline from before the step; it *recovers* on the first night that is back (inside the
  pre-step range on the good side, or within ``THRESHOLD`` of the pre-step level) and nearer
  the pre-step level than the step's own level (median of its nights). Nights of a step never
  enter a later baseline.

A baseline needs ``MIN_PREVIOUS`` nights. When the runtime build or host set-up changed and
fewer than that many nights of the new set-up exist, the older nights are used and a flag is
labelled ``after_change``: shown, not counted as a plain regression; once the new set-up has
``MIN_PREVIOUS`` nights of its own they are its baseline (the change is accepted).

Calibrated in ``tests/unit/analyse/test_flags_calibration.py`` (5 % log-normal night noise).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from itertools import pairwise

from scipy import stats as sps

from harness.analyse.nights import (
    UNREADABLE,
    Build,
    Cell,
    HostConfig,
    Night,
    NightHealth,
    SeriesKey,
    night_health,
    parse_time,
)

THRESHOLD = 0.05
"""Practical threshold: a change smaller than 5 % is never flagged, however steady the series."""

PREVIOUS_NIGHTS = 14
"""At most this many baseline nights (two weeks): enough for a spread, recent enough for a level."""

MIN_PREVIOUS = 3
"""Fewer baseline nights than this: "not enough history". The t quantiles keep few nights honest
(with 3 nights only a step of about +118 % at the spread floor is flagged)."""

ALPHA_ONE = 0.001
"""Two-sided false-flag rate of the newest-night-alone test on Gaussian night noise."""

ALPHA_TWO = 0.007
"""Two-sided false-flag rate of the two-night test; with ALPHA_ONE and the standing nights of
false flags, about 1 % of noise-only series-nights are listed (the calibration test)."""

SPREAD_FLOOR = 0.02
"""Smallest spread (log units, ~2 %): nightly values of a real machine never repeat closer."""

CLIP = 3.0
"""Baseline nights further than this many robust spreads from the level are clipped."""

MAD_SCALE = 1.4826
"""MAD x 1.4826 estimates a standard deviation under Gaussian noise."""

GAP = 2
"""Nights left out right before the two-night test's pair."""

OVERDUE_HOURS = 36.0
"""No night started within this many hours: the machine's newest night is missing."""

REGRESSION = "regression"
IMPROVEMENT = "improvement"
NOT_ENOUGH = "not enough history"
BELOW_THRESHOLD = "below threshold"
WITHIN_NOISE = "within noise"
WITHIN_RANGE = "within previous range"

NEW = "new"  # flagged on the judged night
STANDING = "standing"  # flagged on an earlier night, still out on the judged night
RECOVERED = "recovered"  # flagged until the previous night, back on the judged night

ONE_NIGHT = "one night"
TWO_NIGHTS = "two nights"


# --- the rule on plain numbers ----------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """The nights a candidate step is judged against (indices into the series, newest first).

    ``older`` is the newest baseline night of another runtime build or host set-up (used
    because the current set-up has fewer than ``MIN_PREVIOUS`` nights), else None.
    """

    nights: tuple[int, ...]
    level: float
    spread: float
    low: float
    high: float
    older: int | None = None

    def needed(self, nights: int, alpha: float) -> float:
        """The relative change ``nights`` nights (their mean, in logs) must exceed."""
        n = len(self.nights)
        scale = math.sqrt(1 / nights + math.pi / (2 * n))  # the median's variance is pi/2n
        return max(math.expm1(_t_quantile(alpha, n - 1) * self.spread * scale), THRESHOLD)


@dataclass(frozen=True)
class Step:
    """The outcome of one night of a series.

    ``verdict``: a direction (``regression``/``improvement``) for flags, else why not.
    ``state``: ``new``/``standing``/``recovered`` for flags. ``since``: the first night of
    the flagged step; ``rule``: which test raised it. ``change``: this night against the
    baseline level; ``needed``: the change the deciding test needed on this night.
    """

    verdict: str
    state: str | None = None
    baseline: Baseline | None = None
    change: float | None = None
    needed: float | None = None
    since: int | None = None
    rule: str | None = None


@dataclass
class _Open:
    baseline: Baseline
    up: bool  # the step went up (a regression for times, an improvement for speedups)
    since: int
    rule: str
    nights: list[int]


def judge_series(
    values: Sequence[float], environments: Sequence[Hashable], higher_is_worse: bool = True
) -> list[Step]:
    """Replay one series (values oldest first, each night's runtime build + host set-up):
    one ``Step`` per night."""
    return _Replay(values, environments, higher_is_worse).run()


class _Replay:
    def __init__(
        self, values: Sequence[float], environments: Sequence[Hashable], higher_is_worse: bool
    ) -> None:
        self.logs = [math.log(v) for v in values]
        self.envs = list(environments)
        self.worse_up = higher_is_worse
        self.usable: list[int] = []  # nights that may enter a baseline, oldest first
        self.open: _Open | None = None
        self.fresh: int | None = None  # the last night judged afresh without a flag

    def run(self) -> list[Step]:
        return [self._night(t) for t in range(len(self.logs))]

    def _night(self, t: int) -> Step:
        flag = self.open
        if flag is not None and self._still_open(flag, t):
            return self._follow(flag, t)
        self.open = None
        return self._fresh(t)

    def _still_open(self, flag: _Open, t: int) -> bool:
        if self.envs[t] != self.envs[flag.since]:  # a new set-up starts afresh
            return False
        if flag.baseline.older is not None:  # after a change: until the new set-up has nights
            return self._same_env(self.envs[t], self._before(t)) < MIN_PREVIOUS
        return True

    def _follow(self, flag: _Open, t: int) -> Step:
        x, b = self.logs[t], flag.baseline
        step_level = statistics.median(self.logs[i] for i in flag.nights)
        level = math.log(b.level)
        change = math.expm1(x - level)
        inside = x <= math.log(b.high) if flag.up else x >= math.log(b.low)
        back = inside or abs(change) < THRESHOLD
        direction = self._direction(flag.up)
        if back and abs(x - level) < abs(x - step_level):
            self.open = None
            self.usable.append(t)
            return Step(direction, RECOVERED, b, change, None, flag.since, flag.rule)
        flag.nights.append(t)
        if b.older is not None:
            self.usable.append(t)
        return Step(direction, STANDING, b, change, None, flag.since, flag.rule)

    def _fresh(self, t: int) -> Step:
        x = self.logs[t]
        b = self._baseline(t, self._before(t))
        if b is None:
            self.usable.append(t)
            return Step(NOT_ENOUGH)
        d = x - math.log(b.level)
        change, needed = math.expm1(d), b.needed(1, ALPHA_ONE)
        if abs(change) >= needed and not _inside(x, b):
            return self._raise(b, d > 0, [t], ONE_NIGHT, change, needed)
        pair = self._pair(t)
        if pair is not None:
            return pair
        self.usable.append(t)
        self.fresh = t
        if abs(change) < THRESHOLD:
            verdict = BELOW_THRESHOLD
        elif abs(change) < needed:
            verdict = WITHIN_NOISE
        else:
            verdict = WITHIN_RANGE
        return Step(verdict, None, b, change, needed)

    def _pair(self, t: int) -> Step | None:
        first = t - 1
        if self.fresh != first or self.envs[first] != self.envs[t]:
            return None
        b = self._baseline(first, self._before(first)[GAP:])
        if b is None:
            return None
        level = math.log(b.level)
        d1, d2 = self.logs[first] - level, self.logs[t] - level
        mean = (d1 + d2) / 2
        needed = b.needed(2, ALPHA_TWO)
        if d1 * d2 <= 0 or abs(math.expm1(mean)) < needed or _inside(level + mean, b):
            return None
        self.usable.remove(first)
        change = math.expm1(d2)
        return self._raise(b, mean > 0, [first, t], TWO_NIGHTS, change, needed)

    def _raise(
        self, b: Baseline, up: bool, nights: list[int], rule: str, change: float, needed: float
    ) -> Step:
        self.open = _Open(b, up, nights[0], rule, nights)
        if b.older is not None:  # after a change: these nights become the new baseline
            self.usable.extend(n for n in nights if n not in self.usable)
        return Step(self._direction(up), NEW, b, change, needed, nights[0], rule)

    def _direction(self, up: bool) -> str:
        return REGRESSION if up == self.worse_up else IMPROVEMENT

    def _before(self, t: int) -> list[int]:
        return [i for i in reversed(self.usable) if i < t]

    def _same_env(self, env: Hashable, candidates: Sequence[int]) -> int:
        count = 0
        for i in candidates:
            if self.envs[i] != env:
                break
            count += 1
        return count

    def _baseline(self, t: int, candidates: Sequence[int]) -> Baseline | None:
        same = self._same_env(self.envs[t], candidates)
        chosen = candidates[: min(same, PREVIOUS_NIGHTS)]
        older = None
        if same < MIN_PREVIOUS:
            chosen = candidates[:PREVIOUS_NIGHTS]
            older = candidates[same] if same < len(chosen) else None
        if len(chosen) < MIN_PREVIOUS:
            return None
        logs = [self.logs[i] for i in chosen]
        level = statistics.median(logs)
        robust = MAD_SCALE * statistics.median(abs(x - level) for x in logs)
        reach = CLIP * max(robust, SPREAD_FLOOR)
        clipped = [min(max(x, level - reach), level + reach) for x in logs]
        mean = math.fsum(clipped) / len(clipped)
        spread = math.sqrt(math.fsum((x - mean) ** 2 for x in clipped) / (len(clipped) - 1))
        return Baseline(
            tuple(chosen),
            math.exp(level),
            max(spread, SPREAD_FLOOR),
            math.exp(min(logs)),
            math.exp(max(logs)),
            older,
        )


def _inside(log_value: float, b: Baseline) -> bool:
    return math.log(b.low) <= log_value <= math.log(b.high)


@cache
def _t_quantile(alpha: float, dof: int) -> float:
    return float(sps.t.ppf(1 - alpha / 2, dof))


# --- nights of one machine --------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One series on a machine's judged night (its newest complete night).

    ``baseline``/``baseline_nights``/``previous_range``: the nights before the step (for a
    standing or recovered flag, those before its first night ``since``).
    """

    machine: str
    run_id: str
    key: SeriesKey
    verdict: str
    newest: float
    state: str | None = None
    since: str | None = None
    rule: str | None = None
    baseline: float | None = None
    change: float | None = None
    needed: float | None = None
    baseline_nights: tuple[str, ...] = ()
    previous_range: tuple[float, float] | None = None
    after_change: str | None = None

    @property
    def flagged(self) -> bool:
        """A regression or improvement listed on the judged night (new or standing)."""
        return self.verdict in (REGRESSION, IMPROVEMENT) and self.state in (NEW, STANDING)

    @property
    def counts_as_regression(self) -> bool:
        """A plain regression (not after a runtime or host change)."""
        return self.flagged and self.verdict == REGRESSION and self.after_change is None


Flag = Comparison


@dataclass(frozen=True)
class Change:
    """A runtime or host change between two consecutive complete nights of one machine."""

    machine: str
    run_id: str
    previous_run_id: str
    runtime: str | None
    text: str


MISSING = "missing"
INCOMPLETE = "incomplete"
FAILED = "failed"


@dataclass(frozen=True)
class Alert:
    """Something wrong with a machine's newest night: ``kind`` (missing, incomplete, failed)
    and one line of text saying what."""

    kind: str
    text: str


@dataclass(frozen=True)
class MachineAnalysis:
    """One machine: its newest night, the night judged (newest complete), and the verdicts.

    ``overdue_h``: hours from the newest night's start to ``now`` when over ``OVERDUE_HOURS``.
    ``health``: per run id, the judged night's and every flag's first night's health.
    """

    machine: str
    newest: Night | None
    judged: Night | None
    comparisons: tuple[Comparison, ...]
    changes: tuple[Change, ...]
    newly_failing: tuple[tuple[Cell, str], ...]
    overdue_h: float | None = None
    health: dict[str, NightHealth] = field(default_factory=dict)

    @property
    def current(self) -> bool:
        """The judged night is the newest night and not overdue: its flags are news."""
        judged, newest = self.judged, self.newest
        return (
            judged is not None
            and newest is not None
            and judged.run_id == newest.run_id
            and self.overdue_h is None
        )

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """Missing, incomplete or failed newest night (empty when all is well)."""
        out = []
        newest, judged = self.newest, self.judged
        if newest is not None and self.overdue_h is not None:
            out.append(Alert(MISSING, f"no night for {self.overdue_h:.0f} h (over "
                                      f"{OVERDUE_HOURS:.0f} h); the newest is {newest.run_id}"))
        if newest is not None and not newest.complete:
            kind = FAILED if newest.status in (FAILED, UNREADABLE) else INCOMPLETE
            out.append(Alert(kind, f"the newest night {newest.run_id} is {newest.status}"))
        judged_newest = judged is not None and newest is not None and judged.run_id == newest.run_id
        health = self.health.get(judged.run_id) if judged is not None else None
        if judged_newest and health is not None and health.failed:
            out.append(Alert(INCOMPLETE, f"{health.failed} cell(s) failed on the newest night "
                                         f"({health.timeouts} timed out)"))
        return tuple(out)

    @property
    def unjudged(self) -> int:
        """Series that could not be judged (not enough history)."""
        return sum(1 for c in self.comparisons if c.verdict == NOT_ENOUGH)

    @property
    def flags(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.flagged)

    @property
    def recovered(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.state == RECOVERED)

    @property
    def failing(self) -> tuple[Comparison, ...]:
        """Plain regressions that fail ``--fail-on-regression``: only on a current night."""
        return tuple(c for c in self.comparisons if c.counts_as_regression) if self.current else ()


def analyse_machine(machine: str, nights: Sequence[Night], now: datetime) -> MachineAnalysis:
    """Judge the newest complete night of ``nights`` (one machine, oldest first) at ``now``."""
    newest = nights[-1] if nights else None
    overdue = None
    started = parse_time(newest.started_at) if newest is not None else None
    if started is not None:
        hours = (now - started) / timedelta(hours=1)
        overdue = hours if hours > OVERDUE_HOURS else None
    complete = [night for night in nights if night.complete]
    if not complete:
        return MachineAnalysis(machine, newest, None, (), (), (), overdue)
    judged, previous = complete[-1], complete[-2::-1]  # previous: newest first
    comparisons = tuple(
        _compare(machine, complete, key) for key in sorted(judged.values, key=_order)
    )
    window = [judged, *previous[:PREVIOUS_NIGHTS]]
    changes = [c for new, old in pairwise(window) for c in changes_between(old, new)]
    failing = _newly_failing(judged, previous[0] if previous else None)
    index = {night.run_id: i for i, night in enumerate(complete)}
    runs = {judged.run_id} | {c.since for c in comparisons if c.flagged and c.since}
    health = {
        run: night_health(complete[index[run]], complete[: index[run]], PREVIOUS_NIGHTS)
        for run in sorted(runs)
    }
    return MachineAnalysis(
        machine, newest, judged, comparisons, tuple(changes), failing, overdue, health
    )


def _compare(machine: str, complete: Sequence[Night], key: SeriesKey) -> Comparison:
    having = [night for night in complete if key in night.values]
    steps = judge_series(
        [night.values[key] for night in having],
        [_environment(night, key.runtime) for night in having],
        higher_is_worse=not key.is_speedup,
    )
    judged, step = having[-1], steps[-1]
    b = step.baseline
    after_change = None
    if b is not None and b.older is not None:
        after_change = _describe_environment_change(having[b.older], judged, key.runtime)
    return Comparison(
        machine=machine,
        run_id=judged.run_id,
        key=key,
        verdict=step.verdict,
        newest=judged.values[key],
        state=step.state,
        since=having[step.since].run_id if step.since is not None else None,
        rule=step.rule,
        baseline=b.level if b else None,
        change=step.change,
        needed=step.needed,
        baseline_nights=tuple(having[i].run_id for i in b.nights) if b else (),
        previous_range=(b.low, b.high) if b else None,
        after_change=after_change,
    )


def changes_between(old: Night, new: Night) -> list[Change]:
    """Runtime builds and host set-up that differ from ``old`` to ``new``."""
    out = []
    host = _host_change(old.host, new.host)
    if host:
        out.append(Change(new.machine, new.run_id, old.run_id, None, host))
    for runtime in sorted(set(old.builds) & set(new.builds)):
        text = _build_change(old.builds[runtime], new.builds[runtime])
        if text:
            out.append(Change(new.machine, new.run_id, old.run_id, runtime, f"{runtime} {text}"))
    return out


def _order(key: SeriesKey) -> tuple[str, str, int, int, str, int]:
    return key.sort_key


def _environment(night: Night, runtime: str) -> tuple[Build | None, HostConfig]:
    return night.builds.get(runtime), night.host


def _describe_environment_change(old: Night, new: Night, runtime: str) -> str:
    parts = []
    old_build, new_build = old.builds.get(runtime), new.builds.get(runtime)
    if old_build and new_build:
        text = _build_change(old_build, new_build)
        if text:
            parts.append(f"runtime changed: {text}")
    host = _host_change(old.host, new.host)
    if host:
        parts.append(f"host changed: {host}")
    return "; ".join(parts) or "runtime changed"


def _build_change(old: Build, new: Build) -> str | None:
    if old == new:
        return None
    image = ""
    if old.image_id != new.image_id:
        image = f"image {_short(old.image_id)} -> {_short(new.image_id)}"
    if (old.implementation, old.python_version) == (new.implementation, new.python_version):
        return image or None
    if old.implementation == new.implementation:
        version = f"{old.python_version or 'unknown'} -> {new.python_version or 'unknown'}"
    else:
        version = f"{old.describe()} -> {new.describe()}"
    return f"{version} ({image})" if image else version


def _host_change(old: HostConfig, new: HostConfig) -> str | None:
    parts = [
        f"{name} {before} -> {after}"
        for name, before, after in (
            ("cpus", old.cpus, new.cpus),
            ("kernel", old.kernel, new.kernel),
            ("Docker engine", old.engine, new.engine),
        )
        if before != after
    ]
    return ", ".join(parts) or None


def _short(image_id: str | None) -> str:
    if not image_id:
        return "none"
    algo, _, digest = image_id.partition(":")
    return f"{algo}:{digest[:12]}" if digest else image_id[:19]


def _newly_failing(newest: Night, previous: Night | None) -> tuple[tuple[Cell, str], ...]:
    if previous is None:
        return ()
    return tuple(
        (cell, error)
        for cell, error in sorted(newest.failures.items())
        if cell in previous.ok_cells
    )
