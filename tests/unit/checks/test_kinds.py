"""Each kind of check: a table that passes, one that fails, and arguments refused."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from core.checks.evaluate import CheckFailedError, CheckSpec, evaluate_checks, parse_arguments
from core.checks.kinds import KINDS
from core.errors import InvalidInputError

NOW = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC)
GOOD = pa.table(
    {
        "patient_id": ["p1", "p2", "p3"],
        "status_code": ["ACT", "DIS", "ACT"],
        "age": [34, 51, 78],
        "filled_on": [dt.date(2026, 12, 2), dt.date(2026, 12, 1), dt.date(2026, 12, 3)],
    }
)
BAD = pa.table(
    {
        "patient_id": ["p1", None, "p1"],
        "status_code": ["ACT", "XX", "ACT"],
        "age": [34, -2, 140],
        "filled_on": [dt.date(2026, 10, 2), dt.date(2026, 10, 1), dt.date(2026, 10, 3)],
    }
)
PATIENTS = pa.table({"id": ["p1", "p2", "p3"]})

CASES = {
    "not_null": ({"columns": ["patient_id"]}, 1),
    "unique": ({"columns": ["patient_id"]}, 2),
    "accepted_values": ({"column": "status_code", "values": ["ACT", "DIS"]}, 1),
    "range": ({"column": "age", "min": 0, "max": 120}, 2),
    "row_count": ({"min": 3, "max": 3}, 0),
    "row_count_change": ({"max_drop_pct": 10, "max_rise_pct": 10}, 0),
    "schema": ({"columns": {"patient_id": "string", "age": "integer"}, "allow_extra": True}, 0),
    "relationship": ({"column": "patient_id", "to": "patients.id"}, 0),
    "freshness": ({"column": "filled_on", "max_age": "3d"}, 0),
    "sql": ({"predicate": "age BETWEEN 0 AND 120"}, 2),
}


def _one(kind: str, table: pa.Table, previous: int | None = 3, other=PATIENTS):
    arguments, _ = CASES[kind]
    (outcome,) = evaluate_checks(
        [CheckSpec(7, kind, arguments)], table, lambda: previous, lambda _name: other, NOW
    )
    return outcome


def test_every_kind_has_a_case() -> None:
    assert sorted(CASES) == sorted(KINDS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_good_table_passes(kind: str) -> None:
    outcome = _one(kind, GOOD)
    assert (outcome.status, outcome.failing_rows) == ("pass", 0), outcome


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_bad_table_fails_with_examples(kind: str) -> None:
    bad = BAD
    if kind == "row_count":
        bad = GOOD.slice(0, 2)
    if kind == "row_count_change":
        outcome = _one(kind, GOOD, previous=10)  # 3 rows against 10: a 70% drop
        assert outcome.status == "fail" and "-70.0%" in outcome.note
        return
    if kind == "schema":
        bad = GOOD.set_column(2, "age", pa.array(["34", "51", "78"]))
    if kind == "relationship":
        outcome = _one(kind, GOOD, other=pa.table({"id": ["p1"]}))
        assert (outcome.status, outcome.failing_rows) == ("fail", 2)
        assert [e["patient_id"] for e in outcome.examples] == ["p2", "p3"]
        return
    outcome = _one(kind, bad)
    assert outcome.status == "fail", outcome
    assert outcome.failing_rows == CASES[kind][1]
    if outcome.failing_rows:
        assert 0 < len(outcome.examples) <= 5
    else:
        assert outcome.note


def test_a_warn_check_that_fails_is_a_warning_and_does_not_block() -> None:
    (outcome,) = evaluate_checks(
        [CheckSpec(1, "not_null", {"columns": ["patient_id"]}, "warn")], BAD
    )
    assert outcome.status == "warn" and not outcome.blocks


def test_a_check_naming_a_missing_column_is_an_error_naming_the_columns() -> None:
    outcomes = evaluate_checks(
        [
            CheckSpec(1, "not_null", {"columns": ["patient"]}),
            CheckSpec(2, "not_null", {"columns": ["age"]}),
        ],
        GOOD,
    )
    assert [o.status for o in outcomes] == ["error", "pass"]  # one bad check spares the others
    assert "patient" in outcomes[0].note and "patient_id" in outcomes[0].note
    assert outcomes[0].blocks


def test_a_sql_query_returns_the_failing_rows() -> None:
    spec = CheckSpec(3, "sql", {"query": "SELECT * FROM data WHERE status_code = 'XX'"})
    (outcome,) = evaluate_checks([spec], BAD)
    assert (outcome.status, outcome.failing_rows) == ("fail", 1)
    assert outcome.examples[0]["status_code"] == "XX"


def test_the_failure_message_names_check_rows_and_examples() -> None:
    outcomes = evaluate_checks([CheckSpec(4, "range", CASES["range"][0])], BAD)
    message = str(CheckFailedError("file:///lake/acme/zentrix/master/x", outcomes))
    assert "check 4 range(" in message and "failed on 2 row(s)" in message
    assert '"age": -2' in message and "nothing was published" in message


@pytest.mark.parametrize(
    ("kind", "arguments", "field"),
    [
        ("not_nul", {"columns": ["a"]}, "kind"),
        ("not_null", {"columns": []}, "arguments.columns"),
        ("not_null", {"column": "a"}, "arguments.columns"),
        ("unique", {"columns": "a"}, "arguments.columns"),
        ("accepted_values", {"column": "a"}, "arguments.values"),
        ("range", {"column": "a"}, "arguments"),
        ("range", {"column": "a", "min": 5, "max": 1}, "arguments"),
        ("row_count", {"min": -1}, "arguments.min"),
        ("row_count_change", {}, "arguments"),
        ("schema", {"columns": {"a": "text"}}, "arguments.columns"),
        ("relationship", {"column": "a", "to": "patients"}, "arguments.to"),
        ("freshness", {"column": "a", "max_age": "3 weeks"}, "arguments.max_age"),
        ("sql", {"predicate": "a > 1", "query": "select 1"}, "arguments"),
        ("sql", {"query": "select * from read_csv('/etc/passwd')"}, "arguments"),
        ("sql", {"query": "select * from other_table"}, "arguments"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(kind: str, arguments: dict, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_arguments(kind, arguments)
    fields = [f for f, _, _ in caught.value.problems]
    assert field in fields, caught.value.problems
    if kind == "not_nul":
        assert "unique. Did you mean 'not_null'?" in str(caught.value)


def test_an_expensive_check_is_stopped_at_the_time_limit_and_named() -> None:
    # An editor's check runs inside the web server when tried ("Try it"): a query that
    # would run for hours must not hold a server thread. A four-way self join of
    # 2,000 rows is 1.6e13 rows.
    table = pa.table({"n": list(range(2000))})
    query = "SELECT a.n FROM data a, data b, data c, data d WHERE a.n + b.n + c.n + d.n < 0"
    (outcome,) = evaluate_checks([CheckSpec(9, "sql", {"query": query})], table, time_limit=0.5)
    assert outcome.status == "error" and outcome.blocks  # not evaluated: not a pass
    assert "stopped after 0.5 s" in outcome.note and "cheaper" in outcome.note
