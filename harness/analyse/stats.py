"""Numbers behind the report: records -> DataFrame -> per-cell summaries and comparisons.

pandas groups, numpy computes quantiles, scipy does the bootstrap intervals, the Mann-Whitney U
test and the Benjamini-Hochberg correction. No wording here (see ``verdicts.py``/``report.py``).

A *cell* is (runtime, workload, mode, workers). Its *steady* samples are the ``ok`` records that
are not warm-ups; rep 0 is its *cold* run (warm-up or not).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from harness.analyse import replication
from harness.analyse.integrity import disturbed
from harness.analyse.sizing import CELL, SCALING, sizing_view
from harness.store.results import Record, read_records
from harness.vocabulary import mode_rank

# Fewer steady samples than this and a median, IQR or interval means nothing: the cell is
# "inconclusive" (3 is the least that has a middle value with a neighbour on each side).
MIN_STEADY_SAMPLES = 3
CONFIDENCE = 0.95
# Significance level after the Benjamini-Hochberg correction (false discovery rate across every
# comparison in one report: with ~100 comparisons per run, uncorrected p<0.05 would "find" ~5
# differences in pure noise).
ALPHA = 0.05
# Bootstrap resamples: 5000 keeps the Monte-Carlo error of a 95% percentile interval well below
# the run-to-run noise of the machine (±20%) and the whole report under a couple of seconds.
N_RESAMPLES = 5000
SEED = 0  # every interval uses a fresh numpy.random.default_rng(SEED): same input, same output

Samples = np.ndarray


def frame_from_records(records: Iterable[Record]) -> pd.DataFrame:
    """One row per record; ``extra`` flattened into ``extra.<key>`` columns; plus ``cpu_wall``."""
    columns = [f.name for f in fields(Record) if f.name != "extra"]
    rows = []
    for record in records:
        row = asdict(record)
        extra = row.pop("extra") or {}
        row.update({f"extra.{key}": value for key, value in sorted(extra.items())})
        rows.append(row)
    df = pd.DataFrame(rows)
    for column in columns:
        if column not in df.columns:
            df[column] = pd.Series(dtype=object)
    df = df[columns + sorted(c for c in df.columns if c not in columns)]
    df["wall_s"] = pd.to_numeric(df["wall_s"], errors="coerce").astype(float)
    df["cpu_s"] = pd.to_numeric(df["cpu_s"], errors="coerce").astype(float)
    df["cpu_wall"] = df["cpu_s"] / df["wall_s"]
    df["mode_order"] = df["mode"].map(mode_rank)
    df = df.sort_values(["runtime", "workload", "mode_order", "workers", "rep"], kind="stable")
    return df.drop(columns="mode_order").reset_index(drop=True)


def load_frame(run_dir: Path) -> pd.DataFrame:
    """The run's ``results.jsonl`` as a DataFrame (one row per record, sorted by cell and rep)."""
    return frame_from_records(read_records(run_dir))


def steady(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that count for steady-state statistics: ok, measured, not a warm-up, and not
    disturbed by other processes on the same CPUs (those are counted, see ``integrity``)."""
    mask = df["ok"].astype(bool) & ~df["warmup"].astype(bool) & df["wall_s"].notna()
    return df[mask & ~disturbed(df)]


def _bootstrap(
    data: Sequence[Samples], statistic: Callable[..., np.ndarray]
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (independent resampling of each sample)."""
    if all(np.ptp(sample) == 0 for sample in data):
        value = float(statistic(*[s[np.newaxis, :] for s in data], axis=-1)[0])
        return value, value  # no spread at all: the interval is the point
    result = sps.bootstrap(
        tuple(data),
        statistic,
        n_resamples=N_RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=True,
        axis=-1,
        rng=np.random.default_rng(SEED),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _median(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(x, axis=axis)


@dataclass(frozen=True)
class Estimate:
    """A point value with its 95% interval and the number of observations behind it."""

    value: float
    ci_low: float
    ci_high: float
    n: int


def median_estimate(samples: Sequence[float]) -> Estimate:
    """Median with a bootstrap 95% interval (needs at least 2 values for an interval)."""
    x = np.asarray(samples, dtype=float)
    if len(x) == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    value = float(np.median(x))
    if len(x) < 2:
        return Estimate(value, math.nan, math.nan, 1)
    low, high = _bootstrap([x], _median)
    return Estimate(value, low, high, len(x))


@dataclass(frozen=True)
class Comparison:
    """Sample ``a`` against sample ``b``.

    ``ratio`` and its interval come from the invocations (:func:`compare_invocations`);
    ``p_value`` is the two-sided Mann-Whitney U test over the repetitions and ``effect`` is
    Cliff's delta, P(a>b) - P(a<b), in [-1, 1]: indications for the detail tables only
    (repetitions are not independent); ``p_adjusted`` is the corrected p-value (equal to
    ``p_value`` until :func:`adjust_pvalues`).
    """

    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    effect: float
    n_a: int
    n_b: int
    p_adjusted: float
    invocations: int
    method: str  # how ci_low..ci_high was made: replication.T_INTERVAL, RANGE or NONE

    @property
    def testable(self) -> bool:
        """The interval can carry a verdict: a t interval over at least two invocations."""
        return self.method == replication.T_INTERVAL

    @property
    def significant(self) -> bool:
        """A real difference: the 95% interval over invocations excludes 1."""
        return self.testable and (self.ci_low > 1 or self.ci_high < 1)

    @property
    def interval_label(self) -> str:
        """What the interval is: ``95% CI`` or ``range``."""
        return "range" if self.method == replication.RANGE else "95% CI"


def compare_invocations(
    a: replication.ByInvocation, b: replication.ByInvocation, paired: bool
) -> Comparison:
    """Sample ``a`` against sample ``b`` with invocations as the unit of replication.

    ``paired``: both were measured in the same invocations (or rounds): one ratio per
    invocation; else Welch on the invocation medians. The ratio and interval come from
    :mod:`replication`; the Mann-Whitney p-value and Cliff's delta over all repetitions are
    kept for the detail tables only (repetitions are not independent).
    """
    x = np.concatenate([np.asarray(v, float) for v in a.values()] or [np.array([])])
    y = np.concatenate([np.asarray(v, float) for v in b.values()] or [np.array([])])
    interval = replication.paired_ratio(a, b) if paired else replication.unpaired_ratio(a, b)
    if len(x) == 0 or len(y) == 0 or interval.method == replication.NONE:
        nan = math.nan
        return Comparison(nan, nan, nan, 1.0, nan, len(x), len(y), 1.0, 0, replication.NONE)
    p_value, effect = mann_whitney(x, y)
    return Comparison(
        interval.value, interval.low, interval.high, p_value, effect, len(x), len(y), p_value,
        interval.invocations, interval.method,
    )


def geomean_invocations(
    pairs: Sequence[tuple[replication.ByInvocation, replication.ByInvocation]],
) -> Estimate:
    """Geometric mean over pairs of median(a)/median(b), one value per invocation (round)
    that measured every pair, with the t interval over those invocations."""
    if not pairs:
        return Estimate(math.nan, math.nan, math.nan, 0)
    common = set.intersection(*(set(a) & set(b) for a, b in pairs))
    per_round = {
        inv: [
            math.exp(
                float(np.mean([
                    math.log(float(np.median(a[inv])) / float(np.median(b[inv]))) for a, b in pairs
                ]))
            )
        ]
        for inv in sorted(common)
    }
    interval = replication.level(per_round)
    if interval.method == replication.RANGE:  # one round: no interval across processes
        return Estimate(interval.value, math.nan, math.nan, len(pairs))
    return Estimate(interval.value, interval.low, interval.high, len(pairs))


def by_invocation(rows: pd.DataFrame | None, column: str = "wall_s") -> dict[int, np.ndarray]:
    """The finite values of ``column`` per invocation (files without invocations: one)."""
    if rows is None or column not in rows.columns or not len(rows):
        return {}
    values = pd.to_numeric(rows[column], errors="coerce")
    invocations = rows["invocation"] if "invocation" in rows.columns else pd.Series(0, rows.index)
    out = {}
    for inv, group in values.groupby(invocations.fillna(0).astype(int), sort=True):
        finite = group.to_numpy(dtype=float)
        finite = finite[~np.isnan(finite)]
        if len(finite):
            out[int(inv)] = finite
    return out


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test: (p-value, Cliff's delta = P(a>b) - P(a<b))."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    test = sps.mannwhitneyu(x, y, alternative="two-sided", method="auto")
    p_value = float(test.pvalue)
    effect = 2.0 * float(test.statistic) / (len(x) * len(y)) - 1.0
    return (1.0 if math.isnan(p_value) else p_value), effect


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), same order."""
    if not p_values:
        return []
    return [float(p) for p in sps.false_discovery_control(list(p_values), method="bh")]


def adjust_pvalues(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Benjamini-Hochberg correction across the testable comparisons (others keep their p).

    Returns new comparisons in the same order with ``p_adjusted`` set.
    """
    index = [i for i, c in enumerate(comparisons) if c.testable]
    result = list(comparisons)
    adjusted = benjamini_hochberg([comparisons[i].p_value for i in index])
    for i, p in zip(index, adjusted, strict=True):
        result[i] = replace(comparisons[i], p_adjusted=p)
    return result


def summarize_cells(df: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: status, sample counts, median, quartiles, 95% CI, CPU/wall, warm-up.

    ``status`` is ``ok`` (at least ``MIN_STEADY_SAMPLES`` steady samples), ``inconclusive``
    (fewer, none failed), ``failed`` (fewer, some failed) or ``unsupported`` (the mode does not
    exist on that runtime); ``reason`` says why when not ok. ``cold`` is rep 0's wall time and
    ``warmup_ratio`` = cold / steady median.
    """
    rows = []
    for key, group in df.groupby(CELL, sort=False):
        rows.append(_summarize_cell(dict(zip(CELL, key, strict=True)), group))
    out = pd.DataFrame(rows, columns=_SUMMARY_COLUMNS)
    if out.empty:
        return out
    out["mode_order"] = out["mode"].map(mode_rank)
    out = out.sort_values(["runtime", "workload", "mode_order", "workers"], kind="stable")
    return out.drop(columns="mode_order").reset_index(drop=True)


_SUMMARY_COLUMNS = [
    *CELL,
    "kind",
    "size",
    "status",
    "reason",
    "n",
    "n_warmup",
    "n_failed",
    "median",
    "q1",
    "q3",
    "iqr",
    "ci_low",
    "ci_high",
    "cpu_wall",
    "cold",
    "warmup_ratio",
    "implementation",
    "python_version",
    "gil_enabled",
    "backend",
    "pool",
]


def _first(series: pd.Series) -> object:
    values = series.dropna()
    return values.iloc[0] if len(values) else None


def _summarize_cell(key: dict[str, object], group: pd.DataFrame) -> dict[str, object]:
    ok = group["ok"].to_numpy(dtype=bool)
    warm = group["warmup"].to_numpy(dtype=bool)
    unsupported = group["unsupported"].fillna(False).to_numpy(dtype=bool)
    wall_all = group["wall_s"].to_numpy(dtype=float)
    good = ok & ~warm & ~np.isnan(wall_all)
    wall = wall_all[good]
    failed = ~ok & ~unsupported
    errors = group["error"].to_numpy(dtype=object)
    row: dict[str, object] = dict(key)
    row.update(
        {
            c: _first(group[c])
            for c in (
                "kind",
                "size",
                "implementation",
                "python_version",
                "gil_enabled",
                "backend",
                "pool",
            )
        },
        n=len(wall),
        n_warmup=int((ok & warm).sum()),
        n_failed=int(failed.sum()),
    )
    if unsupported.any():
        row.update(status="unsupported", reason=errors[unsupported][0] or "unsupported")
    elif len(wall) >= MIN_STEADY_SAMPLES:
        row.update(status="ok", reason=None)
    elif failed.any() and not len(wall):
        row.update(status="failed", reason=errors[failed][0] or "failed")
    else:
        plural = "" if len(wall) == 1 else "s"
        reason = f"{len(wall)} steady sample{plural} (need ≥{MIN_STEADY_SAMPLES})"
        if failed.any():
            reason += f"; {int(failed.sum())} failed: {errors[failed][0] or 'failed'}"
        row.update(status="inconclusive", reason=reason)
    if len(wall) and row["status"] != "unsupported":
        q1, median, q3 = np.percentile(wall, [25, 50, 75])
        estimate = median_estimate(wall)
        cpu_wall = group["cpu_wall"].to_numpy(dtype=float)[good]
        cpu_wall = cpu_wall[~np.isnan(cpu_wall)]
        row.update(
            median=float(median),
            q1=float(q1),
            q3=float(q3),
            iqr=float(q3 - q1),
            ci_low=estimate.ci_low,
            ci_high=estimate.ci_high,
            cpu_wall=float(np.median(cpu_wall)) if len(cpu_wall) else math.nan,
        )
        cold = wall_all[ok & (group["rep"].to_numpy() == 0) & ~np.isnan(wall_all)]
        if len(cold):
            row.update(cold=float(cold[0]), warmup_ratio=float(cold[0]) / median)
    return row


CellKey = tuple[str, str, str, int]


def steady_by_cell(df: pd.DataFrame, sizing: str = SCALING) -> dict[CellKey, pd.DataFrame]:
    """The steady rows of every cell, keyed by (runtime, workload, mode, workers).

    A calibrating run measured serial cells at two sizes: ``FIXED`` keeps the suite's size
    (the same work on every runtime: cross-runtime speed), ``SCALING`` the calibrated size
    where a cell has one (serial vs parallel within a runtime: the same work in each mode).
    """
    rows = sizing_view(steady(df), sizing)
    return {
        (str(k[0]), str(k[1]), str(k[2]), int(k[3])): group
        for k, group in rows.groupby(CELL, sort=True)
    }
