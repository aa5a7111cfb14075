"""The report's opening says how many measurements other processes disturbed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from harness.analyse.run import analyse
from harness.publish.report.headline import headline

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "golden_run"


def _golden_with_neighbours(tmp_path: Path, disturbed: int, repeated: int) -> Path:
    """The golden run where every measurement recorded the others' CPU time (none), then the
    first `disturbed` steady serial measurements were disturbed and the first `repeated` of
    them measured again by the record after them."""
    run = tmp_path / GOLDEN.name
    shutil.copytree(GOLDEN, run, ignore=shutil.ignore_patterns("old_names", "*.png"))
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    for record in records:
        record["others_cpu_s"] = 0.0
    steady = [
        i for i, r in enumerate(records)
        if r["ok"] and not r["warmup"] and r["mode"] == "serial"
        and i + 1 < len(records) and records[i + 1]["mode"] == "serial"
    ][:disturbed]  # fmt: skip
    for n, i in enumerate(steady):
        records[i]["others_cpu_s"] = records[i]["wall_s"]  # another process took a whole CPU
        if n < repeated:
            records[i + 1]["repeat_of"] = records[i]["rep"]
    lines = [json.dumps(r, sort_keys=True) for r in records]
    (run / "results.jsonl").write_text("\n".join(lines) + "\n")
    return run


def test_no_disturbed_measurement_is_said(tmp_path):
    text = headline(analyse(_golden_with_neighbours(tmp_path, 0, 0)))
    assert "**Neighbours:** no steady measurement of " in text


def test_disturbed_and_repeated_measurements_are_counted(tmp_path):
    a = analyse(_golden_with_neighbours(tmp_path, 3, 2))
    assert (a.disturbance.disturbed, a.disturbance.repeated) == (3, 2)
    text = headline(a)
    assert f"3 of {a.disturbance.measurements} steady measurements were disturbed" in text
    assert "2 of them were measured again, 1 was not" in text


def test_runs_that_did_not_measure_neighbours_say_nothing(tmp_path):
    assert "Neighbours" not in headline(analyse(GOLDEN))
