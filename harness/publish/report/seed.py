"""What the seed post expects of each runtime, claim by claim, and whether a verdict bears it out.

Apart from the measured answer: "no" for CPU threads on CPython confirms the seed, "scales"
there contradicts it. All expectations live in :data:`EXPECTED`, as data.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.analyse.run import RuntimeInfo
from harness.publish.report.judge import NO, PARTLY, WARN, YES, Verdict

HOLDS, CONTRADICTED, NOT_JUDGED = "seed ✔", "seed ✘", "seed ·"
SEED_LEGEND = (
    f"{HOLDS} the seed's sentence holds for that runtime · {CONTRADICTED} the data contradict "
    f"it · {NOT_JUDGED} not judged (the verdict is inconclusive, failed, n/a or not judged); "
    "no mark: the seed says nothing about that runtime there"
)

# The runtimes as the seed sees them: "CPython, Cython and PyPy have a GIL; Jython and
# IronPython have none (a tracing GC, no reference counting)". Free-threaded CPython came later.
CPYTHON, PYPY, CYTHON, TRACING_GC, FREE_THREADED = (
    "CPython", "PyPy", "Cython", "Jython/IronPython", "free-threaded CPython",
)  # fmt: skip
WITH_GIL = (CPYTHON, PYPY, CYTHON)
EVERY = (*WITH_GIL, TRACING_GC, FREE_THREADED)
# why the seed is contradicted where it is, said beside the mark
WHY_CONTRADICTED = {FREE_THREADED: "the seed predates free-threading"}


def _each(classes: tuple[str, ...], symbol: str) -> dict[str, str]:
    return dict.fromkeys(classes, symbol)


# claim key -> runtime class -> the verdict symbol the seed's sentence predicts there. The seed
# says CPython has a GIL, so its expectation for free-threaded CPython is the GIL one.
GIL_BOUND = {**_each((*WITH_GIL, FREE_THREADED), NO), TRACING_GC: YES}
EXPECTED: dict[str, dict[str, str]] = {
    "cpu-threads": GIL_BOUND,
    "refcount": GIL_BOUND,
    "cpu-processes": _each(EVERY, YES),
    "clib-threads": _each(EVERY, YES),
    "nogil": {CYTHON: YES},
    "io-threads": _each(EVERY, YES),
    "convoy": GIL_BOUND,  # YES is "no convoy", NO is "convoy"
    "asyncio": _each(EVERY, YES),
    "serial-speed": _each((PYPY, CYTHON), YES),  # "PyPy's JIT / Cython's C: much faster"
    "warmup": {PYPY: WARN},  # WARN is "needs warm-up"
    "free-threading": {FREE_THREADED: NO},  # "no attempt to remove the GIL was accepted"
}
# the symbols that are an answer, for or against the seed; any other is not judged
ANSWERS = {"warmup": (YES, WARN)}
DEFAULT_ANSWERS = (YES, PARTLY, NO)


@dataclass(frozen=True)
class SeedMark:
    """Whether the seed's sentence holds for one runtime: a mark and, for a contradiction
    with a known cause, that cause."""

    mark: str
    why: str = ""

    def __str__(self) -> str:
        return f"{self.mark}: {self.why}" if self.why else self.mark


def runtime_class(info: RuntimeInfo) -> str | None:
    """The seed's view of a runtime (None: one the seed does not know)."""
    kind = info.family or ""
    impl = info.implementation or kind
    if impl in ("jython", "ironpython") or kind in ("jython", "ironpython"):
        return TRACING_GC
    if info.gil_enabled is False:
        return FREE_THREADED
    if kind == "cython":
        return CYTHON
    if impl == "pypy" or kind == "pypy":
        return PYPY
    if impl == "cpython" or kind.startswith("cpython"):
        gil = info.gil_enabled if info.gil_enabled is not None else info.expected_gil
        return FREE_THREADED if gil is False else CPYTHON
    return None


def _outcome(claim: str, expected: str, verdict: Verdict) -> str:
    answers = ANSWERS.get(claim, DEFAULT_ANSWERS)
    if verdict.symbol not in answers:
        return NOT_JUDGED
    return HOLDS if verdict.symbol == expected else CONTRADICTED


def seed_mark(claim: str, info: RuntimeInfo, verdict: Verdict) -> SeedMark | None:
    """The seed mark of one verdict cell; None where the seed says nothing.

    A cell made of several workloads (``verdict.parts``) contradicts the seed when one of them
    does, holds when one holds and none contradicts, else is not judged. A warning on the
    whole cell (a contrast that went wrong) leaves it not judged.
    """
    cls = runtime_class(info)
    expected = EXPECTED.get(claim, {}).get(cls) if cls else None
    if expected is None:
        return None
    if verdict.symbol == WARN and WARN not in ANSWERS.get(claim, DEFAULT_ANSWERS):
        return SeedMark(NOT_JUDGED)
    outcomes = {_outcome(claim, expected, v) for _, v in verdict.parts or (("", verdict),)}
    if CONTRADICTED in outcomes:
        return SeedMark(CONTRADICTED, WHY_CONTRADICTED.get(cls or "", ""))
    return SeedMark(HOLDS if HOLDS in outcomes else NOT_JUDGED)
