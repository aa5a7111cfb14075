"""Small formatting helpers shared by the report's sections: tables, anchors, cell texts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from harness.analyse import stats
from harness.analyse.run import Analysis, RuntimeInfo, Speedup
from harness.publish import markdown as f
from harness.publish.report import judge as v


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """A markdown table via pandas/tabulate; cells are pre-formatted strings."""
    frame = pd.DataFrame([[f.cell_text(x) for x in row] for row in rows], columns=list(headers))
    return frame.to_markdown(index=False, disable_numparse=True)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
    return f"#{slug}"


def or_default(value: object, default: str) -> object:
    return default if value is None else value


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def gil_label(info: RuntimeInfo) -> str:
    """The probed GIL state in words (no GIL notion on the JVM and .NET)."""
    if info.gil_enabled is None:
        label = {
            "jython": "no GIL (JVM)",
            "ironpython": "no GIL (.NET)",
            "pypy": "GIL (PyPy; not probeable)",
        }.get(info.implementation or "", "unknown")
    else:
        label = "GIL on" if info.gil_enabled else "GIL off (free-threaded)"
        if info.expected_gil is not None and info.expected_gil != info.gil_enabled:
            label += f" ⚠️ expected {'on' if info.expected_gil else 'off'}"
    return label


def cell_status(row: dict[str, Any] | None) -> str:
    if row is None:
        return f.DASH
    status = row["status"]
    if status == "unsupported":
        return f"{v.NA} n/a"
    if status == "failed":
        return f"{v.FAILED} failed"
    if status == "inconclusive":
        return f"{v.INCONCLUSIVE} {plural(int(row['n']), 'sample')}"
    return ""


def significance(c: stats.Comparison) -> str:
    """The repetition-level Mann-Whitney p (adjusted) and Cliff's delta: an indication only,
    the verdict stands on the interval over invocations."""
    p = "p_adj<0.001" if c.p_adjusted < 0.001 else f"p_adj={c.p_adjusted:.3f}"
    return f"{p}, δ={c.effect:+.2f}"


def ratio_ci(c: stats.Comparison) -> str:
    span = f.interval(c.ci_low, c.ci_high)
    return f"{f.times(c.ratio)} ({'no CI' if span == f.DASH else span})"


def ns_mark(c: stats.Comparison) -> str:
    """Nothing for a real difference; ``n.s.`` or ``untestable`` (too few samples) otherwise."""
    if c.significant:
        return ""
    return " n.s." if c.testable else " untestable"


def beyond_cores(a: Analysis, s: Speedup) -> str:
    return " (N > cores)" if a.cpus and s.workers > a.cpus and s.ceiling < s.workers else ""
