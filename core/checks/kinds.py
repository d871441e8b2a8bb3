"""The kinds of data quality check, by name: each a typed argument schema and a rule.

A kind says which rows of the table about to be published fail it. Row kinds give a
SQL condition (true for a failing row) that :mod:`core.checks.evaluate` counts for
every row kind of a dataset in one scan; the others (``unique``, ``row_count``,
``row_count_change``, ``schema``, ``relationship``, ``freshness``, ``sql`` with a
query) evaluate themselves against an :class:`Evaluation`. The arguments are checked
on save (API, UI, CLI through ``core.service.checks``) and again by the worker.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

EXAMPLES = 5
AGE = re.compile(r"^(\d+)\s*([smhd])$")
AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# Column types a schema check names, by family (an Arrow type belongs to one).
TYPE_FAMILIES = ("string", "integer", "float", "decimal", "boolean", "date", "timestamp")


class Args(BaseModel):
    """The arguments of a check kind; unknown arguments are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def columns(self) -> list[str]:
        """The columns of the dataset these arguments name (checked on save)."""
        return []


class ColumnsArgs(Args):
    """``columns``: one or more column names."""

    columns_: list[str] = Field(alias="columns", min_length=1)

    def columns(self) -> list[str]:
        return list(self.columns_)


class ValuesArgs(Args):
    """``column`` and the ``values`` it may hold (nulls are not_null's business)."""

    column: str = Field(min_length=1)
    values: list[str | int | float | bool] = Field(min_length=1)

    def columns(self) -> list[str]:
        return [self.column]


class RangeArgs(Args):
    """``column`` between ``min`` and ``max``, inclusive; either bound may be left out."""

    column: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> RangeArgs:
        if self.min is None and self.max is None:
            raise ValueError("expected min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    def columns(self) -> list[str]:
        return [self.column]


class RowCountArgs(Args):
    """At least ``min`` and at most ``max`` rows; either may be left out."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> RowCountArgs:
        if self.min is None and self.max is None:
            raise ValueError("expected min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class ChangeArgs(Args):
    """How far the row count may fall or rise against the previous successful run, in %."""

    max_drop_pct: float | None = Field(default=None, ge=0, le=100)
    max_rise_pct: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> ChangeArgs:
        if self.max_drop_pct is None and self.max_rise_pct is None:
            raise ValueError("expected max_drop_pct, max_rise_pct or both")
        return self


class SchemaArgs(Args):
    """``columns``: name -> type family; ``allow_extra``: other columns are fine."""

    columns_: dict[str, str] = Field(alias="columns", min_length=1)
    allow_extra: bool = True

    @field_validator("columns_")
    @classmethod
    def _families(cls, value: dict[str, str]) -> dict[str, str]:
        bad = {name: kind for name, kind in value.items() if kind not in TYPE_FAMILIES}
        if bad:
            raise ValueError(f"unknown type(s) {bad}: expected one of {', '.join(TYPE_FAMILIES)}")
        return value

    def columns(self) -> list[str]:
        return list(self.columns_)


class RelationshipArgs(Args):
    """Every value of ``column`` exists in ``to``: ``dataset.column`` of the same run."""

    column: str = Field(min_length=1)
    to: str = Field(pattern=r"^[^.\s]+\.[^.\s]+$")

    @property
    def dataset(self) -> str:
        """The other dataset's name."""
        return self.to.split(".", 1)[0]

    @property
    def other_column(self) -> str:
        """The column of the other dataset."""
        return self.to.split(".", 1)[1]

    def columns(self) -> list[str]:
        return [self.column]


class FreshnessArgs(Args):
    """The newest value of ``column`` is at most ``max_age`` old (``36h``, ``7d``, ``90m``)."""

    column: str = Field(min_length=1)
    max_age: str

    @field_validator("max_age")
    @classmethod
    def _age(cls, value: str) -> str:
        if not AGE.match(value.strip()):
            raise ValueError(f"{value!r} is not an age: expected a number and s, m, h or d (36h)")
        return value.strip()

    @property
    def age(self) -> dt.timedelta:
        """max_age as a timedelta."""
        number, unit = AGE.match(self.max_age).groups()  # type: ignore[union-attr]
        return dt.timedelta(**{AGE_UNITS[unit]: int(number)})

    def columns(self) -> list[str]:
        return [self.column]


class SqlArgs(Args):
    """Exactly one of ``predicate`` (true for a good row) or ``query`` (returns bad rows).

    Both read the table about to be published as ``data``, and nothing else.
    """

    predicate: str | None = None
    query: str | None = None

    @model_validator(mode="after")
    def _one(self) -> SqlArgs:
        if (self.predicate is None) == (self.query is None):
            raise ValueError("expected exactly one of predicate or query")
        from core.models.variable_checks import undeclared_tables

        # validated in the very text it is evaluated in (the scan of core.checks.evaluate)
        sql = self.query or f"SELECT count(*) FILTER (WHERE {_predicate(self)}) FROM data"
        other = undeclared_tables(sql, ["data"])  # ValueError: not one SELECT, or files
        if other:
            raise ValueError(f"reads {', '.join(other)}: expected it to read only the table data")
        return self


@dataclass
class Finding:
    """What one check found: failing rows, up to EXAMPLES of them, a note."""

    failing_rows: int = 0
    examples: list[Any] = field(default_factory=list)
    note: str | None = None
    failed: bool | None = None  # None: failed when failing_rows > 0

    @property
    def passed(self) -> bool:
        """True when nothing failed."""
        return not self.failed if self.failed is not None else self.failing_rows == 0


@dataclass
class Evaluation:
    """What a dataset-level check may look at.

    Attributes:
        con: a DuckDB connection with the table registered as ``data``.
        table: the table about to be published (Arrow).
        previous_rows: the row count of the same dataset's previous successful run,
            or None when there is none (asked lazily: one query).
        other: ``other(dataset)`` -> that dataset's rows of this run (Arrow).
        now: the time freshness is measured against.
    """

    con: duckdb.DuckDBPyConnection
    table: pa.Table
    previous_rows: Callable[[], int | None]
    other: Callable[[str], pa.Table]
    now: dt.datetime


@dataclass(frozen=True)
class Kind:
    """One kind of check.

    Attributes:
        args: the argument schema.
        summary: what it checks, for the docs, the UI and messages.
        condition: for row kinds, ``condition(args)`` -> a SQL condition true for a
            failing row of ``data`` (or None: evaluate it instead); counted with the
            other row kinds of the dataset in one scan.
        evaluate: for the others, ``evaluate(evaluation, args)`` -> a Finding.
    """

    args: type[Args]
    summary: str
    condition: Callable[[Any], str | None] | None = None
    evaluate: Callable[[Evaluation, Any], Finding] | None = None


def quote(name: str) -> str:
    """A SQL identifier (a column name as it is)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A SQL literal of a string, number or boolean (arguments validated by pydantic)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _not_null(args: ColumnsArgs) -> str:
    return " OR ".join(f"{quote(c)} IS NULL" for c in args.columns())


def _accepted(args: ValuesArgs) -> str:
    # compared as text, so 1 and "1" are one value whatever the column's type
    column = quote(args.column)
    values = ", ".join(literal(str(v)) for v in args.values)
    return f"{column} IS NOT NULL AND CAST({column} AS VARCHAR) NOT IN ({values})"


def _range(args: RangeArgs) -> str:
    column = quote(args.column)
    bounds = []
    if args.min is not None:
        bounds.append(f"{column} < {literal(args.min)}")
    if args.max is not None:
        bounds.append(f"{column} > {literal(args.max)}")
    return f"{column} IS NOT NULL AND ({' OR '.join(bounds)})"


def _predicate(args: SqlArgs) -> str | None:
    return None if args.predicate is None else f"NOT coalesce(({args.predicate}), FALSE)"


def examples_of(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """Up to EXAMPLES rows of a query, as JSON-able dicts (values as text where needed)."""
    cursor = con.execute(f"SELECT * FROM ({sql}) LIMIT {EXAMPLES}")
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, map(_plain, row), strict=True)) for row in cursor.fetchall()]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0])  # type: ignore[index]


def _unique(ev: Evaluation, args: ColumnsArgs) -> Finding:
    keys = ", ".join(quote(c) for c in args.columns())
    duplicated = f"SELECT {keys}, count(*) AS times FROM data GROUP BY ALL HAVING count(*) > 1"
    groups = _count(ev.con, duplicated)
    if not groups:
        return Finding()
    rows = ev.con.execute(f"SELECT sum(times) FROM ({duplicated})").fetchone()[0]  # type: ignore[index]
    examples = examples_of(ev.con, duplicated + " ORDER BY times DESC")
    return Finding(int(rows), examples, f"{groups} value(s) of ({keys}) occur more than once")


def _row_count(ev: Evaluation, args: RowCountArgs) -> Finding:
    rows = ev.table.num_rows
    low = args.min is not None and rows < args.min
    high = args.max is not None and rows > args.max
    bounds = f"between {args.min if args.min is not None else 0} and {args.max or '∞'}"
    note = f"{rows} rows; expected {bounds}"
    return Finding(0, [], note, failed=low or high)


def _row_count_change(ev: Evaluation, args: ChangeArgs) -> Finding:
    rows, before = ev.table.num_rows, ev.previous_rows()
    if before is None:
        return Finding(
            note=f"{rows} rows; no previous successful run to compare with", failed=False
        )
    change = (rows - before) / before * 100 if before else (0.0 if rows == 0 else float("inf"))
    dropped = args.max_drop_pct is not None and -change > args.max_drop_pct
    rose = args.max_rise_pct is not None and change > args.max_rise_pct
    note = f"{rows} rows against {before} in the previous successful run ({change:+.1f}%)"
    limits = [f"a drop of at most {args.max_drop_pct}%"] if args.max_drop_pct is not None else []
    limits += [f"a rise of at most {args.max_rise_pct}%"] if args.max_rise_pct is not None else []
    if dropped or rose:
        note += "; expected " + " and ".join(limits)
    return Finding(0, [], note, failed=dropped or rose)


def family(arrow_type: pa.DataType) -> str:
    """The type family of an Arrow type (for schema checks), or its own name."""
    import pyarrow as pa

    tests = (
        ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
        ("integer", pa.types.is_integer),
        ("float", pa.types.is_floating),
        ("decimal", pa.types.is_decimal),
        ("boolean", pa.types.is_boolean),
        ("date", pa.types.is_date),
        ("timestamp", pa.types.is_timestamp),
    )
    return next((name for name, test in tests if test(arrow_type)), str(arrow_type))


def _schema(ev: Evaluation, args: SchemaArgs) -> Finding:
    from core.lake.dataset_contract import METADATA_COLUMNS

    actual = {f.name: family(f.type) for f in ev.table.schema if f.name not in METADATA_COLUMNS}
    problems = [
        f"{name}: missing (expected {kind})"
        if name not in actual
        else f"{name}: {actual[name]} (expected {kind})"
        for name, kind in args.columns_.items()
        if actual.get(name) != kind
    ]
    if not args.allow_extra:
        problems += [f"{name}: not expected" for name in actual if name not in args.columns_]
    note = "; ".join(problems) if problems else None
    return Finding(0, [{"column": p} for p in problems[:EXAMPLES]], note, failed=bool(problems))


def _relationship(ev: Evaluation, args: RelationshipArgs) -> Finding:
    other = ev.other(args.dataset)
    if args.other_column not in other.column_names:
        raise ValueError(
            f"dataset {args.dataset!r} has no column {args.other_column!r}: "
            f"expected one of {', '.join(other.column_names)}"
        )
    ev.con.register("other", other.select([args.other_column]))
    column, target = quote(args.column), quote(args.other_column)
    orphans = (
        f"SELECT * FROM data WHERE {column} IS NOT NULL AND {column} NOT IN "
        f"(SELECT {target} FROM other WHERE {target} IS NOT NULL)"
    )
    failing = _count(ev.con, orphans)
    examples = examples_of(ev.con, orphans) if failing else []
    note = f"values of {args.column!r} missing from {args.to}" if failing else None
    return Finding(failing, examples, note)


def _freshness(ev: Evaluation, args: FreshnessArgs) -> Finding:
    row = ev.con.execute(f"SELECT max({quote(args.column)}) FROM data").fetchone()
    newest = row[0] if row else None
    if newest is None:
        return Finding(note=f"{args.column!r} has no value", failed=True)
    if isinstance(newest, dt.datetime):
        stamp = newest if newest.tzinfo else newest.replace(tzinfo=dt.UTC)
    elif isinstance(newest, dt.date):
        stamp = dt.datetime.combine(newest, dt.time(), dt.UTC)
    else:
        raise ValueError(f"column {args.column!r} holds {type(newest).__name__}: expected dates")
    age = ev.now - stamp
    note = f"newest {args.column} is {newest} ({_hours(age)} old; expected at most {args.max_age})"
    return Finding(0, [], note, failed=age > args.age)


def _hours(age: dt.timedelta) -> str:
    return f"{age.total_seconds() / 3600:.1f} h"


def _query(ev: Evaluation, args: SqlArgs) -> Finding:
    failing = _count(ev.con, str(args.query))
    return Finding(failing, examples_of(ev.con, str(args.query)) if failing else [])


KINDS: dict[str, Kind] = {
    "not_null": Kind(ColumnsArgs, "the columns hold no null", condition=_not_null),
    "unique": Kind(ColumnsArgs, "no two rows share the columns' values", evaluate=_unique),
    "accepted_values": Kind(
        ValuesArgs, "the column holds only the values listed (or null)", condition=_accepted
    ),
    "range": Kind(RangeArgs, "the column's values lie between min and max", condition=_range),
    "row_count": Kind(RowCountArgs, "the row count lies between min and max", evaluate=_row_count),
    "row_count_change": Kind(
        ChangeArgs,
        "the row count moved at most so far against the previous successful run",
        evaluate=_row_count_change,
    ),
    "schema": Kind(SchemaArgs, "the columns exist with these types", evaluate=_schema),
    "relationship": Kind(
        RelationshipArgs,
        "every value of the column exists in dataset.column of the same run",
        evaluate=_relationship,
    ),
    "freshness": Kind(
        FreshnessArgs, "the column's newest value is at most max_age old", evaluate=_freshness
    ),
    "sql": Kind(
        SqlArgs,
        "a predicate every row meets, or a query that returns the failing rows",
        condition=_predicate,
        evaluate=_query,
    ),
}
