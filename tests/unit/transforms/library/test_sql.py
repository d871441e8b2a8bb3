"""sql through the runtime."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ContractNotFoundError
from tests.unit.transforms.library.data_world import Pipeline, make_pipeline

SOURCE = "__metadata_source_file"
A = [{"id": "1", "v": "x", SOURCE: "a.csv"}, {"id": "2", "v": "y", SOURCE: "a.csv"}]
B = [{"v": "z", "id": "3", "extra": "e"}]


def _sql(query: str, inputs: Any = ("a", "b")) -> Pipeline:
    given = [
        {"template": "given", "variables": {"dataset": name, "rows": rows}}
        for name, rows in (("a", A), ("b", B))
    ]
    step = {
        "template": "sql",
        "variables": {"inputs": list(inputs), "dataset": "out", "query": query},
    }
    return make_pipeline(
        [
            {"state": "ingest", "transformations": given},
            {"state": "enrich", "transformations": [step]},
        ]
    )


def test_select_star_unions_inputs_by_name_without_their_run_metadata() -> None:
    p = _sql(
        "select 'a' as src, * from a union all by name select 'b' as src, * from b order by id"
    )
    results = p.run_all()
    assert results[2].state == "success", results[2].error
    table = p.output("enrich", "out")
    assert table.column_names == ["src", "id", "v", SOURCE, "extra"]
    assert table.to_pylist() == [
        {"src": "a", "id": "1", "v": "x", SOURCE: "a.csv", "extra": None},
        {"src": "a", "id": "2", "v": "y", SOURCE: "a.csv", "extra": None},
        {"src": "b", "id": "3", "v": "z", SOURCE: None, "extra": "e"},
    ]
    assert (results[2].rows_in, results[2].rows_out) == (3, 3)
    assert results[2].metadata["rows_out"] == 3


def test_a_failing_query_names_the_query_and_duckdbs_message() -> None:
    p = _sql("select nope from a")
    result = p.run_all()[2]
    assert (result.state, result.outcome.exit_code) == ("failed", 1)
    assert "the query of dataset 'out' failed: Binder Error" in result.error
    assert 'column "nope" not found' in result.error
    assert "query: select nope from a" in result.error
    with pytest.raises(ContractNotFoundError):
        p.contract("enrich", "out").fetch_arrow()


def test_a_syntax_error_is_refused_before_the_query_runs() -> None:
    result = _sql("selec * from a").run_all()[2]
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert "variable 'query'='selec * from a' is not valid" in result.error
    assert 'the parser says: syntax error at or near "selec"' in result.error


def test_an_unknown_input_is_the_contexts_not_found_error() -> None:
    result = _sql("select * from c", inputs=["a", "c"]).run_all()[2]
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert "pipeline 'p' has no dataset 'c'" in result.error


def test_the_query_cannot_read_files() -> None:
    result = _sql("select * from read_csv('/etc/passwd')").run_all()[2]
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert "reads with table function(s) read_csv" in result.error


def test_a_table_missing_from_inputs_is_refused_before_the_query_runs() -> None:
    # Written past the API (no save check): the worker holds the query to the same rule.
    result = _sql("select * from a join b using (id)", inputs=["a"]).run_all()[2]
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert "reads table(s) 'b' that inputs does not declare (['a'])" in result.error


def test_a_second_statement_cannot_change_the_connection() -> None:
    result = _sql("set enable_external_access = true; select * from a").run_all()[2]
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert "expected one DuckDB SELECT statement" in result.error


def test_table_names_ignore_case_as_duckdb_does() -> None:
    result = _sql("select * from A union all by name select * from B").run_all()[2]
    assert result.state == "success", result.error


def test_the_connection_refuses_to_be_reconfigured() -> None:
    import duckdb

    from core.transforms.library._common import duckdb_connection

    with duckdb_connection() as con, pytest.raises(duckdb.Error, match="lock"):
        con.execute("SET enable_external_access = true")


def test_a_column_returned_twice_is_refused() -> None:
    result = _sql("select id, id from a").run_all()[2]
    assert "returns column(s) 'id' more than once; give each an alias" in result.error


@pytest.mark.parametrize(
    ("inputs", "query", "expected"),
    [
        ([""], "select 1", "variable 'inputs'='[\"\"]' is not valid"),
        (["a"], "  ", "the query is empty"),
    ],
)
def test_invalid_variables_are_configuration_errors(
    inputs: list, query: str, expected: str
) -> None:
    result = _sql(query, inputs=inputs).run_all()[2]
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert expected in result.error


def test_types_of_the_result_are_kept() -> None:
    p = _sql("select cast(id as int) as n, sum(cast(id as bigint)) over () as total from a")
    assert p.run_all()[2].state == "success"
    table = p.output("enrich", "out")
    assert str(table.schema.field("n").type) == "int32"
    assert table["total"].to_pylist()[0] == 3


def test_types_delta_lake_cannot_store_are_refused_before_publishing() -> None:
    result = _sql("select time '10:00' as t, interval 2 day as i from a").run_all()[2]
    assert result.state == "failed"
    assert "returns column(s) 't' (time64[us]), 'i' (month_day_nano_interval)" in result.error
    assert "which Delta Lake cannot store" in result.error
