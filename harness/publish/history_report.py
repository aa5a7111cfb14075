"""``history.md``: flags first, then per machine the nights, the newest-night comparison and
the trend of every workload (table + chart). Pure text rendering, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.analyse.flags import (
    IMPROVEMENT,
    REGRESSION,
    Comparison,
    MachineAnalysis,
    changes_between,
)
from harness.analyse.nights import Night, SeriesKey, Store
from harness.publish.history_charts import labels_for

RULE = """\
A series is compared only on each machine's newest *complete* night, against the pooled
steady-state samples of up to {k} previous complete nights of the same machine (at least
{min_prev}; fewer is "not enough history"). It is flagged only when **all** of these hold:

1. the medians differ by at least {threshold:.0%} (single runs on a loaded machine move by up to
   +-20 %; medians over the repetitions are much tighter);
2. a two-sided Mann-Whitney U test of the newest samples against the pooled previous samples is
   significant at {alpha:g} after a Benjamini-Hochberg correction across every series tested on
   that machine's newest night;
3. the newest median is outside the range of the previous nights' own medians (a single noisy
   night in the baseline does not make an ordinary night look unusual).

Serial time: wall seconds of serial mode at its smallest worker count (higher is a regression).
Speedup: T_serial / T_parallel at the largest worker count that fits the run's cpus, one sample
per repetition (serial and parallel run of the same repetition index; lower is a regression).
Baselines only pool nights on which the runtime (implementation, version, image id) and the
host set-up (cpus, kernel, Docker engine) were those of the newest night. When fewer than
{min_prev} such nights exist the older nights are used and the flag is marked *after runtime
change* / *after host change*: shown, but not a plain regression, so it does not fail
`--fail-on-regression`. Interrupted, failed and unreadable nights never enter a baseline."""


@dataclass(frozen=True)
class Settings:
    suite: str | None
    previous_nights: int
    min_previous: int
    threshold: float
    alpha: float


def render(
    store: Store,
    analyses: Sequence[MachineAnalysis],
    charts: Mapping[tuple[str, str, int], str],
    settings: Settings,
) -> str:
    """The whole of history.md; ``charts`` maps (machine, workload, size) to a relative path."""
    out = ["# gilbench nightly history", "", _summary(store, settings), ""]
    sizes: dict[str, set[int]] = {}
    for night in store.nights:
        for key in night.samples:
            sizes.setdefault(key.workload, set()).add(key.size)
    sized = frozenset(w for w, s in sizes.items() if len(s) > 1)
    out += _flags_section(analyses, settings, sized)
    for analysis in analyses:
        out += _machine_section(
            store.of_machine(analysis.machine), analysis, charts, settings, sized
        )
    if store.unreadable:
        out += [
            "## Unreadable run folders",
            "",
            "Listed and skipped; every other night is read as usual.",
            "",
            "| folder | reason |",
            "|---|---|",
        ]
        out += [f"| `{u.run_id}` | {_cell(u.reason)} |" for u in store.unreadable]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _summary(store: Store, settings: Settings) -> str:
    statuses: dict[str, int] = {}
    for night in store.nights:
        statuses[night.status] = statuses.get(night.status, 0) + 1
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) or "none"
    suite = f"Suite `{settings.suite}`" if settings.suite else "All suites"
    machines = len(store.machines)
    text = (
        f"{suite}: {len(store.nights)} night{'s' * (len(store.nights) != 1)} from "
        f"{machines} machine{'s' * (machines != 1)} ({counts})"
    )
    if store.unreadable:
        text += f", plus {len(store.unreadable)} unreadable run folder(s)"
    return text + (
        ". Derived from the run folders under `runs/` alone; "
        "`python -m harness history` rebuilds it."
    )


def _flags_section(
    analyses: Sequence[MachineAnalysis], settings: Settings, sized: frozenset[str]
) -> list[str]:
    flags = [c for a in analyses for c in a.comparisons if c.flagged]
    plain = sum(1 for c in flags if c.counts_as_regression)
    changed = sum(1 for c in flags if c.verdict == REGRESSION and c.after_change)
    better = sum(1 for c in flags if c.verdict == IMPROVEMENT)
    out = ["## Flags", ""]
    if flags:
        out += [
            f"**{plain} regression{'s' * (plain != 1)}**, {changed} after a runtime or host "
            f"change, {better} improvement{'s' * (better != 1)}.",
            "",
            "| flag | machine | runtime | workload | metric | newest | previous nights "
            "| change | p (BH) | note |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in flags:
            out.append(
                f"| {_verdict(c)} | {_cell(c.machine)} | {c.key.runtime} "
                f"| {_workload(c.key, sized)} | {c.key.label} | {_value(c.key, c.newest)} "
                f"| {_baseline(c)} | {_change(c)} | {_p(c.p_adjusted)} "
                f"| {_cell(c.after_change or '')} |"
            )
    else:
        out.append("No regression or improvement flagged on any machine's newest night.")
    out.append("")
    failing = [(a.machine, cell, error) for a in analyses for cell, error in a.newly_failing]
    if failing:
        out += [
            "**Newly failing cells** (produced samples on the previous night, failed on the "
            "newest; not counted as regressions):",
            "",
        ]
        out += [
            f"- {_cell(m)}: {r} {w} {mode} x{n}: {_cell(e)}" for m, (r, w, mode, n), e in failing
        ]
        out.append("")
    changes = [c for a in analyses for c in a.changes]
    out += [
        "**Runtime and host changes** within the compared nights (a flag on a changed "
        "runtime is labelled, not counted):",
        "",
    ]
    out += [f"- {_cell(c.machine)}, `{c.run_id}`: {_cell(c.text)}" for c in changes] or ["- none"]
    k, m = settings.previous_nights, settings.min_previous
    out += [
        "",
        "<details><summary>What a flag means</summary>",
        "",
        RULE.format(k=k, min_prev=m, threshold=settings.threshold, alpha=settings.alpha),
        "",
        "</details>",
        "",
    ]
    return out


def _machine_section(
    nights: Sequence[Night],
    analysis: MachineAnalysis,
    charts: Mapping[tuple[str, str, int], str],
    settings: Settings,
    sized: frozenset[str],
) -> list[str]:
    out = [f"## {_cell(analysis.machine)}", ""]
    newest = analysis.newest
    if newest is None:
        out += ["No complete night yet.", ""]
    else:
        out += [f"Newest complete night: `{newest.run_id}`."]
        later = [n for n in nights if n.started_at > newest.started_at]
        if later:
            out[-1] += (
                " Newer, not compared: "
                + ", ".join(f"`{n.run_id}` ({n.status})" for n in later)
                + "."
            )
        out.append("")
    out += _nights_table(nights, newest)
    if analysis.comparisons:
        out += [
            "### Newest night against the previous nights",
            "",
            "| runtime | workload | metric | newest | previous nights | change | p (BH) "
            "| verdict |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in analysis.comparisons:
            verdict = _verdict(c) if c.flagged else c.verdict
            if c.after_change and not c.flagged:
                verdict += f" (after {_change_kind(c.after_change)} change)"
            out.append(
                f"| {c.key.runtime} | {_workload(c.key, sized)} | {c.key.label} "
                f"| {_value(c.key, c.newest)} | {_baseline(c)} | {_change(c)} "
                f"| {_p(c.p_adjusted)} | {verdict} |"
            )
        out.append("")
    out += _trends(nights, analysis, charts, settings)
    return out


def _nights_table(nights: Sequence[Night], newest: Night | None) -> list[str]:
    out = [
        "### Nights",
        "",
        "Newest first. Only complete nights enter baselines and trends.",
        "",
        "| night | status | started (UTC) | wall | runtimes | cells | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    previous: Night | None = None
    notes: dict[str, list[str]] = {}
    for night in nights:
        notes[night.run_id] = []
        if night.complete:
            if previous is not None:
                notes[night.run_id] += [c.text for c in changes_between(previous, night)]
            previous = night
    last = nights[-1].run_id if nights else None
    for night in reversed(nights):
        note = list(notes[night.run_id])
        if night.reason:
            note.insert(0, night.reason)
        if night.status == "running":
            note.insert(
                0,
                "never finished: killed, or the harness crashed"
                if night.run_id != last
                else "in progress, or died without finishing",
            )
        elif night.status == "interrupted":
            note.insert(0, f"`python -m harness compare --resume {night.run_id}` finishes it")
        if newest is not None and night.run_id == newest.run_id:
            note.insert(0, "compared below")
        runtimes = ", ".join(
            f"{r} {b.python_version or '?'}" if b.available else f"{r} unavailable"
            for r, b in night.builds.items()
        )
        missing = {r for r, b in night.builds.items() if not b.available}
        lost = sum(1 for cell in night.failures if cell[0] in missing)
        ok, failed = len(night.ok_cells), len(night.failures) - lost
        cells = f"{ok} ok" + (f", {failed} failed" if failed else "")
        cells += f", {lost} on unavailable runtimes" if lost else ""
        status = night.status if night.complete else f"**{night.status}**"
        out.append(
            f"| [{night.run_id}](runs/{night.run_id}/) | {status} "
            f"| {night.started_at[:16].replace('T', ' ')} | {_duration(night.wall_total_s)} "
            f"| {runtimes or '-'} | {cells} | {_cell('; '.join(note))} |"
        )
    out.append("")
    return out


def _trends(
    nights: Sequence[Night],
    analysis: MachineAnalysis,
    charts: Mapping[tuple[str, str, int], str],
    settings: Settings,
) -> list[str]:
    complete = [n for n in nights if n.complete]
    shown = complete[-(settings.previous_nights + 1) :]
    keys = sorted({k for n in complete for k in n.samples}, key=lambda k: k.sort_key)
    verdicts = {c.key: c for c in analysis.comparisons}
    out: list[str] = []
    for workload, size in sorted({(k.workload, k.size) for k in keys}):
        title = _workload_title(workload, size, keys)
        out += [f"### Trend: {title}", ""]
        chart = charts.get((analysis.machine, workload, size))
        if chart:
            out += [f"![{title} on {_cell(analysis.machine)}]({chart})", ""]
        older = len(complete) - len(shown)
        if older:
            out += [
                f"Medians of the last {len(shown)} complete nights ({older} older in the chart).",
                "",
            ]
        labels = labels_for(shown)
        out += [
            "| runtime | metric | " + " | ".join(labels) + " | newest |",
            "|---|---|" + "---|" * (len(shown) + 1),
        ]
        for key in (k for k in keys if (k.workload, k.size) == (workload, size)):
            values = []
            for night in shown:
                samples = night.samples.get(key)
                cell = (key.runtime, key.workload, key.metric, key.workers)
                if samples:
                    values.append(_value(key, _median(samples)))
                else:
                    values.append("failed" if cell in night.failures else "-")
            c = verdicts.get(key)
            if c is not None:
                verdict = _verdict(c) if c.flagged else c.verdict
            elif (
                analysis.newest
                and (key.runtime, key.workload, key.metric, key.workers) in analysis.newest.failures
            ):
                verdict = "failed"
            else:
                verdict = "not measured"
            out.append(f"| {key.runtime} | {key.label} | " + " | ".join(values) + f" | {verdict} |")
        out.append("")
    return out


def _verdict(c: Comparison) -> str:
    word = "REGRESSION" if c.verdict == REGRESSION else "improvement"
    if c.after_change:
        return f"**{word}** after {_change_kind(c.after_change)} change"
    return f"**{word}**"


def _change_kind(text: str) -> str:
    return "host" if text.startswith("host") else "runtime"


def _baseline(c: Comparison) -> str:
    n = len(c.baseline_nights)
    if c.baseline is None:
        return f"({n} night{'s' * (n != 1)})"
    return f"{_value(c.key, c.baseline)} ({n} night{'s' * (n != 1)})"


def _value(key: SeriesKey, value: float) -> str:
    if key.is_speedup:
        return f"{value:.2f}x"
    if value >= 100:
        return f"{value:.0f} s"
    if value >= 0.001:
        return f"{value:#.3g} s"
    return f"{np.format_float_positional(value, precision=3, fractional=False)} s"


def _change(c: Comparison) -> str:
    return "" if c.change is None else f"{c.change:+.1%}"


def _p(p: float | None) -> str:
    return "" if p is None else f"{p:.2g}"


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _workload(key: SeriesKey, sized: frozenset[str]) -> str:
    return f"{key.workload} (size {key.size})" if key.workload in sized else key.workload


def _workload_title(workload: str, size: int, keys: Sequence[SeriesKey]) -> str:
    sizes = {k.size for k in keys if k.workload == workload}
    return workload if len(sizes) == 1 else f"{workload} (size {size})"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
