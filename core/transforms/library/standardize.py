"""standardize_dates and standardize_numbers: parse text columns into dates and numbers.

The parsing runs in DuckDB over the input's Arrow columns (``try_strptime``,
``try_cast``); a value that does not parse becomes null and is counted as
rejected (blank values become null without counting). The counts per column
are recorded as ``rejected`` in the task run's metadata; when any column's
rejected rows exceed ``max_rejection_rate`` of the input's rows, the task fails
and nothing is published.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import TransformationVariableTypeError
from core.transforms.library import Builtin
from core.transforms.library._common import (
    DATASET,
    INPUT,
    RATE,
    check_rejections,
    duckdb_connection,
    examples,
    names_metadata,
    owner,
    quote,
    rejected,
    require_columns,
    spec,
    string_map,
    variable,
)

if TYPE_CHECKING:
    from core.transforms.context import TransformContext

INTEGER = r"[+-]?[0-9]+(\.0*)?"
REAL = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
NUMBER_TYPES = {"int": ("BIGINT", INTEGER), "float": ("DOUBLE", REAL)}
DECIMAL = re.compile(r"decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)")
MAX_PRECISION = 38

MARK = {"kind": "single_char", "forbidden": "0123456789"}
_COMMON = {
    "input": spec("string", "the upstream dataset", check=INPUT),
    "dataset": spec("string", "name of the output dataset", check=DATASET),
    "max_rejection_rate": spec(
        "float", "fail above this fraction of rejected values (0 to 1)", 0.05, check=RATE
    ),
}
TEMPLATES = [
    Builtin(
        name="standardize_dates",
        entrypoint="core.transforms.library.standardize:standardize_dates",
        description=(
            "Parse date columns by format; unparseable values become null and are counted. "
            "Fails above max_rejection_rate (default 0.05) or when a column is missing from "
            "this run's input."
        ),
        tags=("cleaning",),
        variables={
            **_COMMON,
            "columns": spec(
                "json",
                "{column: strptime format, or a list of formats to try}",
                check="date_formats",
            ),
        },
    ),
    Builtin(
        name="standardize_numbers",
        entrypoint="core.transforms.library.standardize:standardize_numbers",
        description=(
            "Parse numeric columns (thousands separator ',' and decimal '.' by default); "
            "unparseable values become null and are counted. Fails above max_rejection_rate "
            "(default 0.05) or when a column is missing from this run's input."
        ),
        tags=("cleaning",),
        variables={
            **_COMMON,
            "columns": spec(
                "json", '{column: "int" | "float" | "decimal(p,s)"}', check="number_types"
            ),
            "thousands_separator": spec(
                "string",
                "removed before parsing: one character, or '' for none",
                ",",
                check={"kind": "pattern", "regex": r"[^0-9]?", "example": ","},
            ),
            "decimal_separator": spec(
                "string", "the decimal mark of the source: one character", ".", check=MARK
            ),
        },
    ),
]


def standardize_dates(ctx: TransformContext) -> None:
    """Publish the input with each configured column parsed into a date (date32).

    Args:
        ctx: the transformation's context.

    Raises:
        TransformationVariableTypeError: columns is not an object of formats, or a format is
            not valid.
        TransformError: a column is missing, or rejections exceed max_rejection_rate.
    """
    formats = date_formats(ctx)
    params = {f"p{i}": fmt for i, fmt in enumerate(formats.values())}
    expressions = {
        column: f"try_strptime(trim(CAST({quote(column)} AS VARCHAR)), $p{i})::DATE"
        for i, column in enumerate(formats)
    }
    standardize(ctx, expressions, params)


def date_formats(ctx: TransformContext) -> dict[str, str | list[str]]:
    """The ``columns`` variable: column -> format (or formats), each checked by DuckDB.

    Raises:
        TransformationVariableTypeError: the variable or a format is not valid.
    """
    value = variable(ctx, "columns")
    if not isinstance(value, dict) or not value or not all(map(_is_formats, value.values())):
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: variable 'columns'={value!r} is not valid: expected a JSON object "
            'of column to strptime format, such as {"status_date": "%Y-%m-%d"} (a list of '
            "formats is tried in order)"
        )
    with duckdb_connection() as con:
        for column, formats in value.items():
            try:
                con.execute("select try_strptime('', ?)", [formats])
            except duckdb.Error as exc:
                raise TransformationVariableTypeError(
                    f"{owner(ctx)}: variable 'columns': the format {formats!r} of column "
                    f"{column!r} is not valid: {exc}"
                ) from None
    return value


def _is_formats(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, str) and v for v in value)
    return isinstance(value, str) and bool(value)


def standardize_numbers(ctx: TransformContext) -> None:
    """Publish the input with each configured column parsed into a number.

    Whitespace and the thousands separator are removed and the decimal separator
    is read as '.'; "int" columns accept whole numbers only ("12.0" is 12).

    Args:
        ctx: the transformation's context.

    Raises:
        TransformationVariableTypeError: columns or a separator is not valid.
        TransformError: a column is missing, or rejections exceed max_rejection_rate.
    """
    columns = string_map(ctx, "columns")
    types = {column: number_type(ctx, column, kind) for column, kind in columns.items()}
    thousands, decimal = separators(ctx)
    params = {"thousands": thousands, **({"decimal": decimal} if decimal != "." else {})}
    expressions = {}
    for i, (column, (sql_type, pattern)) in enumerate(types.items()):
        params[f"p{i}"] = pattern
        text = f"replace(trim(CAST({quote(column)} AS VARCHAR)), $thousands, '')"
        text = f"replace({text}, $decimal, '.')" if decimal != "." else text
        expressions[column] = (
            f"CASE WHEN regexp_full_match({text}, $p{i}) THEN try_cast({text} AS {sql_type}) END"
        )
    standardize(ctx, expressions, params)


def number_type(ctx: TransformContext, column: str, kind: str) -> tuple[str, str]:
    """The DuckDB type and the accepted pattern of a column's declared type.

    Raises:
        TransformationVariableTypeError: not int, float or decimal(p,s) with 1 <= p <= 38.
    """
    kind = kind.strip().lower()
    if kind in NUMBER_TYPES:
        return NUMBER_TYPES[kind]
    match = DECIMAL.fullmatch(kind)
    if match and 0 < int(match[1]) <= MAX_PRECISION and int(match[2]) <= int(match[1]):
        return f"DECIMAL({match[1]},{match[2]})", REAL
    raise TransformationVariableTypeError(
        f"{owner(ctx)}: variable 'columns': column {column!r} has type {kind!r}; expected "
        f"'int', 'float' or 'decimal(p,s)' with 1 <= p <= {MAX_PRECISION} and s <= p"
    )


def separators(ctx: TransformContext) -> tuple[str, str]:
    """The thousands separator ('' for none) and the decimal separator, checked.

    Raises:
        TransformationVariableTypeError: they are longer than one character, or the same.
    """
    thousands = str(variable(ctx, "thousands_separator", ","))
    decimal = str(variable(ctx, "decimal_separator", "."))
    if len(thousands) > 1 or len(decimal) != 1 or thousands == decimal or decimal.isdigit():
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: variables 'thousands_separator'={thousands!r} and "
            f"'decimal_separator'={decimal!r} are not valid: expected one character each "
            "(the thousands separator may be ''), and different ones"
        )
    return thousands, decimal


def standardize(ctx: TransformContext, expressions: dict[str, str], params: dict[str, Any]) -> None:
    """Replace columns of the input by DuckDB expressions over them; count and check rejections.

    Args:
        ctx: the transformation's context.
        expressions: column -> the SQL expression of its parsed value.
        params: the named parameters of the expressions.

    Raises:
        TransformError: a column is missing, or rejections exceed max_rejection_rate.
    """
    name = str(variable(ctx, "input"))
    table = ctx.input(name, metadata=names_metadata(expressions))
    require_columns(ctx, table, expressions, f"input {name!r}")
    parsed = evaluate(table.select(list(expressions)), expressions, params)
    counts, found = {}, {}
    for column in expressions:
        mask = rejected(table[column], parsed[column])
        counts[column] = int(pc.sum(mask).as_py() or 0)
        found[column] = examples(table[column], mask) if counts[column] else []
    check_rejections(ctx, counts, table.num_rows, found)
    for column in expressions:
        table = table.set_column(table.column_names.index(column), column, parsed[column])
    ctx.metadata["rows_out"] = table.num_rows
    ctx.publish(table)


def evaluate(table: pa.Table, expressions: dict[str, str], params: dict[str, Any]) -> pa.Table:
    """``select expression as column, …`` over the table in DuckDB, rows in order."""
    select = ", ".join(f"{sql} AS {quote(column)}" for column, sql in expressions.items())
    with duckdb_connection() as con:
        con.register("input", table)
        return con.sql(f"SELECT {select} FROM input", params=params).to_arrow_table()  # noqa: S608
