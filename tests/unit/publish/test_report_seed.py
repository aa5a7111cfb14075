"""The seed's sentences judged apart from the measured answer, the one-line summary per runtime,
and the Cython ``with nogil:`` row, on small constructed runs (no Docker, no golden file)."""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np
import pytest

from harness.analyse.run import Analysis, RuntimeInfo, analyse
from harness.publish import report
from harness.publish.report import judge, seed, summary, verdicts
from harness.publish.report.judge import Verdict
from harness.store.meta import RunMeta
from harness.store.results import Record, write_meta

RUN_ID = "20261201T000000Z-nogil"
# id: implementation, family
RUNTIMES = {"cpython-3.13": ("cpython", "cpython"), "cython-3.13": ("cpython", "cython")}
# workload: {mode: N}; every cell runs 3 invocations of 1 warm-up + 3 steady repetitions
MODES = {
    "cpu": {"serial": 2, "threads": 2, "processes": 2},
    "cpu_nogil": {"serial": 2, "threads": 2},
}
KINDS = {"cpu": "cpu", "cpu_nogil": "clib"}  # as the workloads declare them
UNIT_S = {"cpython-3.13": 0.20, "cython-3.13": 0.06}
SPEEDUP = {("cython-3.13", "cpu_nogil", "threads"): 1.9, ("cython-3.13", "cpu", "processes"): 1.85}
NEEDS_CYTHON = "needs Cython: the workload runs inside `with nogil:` of the compiled module"
FAILED = ("cpython-3.13", "cpu", "processes")


def _records(with_nogil: bool) -> list[Record]:
    records = []
    for invocation in range(3):
        for rid, (impl, _) in RUNTIMES.items():
            for workload, modes in MODES.items():
                if workload == "cpu_nogil" and not with_nogil:
                    continue
                for mode, n in modes.items():
                    common = dict(
                        run_id=RUN_ID, runtime=rid, workload=workload, mode=mode, workers=n,
                        size=3000, implementation=impl, python_version="3.13.5",
                        gil_enabled=True, kind=KINDS[workload], invocation=invocation,
                    )  # fmt: skip
                    if workload == "cpu_nogil" and rid != "cython-3.13":
                        records.append(Record(**common, rep=0, warmup=False, ok=False,
                                              unsupported=True, error=NEEDS_CYTHON))  # fmt: skip
                        continue
                    if (rid, workload, mode) == FAILED:
                        records.append(Record(**common, rep=0, warmup=False, ok=False,
                                              error="BrokenProcessPool"))  # fmt: skip
                        continue
                    key = f"{rid}/{workload}/{mode}/{invocation}"
                    rng = np.random.default_rng(zlib.crc32(key.encode()))
                    speedup = SPEEDUP.get((rid, workload, mode), 0.97 if mode != "serial" else 1)
                    for rep in range(4):
                        wall = UNIT_S[rid] * n / speedup * math.exp(rng.normal(0, 0.01))
                        cpu = wall * (speedup if mode != "serial" else 1.0)
                        records.append(Record(
                            **common, rep=rep, warmup=rep == 0, ok=True, wall_s=round(wall, 6),
                            cpu_s=round(cpu, 6), checksum=f"{zlib.crc32(f'{n}'.encode()):08x}",
                        ))  # fmt: skip
    return records


def _meta() -> dict:
    runtimes = {
        rid: {
            "family": family, "expected_gil": True, "image": f"gilbench/{rid}:latest",
            "available": True, "reason": None,
            "probe": {"implementation": impl, "python_version": "3.13.5", "gil_enabled": True,
                      "cpu_count": 2},
        }
        for rid, (impl, family) in RUNTIMES.items()
    }  # fmt: skip
    return {
        "schema": 1, "run_id": RUN_ID, "status": "complete", "backend": "docker",
        "baseline": "cpython-3.13", "cpus": 2, "cpuset": "0-1",
        "host": {"cores": 2, "topology": {"logical_cpus": [0, 1], "physical_cores": 2,
                                          "smt_siblings": [[0], [1]]}},
        "suite": {"name": "nogil", "workloads": {w: {"size": 3000, "modes": list(m)}
                                                 for w, m in MODES.items()}},
        "runtimes": runtimes,
    }  # fmt: skip


def _run(tmp_path: Path, with_nogil: bool = True) -> Analysis:
    run = tmp_path / RUN_ID
    run.mkdir()
    lines = [r.to_json() for r in _records(with_nogil)]
    (run / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_meta(run, RunMeta.from_dict(_meta()))
    return analyse(run)


def _rows(a: Analysis) -> dict[str, verdicts.VerdictRow]:
    return {row.claim.key: row for row in verdicts.verdict_rows(a)}


def test_the_nogil_row_judges_cython_against_its_plain_threads(tmp_path):
    rows = _rows(_run(tmp_path))
    nogil = rows["nogil"]
    cython = nogil.cells["cython-3.13"]
    assert cython.symbol == judge.YES and cython.text.startswith("scales: 1.9")
    assert "; plain `cpu` threads no: 0.9" in cython.text
    assert str(nogil.seed["cython-3.13"]) == seed.HOLDS
    cpython = nogil.cells["cpython-3.13"]
    assert (cpython.symbol, cpython.text) == (judge.NA, f"n/a: threads: {NEEDS_CYTHON}")
    assert nogil.seed["cpython-3.13"] is None  # the seed expects nothing of it there
    assert nogil.rule == "at 2 threads: *scales* needs ≥ 1.50× (ceiling 2)"
    # plain Cython keeps the GIL: "no" confirms the seed's CPU-threads sentence
    assert rows["cpu-threads"].cells["cython-3.13"].symbol == judge.NO
    assert str(rows["cpu-threads"].seed["cython-3.13"]) == seed.HOLDS


def test_the_nogil_row_is_not_judged_when_plain_cython_threads_scale_too(tmp_path, monkeypatch):
    monkeypatch.setitem(SPEEDUP, ("cython-3.13", "cpu", "threads"), 1.9)
    rows = _rows(_run(tmp_path))
    cython = rows["nogil"].cells["cython-3.13"]
    assert cython.symbol == judge.WARN
    assert "the contrast, plain `cpu` threads holding the GIL, scales on a GIL runtime" in cython.text
    assert str(rows["nogil"].seed["cython-3.13"]) == seed.NOT_JUDGED


def test_the_nogil_row_is_left_out_without_cpu_nogil_records(tmp_path):
    a = _run(tmp_path, with_nogil=False)
    assert "nogil" not in _rows(a)
    assert "with nogil" not in report.render(a, {})


def test_the_report_shows_the_row_the_marks_and_one_line_per_runtime(tmp_path):
    text = report.render(_run(tmp_path), {})
    assert "**C code that releases the GIL: Cython `with nogil:`**" in text
    lines = text.split("## In one line per runtime", 1)[1].split("\n## ", 1)[0]
    cython = next(line for line in lines.splitlines() if line.startswith("- **cython-3.13**"))
    assert "CPU threads don't scale (0.9" in cython and "`with nogil:` threads scale (1.9" in cython
    cpython = next(line for line in lines.splitlines() if line.startswith("- **cpython-3.13**"))
    assert "nogil" not in cpython  # n/a on a runtime the row is not about: not said
    assert "CPU processes: failed;" in cpython  # a failed verdict is said as failed
    assert f"<br>{seed.HOLDS}" in text.split("## Verdicts", 1)[1]
    assert seed.SEED_LEGEND in text.split("## How to read", 1)[1].split("## Verdicts")[0]


# --- the seed's expectations on constructed verdicts --------------------------------------------


def _info(rid: str, impl: str | None, family: str, gil: bool | None) -> RuntimeInfo:
    return RuntimeInfo(rid, family, impl, "3", gil, gil, True, None, None)


GIL = _info("cpython-3.13", "cpython", "cpython", True)
FREE = _info("cpython-3.13t", "cpython", "cpython", False)
JYTHON = _info("jython-2.7", "jython", "jython", None)
PYPY = _info("pypy-3.11", "pypy", "pypy", None)
YES, NO = Verdict(judge.YES, "scales: 1.9×"), Verdict(judge.NO, "no: 0.98×")
PARTLY = Verdict(judge.PARTLY, "partly: 1.3×")
MAYBE = Verdict(judge.INCONCLUSIVE, "inconclusive: 1.45×")


@pytest.mark.parametrize(
    ("claim", "info", "verdict", "expected"),
    [
        ("cpu-threads", GIL, NO, seed.HOLDS),
        ("cpu-threads", GIL, YES, seed.CONTRADICTED),
        ("cpu-threads", GIL, PARTLY, seed.CONTRADICTED),  # a clear gain is no "no"
        ("cpu-threads", FREE, YES, f"{seed.CONTRADICTED}: the seed predates free-threading"),
        ("cpu-threads", JYTHON, YES, seed.HOLDS),
        ("cpu-threads", JYTHON, NO, seed.CONTRADICTED),
        ("cpu-threads", PYPY, MAYBE, seed.NOT_JUDGED),
        ("cpu-threads", PYPY, Verdict(judge.FAILED, "failed: threads: boom"), seed.NOT_JUDGED),
        ("asyncio", JYTHON, Verdict(judge.NA, "n/a: asyncio: no asyncio"), seed.NOT_JUDGED),
        ("convoy", GIL, Verdict(judge.NO, "convoy: 5.9×"), seed.HOLDS),
        ("warmup", PYPY, Verdict(judge.WARN, "needs warm-up: 3.1×"), seed.HOLDS),
        ("warmup", PYPY, Verdict(judge.PARTLY, "some warm-up: 1.5×"), seed.NOT_JUDGED),
        ("serial-speed", PYPY, Verdict(judge.YES, "faster: 5.3×"), seed.HOLDS),
        ("free-threading", FREE, Verdict(judge.YES, "gain: 1.7×"),
         f"{seed.CONTRADICTED}: the seed predates free-threading"),
    ],
)  # fmt: skip
def test_seed_mark(claim, info, verdict, expected):
    assert str(seed.seed_mark(claim, info, verdict)) == expected


@pytest.mark.parametrize(
    ("claim", "info", "verdict"),
    [
        ("spawn", GIL, Verdict(judge.INFO, "fresh interpreter: 34 ms")),  # not a claim
        ("smalltasks", GIL, NO),  # not a claim
        ("serial-speed", FREE, NO),  # the seed says nothing of free-threaded speed
        ("warmup", JYTHON, Verdict(judge.WARN, "needs warm-up: 4×")),  # nor of the JVM's
        ("nogil", GIL, Verdict(judge.NA, "n/a: threads: needs Cython")),
        ("free-threading", GIL, Verdict(judge.NOT_APPLICABLE, "GIL twin of cpython-3.13t")),
    ],
)
def test_no_seed_mark_where_the_seed_says_nothing(claim, info, verdict):
    assert seed.seed_mark(claim, info, verdict) is None


def test_a_combined_cell_is_judged_on_its_parts():
    # PyPy's C libraries: hash and zlib scale, numpy inconclusive -> the seed holds
    mixed = verdicts.combine([("hash", YES), ("zlib", YES), ("numpy", MAYBE)])
    assert mixed.symbol == judge.PARTLY  # the measured answer is mixed...
    assert str(seed.seed_mark("clib-threads", PYPY, mixed)) == seed.HOLDS  # ...the seed holds
    # one part against the seed is enough to contradict it
    against = verdicts.combine([("alloc_shared", PARTLY), ("alloc_type", NO)])
    assert seed.seed_mark("refcount", FREE, against).mark == seed.CONTRADICTED
    # nothing judged among the parts: not judged
    unknown = verdicts.combine([("hash", MAYBE), ("numpy", Verdict(judge.NA, "n/a: no numpy"))])
    assert seed.seed_mark("clib-threads", GIL, unknown).mark == seed.NOT_JUDGED
    # a warning over the whole cell (the GIL-holding contrast scaled): not judged
    warned = Verdict(judge.WARN, "hash scales; but the contrast ...", parts=mixed.parts)
    assert seed.seed_mark("clib-threads", GIL, warned).mark == seed.NOT_JUDGED


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (GIL, seed.CPYTHON),
        (FREE, seed.FREE_THREADED),
        (_info("cpython-3.14t-gil", "cpython", "cpython", True), seed.CPYTHON),
        (_info("python-3.14-debian", "cpython", "cpython-debian", True), seed.CPYTHON),
        (_info("cython-3.13", "cpython", "cython", True), seed.CYTHON),
        (PYPY, seed.PYPY),
        (JYTHON, seed.TRACING_GC),
        (_info("ironpython-3.4", None, "ironpython", None), seed.TRACING_GC),
        (_info("graalpy", "graalpy", "graalpy", None), None),
    ],
)
def test_runtime_class(info, expected):
    assert seed.runtime_class(info) == expected


def test_summary_groups_parts_by_their_word():
    parts = (("hash", Verdict(judge.YES, "scales: 1.90×", value=1.9)),
             ("zlib", Verdict(judge.YES, "scales: 1.91×", value=1.91)),
             ("numpy", Verdict(judge.INCONCLUSIVE, "inconclusive: 1.45×", value=1.45)),
             ("cholds", Verdict(judge.NA, "n/a: threads: no")))  # fmt: skip
    assert summary._grouped("C-library threads", parts) == (
        "C-library threads scale (hash 1.90×, zlib 1.91×), inconclusive (numpy 1.45×), n/a (cholds)"
    )
    first_not_judged = ((
        "alloc_shared", Verdict(judge.WARN, "not judged: threads: 2 of 3 ok", value=1.2,
                                why="threads: 2 of 3 ok")),)  # fmt: skip
    assert summary._grouped("threads", first_not_judged) == (
        "threads: not judged (alloc_shared: threads: 2 of 3 ok)"
    )
