"""The report's opening answer: one line per runtime, the seed's questions answered in words.

Every clause is read off the Verdicts table (same verdicts, same estimates), so the line can
say nothing the table does not: an inconclusive verdict is said as inconclusive, a failed one
as failed.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.analyse.run import Analysis
from harness.publish import markdown as f
from harness.publish.report import judge as v
from harness.publish.report.verdicts import VerdictRow, verdict_rows

# claim key -> the subject of its clause (a plural noun: "CPU threads scale"), in line order
SUBJECTS = {
    "cpu-threads": "CPU threads",
    "cpu-processes": "CPU processes",
    "clib-threads": "C-library threads",
    "nogil": "`with nogil:` threads",
    "io-threads": "I/O threads",
    "asyncio": "asyncio tasks",
    "convoy": "I/O latency next to busy threads",
    "refcount": "threads on shared refcounts",
    "serial-speed": "single-thread speed",
    "warmup": "first run",
    "free-threading": "free-threading",
}
# verdict word -> what a plural subject does; any other word is said as it is ("inconclusive")
VERBS = {
    "scales": "scale",
    "overlaps": "overlap",
    "partly": "scale partly",
    "no": "don't scale",
    "slower": "are slower",
}
WARMUP_WORDS = {"yes": "no warm-up needed"}
# verdicts that are no answer about this runtime at all: left out of its line
SILENT = (v.NOT_APPLICABLE, v.UNAVAILABLE)


def one_line_per_runtime(a: Analysis) -> str:
    """``## In one line per runtime``: each available runtime's answers, in words."""
    rows = sorted(
        (r for r in verdict_rows(a) if r.claim.key in SUBJECTS),
        key=lambda r: list(SUBJECTS).index(r.claim.key),
    )
    lines = []
    for info in a.runtimes:
        if not info.available:
            lines.append(f"- **{info.id}**: not measured ({v.UNAVAILABLE} runtime unavailable).")
            continue
        clauses = [c for row in rows if (c := _clause(a, row, info.id))]
        if clauses:
            lines.append(f"- **{info.id}**: {'; '.join(clauses)}.")
    if not lines:
        return ""
    return "## In one line per runtime\n\n" + "\n".join(lines)


def _clause(a: Analysis, row: VerdictRow, rid: str) -> str:
    key = row.claim.key
    subject = SUBJECTS[key]
    verdict = row.cells[rid]
    if verdict.symbol in SILENT:
        return ""
    if row.claim.needs is not None and verdict.symbol == v.NA:
        return ""  # a row for one runtime (Cython's nogil): nothing to say about the others
    if key == "serial-speed":
        if rid == a.baseline:
            return f"{subject}: the baseline"
        return f"{subject} vs {a.baseline}: {verdict.word}{_number(verdict)}"
    if key == "warmup":
        word = WARMUP_WORDS.get(verdict.word, verdict.word)
        return f"{subject}: {word}{_number(verdict, ' the steady time')}"
    if key == "free-threading":
        return _free_threading(a, rid, verdict)
    if verdict.why:  # kept from judgement: say why, not a number
        return f"{subject}: not judged ({verdict.why})"
    if verdict.parts:
        return _grouped(subject, verdict.parts)
    return f"{subject}{_verb(verdict.word)}{_number(verdict)}"


def _verb(word: str) -> str:
    """What the subject does (`` scale``), or ``: inconclusive`` for a word that is no verb."""
    return f" {VERBS[word]}" if word in VERBS else f": {word}"


def _figure(verdict: v.Verdict, suffix: str = "") -> str:
    """``1.93×``; what kept a verdict from judgement; nothing without a value."""
    if verdict.why:
        return verdict.why
    if verdict.value is None or verdict.symbol in (v.NA, v.FAILED):
        return ""
    note = f" with {verdict.note}" if verdict.note else ""
    return f"{f.times(verdict.value)}{suffix}{note}"


def _number(verdict: v.Verdict, suffix: str = "") -> str:
    figure = _figure(verdict, suffix)
    return f" ({figure})" if figure else ""


def _grouped(subject: str, parts: Sequence[tuple[str, v.Verdict]]) -> str:
    """``C-library threads scale (hash 1.88×, zlib 1.85×), inconclusive (numpy 1.45×)``."""
    groups: dict[str, list[str]] = {}
    for workload, verdict in parts:
        figure = _figure(verdict)
        sep = ": " if verdict.why else " "
        groups.setdefault(verdict.word, []).append(f"{workload}{sep}{figure}".rstrip(": "))
    said = [
        f"{_verb(word) if i == 0 else VERBS.get(word, word)} ({', '.join(members)})"
        for i, (word, members) in enumerate(groups.items())
    ]
    return f"{subject}{', '.join(said)}"


def _free_threading(a: Analysis, rid: str, verdict: v.Verdict) -> str:
    twin = a.twins.get(rid)
    cost = a.twin_cost_geomean.get(rid)
    said = f"free-threading vs {twin}: {verdict.word}"
    facts = []
    if verdict.value is not None:
        facts.append(f"CPU threads {f.times(verdict.value)} as fast")
    if cost is not None:
        span = f.percent_ci(cost.ci_low, cost.ci_high)
        facts.append(f"single-thread cost {f.percent_change(cost.value)}, {span}")
    return said + (f" ({', '.join(facts)})" if facts else "")
