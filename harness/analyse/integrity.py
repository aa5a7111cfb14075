"""Can a cell be judged at all? Checksums, failed repetitions, instability, disturbance.

A verdict on a cell whose work differed between modes (checksum), that lost repetitions,
whose numbers scatter, or that shared its CPUs with another process would be a verdict on the
harness or the host. This module finds those cells; the report shows the reason and does not
judge them as complete.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

# pyperf warns when the spread is over 10% of the mean; robust twin: 1.4826 MAD / median
UNSTABLE_SPREAD = 0.10
# invocations disagree when their medians spread this much more than their repetitions do,
# and more than the drift between processes this kind of machine shows anyway (20-30% seen;
# the intervals already cover that drift, so only what exceeds it is worth a warning)
INVOCATION_DISAGREEMENT = 3.0
INVOCATION_DRIFT = 0.30
# a measurement is disturbed when other processes used this share of one CPU during it ...
DISTURBED_SHARE = 0.25
# ... and at least this much CPU time (/proc/stat counts 10 ms jiffies on every CPU)
DISTURBED_FLOOR_S = 0.05

CellKey = tuple[str, str, str, int]  # runtime, workload, mode, workers


@dataclass(frozen=True)
class CellHealth:
    """What is wrong with one cell, if anything; ``problems`` are one-line reasons."""

    ok: int
    failed: int
    timed_out: int
    disturbed: int
    checksum_mismatch: str | None
    unstable: str | None

    @property
    def problems(self) -> tuple[str, ...]:
        """Reasons, worst first; empty when the cell can be judged as complete."""
        out = []
        if self.checksum_mismatch:
            out.append(self.checksum_mismatch)
        if self.failed or self.timed_out:
            total = self.ok + self.failed + self.timed_out
            lost = [f"{self.failed} failed"] if self.failed else []
            lost += [f"{self.timed_out} timed out"] if self.timed_out else []
            out.append(f"{self.ok} of {total} ok, {', '.join(lost)}")
        if self.unstable:
            out.append(self.unstable)
        if self.disturbed:
            out.append(f"{self.disturbed} measurement(s) disturbed by other processes (left out)")
        return tuple(out)

    @property
    def judgeable(self) -> bool:
        """No wrong work and no lost repetition (instability and disturbance are shown)."""
        return not (self.checksum_mismatch or self.failed or self.timed_out)


def disturbed(df: pd.DataFrame) -> pd.Series:
    """Per row: did other processes use the cell's CPUs noticeably during the measurement?"""
    others = pd.to_numeric(df.get("others_cpu_s"), errors="coerce")
    wall = pd.to_numeric(df["wall_s"], errors="coerce")
    limit = np.maximum(DISTURBED_SHARE * wall, DISTURBED_FLOOR_S)
    return (others > limit).fillna(False).astype(bool)


def checksum_mismatches(df: pd.DataFrame) -> dict[CellKey, str]:
    """Cells whose ok measurements computed something else than the same work elsewhere:
    within a runtime, workload, size and worker count every mode and invocation must agree
    (serial is the reference where it ran; else the most common checksum)."""
    ok = df[df["ok"].astype(bool) & df["checksum"].notna()]
    out: dict[CellKey, str] = {}
    for (runtime, workload, _size, workers), group in ok.groupby(
        ["runtime", "workload", "size", "workers"], sort=True
    ):
        serial = group.loc[group["mode"] == "serial", "checksum"]
        counts = Counter(serial if len(serial) else group["checksum"])
        reference = counts.most_common(1)[0][0]
        for mode, cell in group.groupby("mode", sort=True):
            wrong = cell[cell["checksum"] != reference]
            if len(wrong):
                out[(str(runtime), str(workload), str(mode), int(workers))] = (
                    f"wrong result: {len(wrong)} of {len(cell)} measurement(s) computed checksum "
                    f"{wrong['checksum'].iloc[0]}, the same work elsewhere gave {reference}"
                )
    return out


def instability(walls_by_invocation: dict[int, np.ndarray]) -> str | None:
    """Why a cell's numbers cannot be trusted at face value, or None: the repetitions of an
    invocation scatter (pyperf's 10%), or invocations disagree beyond the host's drift."""
    walls = np.concatenate([w for w in walls_by_invocation.values() if len(w)] or [np.array([])])
    if len(walls) < 3:
        return None
    groups = [w for w in walls_by_invocation.values() if len(w)]
    within = max((_robust_cv(w, float(np.median(w))) for w in groups if len(w) > 1), default=0.0)
    if within > UNSTABLE_SPREAD:
        return f"unstable: spread {within:.0%} of the median (over {UNSTABLE_SPREAD:.0%})"
    medians = [float(np.median(w)) for w in groups]
    if len(medians) >= 2:
        between = max(medians) / min(medians) - 1.0
        if between > max(INVOCATION_DRIFT, INVOCATION_DISAGREEMENT * within):
            return f"unstable: invocation medians differ by {between:.0%}, beyond their own noise"
    return None


def _robust_cv(values: np.ndarray, median: float) -> float:
    if median <= 0 or not math.isfinite(median):
        return 0.0
    return float(1.4826 * np.median(np.abs(values - median)) / median)


def cell_health(df: pd.DataFrame) -> dict[CellKey, CellHealth]:
    """The health of every cell of a run's records (warm-ups and unsupported cells aside)."""
    mismatches = checksum_mismatches(df)
    rows = df[~df["warmup"].astype(bool) & ~df["unsupported"].fillna(False).astype(bool)]
    noisy = disturbed(rows)
    out: dict[CellKey, CellHealth] = {}
    for (runtime, workload, mode, workers), cell in rows.groupby(
        ["runtime", "workload", "mode", "workers"], sort=True
    ):
        key = (str(runtime), str(workload), str(mode), int(workers))
        ok = cell["ok"].astype(bool)
        errors = cell.loc[~ok, "error"].fillna("").astype(str)
        timed_out = int(errors.str.startswith("timeout").sum())
        clean = cell[ok & ~noisy.loc[cell.index]]
        walls = {
            int(inv): group["wall_s"].to_numpy(dtype=float)
            for inv, group in clean.groupby("invocation", sort=True)
        }
        out[key] = CellHealth(
            ok=int(ok.sum()),
            failed=int((~ok).sum()) - timed_out,
            timed_out=timed_out,
            disturbed=int((ok & noisy.loc[cell.index]).sum()),
            checksum_mismatch=mismatches.get(key),
            unstable=instability(walls),
        )
    return out
