"""Fixed number formatting for the report: same float, same text, on every machine."""

from __future__ import annotations

import math

DASH = "—"


def _finite(*values: float | None) -> bool:
    return all(v is not None and not (isinstance(v, float) and math.isnan(v)) for v in values)


def num(x: float | None) -> str:
    """A ratio-like number with about 3 significant digits: 0.973, 1.93, 12.3, 123."""
    if not _finite(x):
        return DASH
    assert x is not None
    magnitude = abs(x)
    if magnitude >= 100:
        return f"{x:.0f}"
    if magnitude >= 10:
        return f"{x:.1f}"
    if magnitude >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}" if magnitude >= 0.01 else f"{x:.2g}"


def fixed(x: float | None, digits: int = 2) -> str:
    """A plain number with fixed decimals: ``1.94``."""
    return DASH if not _finite(x) else f"{x:.{digits}f}"


def times(x: float | None) -> str:
    """A ratio: ``1.93×``."""
    return DASH if not _finite(x) else f"{num(x)}×"


def interval(low: float | None, high: float | None) -> str:
    """``1.85–2.01`` (or ``—`` when there is no interval)."""
    if not _finite(low, high):
        return DASH
    return f"{num(low)}–{num(high)}"


def ci(low: float | None, high: float | None) -> str:
    """``95% CI 1.85–2.01`` (or ``no CI`` when there is no interval)."""
    return "no CI" if not _finite(low, high) else f"95% CI {interval(low, high)}"


def _unit(magnitude: float) -> tuple[float, str]:
    if magnitude >= 1:
        return 1.0, "s"
    if magnitude >= 1e-3:
        return 1e3, "ms"
    return 1e6, "µs"


def seconds(x: float | None) -> str:
    """A duration in s, ms or µs with 3 significant digits: ``1.23 s``, ``36.1 ms``."""
    if not _finite(x):
        return DASH
    assert x is not None
    scale, unit = _unit(abs(x))
    return f"{num(x * scale)} {unit}"


def seconds_range(low: float | None, high: float | None) -> str:
    """A range of durations in one unit (the unit of ``high``): ``395–410 ms``."""
    if not _finite(low, high):
        return DASH
    assert low is not None and high is not None
    scale, unit = _unit(abs(high))
    return f"{num(low * scale)}–{num(high * scale)} {unit}"


def millis(x: float | None) -> str:
    """A value already in milliseconds: ``5.30 ms``."""
    return DASH if not _finite(x) else f"{num(x)} ms"


def percent_change(ratio: float | None) -> str:
    """A ratio as a signed change: 1.18 -> ``+18%``, 0.9 -> ``-10%``."""
    if not _finite(ratio):
        return DASH
    assert ratio is not None
    return f"{(ratio - 1) * 100:+.0f}%"


def percent_ci(low: float | None, high: float | None) -> str:
    """A ratio's interval as changes: ``95% CI -1% to +42%`` (``no CI`` without one)."""
    if not _finite(low, high):
        return "no CI"
    return f"95% CI {percent_change(low)} to {percent_change(high)}"


def pvalue(p: float | None) -> str:
    """``p=0.008``, ``p<0.001``."""
    if not _finite(p):
        return DASH
    assert p is not None
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def cell_text(text: object) -> str:
    """Make any value safe inside a markdown table cell (no pipes, no newlines)."""
    return str(text).replace("|", "\\|").replace("\n", " ")
