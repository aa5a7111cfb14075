"""From numbers to verdicts: the claims of DESIGN.md section 6, the thresholds, the wording.

Every verdict carries its number and interval; too few samples give "inconclusive", never a
guess. All thresholds live here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.analyse import stats
from harness.analyse.run import Analysis, Speedup
from harness.analyse.stats import Comparison, Estimate
from harness.publish import markdown as f
from harness.vocabulary import LATENCY_METRIC, WAIT_KINDS

# --- thresholds -------------------------------------------------------------------------------
# "Scales" = a significant speedup that realises at least half of the possible gain:
# speedup - 1 >= 0.5 * (ceiling - 1). GIL-bound threads sit near 1.0x and truly parallel ones
# at 1.6-2.0x on a noisy 2-core VM (DESIGN.md section 5); halfway separates them with margin.
SCALE_GAIN_FRACTION = 0.5
# Differences under 5% are not called faster/slower even when significant: they are below what
# a machine with ±20% run-to-run noise can be trusted to rank.
PRACTICAL_DIFF = 0.05
# A CPU-bound speedup whose whole interval lies this far above min(N, cores) is impossible: the
# machine's speed changed between the serial and the parallel cells (other load, frequency).
# It is shown as a warning about the run, never as scaling.
BEYOND_CEILING = 1.05
# The convoy effect = the median I/O round trip at least doubles while CPU threads run. OS
# scheduling alone adds a little latency on every runtime; a GIL hand-off (5 ms switch interval)
# inflates a ~0.1 ms round trip by one or two orders of magnitude, so 2x separates the two.
CONVOY_INFLATION = 2.0
# A first run at least 1.5x the steady time changes what a single timing tells you (hyperfine
# warns on "first run much slower"); below that it is within this machine's noise. Judged on
# the interval: all of it above -> "needs warm-up", all below -> "yes", else "some warm-up".
WARMUP_NOTABLE = 1.5

YES, PARTLY, NO, INCONCLUSIVE, WARN, INFO = "✅", "🟡", "❌", "❔", "⚠️", "ℹ️"
NA, FAILED, UNAVAILABLE, NOT_APPLICABLE = "🚫", "💥", "⛔", "—"
LEGEND = (
    f"{YES} yes · {PARTLY} partly · {NO} no · {INCONCLUSIVE} inconclusive · {WARN} caution · "
    f"{INFO} information · {NA} n/a (mode does not exist on that runtime) · {FAILED} failed · "
    f"{UNAVAILABLE} runtime unavailable · {NOT_APPLICABLE} does not apply"
)
UNIT = {"threads": "threads", "processes": "processes", "asyncio": "tasks", "serial": "units"}


@dataclass(frozen=True)
class Verdict:
    """One table cell: a symbol and the sentence with the number behind it."""

    symbol: str
    text: str

    def __str__(self) -> str:
        return f"{self.symbol} {self.text}".strip()


@dataclass(frozen=True)
class Claim:
    """A claim of the seed post and how this run measures it."""

    key: str
    question: str
    measured_by: str
    seed: str
    yes: str = "scales"


CLAIMS = (
    Claim(
        "cpu-threads",
        "CPU-bound threads run in parallel?",
        "`cpu`: threads vs serial",
        "CPython and PyPy have a GIL, so CPU-bound threads don't run in parallel; Jython "
        "and IronPython have none, so theirs do.",
    ),
    Claim(
        "alloc-threads",
        "Threads scale with shared refcount traffic?",
        "`alloc`: threads vs serial",
        "The GIL exists because of reference counting (the JVM/.NET use a tracing GC).",
    ),
    Claim(
        "cpu-processes",
        "Processes sidestep the GIL?",
        "`cpu`: processes vs serial",
        "multiprocessing sidesteps the GIL: separate processes share no interpreter.",
    ),
    Claim(
        "spawn",
        "Price of starting a process",
        "`spawn`: serial time per process",
        "(not a claim: the start-up price paid by the previous row).",
    ),
    Claim(
        "clib-threads",
        "Threads help in C libraries?",
        "`clib`: threads vs serial",
        "C libraries (numpy, hashlib, zlib...) release the GIL, so threads help there.",
    ),
    Claim(
        "io-threads",
        "I/O-bound threads overlap?",
        "`io`: threads vs serial",
        "I/O-bound threads overlap: the GIL is released while waiting.",
        yes="overlaps",
    ),
    Claim(
        "convoy",
        "I/O stays responsive next to CPU threads?",
        "`convoy`: mean I/O latency, busy threads vs none",
        "Which thread runs next is near random (the convoy effect).",
    ),
    Claim(
        "asyncio",
        "asyncio overlaps I/O in one thread?",
        "`io`: asyncio vs serial",
        "asyncio overlaps I/O in a single thread (for I/O only).",
        yes="overlaps",
    ),
    Claim(
        "serial-speed",
        "Single-thread speed vs the baseline",
        "compute workloads, serial: geometric mean",
        "PyPy's JIT makes it much faster than CPython.",
    ),
    Claim(
        "warmup",
        "Fast from the first run?",
        "first rep vs steady median",
        "A JIT compiles hot code first: early runs are slower.",
    ),
    Claim(
        "free-threading",
        "Free-threading: gain and single-thread cost",
        "`cpu` threads and serial: free-threaded build vs its GIL twin",
        '"Just wait": no attempt to remove the GIL has been accepted.',
    ),
)
CLAIM_WORKLOAD = {
    "cpu-threads": ("cpu", "threads"),
    "alloc-threads": ("alloc", "threads"),
    "cpu-processes": ("cpu", "processes"),
    "clib-threads": ("clib", "threads"),
    "io-threads": ("io", "threads"),
    "asyncio": ("io", "asyncio"),
}


@dataclass(frozen=True)
class VerdictRow:
    """One claim and its verdict per runtime (keyed by runtime id)."""

    claim: Claim
    cells: dict[str, Verdict]


def verdict_rows(a: Analysis) -> list[VerdictRow]:
    """The Verdicts table: one row per claim, one verdict per runtime."""
    rows = []
    for claim in CLAIMS:
        cells = {}
        for info in a.runtimes:
            if not info.available:
                cells[info.id] = Verdict(UNAVAILABLE, "runtime unavailable")
            else:
                cells[info.id] = _judge(a, claim, info.id)
        rows.append(VerdictRow(claim, cells))
    return rows


def _judge(a: Analysis, claim: Claim, rt: str) -> Verdict:
    if claim.key in CLAIM_WORKLOAD:
        workload, mode = CLAIM_WORKLOAD[claim.key]
        verdict = mode_verdict(a, rt, workload, mode, yes=claim.yes)
        if claim.key == "asyncio":
            verdict = _with_asyncio_vs_threads(a, rt, workload, verdict)
        return verdict
    if claim.key == "spawn":
        return spawn_verdict(a, rt)
    if claim.key == "convoy":
        return convoy_verdict(a, rt)
    if claim.key == "serial-speed":
        return serial_verdict(a, rt)
    if claim.key == "warmup":
        return warmup_verdict(a, rt)
    return free_threading_verdict(a, rt)


# --- speedups ---------------------------------------------------------------------------------


def judge_speedup(s: Speedup, cpus: int | None, yes: str = "scales") -> Verdict:
    """The verdict on one speedup: scales / partly / no / slower / inconclusive."""
    c = s.comparison
    unit = UNIT.get(s.mode, s.mode)
    cpu_wall = f"; CPU/wall {f.fixed(s.cpu_wall)}" if s.kind not in WAIT_KINDS else ""
    beyond = f"; N > {cpus} cores" if cpus and s.workers > cpus and s.kind not in WAIT_KINDS else ""
    numbers = (
        f"{f.times(c.ratio)} at {s.workers} {unit} "
        f"({f.ci(c.ci_low, c.ci_high)}; ceiling {s.ceiling}{cpu_wall}{beyond})"
    )
    if min(c.n_a, c.n_b) < stats.MIN_STEADY_SAMPLES:
        return Verdict(INCONCLUSIVE, f"inconclusive: {c.n_a}+{c.n_b} samples")
    if s.workers == 1:
        return Verdict(INFO, f"overhead only: {numbers}")
    if s.ceiling <= 1:
        return Verdict(INCONCLUSIVE, f"inconclusive: {numbers}; 1 core, nothing to gain")
    if not c.testable:
        return Verdict(INCONCLUSIVE, f"inconclusive: {numbers}; {_untestable(c)}")
    if s.kind not in WAIT_KINDS and c.ci_low > s.ceiling * BEYOND_CEILING:
        return Verdict(
            WARN,
            f"impossible: {numbers}: above the physical ceiling, so the host's speed changed "
            "during the run (other load?); rerun on a quiet machine",
        )
    if c.significant and c.ratio >= 1 + PRACTICAL_DIFF:
        gain = (c.ratio - 1) / (s.ceiling - 1)
        if gain >= SCALE_GAIN_FRACTION:
            return Verdict(YES, f"{yes}: {numbers}")
        return Verdict(PARTLY, f"partly: {numbers}")
    if c.significant and c.ratio <= 1 - PRACTICAL_DIFF:
        return Verdict(NO, f"slower: {numbers}")
    why = "not significantly" if not c.significant else f"within ±{PRACTICAL_DIFF:.0%} of"
    return Verdict(
        NO, f"no: {numbers}, {why} different from serial (adjusted {f.pvalue(c.p_adjusted)})"
    )


def _untestable(c: Comparison) -> str:
    p = stats.min_attainable_p(c.n_a, c.n_b)
    return f"{c.n_a}+{c.n_b} samples cannot reach p<{stats.ALPHA} (best p={p:.2f})"


def absent_verdict(a: Analysis, rt: str, workload: str, mode: str, n: int | None) -> Verdict:
    """Why a speedup is missing: unsupported, failed, inconclusive or not measured."""
    c = a.cells
    mine = c[(c["runtime"] == rt) & (c["workload"] == workload)]
    for m in (mode, "serial"):
        rows = mine[mine["mode"] == m]
        if n is not None and (rows["workers"] == n).any():
            rows = rows[rows["workers"] == n]
        for status, symbol, word in (
            ("unsupported", NA, "n/a"),
            ("failed", FAILED, "failed"),
            ("inconclusive", INCONCLUSIVE, "inconclusive"),
        ):
            hit = rows[rows["status"] == status]
            if len(hit):
                where = f"{m}" if m == mode else f"{m} (the reference)"
                return Verdict(symbol, f"{word}: {where}: {hit.iloc[0]['reason']}")
    return Verdict(NOT_APPLICABLE, "not measured")


def mode_verdict(
    a: Analysis, rt: str, workload: str, mode: str, yes: str = "scales", n: int | None = None
) -> Verdict:
    """The verdict on ``mode`` vs serial at N (default: the workload's verdict N)."""
    n = n if n is not None else a.verdict_workers.get((workload, mode))
    s = a.speedups.get((rt, workload, mode, n)) if n is not None else None
    if s is None:
        return absent_verdict(a, rt, workload, mode, n)
    return judge_speedup(s, a.cpus, yes=yes)


def _with_asyncio_vs_threads(a: Analysis, rt: str, workload: str, verdict: Verdict) -> Verdict:
    n = a.verdict_workers.get((workload, "asyncio"))
    c = a.asyncio_vs_threads.get((rt, workload, n or -1))
    if c is None or verdict.symbol in (NA, FAILED, NOT_APPLICABLE):
        return verdict
    if c.significant and abs(c.ratio - 1) >= PRACTICAL_DIFF:
        word = "faster" if c.ratio > 1 else "slower"
        extra = f"{word} than threads: {f.times(c.ratio)} ({f.ci(c.ci_low, c.ci_high)})"
    else:
        extra = f"same as threads: {f.times(c.ratio)}, n.s."
    return Verdict(verdict.symbol, f"{verdict.text}; {extra}")


# --- other claims ----------------------------------------------------------------------------


def spawn_verdict(a: Analysis, rt: str) -> Verdict:
    """Seconds per started process (information, not a yes/no)."""
    found = sorted((w, v) for (r, w), v in a.spawn.items() if r == rt)
    if not found:
        return absent_verdict(a, rt, "spawn", "serial", None)
    _, (n, e) = found[0]
    if e.n < stats.MIN_STEADY_SAMPLES:
        return Verdict(INCONCLUSIVE, f"inconclusive: {e.n} samples")
    span = f.seconds_range(e.ci_low, e.ci_high)
    return Verdict(INFO, f"{f.seconds(e.value)} per process (95% CI {span})")


def convoy_verdict(a: Analysis, rt: str) -> Verdict:
    """I/O latency inflation with N busy CPU threads (N = the convoy verdict N)."""
    workloads = sorted(w for w, k in a.kinds.items() if k == "latency")
    if not workloads:
        return Verdict(NOT_APPLICABLE, "not measured")
    workload = workloads[0]
    n = a.verdict_workers.get((workload, "threads"))
    c = a.convoy.get((rt, workload, n or -1))
    if c is None:
        return absent_verdict(a, rt, workload, "threads", n)
    quiet, busy = convoy_medians(a, rt, workload, n or 0)
    numbers = (
        f"mean latency {f.times(c.ratio)} ({f.ci(c.ci_low, c.ci_high)}): "
        f"{f.millis(quiet)} → {f.millis(busy)} with {n} busy threads"
    )
    if min(c.n_a, c.n_b) < stats.MIN_STEADY_SAMPLES:
        return Verdict(INCONCLUSIVE, f"inconclusive: {c.n_a}+{c.n_b} samples")
    if not c.testable:
        return Verdict(INCONCLUSIVE, f"inconclusive: {numbers}; {_untestable(c)}")
    if c.significant and c.ratio >= CONVOY_INFLATION:
        return Verdict(NO, f"convoy: {numbers}")
    if c.ci_high >= CONVOY_INFLATION and not (c.significant and c.ratio < CONVOY_INFLATION):
        # the interval reaches a convoy but the test cannot tell: say so, don't call it "no"
        return Verdict(
            INCONCLUSIVE,
            f"inconclusive: {numbers}, not significant (adjusted {f.pvalue(c.p_adjusted)})",
        )
    return Verdict(YES, f"no convoy: {numbers}")


def convoy_medians(a: Analysis, rt: str, workload: str, n: int) -> tuple[float, float]:
    """Median of the mean latency (ms) without and with N busy threads."""
    serial_ns = sorted(
        int(x)
        for x in a.cells.loc[
            (a.cells["runtime"] == rt)
            & (a.cells["workload"] == workload)
            & (a.cells["mode"] == "serial"),
            "workers",
        ]
    )
    base_n = n if n in serial_ns else (serial_ns[0] if serial_ns else n)
    quiet = a.samples(rt, workload, "serial", base_n, LATENCY_METRIC)
    busy = a.samples(rt, workload, "threads", n, LATENCY_METRIC)
    return (
        float(np.median(quiet)) if len(quiet) else float("nan"),
        float(np.median(busy)) if len(busy) else float("nan"),
    )


def relative_speed(e: Estimate, baseline: str) -> Verdict:
    """A speed ratio (>1 = faster than ``baseline``) judged on its interval."""
    k = f"geomean of {e.n} workload{'s' if e.n != 1 else ''}"
    numbers = f"{f.times(e.value)} the speed of {baseline} ({f.ci(e.ci_low, e.ci_high)}; {k})"
    if e.ci_low > 1 + PRACTICAL_DIFF:
        return Verdict(YES, f"faster: {numbers}")
    if e.ci_high < 1 / (1 + PRACTICAL_DIFF):
        return Verdict(NO, f"slower: {numbers}")
    if e.ci_low != e.ci_low:  # NaN: no interval
        return Verdict(INCONCLUSIVE, f"inconclusive: {numbers}")
    return Verdict(NO, f"no clear difference: {numbers}")


def serial_verdict(a: Analysis, rt: str) -> Verdict:
    """Single-thread speed vs the baseline runtime (geometric mean over compute workloads)."""
    if rt == a.baseline:
        return Verdict(INFO, "the baseline (1×)")
    e = a.serial_geomean.get(rt)
    if e is None:
        return Verdict(INCONCLUSIVE, f"inconclusive: no serial cells comparable with {a.baseline}")
    return relative_speed(e, a.baseline)


def warmup_verdict(a: Analysis, rt: str) -> Verdict:
    """First run vs steady state, median over the compute workloads' first cells."""
    e = a.warmup.get(rt)
    if e is None:
        return Verdict(INCONCLUSIVE, "inconclusive: no cold run with a steady state to compare")
    k = f"median of {e.n} workload{'s' if e.n != 1 else ''}"
    numbers = f"first run {f.times(e.value)} the steady time ({f.ci(e.ci_low, e.ci_high)}; {k})"
    if e.n < stats.MIN_STEADY_SAMPLES:
        return Verdict(INCONCLUSIVE, f"inconclusive: {numbers}")
    if e.ci_low >= WARMUP_NOTABLE:
        return Verdict(WARN, f"needs warm-up: {numbers}")
    if e.ci_high < WARMUP_NOTABLE:
        return Verdict(YES, f"yes: {numbers}")
    return Verdict(PARTLY, f"some warm-up: {numbers}")


def free_threading_verdict(a: Analysis, rt: str) -> Verdict:
    """For a free-threaded build: threads gain over its GIL twin, and single-thread cost."""
    if rt not in a.twins:
        if rt in a.twins.values():
            twin = next(ft for ft, gil in a.twins.items() if gil == rt)
            return Verdict(NOT_APPLICABLE, f"GIL twin of {twin}")
        return Verdict(NOT_APPLICABLE, "no free-threaded twin")
    gil = a.twins[rt]
    n = a.verdict_workers.get(("cpu", "threads"))
    gain = a.twin_gain.get((rt, "cpu", n or -1))
    cost = a.twin_cost_geomean.get(rt)
    cost_text = (
        f"single-thread cost {f.percent_change(cost.value)} "
        f"(95% CI {f.percent_change(cost.ci_low)} to {f.percent_change(cost.ci_high)}; "
        f"geomean of {cost.n} workload{'s' if cost.n != 1 else ''})"
        if cost is not None
        else "single-thread cost: not measured"
    )
    if gain is None:
        return Verdict(INCONCLUSIVE, f"inconclusive: no `cpu` threads cells on both; {cost_text}")
    gain_text = (
        f"`cpu` with {n} threads {f.times(gain.ratio)} as fast as {gil} "
        f"({f.ci(gain.ci_low, gain.ci_high)})"
    )
    if not gain.testable:
        reason = (
            _untestable(gain)
            if min(gain.n_a, gain.n_b) >= stats.MIN_STEADY_SAMPLES
            else f"{gain.n_a}+{gain.n_b} samples"
        )
        return Verdict(INCONCLUSIVE, f"inconclusive: {gain_text}; {reason}; {cost_text}")
    if gain.significant and gain.ratio >= 1 + PRACTICAL_DIFF:
        return Verdict(YES, f"gain: {gain_text}; {cost_text}")
    if gain.significant and gain.ratio <= 1 - PRACTICAL_DIFF:
        return Verdict(NO, f"loss: {gain_text}; {cost_text}")
    return Verdict(NO, f"no gain: {gain_text}, n.s.; {cost_text}")
