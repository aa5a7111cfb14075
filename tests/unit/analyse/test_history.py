"""Nightly history: store, flag rule, report. Built from the checked-in synthetic run folders
in tests/data/history/runs (see tests/data/history/generate.py for what is planted where)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import statistics
import sys
from math import comb
from pathlib import Path

import pytest

from harness.analyse.flags import (
    ALPHA,
    BELOW_THRESHOLD,
    NOT_ENOUGH,
    NOT_SIGNIFICANT,
    REGRESSION,
    THRESHOLD,
    WITHIN_RANGE,
    analyse_machine,
)
from harness.analyse.nights import SeriesKey, load_store
from harness.cli import main
from harness.errors import EXIT_REGRESSION
from harness.nightly import exit_code, write_history

DATA = Path(__file__).resolve().parents[2] / "data" / "history"
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
    result = write_history(reports, charts=False)
    return reports, result, result.path.read_text()


def _comparisons(reports: Path, machine: str):
    store = load_store(reports / "runs")
    return {c.key: c for c in analyse_machine(machine, store.of_machine(machine)).comparisons}


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


def _bh(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg, written out: p_(i) * m / i, made monotone from the largest down."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = running
    return adjusted


def test_checked_in_fixtures_are_the_generator_output(tmp_path):
    gen.write_fixtures(tmp_path)
    expected = sorted(p.relative_to(tmp_path / "runs") for p in (tmp_path / "runs").rglob("*"))
    actual = sorted(p.relative_to(DATA / "runs") for p in (DATA / "runs").rglob("*"))
    assert actual == expected
    for rel in expected:
        if (tmp_path / "runs" / rel).is_file():
            assert (DATA / "runs" / rel).read_bytes() == (tmp_path / "runs" / rel).read_bytes()


def test_planted_regression_is_flagged_with_independently_checked_numbers(built):
    reports, result, _ = built
    assert [
        (f.machine, f.key.runtime, f.key.workload, f.key.metric) for f in result.regressions
    ] == [(A, "cpython-3.13", "cpu", "serial")]
    assert result.improvements == ()
    flag = result.regressions[0]
    assert flag.run_id == NEWEST_A and flag.after_change is None and flag.counts_as_regression
    assert list(flag.baseline_nights) == A_COMPLETE_BEFORE_NEWEST  # not the interrupted night

    new = _raw_walls(NEWEST_A, "cpython-3.13", "cpu", "serial", 1)
    pooled = [
        w
        for r in A_COMPLETE_BEFORE_NEWEST
        for w in _raw_walls(r, "cpython-3.13", "cpu", "serial", 1)
    ]
    assert len(new) == 5 and len(pooled) == 25
    assert flag.newest == pytest.approx(statistics.median(new))
    assert flag.baseline == pytest.approx(statistics.median(pooled))
    assert flag.change == pytest.approx(statistics.median(new) / statistics.median(pooled) - 1)
    assert 0.25 < flag.change < 0.35
    # complete separation: the exact two-sided Mann-Whitney p is 2 / C(n + m, n)
    assert min(new) > max(pooled)
    assert flag.p_value == pytest.approx(2 / comb(30, 5))
    tested = [c for c in _comparisons(reports, A).values() if c.p_value is not None]
    adjusted = _bh([c.p_value for c in tested])
    for comparison, expected in zip(tested, adjusted, strict=True):
        assert comparison.p_adjusted == pytest.approx(expected)
    assert flag.p_adjusted < ALPHA


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
    assert noisy.verdict == NOT_SIGNIFICANT  # ... but indistinguishable from its own noise
    night_wobble = by_key[SeriesKey("pypy-3.11", "cpu", 3000, "serial", 1)]
    assert night_wobble.change >= THRESHOLD and not night_wobble.flagged
    low, high = night_wobble.previous_range
    assert low <= night_wobble.newest <= high  # 11-20 was already that slow
    # newest vs the last night alone is +10 % or more; vs the pooled previous nights it is not
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
    reports, _, text = built
    assert text.index(f"## {A}") < text.index(f"## {B}")
    b = _comparisons(reports, B)
    assert b and {c.verdict for c in b.values()} == {NOT_ENOUGH}
    assert all(c.baseline_nights == ("20261123T220000Z-nightly",) for c in b.values())
    assert "pypy-3.11 3.11.11 -> 3.11.13 (image sha256:" in text  # bench-b's upgrade is shown


def _night(machine, day, seed, **kw):
    return gen.NightSpec(machine, f"202612{day:02d}T230000Z", seed=seed, **kw)


def test_runtime_change_is_labelled_not_counted(tmp_path):
    runs, a = tmp_path / "runs", gen.BENCH_A
    upgrade = {"versions": {"cpython-3.13": "3.13.6"}}
    slower = {"factors": {("cpython-3.13", "cpu"): 1.3}}
    for day in (1, 2, 3):
        gen.write_night(runs, _night(a, day, seed=day))
    gen.write_night(runs, _night(a, 4, seed=4, **upgrade, **slower))
    result = write_history(tmp_path, charts=False)
    assert len(result.regressions) == 1 and result.failing == ()
    flag = result.regressions[0]
    old, new = gen.image_id("cpython-3.13", "3.13.5"), gen.image_id("cpython-3.13", "3.13.6")
    assert flag.after_change == (
        f"runtime changed: 3.13.5 -> 3.13.6 (image sha256:{old[7:19]} -> sha256:{new[7:19]})"
    )
    assert exit_code(result, fail_on_regression=True) == 0
    text = result.path.read_text()
    assert "**REGRESSION** after runtime change" in text
    assert f"cpython-3.13 3.13.5 -> 3.13.6 (image sha256:{old[7:19]}" in text
    # one night later only one night ran the new version: the older nights still make up the
    # baseline, so nothing it shows can count (here night 4 already puts it within range)
    gen.write_night(runs, _night(a, 5, seed=5, **upgrade, **slower))
    result = write_history(tmp_path, charts=False)
    assert result.failing == ()
    assert all(f.after_change for f in result.regressions)
    # two nights on the new version make a baseline of their own: the bump is not a regression
    gen.write_night(runs, _night(a, 6, seed=6, **upgrade, **slower))
    result = write_history(tmp_path, charts=False)
    assert result.regressions == () and result.improvements == ()


def test_host_change_is_labelled(tmp_path):
    runs, a = tmp_path / "runs", gen.BENCH_A
    for day in (1, 2, 3):
        gen.write_night(runs, _night(a, day, seed=day))
    moved = gen.Machine(a.hostname, a.cpu_model, a.cpus, "6.12.57+deb13-amd64", a.engine, 1.3)
    gen.write_night(runs, _night(moved, 4, seed=4))
    result = write_history(tmp_path, charts=False)
    assert result.regressions and result.failing == ()
    for flag in result.regressions:
        assert flag.after_change.startswith("host changed: kernel 6.12.48+deb13-amd64 -> 6.12.57")


def test_two_identical_nights_in_a_row_give_no_flag(tmp_path):
    runs = tmp_path / "runs"
    gen.write_night(runs, _night(gen.BENCH_A, 1, seed=7))
    gen.write_night(runs, _night(gen.BENCH_A, 2, seed=7))
    result = write_history(tmp_path, charts=False)
    assert (result.nights, result.regressions, result.improvements) == (2, (), ())
    assert "not enough history" in result.path.read_text()
    for day in (3, 4):  # more nights, the last two identical again: still nothing
        gen.write_night(runs, _night(gen.BENCH_A, day, seed=9))
    result = write_history(tmp_path, charts=False)
    assert (result.nights, result.regressions, result.improvements) == (4, (), ())


def test_range_guard_stops_a_significant_change_seen_before(tmp_path):
    # one series only (no multiple-testing correction to hide behind): one earlier night was
    # +16 %, the newest is +13 % -- significant against the pooled samples, but not unusual
    runs, a, cell = tmp_path / "runs", gen.BENCH_A, (("pypy-3.11", "cpu", "serial", 1),)
    for day in range(1, 9):
        factors = {("pypy-3.11", "cpu"): 1.16} if day == 3 else {}
        gen.write_night(runs, _night(a, day, seed=day, factors=factors, cells=cell))
    gen.write_night(runs, _night(a, 9, seed=9, factors={("pypy-3.11", "cpu"): 1.13}, cells=cell))
    store = load_store(runs)
    (guarded,) = analyse_machine(A, store.of_machine(A)).comparisons
    assert len(guarded.baseline_nights) == 7  # K = 7 of the 8 previous nights
    assert guarded.change >= THRESHOLD and guarded.p_adjusted <= ALPHA
    assert guarded.verdict == WITHIN_RANGE
    # without the +16 % night in the baseline the same newest night is a regression
    shutil.rmtree(runs / "20261203T230000Z-nightly")
    (flagged,) = analyse_machine(A, load_store(runs).of_machine(A)).comparisons
    assert flagged.verdict == REGRESSION


def test_newest_incomplete_night_is_shown_and_the_last_complete_one_compared(tmp_path):
    runs, a = tmp_path / "runs", gen.BENCH_A
    for day in (1, 2, 3):
        gen.write_night(runs, _night(a, day, seed=day))
    gen.write_night(runs, _night(a, 4, seed=4, status="running", cells=tuple(gen.BASE)[:2]))
    result = write_history(tmp_path, charts=False)
    text = result.path.read_text()
    assert "Newer, not compared: `20261204T230000Z-nightly` (running)." in text
    assert result.nights == 4 and result.complete == 3


def test_broken_results_file_makes_an_unreadable_night(tmp_path):
    runs, a = tmp_path / "runs", gen.BENCH_A
    for day in (1, 2, 3):
        gen.write_night(runs, _night(a, day, seed=day))
    broken = runs / "20261202T230000Z-nightly" / "results.jsonl"
    lines = broken.read_text().splitlines()
    broken.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    result = write_history(tmp_path, charts=False)
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
    write_history(tmp_path, charts=False)
    after = {
        p: (p.stat().st_mtime_ns, p.read_bytes())
        for p in (tmp_path / "runs").rglob("*")
        if p.is_file()
    }
    assert after == before


def test_empty_reports_dir(tmp_path):
    result = write_history(tmp_path, charts=False)
    assert (result.nights, result.regressions) == (0, ())
    assert "No regression or improvement flagged" in result.path.read_text()


def test_exit_code_for_schedulers(built, tmp_path, capsys):
    _, result, _ = built
    assert exit_code(result, fail_on_regression=True) == EXIT_REGRESSION == 3
    assert exit_code(result, fail_on_regression=False) == 0
    shutil.copytree(DATA / "runs", tmp_path / "runs")
    history = ["history", "--reports", str(tmp_path), "--no-charts"]
    assert main([*history, "--fail-on-regression"]) == EXIT_REGRESSION
    assert "1 regression(s), 0 after a change" in capsys.readouterr().err
    assert main(history) == 0


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
        files = [tmp_path / "history.md", *sorted((tmp_path / "history").glob("*.png"))]
        return {p.name: p.read_bytes() for p in files}

    result = write_history(tmp_path)
    first = outputs()
    assert sorted(first) == ["bench-b-cpu.png", "bench-b-io.png", "history.md"]
    assert [p.name for p in result.charts] == ["bench-b-cpu.png", "bench-b-io.png"]
    assert "](history/bench-b-cpu.png)" in first["history.md"].decode()
    (tmp_path / "history" / "stale.png").write_bytes(b"from an older layout")
    write_history(tmp_path)
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
    text = write_history(tmp_path, charts=False).path.read_text()
    row = next(line for line in text.splitlines() if line.startswith(f"| [{folder.name}]"))
    assert "ironpython-3.4 unavailable" in row
    assert "2 on unavailable runtimes" in row and "failed" not in row
