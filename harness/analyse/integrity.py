"""Can a cell be judged at all? Checksums, failed repetitions, instability, disturbance.

A verdict on a cell whose work differed between modes, worker counts or invocations (the
cell's checksum, or one unit's), that lost repetitions,
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

from harness.analyse.sizing import SCALING, sizing_view
from harness.vocabulary import DISTURBED_FLOOR_S, DISTURBED_SHARE, SERIAL

# pyperf warns when the spread is over 10% of the mean; robust twin: 1.4826 MAD / median
UNSTABLE_SPREAD = 0.10
# invocations disagree when their medians spread this much more than their repetitions do,
# and more than the drift between processes this kind of machine shows anyway (20-30% seen;
# the intervals already cover that drift, so only what exceeds it is worth a warning)
INVOCATION_DISAGREEMENT = 3.0
INVOCATION_DRIFT = 0.30

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
    repeated: int = 0  # of the disturbed measurements, those the runner measured again

    @property
    def stayed_disturbed(self) -> int:
        """Disturbed measurements nothing measured again (the cell has fewer clean ones)."""
        return self.disturbed - self.repeated

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
            again = f"; {self.repeated} measured again" if self.repeated else ""
            out.append(
                f"{self.disturbed} measurement(s) disturbed by other processes (left out{again})"
            )
        return tuple(out)

    @property
    def judgeable(self) -> bool:
        """No wrong work and no lost repetition (instability and disturbance are shown)."""
        return not (self.checksum_mismatch or self.failed or self.timed_out)


@dataclass(frozen=True)
class Disturbance:
    """Run-wide: steady ok measurements (disturbed ones included), how many were disturbed
    (left out), how many of those the runner measured again, and how many stayed disturbed
    (no repetition replaced them)."""

    measurements: int = 0
    disturbed: int = 0
    repeated: int = 0

    @property
    def stayed_disturbed(self) -> int:
        return self.disturbed - self.repeated


def disturbance(health: dict[CellKey, CellHealth]) -> Disturbance:
    """The run's disturbance counts, summed over its cells."""
    cells = health.values()
    return Disturbance(
        measurements=sum(h.ok for h in cells),
        disturbed=sum(h.disturbed for h in cells),
        repeated=sum(h.repeated for h in cells),
    )


def disturbed(df: pd.DataFrame) -> pd.Series:
    """Per row: did other processes use the cell's CPUs noticeably during the measurement?
    (``harness.vocabulary.is_disturbed``, the rule the runner repeats by, on a frame)"""
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


def unit_checksum_mismatches(df: pd.DataFrame) -> dict[CellKey, str]:
    """Cells one of whose units computed something else than the same unit elsewhere: unit i
    of a runtime, workload, size and sizing is the same work in every mode, at every worker
    count and in every invocation (serial is the reference where it ran that unit; else the
    most common checksum). Records without ``unit_checksums`` take no part."""
    ok = df[df["ok"].astype(bool) & df["unit_checksums"].notna()]
    units: dict[tuple[str, str, int, str, int], list[tuple[str, int, str]]] = {}
    columns = ["runtime", "workload", "size", "sizing", "mode", "workers", "unit_checksums"]
    for runtime, workload, size, sizing, mode, workers, checksums in ok[columns].itertuples(
        index=False
    ):
        for index, checksum in enumerate(checksums):
            key = (str(runtime), str(workload), int(size), str(sizing), index)
            units.setdefault(key, []).append((str(mode), int(workers), str(checksum)))
    out: dict[CellKey, str] = {}
    for (runtime, workload, _size, _sizing, index), seen in sorted(units.items()):
        serial = [c for mode, _, c in seen if mode == SERIAL]
        reference = Counter(serial or [c for _, _, c in seen]).most_common(1)[0][0]
        where = "in serial" if serial else "in most measurements (no serial ran it)"
        by_cell: dict[tuple[str, int], list[str]] = {}
        for mode, workers, checksum in seen:
            by_cell.setdefault((mode, workers), []).append(checksum)
        for (mode, workers), checksums in sorted(by_cell.items()):
            wrong = [c for c in checksums if c != reference]
            key = (runtime, workload, mode, workers)
            if wrong and key not in out:
                out[key] = (
                    f"wrong result: unit {index} computed checksum {wrong[0]} in {len(wrong)} "
                    f"of {len(checksums)} measurement(s); the same unit gave {reference} {where}"
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
    # a unit's reason names the unit: it wins where both checks found the same cell
    mismatches = {**checksum_mismatches(df), **unit_checksum_mismatches(df)}
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
        hit = ok & noisy.loc[cell.index]
        # the size its verdicts use, never the spread between a serial cell's two sizes
        clean = sizing_view(cell[ok & ~hit], SCALING)
        walls = {
            int(inv): group["wall_s"].to_numpy(dtype=float)
            for inv, group in clean.groupby("invocation", sort=True)
        }
        out[key] = CellHealth(
            ok=int(ok.sum()),
            failed=int((~ok).sum()) - timed_out,
            timed_out=timed_out,
            disturbed=int(hit.sum()),
            checksum_mismatch=mismatches.get(key),
            unstable=instability(walls),
            repeated=_repeated(cell, hit),
        )
    return out


def _repeated(cell: pd.DataFrame, hit: pd.Series) -> int:
    """How many of the ``hit`` (disturbed) rows of one cell a later row measured again
    (its ``repeat_of`` names their rep, in the same invocation and sizing)."""
    again = cell[cell["repeat_of"].notna()]
    targets = {
        (inv, sizing, int(rep))
        for inv, sizing, rep in again[["invocation", "sizing", "repeat_of"]].itertuples(index=False)
    }
    rows = cell.loc[hit, ["invocation", "sizing", "rep"]]
    return sum(
        (inv, sizing, int(rep)) in targets for inv, sizing, rep in rows.itertuples(index=False)
    )
