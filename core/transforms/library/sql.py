"""sql: a DuckDB query over upstream datasets of the run; the result is published.

Each name of ``inputs`` is registered as a view of that dataset's rows of this
run, without the five standard ``__metadata_*`` columns (run id, timestamps,
version, contract), which the publish writes anew; ``__metadata_source_file``
stays, so lineage survives ``select *``. On a local lake DuckDB reads the inputs'
Parquet files itself (core.transforms.library.duckdb_inputs). The connection can read
no other file, write none and reach no network: a query sees only its inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from core.errors import (
    TransformationVariableError,
    TransformationVariableTypeError,
    TransformError,
)
from core.models.variable_checks import undeclared_tables
from core.transforms.library import Builtin
from core.transforms.library._common import (
    DATASET,
    owner,
    spec,
    variable,
)
from core.transforms.library.duckdb_inputs import inputs_in_duckdb

if TYPE_CHECKING:
    from core.transforms.context import TransformContext

QUERY_SHOWN = 500

TEMPLATES = [
    Builtin(
        name="sql",
        entrypoint="core.transforms.library.sql:sql",
        description=(
            "A DuckDB query over upstream datasets (this run's rows of each input, as a view "
            "of its name); the result is published."
        ),
        tags=("sql",),
        variables={
            "inputs": spec(
                "list", "the upstream datasets the query reads, by name", check="inputs"
            ),
            "dataset": spec("string", "name of the output dataset", check=DATASET),
            "query": spec(
                "string",
                "one DuckDB SELECT; each input is a view of its name, and every table it "
                "reads must be listed in inputs",
                check={"kind": "sql", "inputs": "inputs"},
            ),
        },
    )
]


def sql(ctx: TransformContext) -> None:
    """Run the query over the inputs of this run and publish its result.

    Args:
        ctx: the transformation's context.

    Raises:
        TransformationVariableTypeError: inputs is not a list of names, or query is empty.
        NotFoundError: an input is not a dataset of the pipeline.
        TransformError: the query fails, returns nothing, or repeats a column name.
    """
    inputs, query = _inputs(ctx), str(variable(ctx, "query", "")).strip()
    if not query:
        raise TransformationVariableTypeError(f"{owner(ctx)}: variable 'query' is empty")
    _check_tables(ctx, query, inputs)
    with inputs_in_duckdb(ctx, inputs) as con:
        result = run_query(ctx, con, query)
    ctx.metadata["rows_out"] = result.num_rows
    ctx.publish(result)


def _check_tables(ctx: TransformContext, query: str, inputs: list[str]) -> None:
    """The save-time rule again, here: a query may read only the datasets in ``inputs``.

    The rule also lives in the template's spec, which is configuration; the worker does
    not rely on it (a row written past the API, or a spec without its check).
    """
    try:
        missing = undeclared_tables(query, inputs)
    except ValueError as exc:
        raise TransformationVariableError(
            f"{owner(ctx)}: variable 'query' is not valid: {exc}"
        ) from None
    if missing:
        raise TransformationVariableError(
            f"{owner(ctx)}: variable 'query' reads table(s) {', '.join(map(repr, missing))} "
            f"that inputs does not declare ({inputs!r}); expected every table it reads to be "
            "listed in inputs: add them there"
        )


def _inputs(ctx: TransformContext) -> list[str]:
    inputs = variable(ctx, "inputs", [])
    if not isinstance(inputs, list) or not all(isinstance(i, str) and i for i in inputs):
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: variable 'inputs'={inputs!r} is not valid: expected a JSON list of "
            'dataset names such as ["sales", "accounts"]'
        )
    return list(dict.fromkeys(inputs))


def run_query(ctx: TransformContext, con: duckdb.DuckDBPyConnection, query: str) -> pa.Table:
    """The query's result as Arrow.

    Raises:
        TransformError: DuckDB refuses or fails the query (its message and the query are
            named), the query returns no rows-and-columns result, or repeats a column name.
    """
    shown = query if len(query) <= QUERY_SHOWN else query[:QUERY_SHOWN] + " …"
    try:
        relation = con.sql(query)
        result = relation.to_arrow_table() if relation is not None else None
    except duckdb.Error as exc:
        raise TransformError(
            f"{owner(ctx)}: the query of dataset {ctx.output.dataset!r} failed: {exc}\n"
            f"query: {shown}"
        ) from None
    if result is None:
        raise TransformError(
            f"{owner(ctx)}: the query returns no result (expected a SELECT): {shown}"
        )
    _check_storable(ctx, result, shown)
    twice = sorted({n for n in result.column_names if result.column_names.count(n) > 1})
    if twice:
        raise TransformError(
            f"{owner(ctx)}: the query returns column(s) {', '.join(map(repr, twice))} more than "
            f"once; give each an alias (AS …): {shown}"
        )
    return result


def _check_storable(ctx: TransformContext, result: pa.Table, shown: str) -> None:
    """Refuse result columns of types that Delta Lake cannot store (times, intervals).

    Raises:
        TransformError: naming those columns and their types.
    """
    unstorable = [
        f"{field.name!r} ({field.type})"
        for field in result.schema
        if pa.types.is_time(field.type)
        or pa.types.is_interval(field.type)
        or pa.types.is_duration(field.type)
    ]
    if unstorable:
        raise TransformError(
            f"{owner(ctx)}: the query returns column(s) {', '.join(unstorable)}, which Delta "
            f"Lake cannot store; cast them in the query (e.g. CAST(… AS VARCHAR)): {shown}"
        )
