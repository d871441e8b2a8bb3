"""standardize_dates and standardize_numbers through the runtime."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from core.errors import ContractNotFoundError
from tests.unit.transforms.library.data_world import Pipeline, given_then, make_pipeline


def _run(template: str, rows: list[dict[str, Any]], **variables: Any) -> tuple[Pipeline, Any]:
    p = make_pipeline(given_then("master", template, rows, **variables))
    assert p.run(0).state == "success"
    return p, p.run(1)


def _dates(values: list[str | None], **variables: Any) -> tuple[Pipeline, Any]:
    rows = [{"id": str(i), "day": v} for i, v in enumerate(values)]
    return _run("standardize_dates", rows, **{"columns": {"day": "%Y-%m-%d"}, **variables})


def _numbers(values: list[str | None], kind: str, **variables: Any) -> tuple[Pipeline, Any]:
    rows = [{"id": str(i), "n": v} for i, v in enumerate(values)]
    return _run("standardize_numbers", rows, **{"columns": {"n": kind}, **variables})


def test_dates_are_parsed_blanks_become_null_and_bad_values_are_counted() -> None:
    values = ["2024-01-31", " 2024-02-29 ", "", None, "2024-02-30", "31/01/2024"]
    p, result = _dates(values, max_rejection_rate=0.5)
    assert result.state == "success", result.error
    table = p.output("master", "out")
    assert table.schema.field("day").type == pa.date32()
    assert table["day"].to_pylist() == [
        dt.date(2024, 1, 31),
        dt.date(2024, 2, 29),
        None,
        None,
        None,
        None,
    ]
    assert table.column_names == ["id", "day"]
    assert result.metadata["rejected"] == {"day": 2}
    assert (result.rows_in, result.rows_out) == (6, 6)


def test_a_list_of_formats_is_tried_in_order() -> None:
    p, result = _dates(["2024-01-31", "02/01/2024"], columns={"day": ["%Y-%m-%d", "%d/%m/%Y"]})
    assert result.state == "success", result.error
    assert p.output("master", "out")["day"].to_pylist() == [
        dt.date(2024, 1, 31),
        dt.date(2024, 1, 2),
    ]


def test_dates_above_the_threshold_fail_with_counts_and_publish_nothing() -> None:
    p, result = _dates(["2024-01-31", "soon", "later", "2024-13-01"], max_rejection_rate=0.5)
    assert (result.state, result.outcome.exit_code) == ("failed", 1)
    assert "rejected values above max_rejection_rate 0.5 (50.0%)" in result.error
    assert "column 'day': 3 of 4 rows (75.0%), e.g. 'soon', 'later', '2024-13-01'" in result.error
    assert result.metadata["rejected"] == {"day": 3}
    with pytest.raises(ContractNotFoundError):
        p.contract("master", "out").fetch_arrow()


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"columns": {"day": "%Q"}},
            "format '%Q' is not valid; expected a strptime date format",
        ),
        ({"columns": ["day"]}, "variable 'columns'='[\"day\"]' is not valid"),
        (
            {"max_rejection_rate": 2},
            "'max_rejection_rate'='2' is not valid: expected a number from 0 to 1",
        ),
    ],
)
def test_invalid_date_variables_are_configuration_errors(variables: dict, expected: str) -> None:
    _, result = _dates(["2024-01-31"], **variables)
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert expected in result.error


def test_a_missing_date_column_is_named() -> None:
    _, result = _dates(["2024-01-31"], columns={"day": "%Y-%m-%d", "month": "%Y-%m"})
    assert "input 'given' lacks column(s) 'month'; its columns are 'id', 'day'" in result.error


def test_integers_accept_separators_and_whole_decimals_only() -> None:
    values = ["1,234", " 7 ", "-5", "+6", "12.0", "12.5", "0x10", "1e3", "99999999999999999999", ""]
    p, result = _numbers(values, "int", max_rejection_rate=0.5)
    assert result.state == "success", result.error
    table = p.output("master", "out")
    assert table.schema.field("n").type == pa.int64()
    assert table["n"].to_pylist() == [1234, 7, -5, 6, 12, None, None, None, None, None]
    assert result.metadata["rejected"] == {"n": 4}


def test_floats_and_decimals() -> None:
    rows = [{"f": "1,234.5", "d": "1.005"}, {"f": "-.5e2", "d": "12"}, {"f": "n/a", "d": "abc"}]
    columns = {"f": "float", "d": "decimal(10, 2)"}
    p, result = _run("standardize_numbers", rows, columns=columns, max_rejection_rate=0.5)
    assert result.state == "success", result.error
    table = p.output("master", "out")
    assert table.schema.field("d").type == pa.decimal128(10, 2)
    assert table["f"].to_pylist() == [1234.5, -50.0, None]
    assert table["d"].to_pylist() == [Decimal("1.01"), Decimal("12.00"), None]
    assert result.metadata["rejected"] == {"f": 1, "d": 1}


def test_european_separators() -> None:
    p, result = _numbers(
        ["1.234,5", "0,25"], "float", thousands_separator=".", decimal_separator=","
    )
    assert result.state == "success", result.error
    assert p.output("master", "out")["n"].to_pylist() == [1234.5, 0.25]


def test_numbers_above_the_threshold_fail_and_publish_nothing() -> None:
    p, result = _numbers(["1", "one", "two"], "int", max_rejection_rate=0.1)
    assert result.state == "failed"
    assert "column 'n': 2 of 3 rows (66.7%), e.g. 'one', 'two'" in result.error
    assert result.metadata["rejected"] == {"n": 2}
    with pytest.raises(ContractNotFoundError):
        p.contract("master", "out").fetch_arrow()


@pytest.mark.parametrize(
    ("kind", "variables", "expected"),
    [
        (
            "number",
            {},
            "type 'number' is not valid; expected a JSON object of column to 'int'",
        ),
        (
            "decimal(40,2)",
            {},
            "'decimal(40,2)' is not valid; expected decimal(p,s) with 1 <= p <= 38",
        ),
        ("int", {"thousands_separator": "."}, "'decimal_separator'='.' are not valid"),
    ],
)
def test_invalid_number_variables_are_configuration_errors(
    kind: str, variables: dict, expected: str
) -> None:
    _, result = _numbers(["1"], kind, **variables)
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert expected in result.error
