"""Helpers shared by the standard data transforms: variables, columns, rejections, SQL names.

Problems with a transformation's variables raise
:class:`~core.errors.TransformationVariableTypeError` (a configuration error, exit
code 2); problems with the data raise :class:`~core.errors.TransformError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from core.errors import TransformationVariableTypeError, TransformError
from core.helpers.duckdb_helper import locked_duckdb
from core.lake.dataset_contract import METADATA_COLUMNS
from core.stop import interruptible

if TYPE_CHECKING:
    import duckdb

    from core.transforms.context import TransformContext

SOURCE_FILE = "__metadata_source_file"
# What the spec of a variable names as its check (core.models.variable_checks).
DATASET = "dataset_name"
INPUT = "input"
RATE = {"kind": "range", "min": 0, "max": 1}
# A part of a file name that files are matched by: no wildcards, brackets or control
# characters (they are matched literally, never as a glob).
FILE_PART = {"kind": "pattern", "regex": r"[^*?\[\]\x00-\x1f]*", "example": ".csv"}
# How many names or values an error message or a metadata list shows at most.
SHOWN = 20
EXAMPLES = 5


@contextmanager
def duckdb_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection of this process's locked in-memory DuckDB, interrupted on a stop request.

    No external access, configuration locked (core.helpers.duckdb_helper). A query runs
    in native code, where Python's signal handlers wait; the worker's stop watcher
    (core.stop) calls the connection's ``interrupt()`` instead.
    """
    with locked_duckdb() as con, interruptible(con.interrupt):
        yield con


def spec(kind: str, description: str, default: Any = None, **extra: Any) -> dict[str, Any]:
    """A variable's schema entry: required when it has no default.

    Args:
        kind: the variable type (string, int, float, bool, json, list).
        description: what the variable is, for the UI.
        default: the default value; a variable with one is optional.
        **extra: more keys (``required``, ``choices``).

    Returns:
        The entry for a template's ``variables``.
    """
    entry: dict[str, Any] = {"type": kind, "description": description}
    if default is not None:
        entry.update(required=False, default=default)
    return {**entry, **extra}


def variable(ctx: TransformContext, name: str, default: Any = None) -> Any:
    """A variable's value, or ``default`` when it is unset or not declared by the template."""
    value = ctx.variables.get(name)
    return default if value is None else value


def string_map(ctx: TransformContext, name: str, allow_empty: bool = False) -> dict[str, str]:
    """A json variable that must be an object of text to text (numbers are read as text).

    Raises:
        TransformationVariableTypeError: it is not such an object, or empty.
    """
    value = variable(ctx, name)
    simple = (str, int, float)
    valid = isinstance(value, dict) and all(
        isinstance(v, simple) and not isinstance(v, bool) for v in value.values()
    )
    if not valid or (not value and not allow_empty):
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: variable {name!r}={value!r} is not valid: expected a non-empty JSON "
            'object of text to text such as {"old": "new"}'
        )
    return {str(k): str(v) for k, v in value.items()}


def rejection_threshold(ctx: TransformContext) -> float:
    """The ``max_rejection_rate`` variable (0.05 when unset), checked to lie in [0, 1].

    Raises:
        TransformationVariableTypeError: it is outside [0, 1].
    """
    rate = float(variable(ctx, "max_rejection_rate", 0.05))
    if not 0.0 <= rate <= 1.0:
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: variable 'max_rejection_rate'={rate!r} is not valid: expected a "
            "fraction between 0 and 1 such as 0.05 (5% of the rows)"
        )
    return rate


def owner(ctx: TransformContext) -> str:
    """How messages name the transformation: ``state/template (id)``."""
    return f"{ctx.state}/{ctx.template} ({ctx.transform_id})"


def require_columns(
    ctx: TransformContext, table: pa.Table, wanted: Iterable[str], what: str
) -> None:
    """Fail unless every wanted column is in the table (an input of this run).

    ``ctx.input`` leaves out the columns that the run read did not publish, so a
    column that only earlier runs' files had is missing here, not silently null.

    Args:
        ctx: the transformation's context (for the message).
        table: the input table.
        wanted: the columns the transformation needs.
        what: which input, for the message (e.g. "input 'sales'").

    Raises:
        TransformError: some are missing; the message lists all of them, the raw files
            the rows were read from (when the input carries them) and the columns present.
    """
    present = set(table.column_names)
    missing = [c for c in wanted if c not in present]
    if missing:
        columns = [c for c in data_columns(table) if c != SOURCE_FILE]
        columns += [SOURCE_FILE] if SOURCE_FILE in present else []
        raise TransformError(
            f"{owner(ctx)}: {what}{_read_from(table)} lacks column(s) "
            f"{', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(map(repr, columns)) or 'none'}; nothing was published"
        )


def _read_from(table: pa.Table) -> str:
    """ " (read from raw file(s) 'a.csv', …)" when the rows carry their source file."""
    if SOURCE_FILE not in table.column_names or not table.num_rows:
        return ""
    files = pc.unique(table[SOURCE_FILE]).drop_null().to_pylist()
    shown = ", ".join(map(repr, sorted(files)[:SHOWN])) + (" …" if len(files) > SHOWN else "")
    return f" (read from raw file(s) {shown})"


def names_metadata(columns: Iterable[str]) -> bool:
    """Whether a transform's configuration names one of the five standard metadata columns.

    The standard transforms read their inputs without them (their publish writes them
    anew), unless the configuration uses one, e.g. a mapping of ``__metadata_run_timestamp``.
    """
    return any(column in METADATA_COLUMNS for column in columns)


def data_columns(table: pa.Table) -> list[str]:
    """The table's columns except the five standard ``__metadata_*`` ones."""
    return [c for c in table.column_names if c not in METADATA_COLUMNS]


def blank(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """True where a value is null or only whitespace (as text)."""
    text = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
    return pc.fill_null(pc.equal(text, ""), True)


def rejected(
    original: pa.ChunkedArray | pa.Array, parsed: pa.ChunkedArray | pa.Array
) -> pa.ChunkedArray | pa.Array:
    """True where a non-blank original value was parsed to null."""
    return pc.and_(pc.invert(blank(original)), pc.is_null(parsed))


def examples(values: pa.ChunkedArray | pa.Array, mask: pa.ChunkedArray | pa.Array) -> list[str]:
    """Up to EXAMPLES distinct values where ``mask`` is true, as text."""
    chosen = pc.unique(pc.filter(pc.cast(values, pa.string()), mask))
    return [str(v)[:100] for v in chosen.slice(0, EXAMPLES).to_pylist()]


def check_rejections(
    ctx: TransformContext,
    counts: dict[str, int],
    rows: int,
    found: dict[str, list[str]],
    outcome: str = "nothing was published",
) -> None:
    """Record ``rejected`` in the metadata; fail when a column's rate exceeds the threshold.

    Args:
        ctx: the transformation's context.
        counts: rejected values per column.
        rows: rows in the input (the rate's denominator).
        found: example rejected values per column, for the message.
        outcome: what the message says happened to the output.

    Raises:
        TransformError: some column's rejection rate is above ``max_rejection_rate``.
    """
    threshold = rejection_threshold(ctx)
    ctx.metadata["rejected"] = dict(counts)
    over = {c: n for c, n in counts.items() if rows and n / rows > threshold}
    if over:
        details = "; ".join(
            f"column {c!r}: {n} of {rows} rows ({n / rows:.1%}), e.g. "
            + ", ".join(map(repr, found.get(c, [])))
            for c, n in over.items()
        )
        raise TransformError(
            f"{owner(ctx)}: rejected values above max_rejection_rate {threshold} "
            f"({threshold:.1%}): {details}; {outcome}"
        )


def quote(name: str) -> str:
    """A SQL identifier for DuckDB, quoted."""
    return '"' + name.replace('"', '""') + '"'
