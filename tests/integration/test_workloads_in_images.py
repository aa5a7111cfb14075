"""Every workload, in every mode it declares, inside every built runtime image (smoke sizes).

Records must be valid, and serial and parallel modes must have done the same total work
(same checksum) on each runtime.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.measure.backends.base import ExecRequest
from harness.measure.config import load_suite
from harness.measure.matrix import GroupRunner, plan_groups
from harness.store.results import Record, iter_records

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke_results(backend, available, tmp_path_factory):
    """Run the smoke suite's workloads on every available runtime; results.jsonl path."""
    suite = load_suite(ROOT, "smoke")
    results = tmp_path_factory.mktemp("smoke") / "results.jsonl"
    runner = GroupRunner(
        backend, "it-smoke", results, idle_timeout_s=240, total_timeout_s=900, memory="2g",
        cpuset=None, on_cell_done=lambda c, r: None, on_cell_start=lambda c: None,
    )
    for group in plan_groups(suite, available):
        runner.run(group, set())
    return suite, results


def test_every_cell_produced_valid_records(smoke_results, available):
    suite, results = smoke_results
    records = list(iter_records(results))
    by_cell: dict[tuple, list[Record]] = {}
    for record in records:
        by_cell.setdefault((record.runtime, record.workload, record.mode, record.workers), []).append(record)
    problems = []
    for runtime in available:
        for plan in suite.workloads:
            for mode in plan.modes:
                for workers in plan.workers:
                    cell = by_cell.get((runtime.id, plan.name, mode, workers))
                    if not cell:
                        problems.append(f"{runtime.id} {plan.name} {mode} x{workers}: no record")
                        continue
                    for record in cell:
                        if record.unsupported:
                            continue  # e.g. asyncio where the runtime has none: says why
                        if not record.ok:
                            problems.append(f"{runtime.id} {plan.name} {mode} x{workers}: "
                                            f"{record.error} {record.stderr_tail or ''}")
                        elif not (record.wall_s > 0 and record.cpu_s is not None):
                            problems.append(f"{runtime.id} {plan.name} {mode}: bad timings {record}")
    assert not problems, "\n".join(problems)


def test_unsupported_cells_say_why(smoke_results):
    _, results = smoke_results
    for record in iter_records(results):
        if record.unsupported:
            assert record.ok is False and record.error


def test_serial_and_parallel_modes_do_the_same_work(smoke_results):
    _, results = smoke_results
    checksums: dict[tuple, set] = {}
    for record in iter_records(results):
        if record.ok and record.checksum is not None:
            key = (record.runtime, record.workload, record.workers)
            checksums.setdefault(key, set()).add(record.checksum)
    assert checksums
    mismatched = {k: v for k, v in checksums.items() if len(v) != 1}
    assert not mismatched, mismatched


def test_the_probe_is_live_in_every_record(smoke_results, built):
    _, results = smoke_results
    for record in iter_records(results):
        if record.ok:
            assert record.gil_enabled == built[record.runtime].probe["gil_enabled"]
            assert record.implementation == built[record.runtime].probe["implementation"]


def test_workload_files_are_valid_python_2_under_jython(backend, available):
    """Nobody slips an f-string into workloads/: Jython 2.7 compiles every portable file."""
    jython = next((r for r in available if r.family == "jython"), None)
    if jython is None:
        pytest.skip("jython-2.7 not under test")
    portable = sorted(p.name for p in (ROOT / "workloads").glob("*.py") if p.name != "asyncio_units.py")
    script = (
        "import py_compile, sys, json\n"
        "bad = []\n"
        f"for name in {portable!r}:\n"
        "    try:\n"
        "        py_compile.compile(name, cfile='/tmp/' + name + 'c', doraise=True)\n"
        "    except Exception as exc:\n"
        "        bad.append('%s: %s' % (name, exc))\n"
        "print(json.dumps(bad))\n"
    )
    lines: list[str] = []
    outcome = backend.execute(
        ExecRequest(jython.id, jython.image, ("-c", script), idle_timeout_s=180, total_timeout_s=180),
        lines.append,
    )
    assert outcome.exit_code == 0, outcome.stderr_tail
    assert json.loads(lines[-1]) == []
