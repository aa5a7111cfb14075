"""Regression and improvement flags: the newest night against the previous nights, noise-aware.

A series is flagged only when all of these hold (see ``RULE``):

1. the newest night's median differs from the pooled median of up to ``PREVIOUS_NIGHTS``
   previous complete nights by at least ``THRESHOLD``;
2. a two-sided Mann-Whitney U test of the newest samples against those pooled samples is
   significant at ``ALPHA`` after a Benjamini-Hochberg correction across every series tested on
   that machine's newest night;
3. the newest median lies outside the range of the previous nights' own medians (one noisy
   night in the baseline cannot make an ordinary night look unusual).

At least ``MIN_PREVIOUS`` previous nights are needed. Baselines only use nights on which the
runtime (implementation, version, image id) and the host set-up (cpus, kernel, Docker engine)
were the same as on the newest night; when fewer than ``MIN_PREVIOUS`` such nights exist, the
nights before the change are used and the flag is labelled ``after_change`` -- shown, but not
a plain regression (a version bump is not mistaken for one).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from harness.analyse.nights import Build, Cell, HostConfig, Night, SeriesKey
from harness.analyse.stats import ALPHA, benjamini_hochberg, mann_whitney

THRESHOLD = 0.10
"""Smallest relative change of medians worth a flag. The design notes saw +-20 % on single
CPU-bound runs while other load ran; medians over 5+ repetitions are much tighter, and 10 % is
still far above what a runtime's nightly builds legitimately move."""

PREVIOUS_NIGHTS = 7
"""K: how many previous complete nights are pooled as the baseline."""

MIN_PREVIOUS = 2
"""Fewer previous nights than this: "not enough history", never a flag."""

REGRESSION = "regression"
IMPROVEMENT = "improvement"
NOT_ENOUGH = "not enough history"
BELOW_THRESHOLD = "below threshold"
NOT_SIGNIFICANT = "not significant"
WITHIN_RANGE = "within previous range"


@dataclass(frozen=True)
class Comparison:
    """The newest night of one series against its baseline nights, with the verdict.

    A *flag* is a comparison whose verdict is ``regression`` or ``improvement``.
    """

    machine: str
    run_id: str
    key: SeriesKey
    verdict: str
    newest: float
    baseline: float | None = None
    change: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    baseline_nights: tuple[str, ...] = ()
    previous_range: tuple[float, float] | None = None
    after_change: str | None = None

    @property
    def flagged(self) -> bool:
        return self.verdict in (REGRESSION, IMPROVEMENT)

    @property
    def counts_as_regression(self) -> bool:
        """A plain regression: what ``--fail-on-regression`` fails on."""
        return self.verdict == REGRESSION and self.after_change is None


Flag = Comparison


@dataclass(frozen=True)
class Change:
    """A runtime or host change between two consecutive complete nights of one machine."""

    machine: str
    run_id: str
    previous_run_id: str
    runtime: str | None
    text: str


@dataclass(frozen=True)
class MachineAnalysis:
    """The newest complete night of one machine against its history."""

    machine: str
    newest: Night | None
    comparisons: tuple[Comparison, ...]
    changes: tuple[Change, ...]
    newly_failing: tuple[tuple[Cell, str], ...]


def analyse_machine(
    machine: str,
    nights: Sequence[Night],
    *,
    previous_nights: int = PREVIOUS_NIGHTS,
    threshold: float = THRESHOLD,
    alpha: float = ALPHA,
) -> MachineAnalysis:
    """Compare the newest complete night of ``nights`` (one machine, oldest first)."""
    complete = [night for night in nights if night.complete]
    if not complete:
        return MachineAnalysis(machine, None, (), (), ())
    newest, previous = complete[-1], complete[-2::-1]  # previous: newest first
    keys = sorted(newest.samples, key=_order)
    drafts = [_draft(machine, newest, previous, key, previous_nights) for key in keys]
    tested = [i for i, d in enumerate(drafts) if d.p_value is not None]
    adjusted = benjamini_hochberg([drafts[i].p_value or 1.0 for i in tested])
    comparisons = list(drafts)
    for i, p_adj in zip(tested, adjusted, strict=True):
        comparisons[i] = _judge(drafts[i], p_adj, threshold, alpha)
    window = [newest, *previous[:previous_nights]]
    changes = [c for new, old in pairwise(window) for c in changes_between(old, new)]
    failing = _newly_failing(newest, previous[0] if previous else None)
    return MachineAnalysis(machine, newest, tuple(comparisons), tuple(changes), failing)


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


def _draft(
    machine: str, newest: Night, previous: list[Night], key: SeriesKey, k: int
) -> Comparison:
    samples = newest.samples[key]
    median = newest.values[key]
    having = [night for night in previous if key in night.samples]
    same: list[Night] = []
    for night in having:
        if _environment(night, key.runtime) != _environment(newest, key.runtime):
            break
        same.append(night)
    after_change = None
    base = same[:k]
    if len(base) < MIN_PREVIOUS:
        base = having[:k]
        if len(same) < len(base):
            after_change = _describe_environment_change(having[len(same)], newest, key.runtime)
    if len(base) < MIN_PREVIOUS:
        return Comparison(
            machine,
            newest.run_id,
            key,
            NOT_ENOUGH,
            median,
            baseline_nights=tuple(n.run_id for n in base),
            after_change=after_change,
        )
    pooled = [value for night in base for value in night.samples[key]]
    medians = [night.values[key] for night in base]
    baseline = statistics.median(pooled)
    p_value, _ = mann_whitney(samples, pooled)
    return Comparison(
        machine,
        newest.run_id,
        key,
        "",
        median,
        baseline=baseline,
        change=median / baseline - 1.0,
        p_value=p_value,
        baseline_nights=tuple(night.run_id for night in base),
        previous_range=(min(medians), max(medians)),
        after_change=after_change,
    )


def _judge(draft: Comparison, p_adjusted: float, threshold: float, alpha: float) -> Comparison:
    assert draft.change is not None and draft.previous_range is not None
    low, high = draft.previous_range
    if abs(draft.change) < threshold:
        verdict = BELOW_THRESHOLD
    elif p_adjusted > alpha:
        verdict = NOT_SIGNIFICANT
    elif low <= draft.newest <= high:
        verdict = WITHIN_RANGE
    else:
        worse = draft.change < 0 if draft.key.is_speedup else draft.change > 0
        verdict = REGRESSION if worse else IMPROVEMENT
    return Comparison(
        draft.machine,
        draft.run_id,
        draft.key,
        verdict,
        draft.newest,
        baseline=draft.baseline,
        change=draft.change,
        p_value=draft.p_value,
        p_adjusted=p_adjusted,
        baseline_nights=draft.baseline_nights,
        previous_range=draft.previous_range,
        after_change=draft.after_change,
    )


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
