"""An editor's SQL cannot leave anything in a process's shared DuckDB database.

Since one locked in-memory database serves every DuckDB use of a process
(core/helpers/duckdb_helper.py) — a worker's transform and checks, the web server's
check previews for every user — something a configuration managed to create there
would outlive its own use and could be read, or read instead of the real data, by the
next one. The SQL a configuration gives (a check's predicate or query, a ``sql``
transform's query) goes through the paths that run it, each attack is refused or ends
in a recorded error, and the database is searched afterwards: no table, view, macro,
sequence, schema or attached database of the attacker's is there.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from core.checks.evaluate import CheckSpec, evaluate_checks
from core.helpers.duckdb_helper import locked_duckdb
from core.models.variable_checks import undeclared_tables

PLANTS = [
    "SELECT 1 AS x; CREATE TABLE planted AS SELECT 42 AS x",
    "CREATE TABLE planted AS SELECT 42 AS x",
    "CREATE OR REPLACE VIEW data AS SELECT 42 AS x",
    "CREATE MACRO planted(a) AS a + 1",
    "CREATE SEQUENCE planted",
    "CREATE SCHEMA planted",
    "ATTACH ':memory:' AS planted",
    "SELECT 1 AS x) FROM data; CREATE TABLE planted AS (SELECT 1",
    "INSERT INTO data VALUES (42)",
]
PREDICATES = [
    "x > 0) FROM data; CREATE TABLE planted AS (SELECT 1",
    "x > 0 OR (SELECT count(*) FROM (CREATE TABLE planted AS SELECT 1)) > 0",
]


def _leftovers() -> list[tuple[str, str]]:
    """Whatever a use left in the shared database, as (kind, name)."""
    with locked_duckdb() as con:
        return con.execute(
            "SELECT 'table', table_name FROM duckdb_tables() WHERE NOT temporary "
            "UNION ALL SELECT 'view', view_name FROM duckdb_views() "
            "WHERE NOT internal AND NOT temporary "
            "UNION ALL SELECT 'macro', function_name FROM duckdb_functions() "
            "WHERE NOT internal AND function_type LIKE '%macro%' "
            "UNION ALL SELECT 'sequence', sequence_name FROM duckdb_sequences() "
            "UNION ALL SELECT 'schema', schema_name FROM duckdb_schemas() WHERE NOT internal "
            "AND schema_name NOT IN ('main', 'pg_catalog', 'information_schema') "
            "UNION ALL SELECT 'database', database_name FROM duckdb_databases() "
            "WHERE NOT internal AND database_name NOT IN ('memory', 'temp', 'system')"
        ).fetchall()


@pytest.mark.parametrize("query", PLANTS)
def test_a_check_query_that_plants_something_is_an_error_and_leaves_nothing(query: str) -> None:
    [outcome] = evaluate_checks([CheckSpec(1, "sql", {"query": query})], pa.table({"x": [1, 2]}))
    assert outcome.status == "error", outcome
    assert _leftovers() == []


@pytest.mark.parametrize("predicate", PREDICATES)
def test_a_check_predicate_that_plants_something_is_an_error_and_leaves_nothing(
    predicate: str,
) -> None:
    [outcome] = evaluate_checks(
        [CheckSpec(1, "sql", {"predicate": predicate})], pa.table({"x": [1, 2]})
    )
    assert outcome.status == "error", outcome
    assert _leftovers() == []


@pytest.mark.parametrize("query", PLANTS)
def test_a_sql_transform_query_that_plants_something_is_refused(query: str) -> None:
    """The rule a ``sql`` transform's worker applies before it runs the query."""
    with pytest.raises(ValueError, match="expected one"):
        undeclared_tables(query, ["data"])
    assert _leftovers() == []


def test_a_check_after_an_attack_reads_the_real_rows() -> None:
    attack = CheckSpec(1, "sql", {"query": "CREATE OR REPLACE VIEW data AS SELECT 42 AS x"})
    honest = CheckSpec(2, "sql", {"predicate": "x < 10"})
    first, second = evaluate_checks([attack, honest], pa.table({"x": [1, 2, 3]}))
    assert (first.status, second.status, second.failing_rows) == ("error", "pass", 0)
    [again] = evaluate_checks([honest], pa.table({"x": [1, 2, 3]}))
    assert (again.status, again.failing_rows) == ("pass", 0)


def test_the_search_finds_what_a_use_would_leave_behind() -> None:
    """The tests above could not fail if _leftovers missed things: plant each kind past
    the configuration's rules, find it, and take it away again."""
    plants = {
        "table": ("CREATE TABLE planted AS SELECT 1 AS x", "DROP TABLE planted"),
        "view": ("CREATE VIEW planted_v AS SELECT 1 AS x", "DROP VIEW planted_v"),
        "macro": ("CREATE MACRO planted_m(a) AS a + 1", "DROP MACRO planted_m"),
        "sequence": ("CREATE SEQUENCE planted_s", "DROP SEQUENCE planted_s"),
        "schema": ("CREATE SCHEMA planted_c", "DROP SCHEMA planted_c"),
        "database": ("ATTACH ':memory:' AS planted_d", "DETACH planted_d"),
    }
    for kind, (create, drop) in plants.items():
        with locked_duckdb() as con:
            con.execute(create)
        try:
            assert [k for k, _ in _leftovers()] == [kind]
        finally:
            with locked_duckdb() as con:
                con.execute(drop)
    assert _leftovers() == []
