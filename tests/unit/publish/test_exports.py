"""Exports: pyperf JSON (checked with the real pyperf), github-action-benchmark, history.json."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.publish.exports import (
    HISTORY_JSON_VERSION,
    benchmark_action_entries,
    history_document,
    write_benchmark_action,
    write_history_json,
    write_pyperf,
)

RUNS = Path(__file__).resolve().parents[2] / "data" / "history" / "runs"
OLDER = RUNS / "20261123T230000Z-nightly"  # bench-a, every cell ok
NEWER = RUNS / "20261124T230000Z-nightly"  # bench-a, cpython-3.13 io threads failed
FAILED_CELL = "cpython-3.13/io/threads/w2"


def _run(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lines = (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return records, json.loads((folder / "meta.json").read_text(encoding="utf-8"))


def _steady(records: list[dict[str, Any]], name: str, warmup: bool = False) -> list[float]:
    runtime, workload, mode, workers = name.split("/")
    return [
        r["wall_s"]
        for r in sorted(records, key=lambda r: r["rep"])
        if (r["runtime"], r["workload"], r["mode"], f"w{r['workers']}")
        == (runtime, workload, mode, workers)
        and r["ok"]
        and r["warmup"] is warmup
    ]


@pytest.fixture(scope="module")
def pyperf() -> Any:
    return pytest.importorskip(
        "pyperf", reason="pyperf is not installed (it belongs in the dev extras)"
    )


def test_pyperf_file_loads_with_pyperf_and_keeps_every_ok_value(
    pyperf: Any, tmp_path: Path
) -> None:
    records, meta = _run(NEWER)
    export = write_pyperf(tmp_path / "new.json", records, meta)
    suite = pyperf.BenchmarkSuite.load(str(tmp_path / "new.json"))
    names = set(suite.get_benchmark_names())
    assert export.skipped == (FAILED_CELL,)
    assert FAILED_CELL not in names
    assert len(names) == 9
    bench = suite.get_benchmark("pypy-3.11/cpu/serial/w1")
    assert list(bench.get_values()) == _steady(records, "pypy-3.11/cpu/serial/w1")
    (run,) = bench.get_runs()
    assert [v for _, v in run.warmups] == _steady(records, "pypy-3.11/cpu/serial/w1", True)
    metadata = bench.get_metadata()
    assert metadata["python_implementation"] == "pypy"
    assert metadata["gilbench_mode"] == "serial"
    assert metadata["hostname"] == "bench-a"
    assert metadata["gilbench_run_id"] == NEWER.name
    assert bench.get_unit() == "second"


def test_pyperf_stats_and_compare_to_work_on_two_nights(pyperf: Any, tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    write_pyperf(old, *_run(OLDER))
    write_pyperf(new, *_run(NEWER))
    stats = subprocess.run(
        [sys.executable, "-m", "pyperf", "stats", str(new)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert stats.returncode == 0, stats.stderr
    assert "pypy-3.11/cpu/serial/w1" in stats.stdout
    assert "Median +- MAD" in stats.stdout
    compare = subprocess.run(
        [sys.executable, "-m", "pyperf", "compare_to", str(old), str(new), "--table"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert compare.returncode == 0, compare.stderr
    # the fixture's newer night is the +31 % cpython regression; pyperf sees it too
    row = next(line for line in compare.stdout.splitlines() if "cpython-3.13/cpu/serial/w1" in line)
    assert "slower" in row
    # the cell that failed on the newer night is left out there, not invented
    assert f"Ignored benchmarks (1) of {old}: {FAILED_CELL}" in compare.stdout


def test_pyperf_metadata_is_sanitised(pyperf: Any, tmp_path: Path) -> None:
    records, meta = _run(OLDER)
    meta = {**meta, "host": {**meta["host"], "hostname": "bench\na", "os": ""}}
    write_pyperf(tmp_path / "odd.json", records, meta)
    suite = pyperf.BenchmarkSuite.load(str(tmp_path / "odd.json"))
    assert suite.get_metadata()["hostname"] == "bench a"
    assert "platform" not in suite.get_metadata()


def test_benchmark_action_entries_are_medians_with_iqr(tmp_path: Path) -> None:
    records, meta = _run(NEWER)
    export = write_benchmark_action(tmp_path / "bench.json", records, meta)
    entries = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))
    assert entries == export.data
    assert export.skipped == (FAILED_CELL,)
    by_name = {e["name"]: e for e in entries}
    values = _steady(records, "cpython-3.13/cpu/threads/w2")
    entry = by_name["cpython-3.13/cpu/threads/w2"]
    assert entry["value"] == pytest.approx(statistics.median(values))
    assert entry["unit"] == "s"
    low, high = (float(x) for x in entry["range"].removeprefix("IQR ").split(".."))
    assert min(values) <= low <= entry["value"] <= high <= max(values)
    assert NEWER.name in entry["extra"] and "cpython 3.13.5" in entry["extra"]
    for e in entries:
        assert set(e) <= {"name", "unit", "value", "range", "extra"}
        assert isinstance(e["value"], float) and e["value"] > 0


def test_single_value_has_no_range_and_unusable_records_are_skipped() -> None:
    base = {"runtime": "r", "workload": "w", "mode": "serial", "workers": 1, "size": 1}
    records = [
        {**base, "rep": 0, "warmup": True, "ok": True, "wall_s": 2.0},
        {**base, "rep": 1, "warmup": False, "ok": True, "wall_s": 1.5},
        {**base, "rep": 2, "warmup": False, "ok": True, "wall_s": None},
        {**base, "rep": 3, "warmup": False, "ok": True, "wall_s": float("inf")},
        {**base, "mode": "threads", "rep": 0, "warmup": False, "ok": False, "wall_s": None},
    ]
    export = benchmark_action_entries(records, {"run_id": "x"})
    assert export.data == [
        {"name": "r/w/serial/w1", "unit": "s", "value": 1.5, "extra": export.data[0]["extra"]}
    ]
    assert "1 values, 1 warm-ups" in export.data[0]["extra"]
    assert export.skipped == ("r/w/threads/w1",)


SERIES = [
    {
        "machine": "bench-b",
        "runtime": "pypy-3.11",
        "workload": "cpu",
        "size": 3000,
        "metric": "threads",
        "workers": 2,
        "points": [
            {
                "run_id": "20261124T220000Z-nightly",
                "started_at": "2026-11-24T22:00:00Z",
                "value": 0.91,
                "n": 5,
                "q1": 0.9,
                "q3": 0.93,
            },
            {
                "run_id": "20261123T220000Z-nightly",
                "started_at": "2026-11-23T22:00:00Z",
                "value": 0.88,
                "n": 1,
            },
        ],
    },
    {
        "machine": "bench-a",
        "runtime": "cpython-3.13",
        "workload": "cpu",
        "size": 3000,
        "metric": "serial",
        "workers": 1,
        "points": [
            {
                "run_id": "20261124T230000Z-nightly",
                "started_at": "2026-11-24T23:00:00Z",
                "value": 1.3,
                "n": 5,
            }
        ],
    },
]
FLAGS = [
    {
        "machine": "bench-a",
        "run_id": "20261124T230000Z-nightly",
        "runtime": "cpython-3.13",
        "workload": "cpu",
        "size": 3000,
        "metric": "serial",
        "workers": 1,
        "verdict": "regression",
        "state": "new",
        "since": "20261124T230000Z-nightly",
        "rule": "one night",
        "newest": 1.3,
        "baseline": 1.0,
        "change": 0.3,
        "needed": 0.2,
    }
]
MACHINES = [
    {"machine": "bench-b", "current": False, "judged_series": 0, "unjudged_series": 10,
     "alerts": ["failed: the newest night x is failed"]},
    {"machine": "bench-a", "current": True, "judged_series": 9, "unjudged_series": 0},
]


def test_history_json_is_sorted_typed_and_deterministic(tmp_path: Path) -> None:
    a = write_history_json(tmp_path / "a.json", SERIES, FLAGS, MACHINES)
    b = write_history_json(
        tmp_path / "b.json", list(reversed(SERIES)), FLAGS, list(reversed(MACHINES))
    )
    assert a.read_bytes() == b.read_bytes()
    doc = json.loads(a.read_text(encoding="utf-8"))
    assert (doc["format"], doc["version"]) == ("gilbench-history", HISTORY_JSON_VERSION)
    assert [s["machine"] for s in doc["series"]] == ["bench-a", "bench-b"]
    serial, speedup = doc["series"]
    assert (serial["unit"], serial["better"]) == ("s", "lower")
    assert (speedup["unit"], speedup["better"]) == ("x", "higher")
    assert [p["run_id"][:8] for p in speedup["points"]] == ["20261123", "20261124"]
    assert speedup["points"][0]["q1"] is None
    assert doc["flags"][0]["after_change"] is None
    assert (doc["flags"][0]["change"], doc["flags"][0]["state"]) == (0.3, "new")
    assert [(m["machine"], m["current"], m["alerts"]) for m in doc["machines"]] == [
        ("bench-a", True, []),
        ("bench-b", False, ["failed: the newest night x is failed"]),
    ]


@pytest.mark.parametrize(
    ("series", "message"),
    [
        ({k: v for k, v in SERIES[1].items() if k != "size"}, "missing field 'size'"),
        ({**SERIES[1], "workers": True}, "field 'workers' must be int"),
        ({**SERIES[1], "colour": "red"}, "unknown field(s) colour"),
        (
            {**SERIES[1], "points": [{**SERIES[1]["points"][0], "value": "1.3"}]},
            "'value'",
        ),
        (
            {**SERIES[1], "points": [{**SERIES[1]["points"][0], "value": float("nan")}]},
            "nan",
        ),
    ],
)
def test_history_json_rejects_bad_input_by_field(series: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        history_document([series], [])


@pytest.mark.parametrize(
    ("machine", "message"),
    [
        ({**MACHINES[1], "current": 1}, "field 'current' must be bool"),
        ({**MACHINES[1], "alerts": "missing"}, "'alerts' must be a list of str"),
        ({**MACHINES[1], "judged_series": False}, "field 'judged_series' must be int"),
    ],
)
def test_history_json_rejects_bad_machines(machine: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        history_document([], [], [machine])


def test_history_json_is_written_next_to_history_md_from_the_run_folders(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from harness.nightly import write_history

    shutil.copytree(RUNS, tmp_path / "runs")
    result = write_history(tmp_path, charts=False, now=datetime(2026, 11, 25, 6, tzinfo=UTC))
    assert result.json_path == tmp_path / "history.json"
    assert not list(tmp_path.glob("*.tmp"))
    doc = json.loads(result.json_path.read_text(encoding="utf-8"))
    a = "bench-a (AMD EPYC 7B13)"
    assert [(m["machine"], m["judged"], m["current"]) for m in doc["machines"]] == [
        (a, NEWER.name, True),
        ("bench-b (Intel(R) Xeon(R) Gold 6230)", "20261124T220000Z-nightly", True),
    ]
    assert doc["machines"][1]["unjudged_series"] == 10
    (flag,) = doc["flags"]
    assert (flag["machine"], flag["runtime"], flag["workload"], flag["metric"]) == (
        a, "cpython-3.13", "cpu", "serial"
    )
    assert (flag["verdict"], flag["state"], flag["since"]) == ("regression", "new", NEWER.name)
    series = next(
        s for s in doc["series"]
        if (s["machine"], s["runtime"], s["workload"], s["metric"])
        == (a, "cpython-3.13", "cpu", "serial")
    )
    # complete nights only (not the interrupted 11-21), oldest first, each night's value
    assert [p["run_id"][:8] for p in series["points"]] == [
        "20261118", "20261119", "20261120", "20261122", "20261123", "20261124"
    ]
    newest = _steady(_run(NEWER)[0], "cpython-3.13/cpu/serial/w1")
    assert series["points"][-1]["value"] == pytest.approx(statistics.median(newest))
    assert series["points"][-1]["n"] == len(newest) == 5
    assert flag["newest"] == series["points"][-1]["value"]
