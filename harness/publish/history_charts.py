"""History charts: one PNG per machine x workload, serial time and speedup over the nights
(each night's value, the one the flags judge, with the interquartile range of its repetitions).

Byte-identical for identical input: Agg backend, fixed ordering and colours, no timestamps
or software tag in the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from harness.analyse.flags import REGRESSION, Change, Comparison  # noqa: E402
from harness.analyse.nights import Night, SeriesKey  # noqa: E402
from harness.store.layout import atomic_path

STYLES = {"serial": "-", "threads": "-", "processes": "--", "asyncio": ":"}
PALETTE = plt.get_cmap("tab10").colors


def labels_for(nights: Sequence[Night]) -> list[str]:
    """``11-24`` per night; with the time when dates repeat; the status if not complete."""
    for width in (10, 16, 19):  # date, minute, second of the ISO start time
        stamps = [n.started_at[5:width].replace("T", " ") for n in nights]
        if len(set(stamps)) == len(stamps):
            break
    return [s if n.complete else f"{s}\n{n.status}" for s, n in zip(stamps, nights, strict=True)]


def write_chart(
    path: Path,
    title: str,
    nights: Sequence[Night],
    keys: Sequence[SeriesKey],
    colours: Mapping[str, str],
    comparisons: Mapping[SeriesKey, Comparison],
    changes: Sequence[Change],
) -> None:
    """Serial time (left) and speedup (right) per runtime over ``nights`` (oldest first)."""
    fig, (ax_time, ax_speed) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    x_of = {night.run_id: x for x, night in enumerate(nights)}
    for x, night in enumerate(nights):
        if not night.complete:
            for ax in (ax_time, ax_speed):
                ax.axvspan(x - 0.4, x + 0.4, color="0.9", zorder=0)
    for change in changes:
        if change.runtime is None and change.run_id in x_of:
            for ax in (ax_time, ax_speed):
                ax.axvline(x_of[change.run_id] - 0.5, color="0.5", linestyle="--", linewidth=0.8)
    for key in keys:
        ax = ax_speed if key.is_speedup else ax_time
        xs, mid, low, high = [], [], [], []
        for x, night in enumerate(nights):
            value = night.values.get(key)
            if night.complete and value is not None:
                q1, q3 = np.percentile(night.samples.get(key) or (value,), [25, 75])
                xs.append(x)
                mid.append(value)
                low.append(max(value - q1, 0.0))
                high.append(max(q3 - value, 0.0))
        colour = colours[key.runtime]
        cell = (key.runtime, key.workload, key.metric, key.workers)
        failed = [x for x, night in enumerate(nights) if night.complete and cell in night.failures]
        if failed:
            ax.plot(
                failed,
                [0] * len(failed),
                marker="x",
                markersize=8,
                color=colour,
                linestyle="none",
                clip_on=False,
            )
        if not xs:
            continue
        label = key.runtime if not key.is_speedup else f"{key.runtime} {key.metric} x{key.workers}"
        ax.errorbar(
            xs,
            mid,
            yerr=[low, high],
            color=colour,
            linestyle=STYLES.get(key.metric, "-"),
            marker="o",
            markersize=3.5,
            linewidth=1.3,
            capsize=2,
            label=label,
        )
        for change in changes:
            if change.runtime == key.runtime and x_of.get(change.run_id) in xs:
                x = x_of[change.run_id]
                ax.plot(
                    [x],
                    [mid[xs.index(x)]],
                    marker="D",
                    markersize=9,
                    color=colour,
                    markerfacecolor="none",
                    linestyle="none",
                )
        flag = comparisons.get(key)
        if flag is not None and flag.flagged and flag.run_id in x_of:
            ring = "#d62728" if flag.verdict == REGRESSION else "#2ca02c"
            ax.plot(
                [x_of[flag.run_id]],
                [flag.newest],
                marker="o",
                markersize=13,
                color=ring,
                markerfacecolor="none",
                markeredgewidth=2,
                linestyle="none",
            )
    labels = labels_for(nights)
    for ax, ylabel in (
        (ax_time, "serial wall s (night value, IQR)"),
        (ax_speed, "speedup T_serial / T_parallel"),
    ):
        ax.set_xticks(range(len(nights)))
        ax.set_xticklabels(labels, fontsize=7, rotation=0 if len(nights) <= 10 else 60)
        ax.set_xlim(-0.6, len(nights) - 0.4)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="y", color="0.9", linewidth=0.6)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6.5, loc="best", frameon=False)
    for ax in (ax_time, ax_speed):
        ax.set_ylim(0, ax.get_ylim()[1] * 1.08)  # room for the rings and diamonds
    ax_speed.axhline(1.0, color="0.6", linestyle=":", linewidth=0.8)
    ax_time.set_title("serial time (lower is better)", fontsize=9)
    ax_speed.set_title("speedup (higher is better)", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.text(
        0.5,
        0.005,
        "ring: flag listed on the judged night, new or standing (red regression, green "
        "improvement); "
        "diamond: runtime changed; dashed line: host changed; grey band: incomplete night; "
        "x on the axis: cell failed",
        ha="center",
        fontsize=6.5,
        color="0.35",
    )
    fig.subplots_adjust(left=0.06, right=0.99, top=0.86, bottom=0.17, wspace=0.18)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
