"""Nightly history: every run folder of a suite is one night; ``write_history`` renders
``reports/history.md`` + ``reports/history/*.png`` from them and returns the flags.

``python -m harness history [--suite nightly] [--fail-on-regression] [--no-charts]``.

Exit status: 0, or ``EXIT_REGRESSION`` (3) when ``--fail-on-regression`` is given and a plain
regression is flagged (flags after a runtime or host change do not count). Nothing here writes
into run folders; the report and charts are written atomically (temp file + rename).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from harness.analyse.flags import (
    ALPHA,
    IMPROVEMENT,
    MIN_PREVIOUS,
    PREVIOUS_NIGHTS,
    REGRESSION,
    THRESHOLD,
    Change,
    Flag,
    MachineAnalysis,
    analyse_machine,
    changes_between,
)
from harness.analyse.nights import Night, Store, load_store
from harness.errors import EXIT_OK, EXIT_REGRESSION
from harness.publish.history_charts import PALETTE, write_chart
from harness.publish.history_report import Settings, render
from harness.store.layout import HISTORY_CHART_DIR, HISTORY_FILE, runs_dir, write_text_atomic

__all__ = ["Flag", "HistoryResult", "exit_code", "summary_line", "write_history"]


@dataclass(frozen=True)
class HistoryResult:
    """What ``write_history`` found and wrote.

    ``nights`` counts every readable night of the suite (whatever its status), ``complete``
    those that finished. ``regressions`` include flags after a runtime/host change (their
    ``after_change`` says which); ``failing`` holds only the plain ones.
    """

    path: Path
    nights: int
    complete: int
    machines: int
    unreadable: int
    regressions: tuple[Flag, ...]
    improvements: tuple[Flag, ...]
    charts: tuple[Path, ...]

    @property
    def failing(self) -> tuple[Flag, ...]:
        return tuple(flag for flag in self.regressions if flag.counts_as_regression)


def write_history(
    reports_dir: Path,
    *,
    suite: str | None = "nightly",
    previous_nights: int = PREVIOUS_NIGHTS,
    threshold: float = THRESHOLD,
    alpha: float = ALPHA,
    charts: bool = True,
) -> HistoryResult:
    """Read ``reports_dir/runs/*/``, write ``history.md`` and ``history/*.png`` there.

    ``suite`` selects the nights by meta ``suite.name`` (None: every run). ``charts=False``
    skips the PNGs (the markdown then has no chart links); tests use it for speed.
    """
    reports_dir = Path(reports_dir)
    store = load_store(runs_dir(reports_dir), suite)
    analyses = [
        analyse_machine(
            m,
            store.of_machine(m),
            previous_nights=previous_nights,
            threshold=threshold,
            alpha=alpha,
        )
        for m in store.machines
    ]
    pngs = _write_charts(store, analyses, reports_dir / HISTORY_CHART_DIR) if charts else {}
    settings = Settings(suite, previous_nights, MIN_PREVIOUS, threshold, alpha)
    relative = {key: f"{HISTORY_CHART_DIR}/{path.name}" for key, path in pngs.items()}
    text = render(store, analyses, relative, settings)
    path = reports_dir / HISTORY_FILE
    write_text_atomic(path, text)
    flags = [c for a in analyses for c in a.comparisons]
    return HistoryResult(
        path=path,
        nights=len(store.nights),
        complete=sum(1 for n in store.nights if n.complete),
        machines=len(store.machines),
        unreadable=len(store.unreadable),
        regressions=tuple(c for c in flags if c.verdict == REGRESSION),
        improvements=tuple(c for c in flags if c.verdict == IMPROVEMENT),
        charts=tuple(sorted(pngs.values())),
    )


def exit_code(result: HistoryResult, fail_on_regression: bool) -> int:
    """``EXIT_REGRESSION`` when asked to fail and a plain regression is flagged, else 0."""
    return EXIT_REGRESSION if fail_on_regression and result.failing else EXIT_OK


def summary_line(result: HistoryResult) -> str:
    """One line for the terminal / scheduler log."""
    plain, changed = len(result.failing), len(result.regressions) - len(result.failing)
    return (
        f"{result.path}: {result.nights} nights ({result.complete} complete) on "
        f"{result.machines} machine(s); {plain} regression(s), {changed} after a change, "
        f"{len(result.improvements)} improvement(s), {result.unreadable} unreadable folder(s)"
    )


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
            {k for n in nights if n.complete for k in n.samples}, key=lambda k: k.sort_key
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


