"""What did not run: unavailable runtimes, n/a modes, failures with stderr, inconclusive cells."""

from __future__ import annotations

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
    df = a.df
    failed = df[~df["ok"].astype(bool) & ~df["unsupported"].fillna(False).astype(bool)]
    if len(failed):
        blocks = []
        for _, r in failed.iterrows():
            blocks.append(
                f"- **{r['runtime']}** · `{r['workload']}` · {r['mode']} · N={int(r['workers'])} "
                f"· rep {int(r['rep'])}: {r['error'] or 'failed (no error text)'}"
            )
            tail = r["stderr_tail"]
            if isinstance(tail, str) and tail.strip():
                blocks.append(
                    "  ```text\n" + "\n".join(f"  {line}" for line in tail.splitlines()) + "\n  ```"
                )
        parts.append("\n".join(blocks))
    else:
        parts.append("None.")
    parts.append("### Inconclusive cells")
    weak = cells[cells["status"] == "inconclusive"]
    if len(weak):
        rows = [
            [r["runtime"], f"`{r['workload']}`", r["mode"], str(int(r["workers"])), r["reason"]]
            for _, r in weak.iterrows()
        ]
        parts.append(table(rows, ["runtime", "workload", "mode", "N", "reason"]))
    else:
        parts.append("None.")
    return "\n\n".join(parts)
