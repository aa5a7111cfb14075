"""The report's opening: title, machine, runtimes, and how to read the rest."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.analyse.run import Analysis
from harness.publish import markdown as f
from harness.publish.report import judge as v
from harness.publish.report.cells import gil_label, or_default, plural, table
from harness.publish.report.seed import SEED_LEGEND
from harness.store.meta import COMPLETE, RunMeta


def headline(a: Analysis) -> str:
    meta = a.meta
    host = meta.host
    suite = meta.suite_name or "?"
    backend = meta.backend or _first_value(a.df, "backend") or "?"
    if backend == "local":
        where = "local: **not containerised** (host interpreters, no cpuset pinning)"
    else:
        where = f"{backend} (containerised)"
    pinning = []
    if meta.cpuset is not None:
        pinning.append(f"cpuset `{meta.cpuset}`")
    if meta.cpus is not None:
        pinning.append(f"{meta.cpus} CPUs")
    if meta.memory_limit:
        pinning.append(f"memory limit {meta.memory_limit}")
    pinned = (
        f"; containers pinned to {', '.join(pinning)}" if pinning and backend != "local" else ""
    )
    machine = (
        f"{or_default(host.cpu_model, 'unknown CPU')} "
        f"({or_default(host.cores, '?')} cores{pinned}), "
        f"{or_default(host.os, '')} kernel {or_default(host.kernel, '?')}".replace(" ,", ",")
    )
    lines = [
        f"# gilbench report: `{meta.run_id or a.run_dir.name}`",
        "",
        f"**Suite:** `{suite}` · **date:** {_time_span(meta)} · **backend:** {where} · "
        f"**status:** {meta.status}",
        "",
        f"**Machine:** {machine}.",
    ]
    overhead = _overhead(a)
    if overhead:
        lines += ["", overhead]
    if meta.status not in (None, COMPLETE):
        lines += ["", f"> {v.WARN} The run is **{meta.status}**: some cells may be missing."]
    if a.cpus:
        lines += ["", f"**Ceiling:** {a.cpus_basis}."]
    noise = _disturbance(a)
    if noise:
        lines += ["", noise]
    max_n = int(a.cells["workers"].max()) if len(a.cells) else 0
    if a.cpus and max_n > a.cpus:
        lines += [
            "",
            f"> {v.WARN} Only {a.cpus} CPUs: CPU-bound work cannot run faster than {a.cpus}× "
            f"however many workers there are, so scaling beyond {a.cpus} cannot be measured "
            f"here. Rows with N > {a.cpus} show that ceiling; they are not failures to scale.",
        ]
    rows = []
    for info in a.runtimes:
        name = f"{info.id} (baseline)" if info.id == a.baseline else info.id
        if not info.available:
            status = f"{v.UNAVAILABLE} unavailable: {info.reason or '?'}"
        elif (a.cells["runtime"] == info.id).any():
            status = "ran"
        else:
            status = f"{v.WARN} no results recorded"
        rows.append(
            [
                name,
                info.implementation or f.DASH,
                info.version or f.DASH,
                gil_label(info) if info.available else f.DASH,
                info.pool or f.DASH,
                status,
            ]
        )
    lines += [
        "",
        table(
            rows, ["runtime", "implementation", "Python", "GIL (probed)", "process pool", "status"]
        ),
    ]
    return "\n".join(lines)


def _time_span(meta: RunMeta) -> str:
    start = str(meta.started_at or "")
    end = str(meta.finished_at or "")
    if not start:
        return "date unknown"
    s_date, _, s_time = start.rstrip("Z").partition("T")
    e_date, _, e_time = end.rstrip("Z").partition("T")
    if not end:
        return f"{s_date} {s_time[:5]} UTC"
    if e_date == s_date:
        return f"{s_date} {s_time[:5]}–{e_time[:5]} UTC"
    return f"{s_date} {s_time[:5]} – {e_date} {e_time[:5]} UTC"


def _overhead(a: Analysis) -> str | None:
    """Where the run's wall time went: steady measurements, warm-up repetitions (timed, not
    used), and everything outside any timed region."""
    total = a.meta.wall_total_s
    if not isinstance(total, int | float) or total <= 0 or not len(a.df):
        return None
    ok = a.df[a.df["ok"].astype(bool)]
    walls = pd.to_numeric(ok["wall_s"], errors="coerce").fillna(0.0)
    warm = float(walls[ok["warmup"].astype(bool)].sum())
    steady = float(walls.sum()) - warm
    outside = max(0.0, total - steady - warm)
    return (
        f"**Wall time:** {f.seconds(total)}: {f.seconds(steady)} ({steady / total:.0%}) in "
        f"steady measurements, {f.seconds(warm)} ({warm / total:.0%}) in warm-up repetitions "
        f"(timed, not used), and **harness overhead** {f.seconds(outside)} "
        f"({outside / total:.0%}) outside any timed region (image checks, container and "
        "interpreter start-up, process pools, calibration, reporting)."
    )


def _first_value(df: pd.DataFrame, column: str) -> Any:
    values = df[column].dropna() if column in df.columns else []
    return values.iloc[0] if len(values) else None


def how_to_read(a: Analysis) -> str:
    cores = f"{a.cpus} cores here" if a.cpus else "core count unknown"
    items = [
        "**Cell**: one runtime × workload × mode × N workers. Serial runs N units of work one "
        "after another; threads, processes and asyncio run the same N units at once. Times are "
        "medians of the steady repetitions (warm-ups excluded) with their interquartile range "
        "(IQR).",
        "**Speedup** = serial time ÷ parallel time for the same N units. Its **ceiling** is the "
        f"most physics allows: min(N, cores) for work that needs a CPU ({cores}), N for waiting "
        "(I/O). **CPU/wall** ≈ how many cores were busy: about 1 means one core did all the work. "
        "*Each unit k× slower side by side*: the units did run in parallel (CPU/wall), but "
        "each took k× as long as alone, which lowers the speedup. The cell does not tell why: "
        "contention inside the runtime (shared reference counts or locks, which `alloc_shared` "
        "measures on purpose; a JIT's or collector's own threads on the same CPUs) or the "
        "machine (shared caches, memory bandwidth, vCPUs that are SMT siblings of one host "
        "core, which a VM cannot see); the same note on every runtime's cell points at the "
        "machine. "
        "The scaling tables' **unit vs alone** is that ratio for every cell (a unit's median "
        "time in the mode over its median in serial): units waiting for the GIL take N× as "
        "long, and N units on fewer CPUs take turns (N ÷ ceiling), which the note leaves out.",
        "**Invocations** are the unit of replication: each cell is measured in several fresh "
        "interpreter processes (rounds over the runtimes), because repetitions inside one "
        "process share its luck and are not independent evidence.",
        "**Intervals**: a 95% CI is Student's t over the invocations' medians (ratios: one per "
        "invocation, serial and parallel from the same process), so it covers the drift "
        "between processes, not only the jitter between repetitions. With one invocation the "
        "interval is only the **range** of the repetitions and carries no verdict.",
        "**Verdicts are judged on the interval**: *scales* when its lower end clears the "
        "threshold, *no* or *slower* when its upper end is below it, otherwise *inconclusive* "
        "with the interval shown. Measurements during which other processes used the same CPUs "
        "are left out and counted; a cell with a wrong checksum or a failed repetition is "
        "never judged as complete.",
        f"**Detail tables** also give a Mann–Whitney p over the repetitions (Benjamini–Hochberg "
        f"adjusted over {plural(a.n_tests, 'comparison')}) and Cliff's δ (−1…+1): indications "
        "only, since repetitions are not independent.",
        f"**Symbols**: {v.LEGEND}. Under each verdict, apart from it: {SEED_LEGEND}.",
    ]
    return "## How to read this report\n\n" + "\n".join(f"- {item}" for item in items)


def _disturbance(a: Analysis) -> str | None:
    """How many steady measurements other processes disturbed, and what became of them; None
    where no measurement recorded the other processes' CPU time."""
    d = a.disturbance
    if "others_cpu_s" not in a.df or not a.df["others_cpu_s"].notna().any() or not d.measurements:
        return None
    if not d.disturbed:
        return (
            f"**Neighbours:** no steady measurement of {d.measurements} was disturbed by other "
            "processes on the cpuset's CPUs."
        )
    return (
        f"**Neighbours:** {d.disturbed} of {d.measurements} steady measurements were disturbed "
        f"by other processes on the cpuset's CPUs and are left out; {d.repeated} of them were "
        f"measured again, {d.stayed_disturbed} {'was' if d.stayed_disturbed == 1 else 'were'} not "
        "(their cells are listed under Problems)."
    )
