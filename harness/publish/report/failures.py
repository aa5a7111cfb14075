"""What did not run: unavailable runtimes, n/a modes, failures with stderr, inconclusive cells."""

from __future__ import annotations

import pandas as pd

from harness.analyse.run import Analysis
from harness.publish.report.cells import table

FAILURES_HEADING = "Failed, unsupported and unavailable cells"


def failures(a: Analysis) -> str:
    parts = [f"## {FAILURES_HEADING}"]
    unavailable = [r for r in a.runtimes if not r.available]
    parts.append("### Unavailable runtimes")
    parts.append(
        "\n".join(f"- **{r.id}**: {r.reason or 'no reason recorded'}" for r in unavailable)
        if unavailable
        else "None."
    )
    cells = a.cells
    parts.append("### Not applicable (the mode does not exist on that runtime)")
    na = cells[cells["status"] == "unsupported"]
    if len(na):
        grouped = {}
        for _, row in na.iterrows():
            key = (row["runtime"], row["workload"], row["mode"], row["reason"])
            grouped.setdefault(key, []).append(str(int(row["workers"])))
        rows = [
            [rt, f"`{w}`", m, ", ".join(ns), reason] for (rt, w, m, reason), ns in grouped.items()
        ]
        parts.append(table(rows, ["runtime", "workload", "mode", "N", "reason"]))
    else:
        parts.append("None.")
    parts.append("### Failures")
    parts.append(_failures(a))
    parts.append("### Cells with a problem")
    parts.append(_problems(a))
    parts.append("### Inconclusive cells")
    parts.append(_inconclusive(cells))
    return "\n\n".join(parts)


def _inconclusive(cells: pd.DataFrame) -> str:
    """Each reason once, with the cells it hit (grouped: a suite with too few repetitions
    would otherwise list every cell)."""
    weak = cells[cells["status"] == "inconclusive"]
    if not len(weak):
        return "None."
    lines = []
    for reason, group in weak.groupby("reason", sort=True):
        where = [
            f"{rt} ({', '.join(sorted(set(g['workload'])))})"
            for rt, g in group.groupby("runtime", sort=True)
        ]
        lines.append(f"- **{reason}** — {len(group)} cell(s): {'; '.join(where)}")
    return "\n".join(lines)


def _failures(a: Analysis) -> str:
    """Each cause once, with the cells it hit (an unavailable runtime's cells are not repeated:
    its reason stands under "Unavailable runtimes")."""
    df = a.df
    unavailable = {r.id for r in a.runtimes if not r.available}
    failed = df[
        ~df["ok"].astype(bool)
        & ~df["unsupported"].fillna(False).astype(bool)
        & ~df["runtime"].isin(unavailable)
    ]
    if not len(failed):
        return "None."
    causes: dict[str, list[str]] = {}
    tails: dict[str, str] = {}
    for _, r in failed.iterrows():
        cause = str(r["error"] or "failed (no error text)")
        where = (
            f"{r['runtime']} · `{r['workload']}` · {r['mode']} · N={int(r['workers'])} "
            f"(invocation {int(r.get('invocation') or 0)}, rep {int(r['rep'])})"
        )
        causes.setdefault(cause, []).append(where)
        tail = r["stderr_tail"]
        if isinstance(tail, str) and tail.strip():
            tails.setdefault(cause, tail)
    blocks = []
    for cause, cells in causes.items():
        blocks.append(f"- **{cause}** — {len(cells)} cell(s): {'; '.join(cells)}")
        if cause in tails:
            blocks.append(
                "  ```text\n"
                + "\n".join(f"  {line}" for line in tails[cause].splitlines())
                + "\n  ```"
            )
    return "\n".join(blocks)


def _problems(a: Analysis) -> str:
    """Cells that are not judged as complete (wrong checksum, lost repetitions) or whose
    numbers come with a warning (unstable, disturbed measurements left out)."""
    rows = [
        [rt, f"`{w}`", m, str(n), "; ".join(h.problems)]
        for (rt, w, m, n), h in sorted(a.health.items())
        if h.problems and h.ok  # a cell with nothing measured stands under "Failures"
    ]
    if not rows:
        return "None."
    return table(rows, ["runtime", "workload", "mode", "N", "problem"])
