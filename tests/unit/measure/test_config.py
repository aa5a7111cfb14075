"""Suites: YAML into dataclasses, with one-line errors naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.measure.config import (
    DEFAULT_REPEAT_DISTURBED,
    WorkloadInfo,
    discover_workloads,
    load_suite,
    parse_suite,
    suite_from_meta,
)
from harness.measure.runtimes import load_registry

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE = {
    "cpu": WorkloadInfo("cpu", "cpu", 1000, ("serial", "threads", "processes")),
    "io": WorkloadInfo("io", "io", 10, ("serial", "threads", "processes", "asyncio")),
}


def _suite(**overrides):
    data = {"reps": 3, "workers": [1, 2], "workloads": {"cpu": {"size": 100}}}
    data.update(overrides)
    return data


def test_defaults_and_ordering():
    suite = parse_suite(_suite(workloads={"io": {"size": 5, "modes": ["asyncio", "serial"]}}),
                        "s", "s.yaml", CATALOGUE)
    plan = suite.workloads[0]
    assert plan.modes == ("serial", "asyncio")  # canonical order, whatever the YAML order
    assert plan.workers == (1, 2) and plan.reps == 3
    assert suite.timeout_s == 600 and suite.memory == "2g"


def test_warmups_precedence():
    registry = load_registry(ROOT, environ={})
    suite = parse_suite(
        _suite(warmups=1, warmups_by_family={"pypy": 4},
               workloads={"cpu": {"size": 1}, "io": {"size": 1, "warmups": 0}}),
        "s", "s.yaml", CATALOGUE,
    )
    cpu, io = suite.workloads
    assert suite.warmups_for(registry["pypy-3.11"], cpu) == 4
    assert suite.warmups_for(registry["cpython-3.13"], cpu) == 1
    assert suite.warmups_for(registry["pypy-3.11"], io) == 0
    no_default = parse_suite(_suite(), "s", "s.yaml", CATALOGUE)
    assert no_default.warmups_for(registry["jython-2.7"], no_default.workloads[0]) == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_suite(workloads={"gpu": {"size": 1}}), "s.yaml: workloads.gpu: unknown workload 'gpu' (known: cpu, io)"),
        (_suite(workloads={"cpu": {"size": -5}}), "s.yaml: workloads.cpu.size: expected a positive integer, got -5"),
        (_suite(workloads={"cpu": {}}), "s.yaml: workloads.cpu.size: missing (a positive integer; default 1000)"),
        (_suite(workloads={"cpu": {"size": "big"}}), "workloads.cpu.size: expected a positive integer, got 'big'"),
        (_suite(workloads={"cpu": {"size": 1, "modes": ["asyncio"]}}), "workloads.cpu.modes: 'asyncio' is not a mode of workload 'cpu'"),
        (_suite(workloads={"cpu": {"size": 1, "sise": 2}}), "workloads.cpu: unknown field(s) sise"),
        (_suite(reps=0), "s.yaml: reps: expected a positive integer, got 0"),
        (_suite(workers=[]), "s.yaml: workers: expected a non-empty list"),
        (_suite(workers=[1, 0]), r"s.yaml: workers[1]: expected a positive integer, got 0"),
        (_suite(memory="lots"), "s.yaml: memory: expected e.g. 512m or 2g"),
        (_suite(timeout="1"), "s.yaml: unknown field(s) timeout"),
        (_suite(repeat_disturbed=-1), "s.yaml: repeat_disturbed: expected extra measurements per cell >= 0 (0: never repeat), got -1"),
        (_suite(repeat_disturbed=True), "s.yaml: repeat_disturbed: expected extra measurements"),
        (_suite(workloads=[]), "s.yaml: workloads: expected a mapping"),
        (["not", "a", "mapping"], "s.yaml: expected a mapping at the top level"),
    ],
)
def test_errors_are_one_line_naming_file_and_field(data, message):
    with pytest.raises(ConfigError) as err:
        parse_suite(data, "s", "s.yaml", CATALOGUE)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_malformed_yaml_names_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("reps: 3\nworkloads:\n  cpu: {size: 1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: malformed YAML at line \d+"):
        load_suite(ROOT, str(bad))


def test_unknown_suite_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"nosuch.yaml: suite not found \(known suites: .*smoke"):
        load_suite(ROOT, "nosuch")


def test_the_shipped_suites_load_and_cover_every_workload():
    catalogue = discover_workloads(ROOT)
    assert {
        "cpu", "spectral", "fannkuch", "io", "hash", "zlib", "numpy", "cholds", "contention",
        "alloc_private", "alloc_shared", "alloc_type", "convoy", "smalltasks", "spawn_fresh",
        "spawn_mp",
    } <= set(catalogue)
    for name in ("smoke", "default", "nightly"):
        suite = load_suite(ROOT, name)
        assert {p.name for p in suite.workloads} == set(catalogue), name
        for plan in suite.workloads:
            assert set(plan.modes) <= set(catalogue[plan.name].modes)


def test_repeat_disturbed_defaults_and_is_kept_as_run():
    assert parse_suite(_suite(), "s", "s.yaml", CATALOGUE).repeat_disturbed == DEFAULT_REPEAT_DISTURBED
    suite = parse_suite(_suite(repeat_disturbed=0), "s", "s.yaml", CATALOGUE)
    assert suite.repeat_disturbed == 0
    assert suite_from_meta(suite.as_dict(), "meta.json").repeat_disturbed == 0
    # a run from before repeats existed is resumed as it ran: never repeating
    older = {k: v for k, v in suite.as_dict().items() if k != "repeat_disturbed"}
    assert suite_from_meta(older, "meta.json").repeat_disturbed == 0
    again = parse_suite(_suite(repeat_disturbed=3), "s", "s.yaml", CATALOGUE)
    assert suite_from_meta(again.as_dict(), "meta.json").repeat_disturbed == 3
