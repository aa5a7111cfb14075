"""Nightly history: store, flag rule, report. Built from the checked-in synthetic run folders
in tests/data/history/runs (see tests/data/history/generate.py for what is planted where)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.analyse.flags import (
    BELOW_THRESHOLD,
    NEW,
    NOT_ENOUGH,
    ONE_NIGHT,
    RECOVERED,
    STANDING,
    THRESHOLD,
    WITHIN_NOISE,
    analyse_machine,
)
from harness.analyse.nights import SeriesKey, load_store
from harness.cli import main
from harness.errors import EXIT_REGRESSION
from harness.nightly import exit_code, write_history

DATA = Path(__file__).resolve().parents[2] / "data" / "history"
NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # the morning after the newest fixture night
NEWEST_A = "20261124T230000Z-nightly"
A = "bench-a (AMD EPYC 7B13)"
B = "bench-b (Intel(R) Xeon(R) Gold 6230)"
A_COMPLETE_BEFORE_NEWEST = [
    "20261123T230000Z-nightly",
    "20261122T230000Z-nightly",
    "20261120T230000Z-nightly",
    "20261119T230000Z-nightly",
    "20261118T230000Z-nightly",
]


def _load_generator():
    spec = importlib.util.spec_from_file_location("history_fixtures", DATA / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The checked-in history copied to a temp reports dir, with history.md built (no PNGs)."""
    reports = tmp_path_factory.mktemp("reports")
    shutil.copytree(DATA / "runs", reports / "runs")
    result = write_history(reports, charts=False, now=NOW)
    return reports, result, result.path.read_text()


def _history(reports: Path, now: datetime = NOW):
    return write_history(reports, charts=False, now=now)


def _comparisons(reports: Path, machine: str):
    store = load_store(reports / "runs")
    analysis = analyse_machine(machine, store.of_machine(machine), NOW)
    return {c.key: c for c in analysis.comparisons}


def _raw_walls(run_id: str, runtime: str, workload: str, mode: str, workers: int) -> list[float]:
    """Steady-state samples read straight from the JSON, not through the harness."""
    lines = (DATA / "runs" / run_id / "results.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    return [
        r["wall_s"]
        for r in rows
        if (r["runtime"], r["workload"], r["mode"], r["workers"])
        == (runtime, workload, mode, workers)
        and r["ok"]
        and not r["warmup"]
    ]


def test_checked_in_fixtures_are_the_generator_output(tmp_path):
    gen.write_fixtures(tmp_path)
    expected = sorted(p.relative_to(tmp_path / "runs") for p in (tmp_path / "runs").rglob("*"))
    actual = sorted(p.relative_to(DATA / "runs") for p in (DATA / "runs").rglob("*"))
    assert actual == expected
    for rel in expected:
        if (tmp_path / "runs" / rel).is_file():
            assert (DATA / "runs" / rel).read_bytes() == (tmp_path / "runs" / rel).read_bytes()


def test_planted_regression_is_flagged_with_independently_checked_numbers(built):
    reports, result, text = built
    assert [
        (f.machine, f.key.runtime, f.key.workload, f.key.metric) for f in result.regressions
    ] == [(A, "cpython-3.13", "cpu", "serial")]
    assert result.improvements == () and result.failing == result.regressions
    flag = result.regressions[0]
    assert (flag.run_id, flag.since, flag.state, flag.rule) == (NEWEST_A, NEWEST_A, NEW, ONE_NIGHT)
    assert flag.after_change is None and flag.counts_as_regression
    assert list(flag.baseline_nights) == A_COMPLETE_BEFORE_NEWEST  # not the interrupted night
    # one value per night (one invocation: the median of its repetitions); the baseline level
    # is the median of the previous nights' values
    new = statistics.median(_raw_walls(NEWEST_A, "cpython-3.13", "cpu", "serial", 1))
    nights = [
        statistics.median(_raw_walls(r, "cpython-3.13", "cpu", "serial", 1))
        for r in A_COMPLETE_BEFORE_NEWEST
    ]
    assert flag.newest == pytest.approx(new)
    assert flag.baseline == pytest.approx(statistics.median(nights))
    assert flag.previous_range == pytest.approx((min(nights), max(nights)))
    assert flag.change == pytest.approx(new / statistics.median(nights) - 1)
    assert 0.25 < flag.change < 0.35 and flag.change > flag.needed > THRESHOLD
    # next to the flag: the night's timeout, its wall-time outlier, its report
    row = next(line for line in text.splitlines() if line.startswith("| **REGRESSION** new"))
    assert "1 failed cell(s), 1 timed out" in row
    assert "**wall 6 min against a usual 49 s**" in row
    assert f"[{NEWEST_A}](runs/{NEWEST_A}/report.md)" in row


def test_speedups_use_the_report_estimator_t1_n_over_tn(built):
    reports, _, _ = built
    night = next(n for n in load_store(reports / "runs").nights if n.run_id == NEWEST_A)
    # serial only ran with 1 unit: T1 * 2 / T2, as a ratio of medians (the run report's estimator)
    t1 = _raw_walls(NEWEST_A, "cpython-3.13", "cpu", "serial", 1)
    t2 = _raw_walls(NEWEST_A, "cpython-3.13", "cpu", "threads", 2)
    key = SeriesKey("cpython-3.13", "cpu", 3000, "threads", 2)
    assert night.values[key] == pytest.approx(statistics.median(t1) * 2 / statistics.median(t2))
    assert night.samples[key] == pytest.approx([statistics.median(t1) * 2 / p for p in t2])
    # serial ran with 2 units too: the same-N ratio
    serial = _raw_walls(NEWEST_A, "pypy-3.11", "io", "serial", 2)
    threads = _raw_walls(NEWEST_A, "pypy-3.11", "io", "threads", 2)
    key = SeriesKey("pypy-3.11", "io", 20, "threads", 2)
    assert night.values[key] == pytest.approx(statistics.median(serial) / statistics.median(threads))


def test_noise_only_wobbles_are_not_flagged(built):
    reports, _, text = built
    by_key = _comparisons(reports, A)
    noisy = by_key[SeriesKey("pypy-3.11", "io", 20, "threads", 2)]
    assert abs(noisy.change) >= THRESHOLD  # big enough to matter ...
    assert noisy.verdict == WITHIN_NOISE  # ... but no bigger than its nights' own spread
    night_wobble = by_key[SeriesKey("pypy-3.11", "cpu", 3000, "serial", 1)]
    assert night_wobble.change >= THRESHOLD and not night_wobble.flagged
    low, high = night_wobble.previous_range
    assert low <= night_wobble.newest <= high  # 11-20 was already that slow
    # newest vs the last night alone is +10 % or more; vs the previous nights' level it is not
    dip = by_key[SeriesKey("cpython-3.13", "io", 20, "serial", 2)]
    last = statistics.median(
        _raw_walls("20261123T230000Z-nightly", "cpython-3.13", "io", "serial", 2)
    )
    assert dip.newest / last - 1 >= THRESHOLD
    assert dip.verdict == BELOW_THRESHOLD
    assert text.count("**REGRESSION**") == 3  # flags table, comparison table, trend table


def test_interrupted_and_failed_nights_are_listed_not_used(built):
    reports, result, text = built
    assert result.nights == 10 and result.complete == 8 and result.machines == 2
    assert (
        "| [20261121T230000Z-nightly](runs/20261121T230000Z-nightly/) | **interrupted** |" in text
    )
    assert "| [20261122T220000Z-nightly](runs/20261122T220000Z-nightly/) | **failed** |" in text
    for comparison in _comparisons(reports, A).values():
        assert "20261121T230000Z-nightly" not in comparison.baseline_nights


def test_corrupt_and_unknown_schema_folders_are_listed_with_reason(built):
    _, result, text = built
    assert result.unreadable == 2
    assert "| `20261122T090000Z-nightly` | meta.json: not valid JSON" in text
    assert "| `20261123T090000Z-nightly` | meta.json: schema 99 is not supported" in text
    assert "smoke" not in text  # another suite's run is not a night


def test_newly_failing_cell_is_reported(built):
    _, _, text = built
    assert "- bench-a (AMD EPYC 7B13): cpython-3.13 io threads x2: timeout after 300 s" in text


def test_machines_are_kept_apart(built):
    reports, result, text = built
    assert text.index(f"## {A}") < text.index(f"## {B}")
    b = _comparisons(reports, B)
    assert b and {c.verdict for c in b.values()} == {NOT_ENOUGH}
    assert "pypy-3.11 3.11.11 -> 3.11.13 (image sha256:" in text  # bench-b's upgrade is shown
    # nothing could be judged on bench-b: said so, never "no regression"
    section = text[text.index(f"### {B}") : text.index("**Newly failing cells**")]
    assert "**Nothing could be judged**: all 10 series need at least 3" in section
    assert "No regression" not in section
    assert result.unjudged == 10


def _night(machine, day, seed, **kw):
    return gen.NightSpec(machine, f"202612{day:02d}T230000Z", seed=seed, **kw)


def _calm(runs: Path, days: range, machine=gen.BENCH_A, **kw) -> None:
    for day in days:
        gen.write_night(runs, _night(machine, day, seed=day, **kw))


def test_runtime_change_is_labelled_not_counted(tmp_path):
    runs, a = tmp_path / "runs", gen.BENCH_A
    upgrade = {"versions": {"cpython-3.13": "3.13.6"}}
    slower = {"factors": {("cpython-3.13", "cpu"): 1.3}}
    _calm(runs, range(1, 9))
    gen.write_night(runs, _night(a, 9, seed=9, **upgrade, **slower))
    result = write_history(tmp_path, charts=False, now=datetime(2026, 12, 10, tzinfo=UTC))
    assert len(result.regressions) == 1 and result.failing == ()
    flag = result.regressions[0]
    old, new = gen.image_id("cpython-3.13", "3.13.5"), gen.image_id("cpython-3.13", "3.13.6")
    assert flag.after_change == (
        f"runtime changed: 3.13.5 -> 3.13.6 (image sha256:{old[7:19]} -> sha256:{new[7:19]})"
    )
    assert exit_code(result, fail_on_regression=True) == 0
    text = result.path.read_text()
    assert "**REGRESSION** new after runtime change" in text
    assert f"cpython-3.13 3.13.5 -> 3.13.6 (image sha256:{old[7:19]}" in text
    assert "image of cpython-3.13" in text  # the image changed since the night before
    # while the new version has fewer than 3 nights of its own, it stands after the change
    for day in (10, 11):
        gen.write_night(runs, _night(a, day, seed=day, **upgrade, **slower))
        result = write_history(tmp_path, charts=False, now=datetime(2026, 12, day + 1, tzinfo=UTC))
        assert result.failing == () and [f.state for f in result.regressions] == [STANDING]
    # three nights on the new version make a baseline of their own: the bump is not a regression
    gen.write_night(runs, _night(a, 12, seed=12, **upgrade, **slower))
    result = write_history(tmp_path, charts=False, now=datetime(2026, 12, 13, tzinfo=UTC))
    assert result.regressions == () and result.improvements == ()


def test_host_change_is_labelled(tmp_path):
    runs, a = tmp_path / "runs", gen.BENCH_A
    _calm(runs, range(1, 9))
    moved = gen.Machine(a.hostname, a.cpu_model, a.cpus, "6.12.57+deb13-amd64", a.engine, 1.3)
    gen.write_night(runs, _night(moved, 9, seed=9))
    result = write_history(tmp_path, charts=False, now=datetime(2026, 12, 10, tzinfo=UTC))
    assert result.regressions and result.failing == ()
    for flag in result.regressions:
        assert flag.after_change.startswith("host changed: kernel 6.12.48+deb13-amd64 -> 6.12.57")


def test_two_identical_nights_in_a_row_give_no_flag(tmp_path):
    runs = tmp_path / "runs"
    gen.write_night(runs, _night(gen.BENCH_A, 1, seed=7))
    gen.write_night(runs, _night(gen.BENCH_A, 2, seed=7))
    result = write_history(tmp_path, charts=False, now=datetime(2026, 12, 3, tzinfo=UTC))
    assert (result.nights, result.regressions, result.improvements) == (2, (), ())
    assert "**Nothing could be judged**" in result.path.read_text()
    for day in (3, 4, 5):  # more nights, the last ones identical again: still nothing
        gen.write_night(runs, _night(gen.BENCH_A, day, seed=9))
    result = write_history(tmp_path, charts=False, now=datetime(2026, 12, 6, tzinfo=UTC))
    assert (result.nights, result.regressions, result.improvements) == (5, (), ())


def test_a_lasting_step_stays_listed_and_keeps_failing_until_it_recovers(tmp_path):
    runs, a, cell = tmp_path / "runs", gen.BENCH_A, ("cpython-3.13", "cpu")
    _calm(runs, range(1, 8))
    for day in (8, 9, 10):
        gen.write_night(runs, _night(a, day, seed=day, factors={cell: 1.31}))
        result = write_history(tmp_path, charts=False, now=datetime(2026, 12, day + 1, tzinfo=UTC))
        assert [(f.key.metric, f.state, f.since) for f in result.failing] == [
            ("serial", NEW if day == 8 else STANDING, "20261208T230000Z-nightly")
        ]
        assert exit_code(result, fail_on_regression=True) == EXIT_REGRESSION
    assert "**1 regression** (0 new, 1 standing" in result.path.read_text()
    gen.write_night(runs, _night(a, 11, seed=11))  # fixed
    result = write_history(tmp_path, charts=False, now=datetime(2026, 12, 12, tzinfo=UTC))
    assert result.regressions == () and exit_code(result, fail_on_regression=True) == 0
    text = result.path.read_text()
    assert "Recovered on this night: cpython-3.13 cpu serial time x1 (regression since" in text
    doc = json.loads(result.json_path.read_text())
    assert [(f["state"], f["since"]) for f in doc["flags"]] == [
        (RECOVERED, "20261208T230000Z-nightly")
    ]


def test_a_failed_newest_night_does_not_raise_the_old_flag_again(tmp_path, capsys):
    runs, a = tmp_path / "runs", gen.BENCH_A
    _calm(runs, range(1, 8))
    gen.write_night(runs, _night(a, 8, seed=8, factors={("cpython-3.13", "cpu"): 1.31}))
    gen.write_night(runs, _night(a, 9, seed=9, status="failed", cells=()))
    result = write_history(tmp_path, charts=False, now=datetime(2026, 12, 10, tzinfo=UTC))
    assert len(result.regressions) == 1 and result.stale == result.regressions
    assert result.failing == () and exit_code(result, fail_on_regression=True) == 0
    text = result.path.read_text()
    assert "- **FAILED**: the newest night 20261209T230000Z-nightly is failed." in text
    assert "those of the older night `20261208T230000Z-nightly`: shown, **not raised again**" in (
        text
    )
    history = ["history", "--reports", str(tmp_path), "--no-charts"]
    assert main([*history, "--fail-on-regression", "--now", "2026-12-10T00:00:00Z"]) == 0
    assert "1 from an older night (not raised again)" in capsys.readouterr().err


def test_a_missing_night_is_said_loudly_and_not_raised_again(tmp_path):
    runs = tmp_path / "runs"
    _calm(runs, range(1, 8))
    gen.write_night(runs, _night(gen.BENCH_A, 8, seed=8, factors={("pypy-3.11", "cpu"): 1.4}))
    on_time = write_history(tmp_path, charts=False, now=datetime(2026, 12, 9, 20, tzinfo=UTC))
    assert on_time.failing and not on_time.alerts
    late = write_history(tmp_path, charts=False, now=datetime(2026, 12, 10, 12, tzinfo=UTC))
    assert late.failing == () and late.stale == late.regressions
    assert late.alerts == (
        f"{A}: missing: no night for 37 h (over 36 h); the newest is 20261208T230000Z-nightly",
    )
    assert "- **MISSING**: no night for 37 h" in late.path.read_text()


def test_the_machine_name_the_user_set_keys_the_history(tmp_path):
    runs, a = tmp_path / "runs", gen.BENCH_A
    named = gen.Machine(**{**a.__dict__, "name": "bench-a", "hostname": "runner-1234"})
    _calm(runs, range(1, 3))
    _calm(runs, range(3, 5), machine=named)
    store = load_store(runs)
    assert store.machines == ("bench-a", A)  # a renamed host does not mix into the series
    assert [n.run_id[:8] for n in store.of_machine("bench-a")] == ["20261203", "20261204"]
    # meta.json keeps the name; older files without it read and write back without it
    from harness.store.meta import RunMeta

    named_meta = json.loads((runs / "20261203T230000Z-nightly" / "meta.json").read_text())
    assert RunMeta.from_dict(named_meta).to_dict()["machine"] == "bench-a"
    old_meta = json.loads((runs / "20261201T230000Z-nightly" / "meta.json").read_text())
    assert RunMeta.from_dict(old_meta).machine is None
    assert "machine" not in RunMeta.from_dict(old_meta).to_dict()


def test_a_harness_revision_change_is_shown_next_to_the_flag(tmp_path):
    runs, a = tmp_path / "runs", gen.BENCH_A
    _calm(runs, range(1, 8))
    slower = {("cpython-3.13", "cpu"): 1.31}
    gen.write_night(runs, _night(a, 8, seed=8, factors=slower, revision="4567def"))
    result = write_history(tmp_path, charts=False, now=datetime(2026, 12, 9, tzinfo=UTC))
    row = next(
        line for line in result.path.read_text().splitlines()
        if line.startswith("| **REGRESSION** new")
    )
    assert row.endswith("| harness 0123abc -> 4567def |")


def test_newest_incomplete_night_is_shown_and_the_last_complete_one_judged(tmp_path):
    runs, a = tmp_path / "runs", gen.BENCH_A
    _calm(runs, range(1, 4))
    gen.write_night(runs, _night(a, 4, seed=4, status="running", cells=tuple(gen.BASE)[:2]))
    result = write_history(tmp_path, charts=False, now=datetime(2026, 12, 5, tzinfo=UTC))
    text = result.path.read_text()
    assert "- **INCOMPLETE**: the newest night 20261204T230000Z-nightly is running." in text
    assert f"### {A}: judged night [20261203T230000Z-nightly]" in text
    assert result.nights == 4 and result.complete == 3


def test_broken_results_file_makes_an_unreadable_night(tmp_path):
    runs, a = tmp_path / "runs", gen.BENCH_A
    for day in (1, 2, 3):
        gen.write_night(runs, _night(a, day, seed=day))
    broken = runs / "20261202T230000Z-nightly" / "results.jsonl"
    lines = broken.read_text().splitlines()
    broken.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    result = _history(tmp_path)
    text = result.path.read_text()
    assert "| **unreadable** |" in text and "results.jsonl:2: not a JSON object" in text
    assert result.complete == 2


def test_run_folders_are_never_written(tmp_path):
    shutil.copytree(DATA / "runs", tmp_path / "runs")
    before = {
        p: (p.stat().st_mtime_ns, p.read_bytes())
        for p in (tmp_path / "runs").rglob("*")
        if p.is_file()
    }
    _history(tmp_path)
    after = {
        p: (p.stat().st_mtime_ns, p.read_bytes())
        for p in (tmp_path / "runs").rglob("*")
        if p.is_file()
    }
    assert after == before


def test_empty_reports_dir(tmp_path):
    result = _history(tmp_path)
    assert (result.nights, result.regressions) == (0, ())
    text = result.path.read_text()
    assert "No nights yet: nothing judged." in text and "No regression" not in text


def test_exit_code_for_schedulers(built, tmp_path, capsys):
    _, result, _ = built
    assert exit_code(result, fail_on_regression=True) == EXIT_REGRESSION == 3
    assert exit_code(result, fail_on_regression=False) == 0
    shutil.copytree(DATA / "runs", tmp_path / "runs")
    history = ["history", "--reports", str(tmp_path), "--no-charts", "--now", NOW.isoformat()]
    assert main([*history, "--fail-on-regression"]) == EXIT_REGRESSION
    assert "1 regression(s), 0 after a change" in capsys.readouterr().err
    assert main(history) == 0
    # the same store a week later: the newest night is missing, its flag is not raised again
    assert main([*history[:-1], "2026-12-02T00:00:00Z", "--fail-on-regression"]) == 0


def test_output_is_byte_identical_across_runs(tmp_path):
    # bench-b's nights (a failed night, a runtime change) and a corrupt folder keep this quick
    for name in (
        "20261122T220000Z-nightly",
        "20261123T220000Z-nightly",
        "20261124T220000Z-nightly",
        "20261122T090000Z-nightly",
    ):
        shutil.copytree(DATA / "runs" / name, tmp_path / "runs" / name)

    def outputs():
        files = [
            tmp_path / "history.md",
            tmp_path / "history.json",
            *sorted((tmp_path / "history").glob("*.png")),
        ]
        return {p.name: p.read_bytes() for p in files}

    result = write_history(tmp_path, now=NOW)
    first = outputs()
    assert sorted(first) == ["bench-b-cpu.png", "bench-b-io.png", "history.json", "history.md"]
    assert [p.name for p in result.charts] == ["bench-b-cpu.png", "bench-b-io.png"]
    assert "](history/bench-b-cpu.png)" in first["history.md"].decode()
    (tmp_path / "history" / "stale.png").write_bytes(b"from an older layout")
    write_history(tmp_path, now=NOW)
    assert outputs() == first


def test_cells_of_an_unavailable_runtime_are_not_counted_as_failures(tmp_path):
    """A runtime that could not be built (meta `available: false`, one ok:false record per
    cell) shows as unavailable in the Nights table, not as failed cells."""
    from harness.store.results import Record, append_record

    folder = gen.write_night(tmp_path / "runs", _night(gen.BENCH_A, 1, seed=1))
    meta = json.loads((folder / "meta.json").read_text())
    meta["runtimes"]["ironpython-3.4"] = {"available": False, "reason": "zip missing",
                                          "probe": None, "image_id": None}
    (folder / "meta.json").write_text(json.dumps(meta))
    for mode in ("serial", "threads"):
        append_record(folder / "results.jsonl", Record(
            run_id=folder.name, runtime="ironpython-3.4", workload="cpu", mode=mode, workers=1,
            size=1, rep=0, warmup=False, ok=False, error="runtime unavailable: zip missing"))
    text = _history(tmp_path).path.read_text()
    row = next(line for line in text.splitlines() if line.startswith(f"| [{folder.name}]"))
    assert "ironpython-3.4 unavailable" in row
    assert "2 on unavailable runtimes" in row and "failed" not in row
