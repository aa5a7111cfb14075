"""The raw result format: schema versions are read or rejected by name, older ones migrated."""

from __future__ import annotations

import json

import pytest

from harness.store.results import SCHEMA_VERSION, Record, ResultsError

SCHEMA_1 = {
    "schema": 1, "run_id": "20261125T231500Z-default", "runtime": "cpython-3.13",
    "workload": "cpu", "mode": "threads", "workers": 2, "size": 10, "rep": 0,
    "warmup": False, "ok": True, "wall_s": 0.5, "cpu_s": 0.9,
}


def test_a_schema_1_record_reads_as_one_fixed_size_invocation():
    record = Record.from_dict(SCHEMA_1)
    assert (record.invocation, record.sizing, record.pool_roundtrip_s) == (0, "fixed", None)
    assert (record.others_cpu_s, record.steal_s, record.position) == (None, None, None)


def test_new_records_carry_the_current_schema_and_its_fields():
    data = {**SCHEMA_1, "schema": SCHEMA_VERSION, "invocation": 2, "sizing": "calibrated",
            "unit_s": 0.004, "others_cpu_s": 0.3}
    record = Record.from_dict(data)
    assert (record.schema, record.invocation, record.sizing) == (2, 2, "calibrated")
    assert '"others_cpu_s": 0.3' in record.to_json()


def test_an_unknown_schema_is_rejected_by_name():
    with pytest.raises(ResultsError, match=r"results.jsonl:3: schema 99 is not supported"):
        Record.from_dict({**SCHEMA_1, "schema": 99}, where="results.jsonl:3")


def test_optional_fields_round_trip_and_are_left_out_while_null():
    plain = Record.from_dict({**SCHEMA_1, "schema": SCHEMA_VERSION})
    assert (plain.unit_checksums, plain.repeat_of) == (None, None)
    assert "unit_checksums" not in plain.to_json() and "repeat_of" not in plain.to_json()
    data = {**SCHEMA_1, "schema": SCHEMA_VERSION, "unit_checksums": ["1-2", "3-4"], "repeat_of": 1}
    record = Record.from_dict(json.loads(Record.from_dict(data).to_json()))
    assert (record.unit_checksums, record.repeat_of) == (["1-2", "3-4"], 1)
