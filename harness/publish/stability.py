"""Two runs of the same suite side by side: do the verdicts agree, how far do cells drift?

``make bench-stability`` runs a suite twice and prints this. A verdict that changes between two
runs on the same machine is only acceptable when at least one of the two runs flagged it
(inconclusive, a warning, an unstable or disturbed cell): the report warned its reader.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.analyse.run import Analysis
from harness.publish.report import judge
from harness.publish.report.verdicts import verdict_rows

# verdicts that tell the reader not to rely on them
FLAGGED_SYMBOLS = frozenset({judge.INCONCLUSIVE, judge.WARN})


@dataclass(frozen=True)
class Disagreement:
    """One claim x runtime whose verdict differs between the two runs."""

    claim: str
    runtime: str
    first: str
    second: str
    flagged: bool


@dataclass(frozen=True)
class Agreement:
    """How two runs of one suite compare."""

    verdicts: int
    agreeing: int
    disagreements: tuple[Disagreement, ...]
    cells: int
    drift_p50: float
    drift_p90: float

    @property
    def unflagged(self) -> tuple[Disagreement, ...]:
        """Disagreements neither run warned about: the ones that break the target."""
        return tuple(d for d in self.disagreements if not d.flagged)

    def lines(self) -> list[str]:
        """The summary, one fact per line."""
        out = [
            f"verdicts: {self.agreeing} of {self.verdicts} agree; "
            f"{len(self.disagreements) - len(self.unflagged)} differ but were flagged in a run; "
            f"{len(self.unflagged)} differ unflagged",
            f"per-cell median drift over {self.cells} cells: p50 {self.drift_p50:.1%}, "
            f"p90 {self.drift_p90:.1%}",
        ]
        out += [
            f"  {'flagged' if d.flagged else 'UNFLAGGED'}: {d.claim} / {d.runtime}: "
            f"{d.first} -> {d.second}"
            for d in self.disagreements
        ]
        return out


def _flagged(verdict: judge.Verdict) -> bool:
    return verdict.symbol in FLAGGED_SYMBOLS or judge.WARN in verdict.text


def compare_runs(first: Analysis, second: Analysis) -> Agreement:
    """Verdict agreement (by symbol) and per-cell median drift between two analyses."""
    rows_a = {r.claim.key: r for r in verdict_rows(first)}
    rows_b = {r.claim.key: r for r in verdict_rows(second)}
    total, agreeing, differ = 0, 0, []
    for key in sorted(set(rows_a) & set(rows_b)):
        a, b = rows_a[key], rows_b[key]
        for runtime in sorted(set(a.cells) & set(b.cells)):
            va, vb = a.cells[runtime], b.cells[runtime]
            if va.symbol in (judge.UNAVAILABLE, judge.NOT_APPLICABLE) and va.symbol == vb.symbol:
                continue
            total += 1
            if va.symbol == vb.symbol:
                agreeing += 1
            else:
                differ.append(Disagreement(
                    a.claim.question, runtime, str(va), str(vb), _flagged(va) or _flagged(vb)
                ))  # fmt: skip
    drift = _drift(first, second)
    p50, p90 = (np.percentile(drift, [50, 90]) if len(drift) else (np.nan, np.nan))
    return Agreement(total, agreeing, tuple(differ), len(drift), float(p50), float(p90))


def _drift(first: Analysis, second: Analysis) -> np.ndarray:
    key = ["runtime", "workload", "mode", "workers"]
    a = first.cells[first.cells["status"] == "ok"].set_index(key)["median"]
    b = second.cells[second.cells["status"] == "ok"].set_index(key)["median"]
    both = a.index.intersection(b.index)
    return np.abs(b.loc[both].to_numpy(float) / a.loc[both].to_numpy(float) - 1.0)
