"""``history.md``: first the state of every machine (the night judged, a missing or incomplete
newest night, the flags with their night's health), then per machine the nights, the judged
night against the nights before it and the trend of every workload. Pure text, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np

from harness.analyse import flags as rule
from harness.analyse.flags import (
    NEW,
    RECOVERED,
    REGRESSION,
    Comparison,
    MachineAnalysis,
    changes_between,
)
from harness.analyse.nights import Night, NightHealth, SeriesKey, Store
from harness.publish.history_charts import labels_for
from harness.store.layout import REPORT_FILE, RUNS_DIR

RULE = """\
Each complete night gives every series **one value** (the run report's estimators over the
invocations: serial time, or speedup T_serial / T_parallel). A machine's newest complete night
is judged against a *baseline*: up to {window} earlier complete nights of that machine (at
least {min_prev}, otherwise "not enough history") on the same runtime build and host set-up,
leaving out nights of a flagged step. Level = their median; spread = the standard deviation of
their logs with nights beyond {clip:g} robust spreads (1.4826 x MAD) clipped, at least
{floor:.0%}. A series is flagged when

1. **the newest night alone** differs from the level by more than the two-sided Student-t
   quantile at {alpha_one:g} ({min_prev}-{window} nights: n - 1 degrees of freedom) times the
   spread of one night against a median, or
2. **the newest two nights together** lie on the same side and their mean differs by more
   than the t quantile at {alpha_two:g} times the spread of a two-night mean (its baseline
   leaves out the {gap} nights just before the pair, where an unflagged step may have begun),

and in both cases by at least **{threshold:.0%}** and outside the baseline nights' range. A
flag stays listed (*standing*) until a night is back (inside the pre-step range, or within
{threshold:.0%} of the old level) and nearer the old level than the step's; that night it is
listed once as *recovered*. On simulated series
with 5 % night-to-night noise this lists a noise-only series on about 0.5 % of nights; a 10 %
step is caught by its 2nd night about a quarter of the time and by its 4th about half of the
time (docs/nightly.md: why no rule can promise both at that noise).

Serial time: higher is a regression. Speedup: lower is a regression. When the runtime build or
host set-up changed and fewer than {min_prev} nights of the new one exist, older nights are the
baseline and a flag is marked *after runtime change* / *after host change*: shown, not counted
by `--fail-on-regression`. A machine whose newest night is missing (none for {overdue:.0f} h),
interrupted or failed has its flags shown as those of its older judged night, not raised
again. Interrupted, failed and unreadable nights never enter a baseline."""


def render(
    store: Store,
    analyses: Sequence[MachineAnalysis],
    charts: Mapping[tuple[str, str, int], str],
    suite: str | None,
    now: datetime,
) -> str:
    """The whole of history.md; ``charts`` maps (machine, workload, size) to a relative path."""
    out = ["# gilbench nightly history", "", _summary(store, suite), ""]
    sizes: dict[str, set[int]] = {}
    for night in store.nights:
        for key in night.values:
            sizes.setdefault(key.workload, set()).add(key.size)
    sized = frozenset(w for w, s in sizes.items() if len(s) > 1)
    out += _flags_section(analyses, sized, now)
    for analysis in analyses:
        out += _machine_section(store.of_machine(analysis.machine), analysis, charts, sized)
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


def _summary(store: Store, suite: str | None) -> str:
    statuses: dict[str, int] = {}
    for night in store.nights:
        statuses[night.status] = statuses.get(night.status, 0) + 1
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) or "none"
    label = f"Suite `{suite}`" if suite else "All suites"
    machines = len(store.machines)
    text = (
        f"{label}: {len(store.nights)} night{'s' * (len(store.nights) != 1)} from "
        f"{machines} machine{'s' * (machines != 1)} ({counts})"
    )
    if store.unreadable:
        text += f", plus {len(store.unreadable)} unreadable run folder(s)"
    return text + (
        ". Derived from the run folders under `runs/` alone; "
        "`python -m harness history` rebuilds it (and `history.json`)."
    )


def _flags_section(
    analyses: Sequence[MachineAnalysis], sized: frozenset[str], now: datetime
) -> list[str]:
    out = ["## Flags", ""]
    if not analyses:
        out += ["No nights yet: nothing judged.", ""]
    for analysis in analyses:
        out += _machine_flags(analysis, sized, now)
    failing = [(a.machine, cell, error) for a in analyses for cell, error in a.newly_failing]
    if failing:
        out += [
            "**Newly failing cells** (produced values on the night before, failed on the judged "
            "night; not counted as regressions):",
            "",
        ]
        out += [
            f"- {_cell(m)}: {r} {w} {mode} x{n}: {_cell(e)}" for m, (r, w, mode, n), e in failing
        ]
        out.append("")
    changes = [c for a in analyses for c in a.changes]
    out += [
        "**Runtime and host changes** within the baseline window (a flag on a changed runtime "
        "is labelled, not counted):",
        "",
    ]
    out += [f"- {_cell(c.machine)}, `{c.run_id}`: {_cell(c.text)}" for c in changes] or ["- none"]
    text = RULE.format(
        window=rule.PREVIOUS_NIGHTS,
        min_prev=rule.MIN_PREVIOUS,
        clip=rule.CLIP,
        floor=rule.SPREAD_FLOOR,
        alpha_one=rule.ALPHA_ONE,
        alpha_two=rule.ALPHA_TWO,
        gap=rule.GAP,
        threshold=rule.THRESHOLD,
        overdue=rule.OVERDUE_HOURS,
    )
    return out + ["", "<details><summary>What a flag means</summary>", "", text, "",
                  "</details>", ""]


def _machine_flags(analysis: MachineAnalysis, sized: frozenset[str], now: datetime) -> list[str]:
    judged = analysis.judged
    head = f"### {_cell(analysis.machine)}: "
    if judged is None:
        head += "no complete night yet, nothing judged."
    else:
        head += f"judged night {_report_link(judged.run_id)} ({_when(judged.started_at)})."
    out = [head, ""]
    for alert in analysis.alerts:
        built = f" (page built {_when(now.isoformat())})" if alert.kind == rule.MISSING else ""
        out.append(f"- **{alert.kind.upper()}**: {_cell(alert.text)}{built}.")
    if judged is not None:
        out += _health_line(analysis.health[judged.run_id])
    if analysis.alerts or judged is not None:
        out.append("")
    if judged is None:
        return out
    flagged, recovered = analysis.flags, analysis.recovered
    if flagged and not analysis.current:
        out += [
            f"The flags below are those of the older night `{judged.run_id}`: shown, "
            "**not raised again** (no exit status 3 for them).",
            "",
        ]
    judged_count = len(analysis.comparisons) - analysis.unjudged
    unjudged = (
        f"; **{analysis.unjudged} could not be judged** (not enough history: fewer than "
        f"{rule.MIN_PREVIOUS} earlier complete nights)"
        if analysis.unjudged
        else ""
    )
    if flagged:
        regressions = [c for c in flagged if c.verdict == REGRESSION]
        new = sum(1 for c in regressions if c.state == NEW)
        plain = sum(1 for c in regressions if c.counts_as_regression)
        better = len(flagged) - len(regressions)
        out += [
            f"**{len(regressions)} regression{'s' * (len(regressions) != 1)}** ({new} new, "
            f"{len(regressions) - new} standing; {plain} plain, {len(regressions) - plain} after "
            f"a runtime or host change), {better} improvement{'s' * (better != 1)}, on "
            f"{judged_count} series judged{unjudged}.",
            "",
            "| flag | runtime | workload | metric | judged night | before the step | change "
            "| needed | step began | its night's health | changed since the night before |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in flagged:
            health = analysis.health.get(c.since or c.run_id)
            out.append(
                f"| {_verdict(c)} | {c.key.runtime} | {_workload(c.key, sized)} "
                f"| {c.key.label} | {_value(c.key, c.newest)} | {_baseline(c)} | {_change(c)} "
                f"| {_needed(c)} | {_since(c)} | {_health(health)} "
                f"| {_changed(health, c)} |"
            )
    elif judged_count == 0:
        out.append(
            f"**Nothing could be judged**: all {analysis.unjudged} series need at least "
            f"{rule.MIN_PREVIOUS} earlier complete nights."
        )
    else:
        out.append(
            f"No regression or improvement flagged on the {judged_count} series judged{unjudged}."
        )
    if recovered:
        out += [
            "",
            "Recovered on this night: "
            + "; ".join(
                f"{c.key.runtime} {_workload(c.key, sized)} {c.key.label} ({c.verdict} since "
                f"`{c.since}`)"
                for c in recovered
            )
            + ".",
        ]
    return out + [""]


def _health_line(health: NightHealth) -> list[str]:
    return [f"- Judged night's health: {_health(health)}; changed since the night before: "
            f"{_changed(health, None)}."]


def _health(health: NightHealth | None) -> str:
    if health is None:
        return "-"
    parts = []
    if health.failed:
        parts.append(f"{health.failed} failed cell(s), {health.timeouts} timed out")
    if health.unavailable:
        parts.append(f"{health.unavailable} cell(s) on unavailable runtimes")
    if health.wall_outlier:
        parts.append(
            f"**wall {_duration(health.wall_s)} against a usual "
            f"{_duration(health.usual_wall_s)}**"
        )
    elif health.wall_s is not None:
        parts.append(f"wall {_duration(health.wall_s)} (usual {_duration(health.usual_wall_s)})")
    return "; ".join(parts) or "ok"


def _changed(health: NightHealth | None, c: Comparison | None) -> str:
    if health is None:
        return "-"
    parts = []
    if health.revision is not None:
        old, new = health.revision
        parts.append(f"harness {old or 'unknown'} -> {new or 'unknown'}")
    images = [r for r in health.images if c is None or r == c.key.runtime]
    if images:
        parts.append("image of " + ", ".join(images))
    if c is not None and c.after_change:
        parts.append(c.after_change)
    return _cell("; ".join(parts)) or "nothing"


def _machine_section(
    nights: Sequence[Night],
    analysis: MachineAnalysis,
    charts: Mapping[tuple[str, str, int], str],
    sized: frozenset[str],
) -> list[str]:
    out = [f"## {_cell(analysis.machine)}", ""]
    judged = analysis.judged
    out += _nights_table(nights, judged)
    if analysis.comparisons:
        out += [
            "### Judged night against the nights before the step",
            "",
            "| runtime | workload | metric | judged night | before the step | change | needed "
            "| verdict |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in analysis.comparisons:
            out.append(
                f"| {c.key.runtime} | {_workload(c.key, sized)} | {c.key.label} "
                f"| {_value(c.key, c.newest)} | {_baseline(c)} | {_change(c)} | {_needed(c)} "
                f"| {_verdict_cell(c)} |"
            )
        out.append("")
    out += _trends(nights, analysis, charts)
    return out


def _nights_table(nights: Sequence[Night], judged: Night | None) -> list[str]:
    out = [
        "### Nights",
        "",
        "Newest first. Only complete nights are judged and enter baselines and trends.",
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
        if judged is not None and night.run_id == judged.run_id:
            note.insert(0, "judged")
        runtimes = ", ".join(
            f"{r} {b.python_version or '?'}" if b.available else f"{r} unavailable"
            for r, b in night.builds.items()
        )
        lost = sum(1 for cell in night.failures if cell[0] in night.unavailable_runtimes)
        ok, failed = len(night.ok_cells), len(night.failures) - lost
        cells = f"{ok} ok" + (f", {failed} failed" if failed else "")
        cells += f", {lost} on unavailable runtimes" if lost else ""
        status = night.status if night.complete else f"**{night.status}**"
        out.append(
            f"| [{night.run_id}]({RUNS_DIR}/{night.run_id}/) | {status} "
            f"| {night.started_at[:16].replace('T', ' ')} | {_duration(night.wall_total_s)} "
            f"| {runtimes or '-'} | {cells} | {_cell('; '.join(note))} |"
        )
    out.append("")
    return out


def _trends(
    nights: Sequence[Night],
    analysis: MachineAnalysis,
    charts: Mapping[tuple[str, str, int], str],
) -> list[str]:
    complete = [n for n in nights if n.complete]
    shown = complete[-(rule.PREVIOUS_NIGHTS + 1) :]
    keys = sorted({k for n in complete for k in n.values}, key=lambda k: k.sort_key)
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
                f"Values of the last {len(shown)} complete nights ({older} older in the chart).",
                "",
            ]
        labels = [label.replace("\n", " ") for label in labels_for(shown)]
        out += [
            "| runtime | metric | " + " | ".join(labels) + " | judged |",
            "|---|---|" + "---|" * (len(shown) + 1),
        ]
        for key in (k for k in keys if (k.workload, k.size) == (workload, size)):
            cell = (key.runtime, key.workload, key.metric, key.workers)
            values = [
                _value(key, night.values[key])
                if key in night.values
                else ("failed" if cell in night.failures else "-")
                for night in shown
            ]
            c = verdicts.get(key)
            if c is not None:
                verdict = _verdict_cell(c)
            elif analysis.judged and cell in analysis.judged.failures:
                verdict = "failed"
            else:
                verdict = "not measured"
            out.append(f"| {key.runtime} | {key.label} | " + " | ".join(values) + f" | {verdict} |")
        out.append("")
    return out


def _verdict(c: Comparison) -> str:
    word = "REGRESSION" if c.verdict == REGRESSION else "improvement"
    text = f"**{word}** {c.state}"
    if c.after_change:
        text += f" after {_change_kind(c.after_change)} change"
    return text


def _verdict_cell(c: Comparison) -> str:
    if c.flagged:
        return f"{_verdict(c)}, since `{c.since}` ({c.rule})"
    if c.state == RECOVERED:
        return f"recovered ({c.verdict} since `{c.since}`)"
    if c.after_change:
        return f"{c.verdict} (after {_change_kind(c.after_change)} change)"
    return c.verdict


def _since(c: Comparison) -> str:
    since = c.since or c.run_id
    return f"{_report_link(since)} ({c.rule})"


def _report_link(run_id: str) -> str:
    return f"[{run_id}]({RUNS_DIR}/{run_id}/{REPORT_FILE})"


def _when(iso: str) -> str:
    return iso[:16].replace("T", " ") + " UTC"


def _change_kind(text: str) -> str:
    return "host" if text.startswith("host") else "runtime"


def _baseline(c: Comparison) -> str:
    n = len(c.baseline_nights)
    if c.baseline is None:
        return "-"
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


def _needed(c: Comparison) -> str:
    if c.needed is None:
        return ""
    two = c.state == NEW and c.rule == rule.TWO_NIGHTS
    return f"±{c.needed:.1%}" + (" (2-night mean)" if two else "")


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
