"""The verdict rules: thresholds, symbols, and the judgement of one speedup or speed ratio.

Every verdict carries its number and interval; too few samples give "inconclusive", never a
guess. All thresholds live here; :mod:`.verdicts` applies them to the claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.analyse import stats
from harness.analyse.run import Analysis, Speedup
from harness.analyse.stats import Comparison, Estimate
from harness.publish import markdown as f
from harness.vocabulary import WAIT_KINDS

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
# the interval: all of it above -> "needs warm-up", all below -> "yes", else "inconclusive".
WARMUP_NOTABLE = 1.5
# Units run side by side that each take at least this much longer than one alone, while
# CPU/wall shows the CPUs busy, slowed each other down. Said beside the speedup because it
# explains a low one; the cause is not known from the cell alone: contention inside the
# runtime (shared refcounts: cpython-3.13t alloc_shared 1.34x in 20261206T121645Z; a JIT's or
# collector's own threads) or the machine (shared caches, memory bandwidth, SMT siblings a VM
# cannot see: GIL-CPython cpu units 1.40-1.52x slower at 2 processes in 20261205T213731Z,
# 1.0x on the next day's host).
UNIT_SLOWDOWN_NOTABLE = 1.15

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
    """One table cell: a symbol and the sentence with the number behind it.

    ``text`` starts with the verdict's word (``scales``, ``no``, ``inconclusive``...) followed
    by a colon when numbers follow; ``value`` is the estimate it was judged on (a speedup, a
    speed or latency ratio), when there is one; ``why`` says what kept it from being judged;
    ``parts`` are the named verdicts a combined cell was made of (one per workload); ``note``
    is a fact that explains the value, said beside it in the one-line answers.
    """

    symbol: str
    text: str
    value: float | None = None
    why: str = ""
    parts: tuple[tuple[str, Verdict], ...] = ()
    note: str = ""

    def __str__(self) -> str:
        return f"{self.symbol} {self.text}".strip()

    @property
    def word(self) -> str:
        """The verdict in one word or phrase: the text before its first colon."""
        return self.text.split(":", 1)[0]


def scale_threshold(ceiling: int) -> float:
    """The speedup "scales" needs: half of the attainable gain, 1 + 0.5 x (ceiling - 1)."""
    return 1 + SCALE_GAIN_FRACTION * (ceiling - 1)


def judge_speedup(
    s: Speedup, cpus: int | None, yes: str = "scales", usual: int | None = None
) -> Verdict:
    """The verdict on one speedup, judged on its interval: scales / partly / no / slower /
    inconclusive; never judged when a cell behind it is invalid or incomplete.

    The text holds the estimate, its interval, CPU/wall and any problem; the N, the rule and the
    ceiling are the same for every runtime and are said once per claim (:func:`speedup_rule`).
    ``usual``: the run's invocation count, named only by an interval that has another.
    """
    c = s.comparison
    cpu_wall = f"; CPU/wall {f.fixed(s.cpu_wall)}" if s.kind not in WAIT_KINDS else ""
    slowed = side_by_side(s)
    facts = cpu_wall + (f"; {slowed}" if slowed else "")
    numbers = f"{f.times(c.ratio)} ({interval(c, usual)}{facts})"
    notes = "".join(f"; {WARN} {p}" for p in s.problems)
    threshold = scale_threshold(s.ceiling)

    def verdict(symbol: str, text: str) -> Verdict:
        return Verdict(symbol, text, value=c.ratio, note=slowed)

    if not s.judgeable:
        why = "; ".join(s.problems)
        return Verdict(WARN, f"not judged: {why} ({numbers})", value=c.ratio, why=why)
    if min(c.n_a, c.n_b) < stats.MIN_STEADY_SAMPLES:
        return verdict(INCONCLUSIVE, f"inconclusive: {c.n_a}+{c.n_b} samples{notes}")
    if s.workers == 1:
        return verdict(INFO, f"overhead only: {numbers}{notes}")
    if s.ceiling <= 1:
        return verdict(INCONCLUSIVE, f"inconclusive: {numbers}; 1 core, nothing to gain")
    if not c.testable:
        return verdict(INCONCLUSIVE, f"inconclusive: {numbers}; {untestable(c)}{notes}")
    if s.kind not in WAIT_KINDS and c.ci_low > s.ceiling * BEYOND_CEILING:
        return verdict(
            WARN,
            f"impossible: {numbers}: above the physical ceiling, so the host's speed changed "
            "during the run (other load?); rerun on a quiet machine",
        )
    if c.ci_low >= threshold:
        return verdict(YES, f"{yes}: {numbers}{notes}")
    if c.ci_high < threshold:
        if c.ci_low >= 1 + PRACTICAL_DIFF:
            return verdict(PARTLY, f"partly: {numbers}{notes}")
        if c.ci_high <= 1 - PRACTICAL_DIFF:
            return verdict(NO, f"slower: {numbers}{notes}")
        return verdict(NO, f"no: {numbers}{notes}")
    return verdict(
        INCONCLUSIVE, f"inconclusive: {numbers}: the interval straddles the threshold{notes}"
    )


def side_by_side(s: Speedup) -> str:
    """``each unit 1.40× slower side by side`` where units that ran in parallel (CPU/wall at
    least the *scales* threshold) each took UNIT_SLOWDOWN_NOTABLE longer than alone, else "".
    More units than CPUs share them by turns, so the slowdown that is counted is the one
    beyond N ÷ ceiling."""
    if s.kind in WAIT_KINDS or s.workers < 2 or s.ceiling < 2 or math.isnan(s.unit_slowdown):
        return ""
    beyond_sharing = s.unit_slowdown * s.ceiling / s.workers
    if beyond_sharing < UNIT_SLOWDOWN_NOTABLE or not s.cpu_wall >= scale_threshold(s.ceiling):
        return ""
    return f"each unit {f.times(beyond_sharing)} slower side by side"


def speedup_rule(s: Speedup, cpus: int | None, yes: str = "scales") -> str:
    """What a speedup's verdict is judged at and against, the same for every runtime of a
    claim: ``at 2 threads: scales needs ≥ 1.50× (ceiling 2)``."""
    unit = UNIT.get(s.mode, s.mode)
    beyond = f", N > {cpus} cores" if cpus and s.workers > cpus and s.kind not in WAIT_KINDS else ""
    if s.workers <= 1 or s.ceiling <= 1:
        return f"at {s.workers} {unit} (ceiling {s.ceiling}{beyond})"
    need = f.times(scale_threshold(s.ceiling))
    return f"at {s.workers} {unit}: *{yes}* needs ≥ {need} (ceiling {s.ceiling}{beyond})"


def usual_invocations(a: Analysis) -> int | None:
    """The run's invocation count: the most any speedup's interval was computed over."""
    counts = [s.comparison.invocations for s in a.speedups.values()]
    return max(counts) if counts else None


def interval(c: Comparison, usual: int | None = None) -> str:
    """``95% CI 1.62–1.95, 3 invocations`` or ``range 1.4–2.0, 1 invocation``; without the
    count when it is the run's ``usual`` one (said once for the whole table)."""
    span = f"{c.interval_label} {f.fixed(c.ci_low)}–{f.fixed(c.ci_high)}"
    if usual is not None and c.invocations == usual:
        return span
    return f"{span}, {c.invocations} invocation{'s' if c.invocations != 1 else ''}"


def untestable(c: Comparison) -> str:
    """Why a comparison carries no verdict."""
    if c.invocations <= 1:
        return "one invocation: the range of its repetitions is no confidence interval"
    return "no interval"


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
    return judge_speedup(s, a.cpus, yes=yes, usual=usual_invocations(a))


def relative_speed(e: Estimate, baseline: str) -> Verdict:
    """A speed ratio (>1 = faster than ``baseline``) judged on its interval: faster or slower
    when all of it is beyond 5%, the same speed when all of it is within 5%, else inconclusive."""
    k = f"geomean of {e.n} workload{'s' if e.n != 1 else ''}"
    numbers = f"{f.times(e.value)} the speed of {baseline} ({f.ci(e.ci_low, e.ci_high)}; {k})"
    if e.ci_low > 1 + PRACTICAL_DIFF:
        return Verdict(YES, f"faster: {numbers}", value=e.value)
    if e.ci_high < 1 / (1 + PRACTICAL_DIFF):
        return Verdict(NO, f"slower: {numbers}", value=e.value)
    if e.ci_low >= 1 / (1 + PRACTICAL_DIFF) and e.ci_high <= 1 + PRACTICAL_DIFF:
        return Verdict(NO, f"same speed: {numbers}", value=e.value)
    return Verdict(INCONCLUSIVE, f"inconclusive: {numbers}", value=e.value)
