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

from harness.store.results import Record, read_records
from harness.vocabulary import mode_rank

CELL = ["runtime", "workload", "mode", "workers"]

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
    """The rows that count for steady-state statistics: ok, measured, not a warm-up."""
    mask = df["ok"].astype(bool) & ~df["warmup"].astype(bool) & df["wall_s"].notna()
    return df[mask]


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


def _ratio_of_medians(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(a, axis=axis) / np.median(b, axis=axis)


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


def geomean_ratio(pairs: Sequence[tuple[Sequence[float], Sequence[float]]]) -> Estimate:
    """Geometric mean over pairs of median(a)/median(b), with a bootstrap 95% interval.

    Each sample is resampled independently, so the interval carries every pair's noise.
    ``n`` is the number of pairs.
    """
    data = [np.asarray(x, dtype=float) for pair in pairs for x in pair]
    if not pairs or any(len(x) == 0 for x in data):
        return Estimate(math.nan, math.nan, math.nan, len(pairs))

    def statistic(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        logs = [
            np.log(np.median(samples[i], axis=axis) / np.median(samples[i + 1], axis=axis))
            for i in range(0, len(samples), 2)
        ]
        return np.exp(np.mean(logs, axis=0))

    value = float(statistic(*[x[np.newaxis, :] for x in data])[0])
    if any(len(x) < 2 for x in data):
        return Estimate(value, math.nan, math.nan, len(pairs))
    low, high = _bootstrap(data, statistic)
    return Estimate(value, low, high, len(pairs))


def min_attainable_p(n_a: int, n_b: int) -> float:
    """Smallest two-sided exact Mann-Whitney p-value possible with these sample sizes.

    With 3 + 3 samples it is 0.1: such a comparison can never be significant at 0.05.
    """
    if n_a == 0 or n_b == 0:
        return 1.0
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


@dataclass(frozen=True)
class Comparison:
    """Sample ``a`` against sample ``b``.

    ``ratio`` is median(a)/median(b) with its bootstrap 95% interval; ``p_value`` is the
    two-sided Mann-Whitney U test; ``effect`` is Cliff's delta, P(a>b) - P(a<b), in [-1, 1];
    ``p_adjusted`` is the corrected p-value (equal to ``p_value`` until :func:`adjust_pvalues`).
    """

    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    effect: float
    n_a: int
    n_b: int
    p_adjusted: float

    @property
    def testable(self) -> bool:
        """Enough samples on both sides for the test to be able to reach ``ALPHA`` at all."""
        return (
            min(self.n_a, self.n_b) >= MIN_STEADY_SAMPLES
            and min_attainable_p(self.n_a, self.n_b) < ALPHA
        )

    @property
    def significant(self) -> bool:
        """The difference is real: testable and the (corrected) p-value is below ``ALPHA``."""
        return self.testable and self.p_adjusted < ALPHA


def compare_samples(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """Compare two samples: ratio of medians (+ interval), Mann-Whitney p, Cliff's delta."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if len(x) == 0 or len(y) == 0:
        nan = math.nan
        return Comparison(nan, nan, nan, 1.0, nan, len(x), len(y), 1.0)
    ratio = ratio_of_medians(x, y)
    if len(x) >= 2 and len(y) >= 2:
        low, high = _bootstrap([x, y], _ratio_of_medians)
    else:
        low = high = math.nan
    p_value, effect = mann_whitney(x, y)
    return Comparison(ratio, low, high, p_value, effect, len(x), len(y), p_value)


def ratio_of_medians(a: Sequence[float], b: Sequence[float], scale: float = 1.0) -> float:
    """median(a) * scale / median(b): THE speedup estimator (T_serial / T_parallel, with
    ``scale`` = N / N_serial when serial ran fewer units), used by the report and the nights."""
    return float(np.median(np.asarray(a, dtype=float)) * scale / np.median(np.asarray(b, float)))


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


def steady_by_cell(df: pd.DataFrame) -> dict[CellKey, pd.DataFrame]:
    """The steady rows of every cell, keyed by (runtime, workload, mode, workers)."""
    return {
        (str(k[0]), str(k[1]), str(k[2]), int(k[3])): group
        for k, group in steady(df).groupby(CELL, sort=True)
    }
