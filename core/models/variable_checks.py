"""What a variable's value means, checked by name: the ``check`` of a variable spec.

A template declares how each variable is checked beyond its type::

    {"dataset":   {"type": "string", "check": "dataset_name"},
     "delimiter": {"type": "string", "check": {"kind": "single_char", "words": {"tab": "\\t"}}},
     "max_rejection_rate": {"type": "float", "check": {"kind": "range", "min": 0, "max": 1}}}

Each kind is an entry of :data:`CHECKS`: a typed argument schema (pydantic) and a
function that says why a typed value is refused, or None. The same checks run when
a transformation is saved (API, UI, CLI, through ``core.service.catalog``) and when
a worker reads its variables, so nothing is accepted that a run would refuse.
Checks that need the other transformations of the pipeline (``input``, ``inputs``,
``sql`` tables, outputs) are made by ``core.plan.check`` on top of these.
"""

from __future__ import annotations

import codecs
import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import InvalidNameError, VariableSchemaError
from core.names import PATH_PART_MAX_LENGTH, validate_path_part, validate_run_frequency

# A strftime directive: %% or % followed by an optional flag and a letter.
STRFTIME_DIRECTIVE = re.compile(r"%[-#_^0]?([A-Za-z%])")
STRFTIME_LETTERS = set("aAbBcdDefFgGhHIjkmMnpqrRsStTuUVwWxXyYzZ%")
DATE_LETTERS = set("dbBmyYjFDUWVGgxce")
NUMBER_TYPE = re.compile(r"^(int|float|decimal\(\s*(\d+)\s*,\s*(\d+)\s*\))$")
MAX_DECIMAL_PRECISION = 38


class Args(BaseModel):
    """The arguments of a check; none by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SingleCharArgs(Args):
    """``words``: names accepted for a character (e.g. tab); ``forbidden``: refused characters."""

    words: dict[str, str] = Field(default_factory=dict)
    forbidden: str = ""


class EnumArgs(Args):
    """``values``: the accepted values."""

    values: list[Any] = Field(min_length=1)


class RangeArgs(Args):
    """``min`` and ``max``, inclusive; either may be left out."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RangeArgs:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class PatternArgs(Args):
    """``regex``: the value must match it whole; ``example``: shown in the message."""

    regex: str
    example: str = ""

    @model_validator(mode="after")
    def _compiles(self) -> PatternArgs:
        re.compile(self.regex)
        return self


class InputArgs(Args):
    """``raw``: a raw folder of files may be named too (only datasets otherwise)."""

    raw: bool = False


class SqlArgs(Args):
    """``inputs``: the variable listing the tables the query may read."""

    inputs: str = "inputs"


@dataclass(frozen=True)
class Check:
    """One kind of check: its arguments and what it refuses.

    Attributes:
        args: the argument schema.
        refuses: ``refuses(value, args)`` -> why the value is refused (a phrase
            starting with "expected …"), or None.
        summary: what the check allows, for the docs and the UI.
    """

    args: type[Args]
    refuses: Callable[[Any, Any], str | None]
    summary: str


def _dataset_name(value: Any, _args: Args) -> str | None:
    try:
        validate_path_part(value, "name")
    except InvalidNameError:
        return (
            f"expected a dataset name: 1 to {PATH_PART_MAX_LENGTH} lower-case letters, digits, "
            "'_' or '-', starting with a letter or digit (it is a folder of the lake)"
            + _suggest(value)
        )
    return None


def _suggest(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    suggestion = re.sub(r"[^a-z0-9_-]+", "_", value.strip().lower()).strip("_-")
    return f"; did you mean {suggestion!r}?" if suggestion and suggestion != value else ""


def _single_char(value: Any, args: SingleCharArgs) -> str | None:
    char = args.words.get(value, value)
    words = f" or one of {', '.join(map(repr, args.words))}" if args.words else ""
    if not isinstance(char, str) or len(char) != 1 or char in args.forbidden:
        refused = f" (not {', '.join(map(repr, args.forbidden))})" if args.forbidden else ""
        return f"expected one character such as ',' or '|'{words}{refused}"
    return None


def _enum(value: Any, args: EnumArgs) -> str | None:
    if value in args.values:
        return None
    return "expected one of " + ", ".join(map(repr, args.values)) + _close(value, args.values)


def _close(value: Any, values: list[Any]) -> str:
    import difflib

    close = difflib.get_close_matches(str(value), [str(v) for v in values], n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def _range(value: Any, args: RangeArgs) -> str | None:
    low = float("-inf") if args.min is None else args.min
    high = float("inf") if args.max is None else args.max
    if isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high:
        return None
    return f"expected a number from {_num(args.min)} to {_num(args.max)}"


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else str(value)


def _pattern(value: Any, args: PatternArgs) -> str | None:
    if isinstance(value, str) and re.fullmatch(args.regex, value):
        return None
    example = f" such as {args.example!r}" if args.example else ""
    return f"expected text matching {args.regex!r}{example}"


def _cron(value: Any, _args: Args) -> str | None:
    try:
        validate_run_frequency(value, "schedule")
    except InvalidNameError:
        return "expected a five-field cron expression (minute hour day month weekday)"
    return None


def _encoding(value: Any, _args: Args) -> str | None:
    try:
        codec = codecs.lookup(str(value).strip())
    except LookupError:
        codec = None
    if codec is None or not getattr(codec, "_is_text_encoding", True):
        return "expected a text encoding such as 'utf-8', 'latin-1', 'cp1252' or 'utf-16'"
    return None


def _strftime(value: Any, _args: Args) -> str | None:
    return None if _is_date_format(value) else _DATE_FORMAT_EXPECTED


_DATE_FORMAT_EXPECTED = (
    "expected a strptime date format with date directives (%Y, %m, %d …) such as "
    "'%Y-%m-%d' or '%m/%d/%Y'"
)


def _is_date_format(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    letters = STRFTIME_DIRECTIVE.findall(value)
    stripped = STRFTIME_DIRECTIVE.sub("", value)
    return (
        "%" not in stripped
        and bool(letters)
        and set(letters) <= STRFTIME_LETTERS
        and bool(set(letters) & DATE_LETTERS)
    )


def _date_formats(value: Any, _args: Args) -> str | None:
    expected = (
        "expected a JSON object of column to date format, or to a list of formats, such as "
        '{"shipped_on": "%Y-%m-%d"}'
    )
    if not isinstance(value, dict) or not value:
        return expected
    for column, formats in value.items():
        listed = formats if isinstance(formats, list) else [formats]
        bad = [f for f in listed if not _is_date_format(f)]
        if not listed or bad:
            return f"column {column!r}: format {bad[0] if bad else formats!r} is not valid; " + (
                _DATE_FORMAT_EXPECTED
            )
    return None


def _number_types(value: Any, _args: Args) -> str | None:
    expected = "expected a JSON object of column to 'int', 'float' or 'decimal(p,s)'"
    if not isinstance(value, dict) or not value:
        return expected + ' such as {"quantity": "int"}'
    for column, kind in value.items():
        match = NUMBER_TYPE.match(kind) if isinstance(kind, str) else None
        if match is None:
            return f"column {column!r}: type {kind!r} is not valid; {expected}" + _close(
                kind, ["int", "float", "decimal(18,2)"]
            )
        if match.group(2) is not None:
            precision, scale = int(match.group(2)), int(match.group(3))
            if not 1 <= precision <= MAX_DECIMAL_PRECISION or scale > precision:
                return (
                    f"column {column!r}: {kind!r} is not valid; expected decimal(p,s) with "
                    f"1 <= p <= {MAX_DECIMAL_PRECISION} and s <= p"
                )
    return None


GZIP_SUFFIX = ".gz"
HIDDEN_MARK = "."


def render_file_name(pattern: str, dataset: str, run_id: int, when: dt.datetime, gzip: bool) -> str:
    """An export's file name: ``pattern`` through strftime, then ``{dataset}``, ``{run_id}``.

    Raises:
        ValueError: an unknown placeholder, or the result is not a plain file name; the
            message says what is expected.
    """
    try:
        name = when.strftime(pattern).format_map({"dataset": dataset, "run_id": run_id})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"is not valid ({type(exc).__name__}: {exc}): expected strftime codes (%Y, %m, "
            "%d, ...) and the placeholders {dataset} and {run_id}; write a literal brace as "
            "{{ or }}"
        ) from None
    if gzip and not name.endswith(GZIP_SUFFIX):
        name += GZIP_SUFFIX
    if not name.strip() or "/" in name or "\\" in name or name.startswith(HIDDEN_MARK):
        raise ValueError(
            f"gives the file name {name!r}: expected a plain file name (no '/' or '\\', not "
            "empty, not starting with '.')"
        )
    return name


def _file_pattern(value: Any, _args: Args) -> str | None:
    try:
        render_file_name(str(value), "dataset", 1, dt.datetime(2024, 1, 31, 6), False)
    except ValueError as exc:
        return str(exc)
    return None


def _text_map(value: Any, _args: Args) -> str | None:
    simple = (str, int, float)
    valid = isinstance(value, dict) and all(
        isinstance(v, simple) and not isinstance(v, bool) and str(v) != "" for v in value.values()
    )
    if not valid or not value:
        return 'expected a non-empty JSON object of text to text such as {"old": "new"}'
    return None


def _input(value: Any, args: InputArgs) -> str | None:
    return _dataset_name(value, args)


def _inputs(value: Any, args: InputArgs) -> str | None:
    # [] is allowed: a query that reads no table (VALUES, constants) declares no input.
    if not isinstance(value, list):
        return 'expected a JSON list of dataset names such as ["sales", "accounts"]'
    for name in value:
        refused = _dataset_name(name, args)
        if refused:
            return f"{name!r}: {refused}"
    twice = sorted({n for n in value if value.count(n) > 1})
    return f"names {', '.join(map(repr, twice))} more than once" if twice else None


def _sql(value: Any, _args: SqlArgs) -> str | None:
    try:
        sql_tables(value)
    except ValueError as exc:
        return str(exc)
    return None


def undeclared_tables(query: Any, inputs: Iterable[Any]) -> list[str]:
    """The tables a query reads that ``inputs`` does not list (DuckDB's names ignore case).

    The save check, the pipeline check and the sql transform itself all ask this, so a
    query that reached the worker past the API is held to the same rule.

    Raises:
        ValueError: as :func:`sql_tables`.
    """
    declared = {str(name).casefold() for name in inputs}
    return sorted(t for t in sql_tables(query) if t.casefold() not in declared)


def sql_tables(query: Any) -> frozenset[str]:
    """The tables a query reads, found by DuckDB's parser (the query is not run).

    Raises:
        ValueError: the query does not parse, is not one SELECT, or calls a table
            function (files, the network): the message says what is expected.
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError("expected one DuckDB SELECT statement; the query is empty")
    return _parsed_tables(query)


@functools.lru_cache(maxsize=256)  # one save checks a query several times (before, after)
def _parsed_tables(query: str) -> frozenset[str]:
    from core.helpers.duckdb_helper import locked_duckdb  # only SQL checks import DuckDB

    with locked_duckdb() as con:
        row = con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()
    tree = json.loads(row[0]) if row else {"error": True, "error_message": "no result"}
    if tree.get("error"):
        where = f" (at character {tree['position']})" if tree.get("position") else ""
        return _raise(
            f"expected one DuckDB SELECT statement, but the parser says: "
            f"{tree.get('error_message')}{where}"
        )
    if len(tree["statements"]) != 1:
        _raise(f"expected one SELECT statement, got {len(tree['statements'])}")
    tables, ctes, functions = set(), set(), set()
    _walk(tree["statements"][0], tables, ctes, functions)
    if functions:
        _raise(
            f"reads with table function(s) {', '.join(sorted(functions))}; expected only "
            "the datasets listed in inputs"
        )
    return frozenset(tables - ctes)


def _raise(message: str) -> Any:
    raise ValueError(message)


def _walk(node: Any, tables: set[str], ctes: set[str], functions: set[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and node.get("table_name"):
            tables.add(node["table_name"])
        if node.get("type") == "TABLE_FUNCTION":
            function = node.get("function") or {}
            functions.add(str(function.get("function_name", "?")))
        for entry in (node.get("cte_map") or {}).get("map", []):
            ctes.add(entry["key"])
        for child in node.values():
            _walk(child, tables, ctes, functions)
    elif isinstance(node, list):
        for child in node:
            _walk(child, tables, ctes, functions)


CHECKS: dict[str, Check] = {
    "dataset_name": Check(Args, _dataset_name, "a lake folder name: a-z, 0-9, '_' and '-'"),
    "single_char": Check(SingleCharArgs, _single_char, "exactly one character (or a named one)"),
    "enum": Check(EnumArgs, _enum, "one of the listed values"),
    "range": Check(RangeArgs, _range, "a number within [min, max]"),
    "pattern": Check(PatternArgs, _pattern, "text matching a regular expression"),
    "cron": Check(Args, _cron, "a preset or a five-field cron expression"),
    "encoding": Check(Args, _encoding, "a text encoding Python knows"),
    "date_format": Check(Args, _strftime, "a strptime date format"),
    "date_formats": Check(Args, _date_formats, "{column: date format or list of formats}"),
    "number_types": Check(Args, _number_types, "{column: int | float | decimal(p,s)}"),
    "file_pattern": Check(Args, _file_pattern, "a file name with strftime codes, {dataset}"),
    "text_map": Check(Args, _text_map, "a non-empty {text: text} object"),
    "input": Check(
        InputArgs, _input, "a dataset this pipeline writes in an earlier group (or raw)"
    ),
    "inputs": Check(InputArgs, _inputs, "a list of datasets written in earlier groups"),
    "sql": Check(SqlArgs, _sql, "one DuckDB SELECT reading only its declared inputs"),
}


@dataclass(frozen=True)
class CheckRef:
    """A check named by a variable spec, with its validated arguments."""

    kind: str
    args: Args

    def refuses(self, value: Any) -> str | None:
        """Why the value is refused, or None."""
        return CHECKS[self.kind].refuses(value, self.args)


def check_ref(raw: str | Mapping[str, Any]) -> CheckRef:
    """The check a spec names: ``"kind"`` or ``{"kind": ..., **arguments}``.

    Raises:
        VariableSchemaError: an unknown kind or arguments its schema refuses.
    """
    body = {"kind": raw} if isinstance(raw, str) else dict(raw)
    kind = body.pop("kind", None)
    if kind not in CHECKS:
        from core.errors import did_you_mean

        raise VariableSchemaError(
            f"check {kind!r} is not known; expected one of {', '.join(CHECKS)}."
            + did_you_mean(str(kind), CHECKS)
        )
    try:
        return CheckRef(kind, CHECKS[kind].args.model_validate(body))
    except (ValidationError, ValueError, re.error) as exc:
        raise VariableSchemaError(f"check {kind!r} has invalid arguments {body!r}: {exc}") from None
