import datetime as dt

import pytest

from core.errors import (
    ExtraTransformationVariableError,
    MissingTransformationVariableError,
    TransformationVariableTypeError,
    VariableSchemaError,
)
from core.models.variables import check_variables, load_schema, parse_variables, to_text

OWNER = "transformation 7 (initial_ingest)"


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("string", "a|b", "a|b"),
        ("int", " 42 ", 42),
        ("float", "0.25", 0.25),
        ("bool", "Yes", True),
        ("bool", "0", False),
        ("date", "2024-01-31", dt.date(2024, 1, 31)),
        ("datetime", "2024-01-31T06:30:00", dt.datetime(2024, 1, 31, 6, 30)),
        ("json", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("list", '["x", "y"]', ["x", "y"]),
    ],
)
def test_each_type_is_parsed(kind: str, text: str, expected: object) -> None:
    schema = load_schema({"v": {"type": kind}}, "t")
    assert parse_variables(schema, {"v": text}, OWNER) == {"v": expected}


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("int", "3.5", "whole number"),
        ("float", "abc", "a number"),
        ("bool", "maybe", "expected one of"),
        ("date", "31/01/2024", "ISO date such as 2024-01-31"),
        ("datetime", "yesterday", "ISO date-time"),
        ("json", "{oops", "expected JSON"),
        ("list", '{"a": 1}', "JSON list"),
    ],
)
def test_type_errors_name_transformation_variable_value_and_type(
    kind: str, text: str, expected: str
) -> None:
    schema = load_schema({"v": {"type": kind}}, "t")
    with pytest.raises(TransformationVariableTypeError) as caught:
        parse_variables(schema, {"v": text}, OWNER)
    message = str(caught.value)
    assert OWNER in message
    assert f"'v'={text!r}" in message
    assert f"valid {kind}" in message
    assert expected in message


def test_defaults_fill_missing_optional_variables() -> None:
    schema = load_schema(
        {
            "delimiter": {"type": "string", "default": ","},
            "skip": {"type": "int", "default": 2},
            "note": {"type": "string", "required": False},
        },
        "t",
    )
    assert parse_variables(schema, {}, OWNER) == {"delimiter": ",", "skip": 2, "note": None}


def test_missing_required_variable() -> None:
    schema = load_schema({"source": {"type": "string"}}, "t")
    with pytest.raises(
        MissingTransformationVariableError,
        match=r"7 \(initial_ingest\): required variable 'source' \(string\)",
    ):
        parse_variables(schema, {}, OWNER)


def test_extra_variable_suggests_the_declared_one() -> None:
    schema = load_schema({"delimiter": {"type": "string"}}, "t")
    with pytest.raises(ExtraTransformationVariableError) as caught:
        parse_variables(schema, {"delimiter": ",", "delimeter": ";"}, OWNER)
    assert "'delimeter'=';' is not declared" in str(caught.value)
    assert "Did you mean 'delimiter'?" in str(caught.value)


def test_check_reports_every_problem_at_once() -> None:
    schema = load_schema({"a": {"type": "int"}, "b": {"type": "string"}}, "t")
    problems = check_variables(schema, {"a": "x", "c": "1"}, OWNER)
    assert sorted(type(p).__name__ for p in problems) == [
        "ExtraTransformationVariableError",
        "MissingTransformationVariableError",
        "TransformationVariableTypeError",
    ]


def test_choices_are_enforced() -> None:
    schema = load_schema({"kind": {"type": "string", "choices": ["SFTP", "FTP"]}}, "t")
    assert parse_variables(schema, {"kind": "FTP"}, OWNER) == {"kind": "FTP"}
    with pytest.raises(TransformationVariableTypeError, match="expected one of 'SFTP', 'FTP'"):
        parse_variables(schema, {"kind": "HTTP"}, OWNER)


@pytest.mark.parametrize(
    ("structures", "expected"),
    [
        ([1, 2], "must be an object"),
        ({"a": {"type": "decimal"}}, "variable 'a' has an invalid spec"),
        ({"a": {"type": "int", "default": "many"}}, "whole number"),
        ({"a": {"kind": "int"}}, "expected keys type"),
    ],
)
def test_invalid_schemas_are_refused(structures: object, expected: str) -> None:
    with pytest.raises(VariableSchemaError, match=expected):
        load_schema(structures, "my_template")  # type: ignore[arg-type]


def test_to_text_round_trips_through_parse() -> None:
    values = {
        "int": 3,
        "bool": True,
        "date": dt.date(2024, 2, 1),
        "json": {"k": [1]},
        "list": ["a"],
        "float": 1.5,
    }
    schema = load_schema({k: {"type": k} for k in values}, "t")
    stored = {k: to_text(v) for k, v in values.items()}
    assert parse_variables(schema, stored, OWNER) == values
