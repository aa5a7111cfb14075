"""Nightly history: every run folder of a suite is one night; ``write_history`` renders
``reports/history.md`` + ``reports/history/*.png`` + ``reports/history.json`` from them and
returns what was flagged.

``python -m harness history [--suite nightly] [--fail-on-regression] [--no-charts] [--now T]``.

Exit status: 0, or ``EXIT_REGRESSION`` (3) when ``--fail-on-regression`` is given and a plain
regression (new or standing; not after a runtime or host change) is listed on a machine whose
judged night is current (its newest night, not overdue): a flag of an older night is shown,
never raised again. Nothing here writes into run folders; every output is written atomically.
"""

from __future__ import annotations

import hashlib
import re
import statistics
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from harness.analyse.flags import (
    IMPROVEMENT,
    REGRESSION,
    Change,
    Flag,
    MachineAnalysis,
    analyse_machine,
    changes_between,
)
from harness.analyse.nights import Night, Store, load_store
from harness.errors import EXIT_OK, EXIT_REGRESSION
from harness.publish.exports import write_history_json
from harness.publish.history_charts import PALETTE, write_chart
from harness.publish.history_report import render
from harness.store.layout import (
    HISTORY_CHART_DIR,
    HISTORY_FILE,
    runs_dir,
    utc_now,
    write_text_atomic,
)

HISTORY_JSON = "history.json"

__all__ = ["Flag", "HistoryResult", "exit_code", "summary_line", "write_history"]


@dataclass(frozen=True)
class HistoryResult:
    """What ``write_history`` found and wrote.

    ``nights`` counts every readable night of the suite (whatever its status), ``complete``
    those that finished. ``regressions``/``improvements``: the flags listed (new or standing)
    on every machine's judged night, after a runtime/host change included (``after_change``
    says which); ``failing``: the plain regressions on current nights (what fails
    ``--fail-on-regression``); ``stale``: flags of machines whose newest night is missing or
    incomplete (shown, not raised again); ``unjudged``: series without enough history.
    """

    path: Path
    json_path: Path
    nights: int
    complete: int
    machines: int
    unreadable: int
    regressions: tuple[Flag, ...]
    improvements: tuple[Flag, ...]
    failing: tuple[Flag, ...]
    stale: tuple[Flag, ...]
    unjudged: int
    alerts: tuple[str, ...]
    charts: tuple[Path, ...]


def write_history(
    reports_dir: Path,
    *,
    suite: str | None = "nightly",
    charts: bool = True,
    now: datetime | None = None,
) -> HistoryResult:
    """Read ``reports_dir/runs/*/``, write ``history.md``, ``history.json`` and
    ``history/*.png`` there.

    ``suite`` selects the nights by meta ``suite.name`` (None: every run). ``now`` (default:
    the current time) decides whether a machine's newest night is overdue. ``charts=False``
    skips the PNGs (the markdown then has no chart links); tests use it for speed.
    """
    reports_dir = Path(reports_dir)
    now = now or utc_now()
    store = load_store(runs_dir(reports_dir), suite)
    analyses = [analyse_machine(m, store.of_machine(m), now) for m in store.machines]
    pngs = _write_charts(store, analyses, reports_dir / HISTORY_CHART_DIR) if charts else {}
    relative = {key: f"{HISTORY_CHART_DIR}/{path.name}" for key, path in pngs.items()}
    path = reports_dir / HISTORY_FILE
    write_text_atomic(path, render(store, analyses, relative, suite, now))
    json_path = write_history_json(
        reports_dir / HISTORY_JSON,
        _series(store),
        [_flag(a, c) for a in analyses for c in a.comparisons if c.state],
        [_machine(a) for a in analyses],
    )
    listed = [c for a in analyses for c in a.flags]
    return HistoryResult(
        path=path,
        json_path=json_path,
        nights=len(store.nights),
        complete=sum(1 for n in store.nights if n.complete),
        machines=len(store.machines),
        unreadable=len(store.unreadable),
        regressions=tuple(c for c in listed if c.verdict == REGRESSION),
        improvements=tuple(c for c in listed if c.verdict == IMPROVEMENT),
        failing=tuple(c for a in analyses for c in a.failing),
        stale=tuple(c for a in analyses if not a.current for c in a.flags),
        unjudged=sum(a.unjudged for a in analyses),
        alerts=tuple(f"{a.machine}: {x.kind}: {x.text}" for a in analyses for x in a.alerts),
        charts=tuple(sorted(pngs.values())),
    )


def exit_code(result: HistoryResult, fail_on_regression: bool) -> int:
    """``EXIT_REGRESSION`` when asked to fail and a plain regression is listed on a current
    night, else 0."""
    return EXIT_REGRESSION if fail_on_regression and result.failing else EXIT_OK


def summary_line(result: HistoryResult) -> str:
    """One line for the terminal / scheduler log."""
    plain = len(result.failing)
    changed = sum(1 for f in result.regressions if f.after_change)
    text = (
        f"{result.path}: {result.nights} nights ({result.complete} complete) on "
        f"{result.machines} machine(s); {plain} regression(s), {changed} after a change, "
        f"{len(result.improvements)} improvement(s), {len(result.stale)} from an older night "
        f"(not raised again), {result.unjudged} series not judged (not enough history), "
        f"{result.unreadable} unreadable folder(s)"
    )
    return text + "".join(f"; {alert}" for alert in result.alerts)


def _series(store: Store) -> list[dict[str, Any]]:
    out = []
    for machine in store.machines:
        complete = [n for n in store.of_machine(machine) if n.complete]
        keys = sorted({k for n in complete for k in n.values}, key=lambda k: k.sort_key)
        for key in keys:
            points = []
            for night in complete:
                if key not in night.values:
                    continue
                samples = night.samples.get(key, ())
                point: dict[str, Any] = {
                    "run_id": night.run_id,
                    "started_at": night.started_at,
                    "value": night.values[key],
                    "n": len(samples),
                }
                if len(samples) >= 2:
                    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
                    point.update(q1=q1, q3=q3)
                points.append(point)
            out.append({"machine": machine, **_key(key), "points": points})
    return out


def _key(key: Any) -> dict[str, Any]:
    return {
        "runtime": key.runtime,
        "workload": key.workload,
        "size": key.size,
        "metric": key.metric,
        "workers": key.workers,
    }


def _flag(analysis: MachineAnalysis, c: Flag) -> dict[str, Any]:
    return {
        "machine": analysis.machine,
        "run_id": c.run_id,
        **_key(c.key),
        "verdict": c.verdict,
        "state": c.state,
        "since": c.since,
        "rule": c.rule,
        "newest": c.newest,
        "baseline": c.baseline,
        "change": c.change,
        "needed": c.needed,
        "after_change": c.after_change,
    }


def _machine(analysis: MachineAnalysis) -> dict[str, Any]:
    newest, judged = analysis.newest, analysis.judged
    return {
        "machine": analysis.machine,
        "newest": newest.run_id if newest else None,
        "newest_status": newest.status if newest else None,
        "judged": judged.run_id if judged else None,
        "current": analysis.current,
        "alerts": [f"{x.kind}: {x.text}" for x in analysis.alerts],
        "judged_series": len(analysis.comparisons) - analysis.unjudged,
        "unjudged_series": analysis.unjudged,
    }


def _write_charts(
    store: Store, analyses: list[MachineAnalysis], chart_dir: Path
) -> dict[tuple[str, str, int], Path]:
    chart_dir.mkdir(parents=True, exist_ok=True)
    runtimes = sorted({r for n in store.nights for r in n.builds})
    colours = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(runtimes)}
    slugs = _machine_slugs(store.machines)
    written: dict[tuple[str, str, int], Path] = {}
    for analysis in analyses:
        nights = store.of_machine(analysis.machine)
        keys = sorted(
            {k for n in nights if n.complete for k in n.values}, key=lambda k: k.sort_key
        )
        comparisons = {c.key: c for c in analysis.comparisons}
        changes = _all_changes(nights)
        groups = sorted({(k.workload, k.size) for k in keys})
        for workload, size in groups:
            sized = len({s for w, s in groups if w == workload}) > 1
            name = f"{slugs[analysis.machine]}-{_slug(workload)}{f'-{size}' if sized else ''}.png"
            path = chart_dir / name
            title = f"{workload} on {analysis.machine}" + (f", size {size}" if sized else "")
            group_keys = [k for k in keys if (k.workload, k.size) == (workload, size)]
            write_chart(path, title, nights, group_keys, colours, comparisons, changes)
            written[(analysis.machine, workload, size)] = path
    for stale in sorted(chart_dir.glob("*.png")):
        if stale not in written.values():
            stale.unlink()
    return written


def _all_changes(nights: tuple[Night, ...]) -> list[Change]:
    complete = [n for n in nights if n.complete]
    return [c for old, new in pairwise(complete) for c in changes_between(old, new)]


def _machine_slugs(machines: tuple[str, ...]) -> dict[str, str]:
    base = {m: _slug(m.split(" (")[0]) for m in machines}
    counts: dict[str, int] = {}
    for slug in base.values():
        counts[slug] = counts.get(slug, 0) + 1
    return {
        m: slug if counts[slug] == 1 else f"{slug}-{hashlib.sha1(m.encode()).hexdigest()[:6]}"
        for m, slug in base.items()
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "machine"
