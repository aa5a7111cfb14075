"""The run matrix with the local backend and real processes: every outcome becomes records."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.measure.backends.local import LocalBackend
from harness.measure.config import WorkloadInfo, parse_suite
from harness.measure.matrix import (
    Cell,
    GroupRunner,
    ScaledSizes,
    completed_cells,
    plan_groups,
    runner_argv,
    set_aside_partial,
)
from harness.measure.runtimes import Runtime
from harness.store.results import RESULTS_FILE, Record, iter_records
from harness.vocabulary import DISTURBED_FLOOR_S, DISTURBED_SHARE

FAKE_RUNNER = Path(__file__).resolve().parents[2] / "data" / "fake_runner.py"
CATALOGUE = {
    name: WorkloadInfo(name, "cpu", 1, ("serial", "threads"))
    for name in ("fine", "boom", "hang", "junk", "die", "future", "noisy", "gilon", "after",
                 "junkstart")
}
RUNTIME = Runtime(id="local-python", family="local", image="", dockerfile="", context="",
                  build_args={}, expected_gil=None, warmups=0, description="")


def _setup(tmp_path: Path, workload: str = "fine", workers: list[int] | None = None,
           idle_timeout_s: float = 60, then: tuple[str, ...] = (), **suite_fields):
    """One group of `workload` (and the workloads `then`, run after it in the same process)."""
    workloads = tmp_path / "workloads"
    workloads.mkdir()
    (workloads / "gilbench_runner.py").write_text(FAKE_RUNNER.read_text())
    suite = parse_suite(
        {"reps": 2, "warmups": 1, "workers": workers or [1, 2, 4],
         "workloads": {name: {"size": 3} for name in (workload, *then)}, **suite_fields},
        "t", "t.yaml", CATALOGUE,
    )
    (group,) = plan_groups(suite, [RUNTIME])
    backend = LocalBackend({"local-python": [sys.executable]}, workloads)
    results = tmp_path / RESULTS_FILE
    finished: list[tuple[Cell, Record]] = []
    runner = GroupRunner(backend, "run-1", results, idle_timeout_s=idle_timeout_s, total_timeout_s=120,
                         memory="1g", cpuset=None,
                         on_cell_done=lambda c, r: finished.append((c, r)),
                         on_cell_start=lambda c: None)
    return group, runner, results, finished


def _by_cell(results: Path) -> dict[tuple[str, int], list[Record]]:
    cells: dict[tuple[str, int], list[Record]] = {}
    for record in iter_records(results):
        cells.setdefault((record.mode, record.workers), []).append(record)
    return cells


def test_healthy_cells_get_all_repetitions(tmp_path):
    group, runner, results, finished = _setup(tmp_path, workers=[1, 2])
    runner.run(group, set())
    cells = _by_cell(results)
    assert sorted(cells) == [("serial", 1), ("serial", 2), ("threads", 1), ("threads", 2)]
    for records in cells.values():
        assert [r.rep for r in records] == [0, 1, 2]
        assert [r.warmup for r in records] == [True, False, False]
        assert all(r.ok and r.run_id == "run-1" and r.backend == "local" for r in records)
    assert len(finished) == 4


def _counts(results: Path) -> dict[tuple[str, int], int]:
    return {cell: len(records) for cell, records in _by_cell(results).items()}


EVERY_OTHER_CELL_COMPLETE = {("serial", 1): 3, ("serial", 2): 3, ("serial", 4): 3,
                             ("threads", 1): 3, ("threads", 4): 3}


def test_a_cell_that_raises_is_a_failed_record_and_the_rest_runs(tmp_path):
    group, runner, results, _ = _setup(tmp_path, "boom")
    runner.run(group, set())
    cells = _by_cell(results)
    assert [r.ok for r in cells[("threads", 2)]] == [False]
    assert "ZeroDivisionError" in cells[("threads", 2)][0].error
    assert {k: v for k, v in _counts(results).items() if k != ("threads", 2)} == (
        EVERY_OTHER_CELL_COMPLETE
    )


def test_a_hung_cell_times_out_and_later_cells_still_run(tmp_path):
    group, runner, results, _ = _setup(tmp_path, "hang", idle_timeout_s=3)
    runner.run(group, set())
    hung = _by_cell(results)[("threads", 2)]
    assert [r.ok for r in hung] == [False]
    assert hung[0].error.startswith("timeout: no result for 3 s")
    # threads x4 ran in a fresh process after the kill
    assert {k: v for k, v in _counts(results).items() if k != ("threads", 2)} == (
        EVERY_OTHER_CELL_COMPLETE
    )


def test_garbage_on_stdout_fails_the_cell_it_interrupted(tmp_path):
    group, runner, results, _ = _setup(tmp_path, "junk")
    runner.run(group, set())
    junk = _by_cell(results)[("threads", 2)]
    # the cell fails once, at the repetition the garbage interrupted; what its runner printed
    # after that is not taken as a measurement of a failed cell
    assert [r.ok for r in junk] == [True, False]
    assert junk[1].error.startswith("garbage on stdout: 'Traceback")
    assert junk[1].rep == 1
    assert {k: v for k, v in _counts(results).items() if k != ("threads", 2)} == (
        EVERY_OTHER_CELL_COMPLETE
    )


def test_a_record_of_an_unknown_schema_fails_its_cell_by_name(tmp_path):
    group, runner, results, _ = _setup(tmp_path, "future")
    runner.run(group, set())
    cell = _by_cell(results)[("threads", 2)]
    assert [r.ok for r in cell] == [False]
    assert "schema 99 is not supported" in cell[0].error


def test_a_crashing_runner_fails_the_current_cell_with_its_stderr(tmp_path):
    group, runner, results, _ = _setup(tmp_path, "die")
    runner.run(group, set())
    dead = _by_cell(results)[("threads", 2)]
    assert [r.ok for r in dead] == [False]
    assert dead[0].error == "the runner exited with code 7 before finishing this cell"
    assert "dying" in dead[0].stderr_tail
    assert {k: v for k, v in _counts(results).items() if k != ("threads", 2)} == (
        EVERY_OTHER_CELL_COMPLETE
    )


def test_resume_skips_finished_cells_and_sets_partial_ones_aside(tmp_path):
    group, runner, results, _ = _setup(tmp_path, workers=[1, 2])
    runner.run(group, set())
    lines = results.read_text().splitlines()
    results.write_text("\n".join(lines[:7]) + "\n")  # serial x1, x2 done; threads x1 partial
    done = completed_cells(results, [group])
    assert done == {Cell("local-python", "fine", "serial", 1), Cell("local-python", "fine", "serial", 2)}
    assert set_aside_partial(tmp_path, done) == 1
    assert len((tmp_path / "results.partial.jsonl").read_text().splitlines()) == 1
    runner.run(group, done)
    assert _counts(results) == {
        ("serial", 1): 3, ("serial", 2): 3, ("threads", 1): 3, ("threads", 2): 3,
    }


def _workloads_of(results: Path) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for record in iter_records(results):
        out.setdefault(record.workload, []).append(record)
    return out


def test_a_crash_fails_its_workload_and_later_workloads_run_in_a_fresh_container(tmp_path):
    group, runner, results, _ = _setup(tmp_path, "die", workers=[1, 2], then=("after",))
    assert [p.plan.name for p in group.parts] == ["die", "after"]
    runner.run(group, set())
    by_workload = _workloads_of(results)
    failed = [r for r in by_workload["die"] if not r.ok]
    assert [(r.mode, r.workers) for r in failed] == [("threads", 2)]
    assert all(r.ok for r in by_workload["after"]) and len(by_workload["after"]) == 4 * 3
    assert completed_cells(results, [group]) == set(group.cells)


def test_an_interleaved_crash_takes_only_its_own_workload(tmp_path):
    group, runner, results, _ = _setup(
        tmp_path, "die", workers=[2, 4], then=("after",), interleave=True
    )
    runner.run(group, set())
    by_workload = _workloads_of(results)
    assert all(r.ok for r in by_workload["after"]) and len(by_workload["after"]) == 4 * 3
    # the fake runner measures die's cells one after the other and dies at threads x2: the
    # cells it had finished stand; every open one of that workload fails with it (they were
    # all running), threads x4 too; the next workload runs on in a fresh container
    failed = {(r.mode, r.workers) for r in by_workload["die"] if not r.ok}
    assert failed == {("threads", 2), ("threads", 4)}
    assert all(r.ok for r in by_workload["die"] if r.mode == "serial")


def test_garbage_before_a_workloads_first_record_is_blamed_on_that_workload(tmp_path):
    # calibrating: the cells of the workload before it end only once the runner is past them
    group, runner, results, _ = _setup(tmp_path, "fine", workers=[2], then=("junkstart",),
                                       scaling_min_unit_s=0.1)
    runner.run(group, set())
    by_workload = _workloads_of(results)
    assert all(r.ok for r in by_workload["fine"]) and len(by_workload["fine"]) == 2 * 3
    (failed,) = [r for r in by_workload["junkstart"] if not r.ok]
    assert failed.error == "garbage on stdout: 'hello from an import'"
    assert completed_cells(results, [group]) == set(group.cells)


def test_a_runner_leaving_the_rest_for_a_fresh_process_fails_nothing(tmp_path):
    group, runner, results, finished = _setup(tmp_path, "gilon", workers=[2], then=("after",))
    runner.run(group, set())
    assert all(r.ok for r in iter_records(results))
    assert {c.workload for c, _ in finished} == {"gilon", "after"}
    assert completed_cells(results, [group]) == set(group.cells)


def test_the_plan_names_every_workload_with_its_cells_in_run_order(tmp_path):
    group, _, _, _ = _setup(tmp_path, "fine", workers=[1, 2], then=("after",), interleave=True)
    argv = runner_argv(group, group.cells[1:], {"after": 30})
    plan = json.loads(argv[argv.index("--plan") + 1])
    assert [e["workload"] for e in plan] == [p.plan.name for p in group.parts]
    fine = next(e for e in plan if e["workload"] == "fine")
    after = next(e for e in plan if e["workload"] == "after")
    first = group.cells[0]
    assert [first.mode, first.workers] not in (fine if first.workload == "fine" else after)["cells"]
    assert after["scaled_size"] == 30 and "scaled_size" not in fine
    assert {e["order_seed"] for e in plan} == {p.order_seed for p in group.parts}
    assert "--interleave" in argv


def test_records_are_flushed_as_they_arrive(tmp_path):
    """A reader sees each record while the runner is still going (nothing waits for the end)."""
    group, runner, results, _ = _setup(tmp_path, workers=[1, 2])
    seen_during_run: list[int] = []
    runner.on_cell_done = lambda cell, record: seen_during_run.append(
        len(results.read_text().splitlines())
    )
    runner.run(group, set())
    assert seen_during_run == [3, 6, 9, 12]
    assert all(json.loads(line)["schema"] == 1 for line in results.read_text().splitlines())


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]"])
def test_torn_or_foreign_lines_in_results(tmp_path, bad):
    path = tmp_path / RESULTS_FILE
    good = Record(run_id="r", runtime="x", workload="w", mode="serial", workers=1, size=1, rep=0,
                  warmup=False, ok=True).to_json()
    path.write_text(good + "\n" + bad + "\n")
    if bad.startswith("{"):
        assert len(list(iter_records(path))) == 1  # a torn last line is an interrupted write
    else:
        from harness.store.results import ResultsError

        with pytest.raises(ResultsError, match=r"results.jsonl:2: expected a JSON object"):
            list(iter_records(path))


def test_a_time_based_warm_up_of_the_first_cell_is_counted_apart(tmp_path):
    """The real runner warms the first cell up for --warmup-seconds; every cell still ends with
    exactly `reps` steady records, and the warm-up curve is kept as warm-up records."""
    root = Path(__file__).resolve().parents[3]
    suite = parse_suite(
        {"reps": 2, "warmups": 1, "workers": [1, 2], "warmup_seconds_by_family": {"local": 0.3},
         "workloads": {"cpu": {"size": 20000, "modes": ["serial", "threads"]}}},
        "t", "t.yaml", {"cpu": WorkloadInfo("cpu", "cpu", 1, ("serial", "threads"))},
    )
    (group,) = plan_groups(suite, [RUNTIME])
    assert group.warmup_seconds == 0.3
    results = tmp_path / RESULTS_FILE
    runner = GroupRunner(LocalBackend({"local-python": [sys.executable]}, root / "workloads"),
                         "run-1", results, idle_timeout_s=60, total_timeout_s=120, memory="1g",
                         cpuset=None, on_cell_done=lambda c, r: None, on_cell_start=lambda c: None)
    runner.run(group, set())
    cells = _by_cell(results)
    first = cells[("serial", 1)]
    warm = [r for r in first if r.warmup]
    assert len(warm) > 1 and sum(r.wall_s for r in warm[:-1]) < 0.3 <= sum(r.wall_s for r in warm)
    assert [r.rep for r in first] == list(range(len(first)))
    for key, records in cells.items():
        assert sum(not r.warmup for r in records) == 2, key
        if key != ("serial", 1):
            assert sum(r.warmup for r in records) == 1, key
    assert completed_cells(results, [group]) == set(group.cells)


def _real_run(tmp_path: Path, suite_fields: dict, runtimes: list[Runtime]) -> tuple[list, Path]:
    """Every group of a suite through the real runner on this interpreter."""
    root = Path(__file__).resolve().parents[3]
    suite = parse_suite(
        {"reps": 2, "warmups": 0, "workers": [1, 2], **suite_fields,
         "workloads": {"cpu": {"size": 200, "modes": ["serial", "threads"]}}},
        "t", "t.yaml", {"cpu": WorkloadInfo("cpu", "cpu", 1, ("serial", "threads"))},
    )
    groups = plan_groups(suite, runtimes)
    results = tmp_path / RESULTS_FILE
    backend = LocalBackend({rt.id: [sys.executable] for rt in runtimes}, root / "workloads")
    runner = GroupRunner(backend, "run-1", results, idle_timeout_s=60, total_timeout_s=120,
                         memory="1g", cpuset=None, on_cell_done=lambda c, r: None,
                         on_cell_start=lambda c: None)
    for group in groups:
        runner.run(group, set())
    return groups, results


def test_invocations_cycle_over_the_runtimes(tmp_path):
    other = replace(RUNTIME, id="local-other")
    groups, results = _real_run(tmp_path, {"invocations": 2}, [RUNTIME, other])
    assert [(g.invocation, g.runtime.id) for g in groups] == [
        (0, "local-python"), (0, "local-other"), (1, "local-python"), (1, "local-other")]
    records = list(iter_records(results))
    assert {(r.runtime, r.invocation) for r in records} == {
        (rt, i) for rt in ("local-python", "local-other") for i in (0, 1)}
    assert completed_cells(results, groups) == {c for g in groups for c in g.cells}


def test_an_interleaved_invocation_measures_its_cells_round_by_round(tmp_path):
    groups, results = _real_run(tmp_path, {"invocations": 2, "interleave": True}, [RUNTIME])
    for group in groups:
        mine = [r for r in iter_records(results) if r.invocation == group.invocation]
        assert {r.order_seed for r in mine} == {group.parts[0].order_seed}
        steady = [(r.mode, r.workers) for r in sorted(mine, key=lambda r: r.position)]
        # round 1 of every cell before round 2 of any
        assert sorted(steady[:4]) == sorted(steady[4:]) == sorted(
            (c.mode, c.workers) for c in group.cells)
    assert groups[0].parts[0].order_seed != groups[1].parts[0].order_seed
    assert completed_cells(results, groups) == {c for g in groups for c in g.cells}


def test_calibrated_cells_complete_with_their_fixed_size_serial_twin(tmp_path):
    groups, results = _real_run(tmp_path, {"scaling_min_unit_s": 0.05}, [RUNTIME])
    records = list(iter_records(results))
    serial = [r for r in records if r.mode == "serial" and r.workers == 1 and not r.warmup]
    assert {r.sizing for r in serial} == {"fixed", "calibrated"}
    calibrated = {r.size for r in records if r.sizing == "calibrated"}
    assert len(calibrated) == 1 and calibrated.pop() > 200  # one size for every scaling cell
    assert completed_cells(results, groups) == set(groups[0].cells)


def test_an_interleaved_invocation_that_dies_fails_every_unfinished_cell(tmp_path):
    group, runner, results, _ = _setup(tmp_path, "die")
    runner.run(replace(group, interleave=True), set())
    cells = _by_cell(results)
    # the fake runner measures serial 1, 2, 4, then threads 1 and dies at threads 2: the cells
    # it had finished stand; every other one of that process failed with it, each once
    assert all(r.ok for key in (("serial", 1), ("serial", 2), ("serial", 4), ("threads", 1))
               for r in cells[key])
    for key in (("threads", 2), ("threads", 4)):
        (failed,) = cells[key]
        assert not failed.ok and "exited with code 7" in failed.error


@pytest.mark.parametrize(
    ("repeat_disturbed", "repeat_of"),
    [
        (2, [None, None, 1, 2, None]),  # two disturbed in a row, both measured again
        (1, [None, None, 1, None]),     # the budget ends: the second disturbed one counts
        (0, [None, None, None]),        # never repeated: left out and counted, as before
    ],
)
def test_a_disturbed_repetition_the_runner_repeats_does_not_end_its_cell(
    tmp_path, repeat_disturbed, repeat_of
):
    group, runner, results, finished = _setup(
        tmp_path, "noisy", workers=[1, 2], repeat_disturbed=repeat_disturbed
    )
    assert group.repeat_disturbed == repeat_disturbed
    runner.run(group, set())
    noisy = _by_cell(results)[("threads", 2)]
    # every measurement is kept, the disturbed ones too; the cell waited for its repetitions
    assert [r.repeat_of for r in noisy] == repeat_of
    assert [r.rep for r in noisy] == list(range(len(repeat_of)))
    assert [r.others_cpu_s is not None for r in noisy[1:3]] == [True, True]
    assert {k: v for k, v in _counts(results).items() if k != ("threads", 2)} == {
        ("serial", 1): 3, ("serial", 2): 3, ("threads", 1): 3}
    assert len(finished) == 4 and all(r is None or r.ok for _, r in finished)
    # a resumed run counts the same way: every cell is complete
    assert completed_cells(results, [group]) == set(group.cells)


def test_the_runner_repeats_by_the_rule_the_analysis_uses(tmp_path):
    group, _, _, _ = _setup(tmp_path, repeat_disturbed=3)
    argv = runner_argv(group, list(group.cells))

    def value(flag: str) -> str:
        return argv[argv.index(flag) + 1]

    assert value("--repeat-disturbed") == "3"
    assert float(value("--disturbed-share")) == DISTURBED_SHARE
    assert float(value("--disturbed-floor-s")) == DISTURBED_FLOOR_S
    never = runner_argv(replace(group, repeat_disturbed=0), list(group.cells))
    assert not {"--repeat-disturbed", "--disturbed-share"} & set(never)


def test_every_invocation_measures_the_size_the_first_one_calibrated(tmp_path):
    groups, results = _real_run(
        tmp_path, {"scaling_min_unit_s": 0.05, "invocations": 3}, [RUNTIME]
    )
    calibrated = [r for r in iter_records(results) if r.sizing == "calibrated"]
    assert {r.invocation for r in calibrated} == {0, 1, 2}
    assert len({r.size for r in calibrated}) == 1  # the same work in every invocation
    # only the first invocation timed a unit; the later ones were given its choice
    assert {r.invocation for r in calibrated if r.unit_s is not None} == {0}
    assert completed_cells(results, groups) == {c for g in groups for c in g.cells}


def test_scaled_sizes_are_learnt_from_records_and_from_an_earlier_attempt(tmp_path):
    group = _setup(tmp_path)[0]
    plan = group.parts[0].plan
    calibrating = replace(group, scaling_min_unit_s=0.1)
    sizes = ScaledSizes()
    assert sizes.chosen(calibrating) == {}
    serial = Record(run_id="r", runtime=RUNTIME.id, workload=plan.name, mode="serial",
                    workers=1, size=plan.size, rep=0, warmup=False, ok=True)  # fmt: skip
    sizes.note(serial)  # a fixed serial cell runs whether or not the others were scaled
    assert sizes.chosen(calibrating) == {}
    sizes.settle(calibrating, [plan.name])  # the group ended: nothing was scaled
    assert sizes.chosen(calibrating) == {plan.name: plan.size}
    argv = runner_argv(calibrating, group.cells, sizes.chosen(calibrating))
    assert json.loads(argv[argv.index("--plan") + 1])[0]["scaled_size"] == plan.size
    assert sizes.chosen(group) == {}  # a suite that does not calibrate is left alone

    results = tmp_path / "earlier.jsonl"
    scaled = replace(serial, sizing="calibrated", size=plan.size * 3)
    results.write_text(scaled.to_json() + "\n", encoding="utf-8")
    resumed = ScaledSizes.from_results(results)
    assert resumed.chosen(calibrating) == {plan.name: plan.size * 3}


def test_a_calibrating_workload_ends_when_the_runner_turns_to_the_next(tmp_path):
    """Calibrated cells can only be complete once their runner is past them: that is when it
    prints the next workload's first record, not when the whole container ends."""
    root = Path(__file__).resolve().parents[3]
    suite = parse_suite(
        {"reps": 1, "warmups": 0, "workers": [2], "scaling_min_unit_s": 0.02,
         "workloads": {"cpu": {"size": 200, "modes": ["serial", "threads"]},
                       "zlib": {"size": 1, "modes": ["serial"]}}},
        "t", "t.yaml", {"cpu": WorkloadInfo("cpu", "cpu", 1, ("serial", "threads")),
                        "zlib": WorkloadInfo("zlib", "clib", 1, ("serial",))},
    )
    (group,) = plan_groups(suite, [RUNTIME])
    events: list[tuple[str, str]] = []
    runner = GroupRunner(LocalBackend({"local-python": [sys.executable]}, root / "workloads"),
                         "run-1", tmp_path / RESULTS_FILE, idle_timeout_s=60, total_timeout_s=120,
                         memory="1g", cpuset=None,
                         on_cell_done=lambda c, r: events.append(("done", c.workload)),
                         on_cell_start=lambda c: events.append(("start", c.workload)))
    runner.run(group, set())
    first, second = (p.plan.name for p in group.parts)
    assert events == [("start", first)] + [("done", first)] * len(group.part(first).cells) + [
        ("start", second)] + [("done", second)] * len(group.part(second).cells)
