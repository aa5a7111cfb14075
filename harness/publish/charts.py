"""PNG charts beside the report: speedup vs workers, serial speed vs baseline, warm-up curves.

Deterministic: the Agg renderer, matplotlib's default style (no user matplotlibrc), fixed
colours and sizes, sorted inputs and no PNG metadata (no version, no date), so identical input
gives byte-identical files.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib.style
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator

from harness.analyse.run import Analysis
from harness.publish.report.judge import SCALE_GAIN_FRACTION
from harness.store.layout import atomic_path
from harness.vocabulary import (
    NOT_SPEED_KINDS,
    PARALLEL_MODES,
    STARTUP_KINDS,
    WAIT_KINDS,
)

DPI = 100
COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
SERIAL_CHART = "serial-vs-baseline.png"
WARMUP_CHART = "warmup.png"


def speedup_chart_name(workload: str) -> str:
    """File name of a workload's speedup chart."""
    return f"speedup-{re.sub(r'[^A-Za-z0-9_.-]+', '_', workload)}.png"


def runtime_colors(a: Analysis) -> dict[str, str]:
    """One fixed colour per runtime, by its position in the report's runtime order."""
    return {rid: COLORS[i % len(COLORS)] for i, rid in enumerate(a.runtime_ids)}


def write_charts(a: Analysis, out_dir: Path) -> dict[str, str]:
    """Write every chart that has data; returns {"speedup:<workload>"|"serial"|"warmup": name}."""
    written = {}
    with matplotlib.style.context("default"):
        for workload in a.workloads:
            name = speedup_chart_name(workload)
            if _speedup_chart(a, workload, out_dir / name):
                written[f"speedup:{workload}"] = name
        if _serial_chart(a, out_dir / SERIAL_CHART):
            written["serial"] = SERIAL_CHART
        if _warmup_chart(a, out_dir / WARMUP_CHART):
            written["warmup"] = WARMUP_CHART
    return written


def _figure(
    width: float,
    height: float,
    bottom: float = 0.6,
    top: float = 0.45,
    left: float = 0.7,
    right: float = 0.25,
) -> Figure:
    """A figure with fixed margins in inches (no layout engine: cheaper and predictable)."""
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=0.25,
        hspace=0.55,
    )
    return fig


def _save(fig: Figure, path: Path) -> None:
    """PNG without metadata (matplotlib would add its version), written atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})


def _speedup_chart(a: Analysis, workload: str, path: Path) -> bool:
    modes = [m for m in PARALLEL_MODES if any(k[1] == workload and k[2] == m for k in a.speedups)]
    if not modes:
        return False
    colors = runtime_colors(a)
    kind = a.kinds.get(workload)
    fig = _figure(max(7.0, 3.8 * len(modes) + 0.7), 4.0, bottom=1.15)
    axes = fig.subplots(1, len(modes), squeeze=False)[0]
    all_ns = sorted({k[3] for k in a.speedups if k[1] == workload})
    xs = np.array(sorted({1, *all_ns}), dtype=float)
    for ax, mode in zip(axes, modes, strict=True):
        ax.plot(xs, xs, linestyle="--", color="#999999", label="ideal (N×)")
        ceiling = np.minimum(xs, a.cpus) if kind not in WAIT_KINDS and a.cpus else xs
        if kind not in WAIT_KINDS and a.cpus:
            ax.plot(xs, ceiling, linestyle=":", color="black", label=f"ceiling ({a.cpus} cores)")
        threshold = 1 + SCALE_GAIN_FRACTION * (ceiling - 1)
        ax.plot(xs, threshold, linestyle="-.", color="#2a7f2a", linewidth=1,
                label="'scales' threshold (interval above it)")
        ax.axhline(1.0, color="#cccccc", linewidth=0.8)
        ids = [rid for rid in a.runtime_ids if (rid, workload, mode) in _rwm(a)]
        for i, rid in enumerate(ids):
            points = sorted(
                (k[3], s) for k, s in a.speedups.items() if k[:3] == (rid, workload, mode)
            )
            nudge = 2 ** ((i - (len(ids) - 1) / 2) * 0.03)
            x = np.array([n for n, _ in points], dtype=float) * nudge
            y = np.array([s.comparison.ratio for _, s in points])
            low = np.array([_nan0(s.comparison.ci_low, s.comparison.ratio) for _, s in points])
            high = np.array([_nan0(s.comparison.ci_high, s.comparison.ratio) for _, s in points])
            ax.errorbar(
                x,
                y,
                yerr=[y - low, high - y],
                color=colors[rid],
                capsize=3,
                linewidth=1.5,
                label=rid,
                zorder=3,
            )
            filled = np.array([s.comparison.significant for _, s in points])
            ax.scatter(x[filled], y[filled], color=colors[rid], zorder=4, s=28)
            ax.scatter(
                x[~filled], y[~filled], facecolor="white", edgecolor=colors[rid], zorder=4, s=28
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(int(n)) for n in xs])
        ax.minorticks_off()
        ax.set_xlabel(f"N ({mode})")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{workload}: {mode} vs serial")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("speedup over serial (×)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False
    )
    fig.text(
        0.99,
        0.99,
        "bars: 95% CI over invocations; hollow marker = interval includes 1",
        ha="right",
        va="top",
        fontsize=7,
        color="#666666",
    )
    _save(fig, path)
    return True


def _rwm(a: Analysis) -> set[tuple[str, str, str]]:
    return {k[:3] for k in a.speedups}


def _nan0(value: float, fallback: float) -> float:
    return fallback if math.isnan(value) else value


# the two geometric means of the serial chart: the speed verdict's (compute kernels only) and
# the broad one over every workload that times the interpreter
KERNELS, GEOMEAN = "geomean:kernels", "geomean:all"


def _serial_chart(a: Analysis, path: Path) -> bool:
    """Serial speed vs the baseline; process start-up (a fork or a whole interpreter, up to
    100x apart) in a panel of its own, so its scale does not squeeze the compute kernels."""
    if not a.serial_vs_baseline:
        return False
    colors = runtime_colors(a)
    ids = [rid for rid in a.runtime_ids if any(k[0] == rid for k in a.serial_vs_baseline)]
    measured = [w for w in a.workloads if any(k[1] == w for k in a.serial_vs_baseline)]
    speed = [KERNELS, GEOMEAN] + [w for w in measured if a.kinds.get(w) not in STARTUP_KINDS]
    startup = [w for w in measured if a.kinds.get(w) in STARTUP_KINDS]
    panels = [(speed, f"Single-thread speed vs {a.baseline} (hatched = not significant)")]
    if startup:
        panels.append((startup, f"Process start-up vs {a.baseline} (own scale; in no geomean)"))
    rows = sum(len(groups) for groups, _ in panels)
    gap = 0.8  # inches between the panels (room for the lower panel's title)
    height = 1.3 + 0.3 * rows * len(ids) + gap * (len(panels) - 1)
    fig = _figure(8.4, height, left=1.5, bottom=0.65)
    # matplotlib's hspace is a fraction of the mean panel height: turn the gap into one
    mean_panel = (height - 0.65 - 0.45 - gap * (len(panels) - 1)) / len(panels)
    fig.subplots_adjust(hspace=gap / mean_panel)
    axes = fig.subplots(
        len(panels), 1, squeeze=False, height_ratios=[len(groups) for groups, _ in panels]
    )[:, 0]
    for ax, (groups, title) in zip(axes, panels, strict=True):
        _serial_panel(a, ax, groups, ids, colors)
        ax.set_title(title)
    axes[-1].set_xlabel(f"serial speed relative to {a.baseline} (log scale; > 1 = faster)")
    handles = [Patch(color=colors[rid], label=rid) for rid in ids]  # plain: bars may be hatched
    axes[0].legend(handles=handles, loc="lower right", fontsize=8)
    _save(fig, path)
    return True


def _serial_value(a: Analysis, rid: str, group: str) -> tuple[float, float, float, bool] | None:
    """(ratio, low, high, significant) of one bar, or None when the runtime has none."""
    if group in (KERNELS, GEOMEAN):
        e = (a.kernel_geomean if group == KERNELS else a.serial_geomean).get(rid)
        if e is None:
            return None
        return e.value, e.ci_low, e.ci_high, e.ci_low > 1 or e.ci_high < 1
    found = a.serial_vs_baseline.get((rid, group))
    if found is None:
        return None
    c = found[1]
    return c.ratio, c.ci_low, c.ci_high, c.significant


def _serial_label(a: Analysis, group: str) -> str:
    if group == KERNELS:
        return "geomean of the\nkernels (verdict)"
    if group == GEOMEAN:
        return "geomean of every\nspeed workload"
    kind = a.kinds.get(group)
    return f"{group}\n(not in geomean)" if kind in NOT_SPEED_KINDS - STARTUP_KINDS else group


def _serial_panel(
    a: Analysis, ax: Axes, groups: list[str], ids: list[str], colors: dict[str, str]
) -> None:
    """Horizontal bars around 1 (the baseline), one per runtime and group, with their CI."""
    height = 0.8 / len(ids)
    for i, rid in enumerate(ids):
        ys, values, lows, highs, hatches = [], [], [], [], []
        for g, group in enumerate(groups):
            found = _serial_value(a, rid, group)
            if found is None:
                continue
            value, low, high, sig = found
            ys.append(len(groups) - 1 - g + (len(ids) - 1 - i - (len(ids) - 1) / 2) * height)
            values.append(value)
            lows.append(_nan0(low, value))
            highs.append(_nan0(high, value))
            hatches.append("" if sig else "//")
        if not values:
            continue
        v = np.array(values)
        bars = ax.barh(
            ys,
            v - 1,
            left=1,
            height=height * 0.9,
            color=colors[rid],
            label=rid,
            xerr=[v - np.array(lows), np.array(highs) - v],
            capsize=2,
        )
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
            if hatch:
                bar.set_alpha(0.55)
        for y, value, high in zip(ys, values, highs, strict=True):
            ax.text(max(high, value, 1.0) * 1.06, y, f"{value:.2f}×", va="center", fontsize=7)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}×"))
    ax.set_yticks(range(len(groups)), [_serial_label(a, g) for g in reversed(groups)])
    ax.set_ylim(-0.6, len(groups) - 0.4)
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi * 1.6)
    ax.grid(True, axis="x", which="both", alpha=0.3)


def _warmup_chart(a: Analysis, path: Path) -> bool:
    workloads = sorted({w for (_, w) in a.warmup_cells if a.kinds.get(w) not in NOT_SPEED_KINDS})
    if not workloads:
        return False
    colors = runtime_colors(a)
    cols = min(2, len(workloads))
    rows = math.ceil(len(workloads) / cols)
    height = 3.0 * rows + 1.5
    fig = _figure(4.6 * cols + 0.5, height, bottom=1.0, top=0.9)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, workload in zip(axes, workloads, strict=False):
        for rid in a.runtime_ids:
            curve = a.warmup_curves.get((rid, workload))
            if curve is None:
                continue
            reps = np.array(curve.reps, dtype=int)
            rel = np.array(curve.relative, dtype=float)
            warm = np.array(curve.warmup, dtype=bool)
            ax.plot(reps, rel, color=colors[rid], label=rid, linewidth=1.5)
            ax.scatter(reps[warm], rel[warm], facecolor="white", edgecolor=colors[rid], zorder=3)
            ax.scatter(reps[~warm], rel[~warm], color=colors[rid], zorder=3, s=16)
        ax.axhline(1.0, color="#999999", linewidth=0.8, linestyle="--")
        ax.set_title(f"{workload}: first cell run ({_first_label(a, workload)})", fontsize=9)
        ax.set_xlabel("repetition (0 = cold)")
        ax.set_ylabel("time / steady median")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(workloads) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False
    )
    fig.suptitle(  # in the top margin, clear of the first row's titles
        "Warm-up: each repetition relative to the steady state (hollow = warm-up rep)",
        fontsize=10,
        y=1 - 0.3 / height,
    )
    _save(fig, path)
    return True


def _first_label(a: Analysis, workload: str) -> str:
    used = sorted({v for (_, w), v in a.warmup_cells.items() if w == workload})
    return ", ".join(f"{mode} N={n}" for mode, n in used)
