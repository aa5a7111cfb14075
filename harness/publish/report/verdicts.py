"""The claims of DESIGN.md section 6 and their verdict per runtime, from an ``Analysis``.

The rules (thresholds, symbols, one speedup's judgement) live in :mod:`.judge`; this module
says which workloads answer which claim and how several of them combine into one cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.analyse import stats
from harness.analyse.run import Analysis, RuntimeInfo
from harness.publish import markdown as f
from harness.publish.report.judge import (
    CONVOY_INFLATION,
    FAILED,
    INCONCLUSIVE,
    INFO,
    NA,
    NO,
    NOT_APPLICABLE,
    PARTLY,
    PRACTICAL_DIFF,
    UNAVAILABLE,
    WARMUP_NOTABLE,
    WARN,
    YES,
    Verdict,
    absent_verdict,
    interval,
    mode_verdict,
    relative_speed,
    speedup_rule,
    untestable,
    usual_invocations,
)
from harness.publish.report.seed import SeedMark, seed_mark
from harness.vocabulary import LATENCY_KINDS

# C code that releases the GIL (the claim), and the control that holds it (must not scale)
CLIB_WORKLOADS = ("hash", "zlib", "numpy")
CHOLDS = "cholds"
# the refcount claim: one shared object, a shared class, against private allocation
REFCOUNT_SHARED = ("alloc_shared", "alloc_type")
REFCOUNT_PRIVATE = "alloc_private"
# compiled C code that releases the GIL (Cython ``with nogil:``), against the same primes without
NOGIL, NOGIL_PLAIN = "cpu_nogil", "cpu"
SPAWN_LABELS = {"spawn_fresh": "fresh interpreter", "spawn_mp": "default start method"}
# the names of runs before the split (they still render, judged as before)
OLD_CLIB, OLD_ALLOC, OLD_SPAWN = "clib", "alloc", "spawn"


@dataclass(frozen=True)
class Claim:
    """A claim of the seed post and how this run measures it."""

    key: str
    question: str
    measured_by: str
    seed: str
    yes: str = "scales"
    needs: str | None = None  # a workload without which the row is left out


CLAIMS = (
    Claim(
        "cpu-threads",
        "CPU-bound threads run in parallel?",
        "`cpu`: threads vs serial",
        "CPython and PyPy have a GIL, so CPU-bound threads don't run in parallel; Jython "
        "and IronPython have none, so theirs do.",
    ),
    Claim(
        "refcount",
        "Threads scale with shared refcount traffic?",
        "`alloc_shared`, `alloc_type` (threads vs serial) against `alloc_private`",
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
        "`spawn_fresh` (a fresh interpreter) and `spawn_mp` (the default start method): "
        "serial time per process",
        "(not a claim: the start-up price paid by the previous row).",
    ),
    Claim(
        "smalltasks",
        "Processes pay for many small tasks?",
        "`smalltasks`: processes vs serial",
        "(not a claim: where the previous row stops holding, pickling and pipes dominate).",
        yes="pays",
    ),
    Claim(
        "clib-threads",
        "Threads help in C libraries?",
        "`hash`, `zlib`, `numpy`: threads vs serial; `cholds` (C code holding the GIL) as the "
        "contrast",
        "C libraries (numpy, hashlib, zlib...) release the GIL, so threads help there.",
    ),
    Claim(
        "nogil",
        "C code that releases the GIL: Cython `with nogil:`",
        f"`{NOGIL}` (the `{NOGIL_PLAIN}` primes inside `with nogil:`): threads vs serial, "
        f"against plain `{NOGIL_PLAIN}` threads on the same runtime",
        "C code that releases the GIL lets threads help (the seed's advice to move work into "
        "C): Cython with `with nogil:` scales, plain Cython does not.",
        needs=NOGIL,
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
        "compute kernels (`cpu`, `spectral`, `fannkuch`), serial: geometric mean",
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
    "cpu-processes": ("cpu", "processes"),
    "smalltasks": ("smalltasks", "processes"),
    "io-threads": ("io", "threads"),
    "asyncio": ("io", "asyncio"),
}
# every speedup (workload, mode) a claim is judged on: their N, rule and ceiling head the row
CLAIM_SPEEDUPS = {
    **{key: (wm,) for key, wm in CLAIM_WORKLOAD.items()},
    "refcount": tuple((w, "threads") for w in (*REFCOUNT_SHARED, REFCOUNT_PRIVATE, OLD_ALLOC)),
    "clib-threads": tuple((w, "threads") for w in (*CLIB_WORKLOADS, CHOLDS, OLD_CLIB)),
    "nogil": ((NOGIL, "threads"), (NOGIL_PLAIN, "threads")),
}


@dataclass(frozen=True)
class VerdictRow:
    """One claim: its verdict per runtime, whether the seed's sentence holds there (None: the
    seed says nothing of that runtime), both keyed by runtime id, and the rule of the row."""

    claim: Claim
    cells: dict[str, Verdict]
    seed: dict[str, SeedMark | None]
    rule: str = ""


def verdict_rows(a: Analysis) -> list[VerdictRow]:
    """The Verdicts table: one row per claim the run measured, one verdict per runtime."""
    rows = []
    for claim in CLAIMS:
        if claim.needs is not None and claim.needs not in a.workloads:
            continue
        cells, seed = {}, {}
        for info in a.runtimes:
            if not info.available:
                cells[info.id] = Verdict(UNAVAILABLE, "runtime unavailable")
                seed[info.id] = None
            else:
                cells[info.id] = _judge(a, claim, info)
                seed[info.id] = seed_mark(claim.key, info, cells[info.id])
        rows.append(VerdictRow(claim, cells, seed, claim_rule(a, claim)))
    return rows


def claim_rule(a: Analysis, claim: Claim) -> str:
    """What every cell of a claim's row is judged at and against, said once for the row."""
    if claim.key in CLAIM_SPEEDUPS:
        rules: dict[str, list[str]] = {}
        for workload, mode in CLAIM_SPEEDUPS[claim.key]:
            n = a.verdict_workers.get((workload, mode))
            s = next((s for k, s in a.speedups.items() if k[1:] == (workload, mode, n)), None)
            if s is not None:
                rules.setdefault(speedup_rule(s, a.cpus, claim.yes), []).append(workload)
        if len(rules) <= 1:
            return next(iter(rules), "")
        return "; ".join(f"{', '.join(f'`{w}`' for w in ws)} {r}" for r, ws in rules.items())
    if claim.key == "convoy":
        workload = next((w for w, k in sorted(a.kinds.items()) if k in LATENCY_KINDS), None)
        n = a.verdict_workers.get((workload, "threads")) if workload else None
        if n is None:
            return ""
        return (f"with {n} busy thread{'s' if n != 1 else ''}: *convoy* = mean latency "
                f"≥ {CONVOY_INFLATION:g}×")  # fmt: skip
    if claim.key == "serial-speed":
        return f"on the whole interval: *faster* / *slower* beyond ±{PRACTICAL_DIFF:.0%}"
    if claim.key == "warmup":
        return f"on the whole interval: *needs warm-up* ≥ {WARMUP_NOTABLE:g}×"
    if claim.key == "free-threading":
        n = a.verdict_workers.get(("cpu", "threads"))
        at = f"at {n} threads" if n is not None else "on the whole interval"
        return f"{at}: *gain* = the whole interval above +{PRACTICAL_DIFF:.0%}"
    return ""


def _judge(a: Analysis, claim: Claim, info: RuntimeInfo) -> Verdict:
    rt = info.id
    if claim.key in CLAIM_WORKLOAD:
        workload, mode = CLAIM_WORKLOAD[claim.key]
        verdict = mode_verdict(a, rt, workload, mode, yes=claim.yes)
        if claim.key == "asyncio":
            verdict = _with_asyncio_vs_threads(a, rt, workload, verdict)
        return verdict
    judges = {
        "refcount": refcount_verdict,
        "spawn": spawn_verdict,
        "convoy": convoy_verdict,
        "serial-speed": serial_verdict,
        "warmup": warmup_verdict,
        "free-threading": free_threading_verdict,
    }
    if claim.key == "clib-threads":
        return clib_verdict(a, info)
    if claim.key == "nogil":
        return nogil_verdict(a, info)
    return judges[claim.key](a, rt)


def _with_asyncio_vs_threads(a: Analysis, rt: str, workload: str, verdict: Verdict) -> Verdict:
    n = a.verdict_workers.get((workload, "asyncio"))
    c = a.asyncio_vs_threads.get((rt, workload, n or -1))
    if c is None or verdict.symbol in (NA, FAILED, NOT_APPLICABLE):
        return verdict
    span = interval(c, usual_invocations(a))
    if c.testable and (c.ci_low >= 1 + PRACTICAL_DIFF or c.ci_high <= 1 - PRACTICAL_DIFF):
        word = "faster" if c.ratio > 1 else "slower"
        extra = f"{word} than threads: {f.times(c.ratio)} ({span})"
    elif c.testable and c.ci_low > 1 - PRACTICAL_DIFF and c.ci_high < 1 + PRACTICAL_DIFF:
        extra = f"same as threads: {f.times(c.ratio)} ({span})"
    else:
        extra = f"vs threads inconclusive: {f.times(c.ratio)} ({span})"
    return Verdict(
        verdict.symbol,
        f"{verdict.text}; {extra}",
        value=verdict.value,
        why=verdict.why,
        parts=verdict.parts,
    )


# --- claims answered by several workloads ------------------------------------------------------


def combine(found: Sequence[tuple[str, Verdict]]) -> Verdict:
    """One cell from several workloads' verdicts: each named, the symbol of the measured ones.

    All measured ones yes -> yes; some yes or partly -> partly; else the first measured one's
    symbol (no, inconclusive...). Workloads that are n/a, failed or unmeasured only add text.
    """
    text = "; ".join(f"`{w}` {v.text}" for w, v in found)
    parts = tuple(found)
    measured = [v.symbol for _, v in found if v.symbol not in (NA, FAILED, NOT_APPLICABLE)]
    if not measured:
        return Verdict(found[0][1].symbol, text, parts=parts)
    if all(s == YES for s in measured):
        return Verdict(YES, text, parts=parts)
    if any(s in (YES, PARTLY) for s in measured):
        return Verdict(PARTLY, text, parts=parts)
    return Verdict(measured[0], text, parts=parts)


def has_gil(info: RuntimeInfo) -> bool:
    """Whether the runtime runs under a GIL: probed, else as its registry entry expects."""
    return bool(info.gil_enabled if info.gil_enabled is not None else info.expected_gil)


def clib_verdict(a: Analysis, info: RuntimeInfo) -> Verdict:
    """C libraries releasing the GIL (hash, zlib, numpy), against ``cholds`` that holds it."""
    rt = info.id
    cases = [w for w in CLIB_WORKLOADS if w in a.workloads]
    if not cases:
        return mode_verdict(a, rt, OLD_CLIB, "threads")
    verdict = combine([(w, mode_verdict(a, rt, w, "threads")) for w in cases])
    if CHOLDS not in a.workloads:
        return verdict
    control = mode_verdict(a, rt, CHOLDS, "threads")
    if has_gil(info) and control.symbol in (YES, PARTLY):
        return Verdict(
            WARN,
            f"{verdict.text}; but the contrast `{CHOLDS}`, C code that holds the GIL, "
            f"{control.text} on a GIL runtime: something is wrong with this run or runtime",
            why=f"the contrast `{CHOLDS}`, C code that holds the GIL, {control.word} on a GIL "
            "runtime",
            parts=verdict.parts,
        )
    return Verdict(verdict.symbol, f"{verdict.text}; contrast `{CHOLDS}` (holds the GIL) "
                   f"{control.text}", parts=verdict.parts)  # fmt: skip


def refcount_verdict(a: Analysis, rt: str) -> Verdict:
    """Threads on shared refcounts (one object, one class), next to private allocation."""
    shared = [w for w in REFCOUNT_SHARED if w in a.workloads]
    if not shared:
        return mode_verdict(a, rt, OLD_ALLOC, "threads")
    verdict = combine([(w, mode_verdict(a, rt, w, "threads")) for w in shared])
    if REFCOUNT_PRIVATE not in a.workloads:
        return verdict
    private = mode_verdict(a, rt, REFCOUNT_PRIVATE, "threads")
    return Verdict(
        verdict.symbol,
        f"{verdict.text}; against `{REFCOUNT_PRIVATE}` {private.text}",
        parts=verdict.parts,
    )


def nogil_verdict(a: Analysis, info: RuntimeInfo) -> Verdict:
    """Threads on C code that releases the GIL (``cpu_nogil``), beside the same primes without
    ``with nogil:`` (``cpu``) on the same runtime: where plain threads scale under a GIL too,
    the contrast failed and nothing is judged."""
    rt = info.id
    verdict = mode_verdict(a, rt, NOGIL, "threads")
    if verdict.symbol in (NA, NOT_APPLICABLE):
        return verdict
    plain = mode_verdict(a, rt, NOGIL_PLAIN, "threads")
    if has_gil(info) and plain.symbol in (YES, PARTLY):
        why = (
            f"the contrast, plain `{NOGIL_PLAIN}` threads holding the GIL, {plain.word} on a "
            "GIL runtime"
        )
        return Verdict(
            WARN,
            f"{verdict.text}; but {why}: something is wrong with this run or runtime",
            value=verdict.value,
            why=why,
        )
    return Verdict(
        verdict.symbol,
        f"{verdict.text}; plain `{NOGIL_PLAIN}` threads {plain.text}",
        value=verdict.value,
        why=verdict.why,
    )


def spawn_verdict(a: Analysis, rt: str) -> Verdict:
    """Seconds per started process for each start-up workload (information, not a yes/no)."""
    found = sorted((w, v) for (r, w), v in a.spawn.items() if r == rt)
    if not found:
        workload = next((w for w in SPAWN_LABELS if w in a.workloads), OLD_SPAWN)
        return absent_verdict(a, rt, workload, "serial", None)
    texts = []
    for workload, (_, e) in found:
        label = _spawn_label(a, rt, workload)
        if e.n < stats.MIN_STEADY_SAMPLES:
            if len(found) == 1:
                return Verdict(INCONCLUSIVE, f"inconclusive: {e.n} samples")
            texts.append(f"{label}inconclusive: {e.n} samples")
            continue
        span = f.seconds_range(e.ci_low, e.ci_high)
        texts.append(f"{label}{f.seconds(e.value)} per process (95% CI {span})")
    for workload in SPAWN_LABELS:  # a start-up workload that did not run says why
        if workload in a.workloads and workload not in {w for w, _ in found}:
            texts.append(
                f"{SPAWN_LABELS[workload]}: {absent_verdict(a, rt, workload, 'serial', None)}"
            )
    return Verdict(INFO, "; ".join(texts))


def _spawn_label(a: Analysis, rt: str, workload: str) -> str:
    """``fresh interpreter: ``, ``default start method (fork): ``; nothing for an old run."""
    label = SPAWN_LABELS.get(workload)
    if label is None:
        return ""
    method = a.start_methods.get((rt, workload))
    return f"{label} ({method}): " if method else f"{label}: "


def convoy_verdict(a: Analysis, rt: str) -> Verdict:
    """I/O latency inflation with N busy CPU threads (N = the convoy verdict N)."""
    workloads = sorted(w for w, k in a.kinds.items() if k in LATENCY_KINDS)
    if not workloads:
        return Verdict(NOT_APPLICABLE, "not measured")
    workload = workloads[0]
    n = a.verdict_workers.get((workload, "threads"))
    c = a.convoy.get((rt, workload, n or -1))
    fig = a.convoy_figures.get((rt, workload, n or -1))
    if c is None or fig is None:
        return absent_verdict(a, rt, workload, "threads", n)
    busy = f"{n} busy thread{'s' if n != 1 else ''}"
    if fig.never_yielded:
        return Verdict(
            NO,
            f"convoy: the {busy} never yielded the GIL, so the I/O thread waited until they "
            f"stopped (alone: mean latency {f.millis(fig.quiet_ms)})",
        )
    numbers = (
        f"mean latency {f.times(c.ratio)} ({interval(c, usual_invocations(a))}): "
        f"{f.millis(fig.quiet_ms)} → {f.millis(fig.busy_ms)}"
    )
    health = {m: a.health.get((rt, workload, m, n or -1)) for m in ("serial", "threads")}
    broken = [f"{m}: {p}" for m, h in health.items() if h and not h.judgeable for p in h.problems]
    if broken:
        why = "; ".join(broken)
        return Verdict(WARN, f"not judged: {why} ({numbers})", value=c.ratio, why=why)
    if min(c.n_a, c.n_b) < stats.MIN_STEADY_SAMPLES:
        return Verdict(INCONCLUSIVE, f"inconclusive: {c.n_a}+{c.n_b} samples")
    if not c.testable:
        return Verdict(INCONCLUSIVE, f"inconclusive: {numbers}; {untestable(c)}", value=c.ratio)
    if c.ci_low >= CONVOY_INFLATION:
        return Verdict(NO, f"convoy: {numbers}", value=c.ratio)
    if c.ci_high >= CONVOY_INFLATION:
        # the interval reaches a convoy but does not clear it: say so, don't call it "no"
        return Verdict(INCONCLUSIVE, f"inconclusive: {numbers}: the interval straddles the "
                       f"{CONVOY_INFLATION:g}× threshold", value=c.ratio)
    return Verdict(YES, f"no convoy: {numbers}", value=c.ratio)


# --- speed ---------------------------------------------------------------------------------------


def serial_verdict(a: Analysis, rt: str) -> Verdict:
    """Single-thread speed vs the baseline (geometric mean over the compute kernels)."""
    if rt == a.baseline:
        return Verdict(INFO, "the baseline (1×)")
    e = a.kernel_geomean.get(rt)
    if e is None:
        return Verdict(
            INCONCLUSIVE, f"inconclusive: no compute kernel comparable with {a.baseline}"
        )
    return relative_speed(e, a.baseline)


def warmup_verdict(a: Analysis, rt: str) -> Verdict:
    """First run vs steady state, median over the compute workloads' first cells."""
    e = a.warmup.get(rt)
    if e is None:
        return Verdict(INCONCLUSIVE, "inconclusive: no cold run with a steady state to compare")
    k = f"median of {e.n} workload{'s' if e.n != 1 else ''}"
    numbers = f"first run {f.times(e.value)} the steady time ({f.ci(e.ci_low, e.ci_high)}; {k})"
    if e.n < stats.MIN_STEADY_SAMPLES:
        return Verdict(INCONCLUSIVE, f"inconclusive: {numbers}", value=e.value)
    if e.ci_low >= WARMUP_NOTABLE:
        return Verdict(WARN, f"needs warm-up: {numbers}", value=e.value)
    if e.ci_high < WARMUP_NOTABLE:
        return Verdict(YES, f"yes: {numbers}", value=e.value)
    return Verdict(
        INCONCLUSIVE,
        f"inconclusive: {numbers}: the interval straddles the {f.times(WARMUP_NOTABLE)} threshold",
        value=e.value,
        why=f"the interval straddles the {f.times(WARMUP_NOTABLE)} threshold",
    )


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
        f"({f.percent_ci(cost.ci_low, cost.ci_high)}; "
        f"geomean of {cost.n} workload{'s' if cost.n != 1 else ''})"
        if cost is not None
        else "single-thread cost: not measured"
    )
    if gain is None:
        return Verdict(INCONCLUSIVE, f"inconclusive: no `cpu` threads cells on both; {cost_text}")
    gain_text = (
        f"`cpu` with {n} threads {f.times(gain.ratio)} as fast as {gil} "
        f"({interval(gain, usual_invocations(a))})"
    )
    if not gain.testable:
        reason = (
            untestable(gain)
            if min(gain.n_a, gain.n_b) >= stats.MIN_STEADY_SAMPLES
            else f"{gain.n_a}+{gain.n_b} samples"
        )
        return Verdict(
            INCONCLUSIVE, f"inconclusive: {gain_text}; {reason}; {cost_text}", value=gain.ratio
        )
    if gain.ci_low >= 1 + PRACTICAL_DIFF:
        return Verdict(YES, f"gain: {gain_text}; {cost_text}", value=gain.ratio)
    if gain.ci_high <= 1 - PRACTICAL_DIFF:
        return Verdict(NO, f"loss: {gain_text}; {cost_text}", value=gain.ratio)
    if gain.ci_high < 1 + PRACTICAL_DIFF:
        return Verdict(NO, f"no gain: {gain_text}; {cost_text}", value=gain.ratio)
    return Verdict(INCONCLUSIVE, f"inconclusive: {gain_text}; {cost_text}", value=gain.ratio)
