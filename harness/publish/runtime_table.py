"""`python -m harness runtimes`: the rows of ``harness.measure.status`` as a plain table."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate


def _gil_text(value: Any) -> str:
    return "n/a (no GIL)" if value is None else ("on" if value else "off")


def render_rows(rows: list[dict[str, Any]]) -> str:
    """A plain-text table; unavailable runtimes carry their reason on the same row."""
    table = [
        [
            row["id"],
            row["family"],
            row["version"] or "-",
            _gil_text(row["expected_gil"]),
            _gil_text(row["probed_gil"]) if row["probed"] else "not probed",
            row["status"],
            row["reason"] or "",
        ]
        for row in rows
    ]
    headers = ["runtime", "family", "version", "GIL expected", "GIL probed", "image", "why"]
    return tabulate(table, headers=headers, tablefmt="simple")
