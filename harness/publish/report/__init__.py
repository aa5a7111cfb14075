"""The run's markdown report (``report.md`` + PNGs in the run folder) and ``reports/latest.md``.

Everything comes from ``results.jsonl`` + ``meta.json``; same input, byte-identical output.
This module only assembles the sections; each lives in its own module and reads an ``Analysis``.
"""

from __future__ import annotations

from pathlib import Path

from harness.analyse.run import Analysis, analyse
from harness.publish import charts
from harness.publish.report.claims import at_a_glance, verdicts_section
from harness.publish.report.effects import convoy, warmup
from harness.publish.report.environment import environment, reproduce
from harness.publish.report.failures import failures
from harness.publish.report.headline import headline, how_to_read
from harness.publish.report.scaling import scaling
from harness.publish.report.speed import free_threading, serial
from harness.publish.report.summary import one_line_per_runtime
from harness.store import layout
from harness.store.layout import REPORT_FILE


def write_report(run_dir: Path, baseline: str | None = None) -> Path:
    """Write ``report.md`` and its PNG charts into ``run_dir``; returns the report's path.

    ``baseline`` defaults to meta.json's ``baseline``, else ``cpython-3.13``.
    """
    return write(analyse(Path(run_dir), baseline))


def write(a: Analysis) -> Path:
    """Write the report and charts of an existing analysis into its run folder."""
    images = charts.write_charts(a, a.run_dir)
    path = a.run_dir / REPORT_FILE
    layout.write_text_atomic(path, render(a, images))
    return path


def write_latest(run_dir: Path, reports_dir: Path) -> Path:
    """Write ``reports_dir/latest.md``: the run's report with its relative links pointing into
    the run folder (``runs/<run-id>/...``). Generates the report first if it is missing."""
    run_dir = Path(run_dir)
    source = run_dir / REPORT_FILE
    if not source.is_file():
        write_report(run_dir)
    return layout.write_latest(reports_dir, run_dir, source.read_text(encoding="utf-8"))


def render(a: Analysis, images: dict[str, str]) -> str:
    """The whole report as markdown."""
    parts = [
        headline(a),
        one_line_per_runtime(a),
        how_to_read(a),
        verdicts_section(a),
        at_a_glance(a),
        scaling(a, images),
        serial(a, images),
        free_threading(a),
        convoy(a),
        warmup(a, images),
        failures(a),
        environment(a),
        reproduce(a),
    ]
    text = "\n\n".join(p.strip("\n") for p in parts if p)
    return text + "\n"
