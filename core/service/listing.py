"""Pages of configuration rows: paging, sorting, filters and text search.

:func:`list_rows` lists any :class:`~core.service.resources.Resource`; the paging
checks and the text search are shared with the pipeline list
(core.service.pipelines).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Integer, func, or_, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, did_you_mean
from core.models.variables import FALSE_WORDS, TRUE_WORDS
from core.service.resources import MAX_ID, Problem, Resource, unstorable

MAX_LIMIT = 500
MAX_OFFSET = 10**9
# The escape character of text-search patterns (see contains_pattern).
LIKE_ESCAPE = "\\"


@dataclass(frozen=True)
class Page:
    """One page of a list."""

    items: list[Any]
    total: int
    limit: int
    offset: int


def list_rows(
    session: Session,
    resource: Resource,
    *,
    limit: int = 50,
    offset: int = 0,
    sort: str = "id",
    filters: Mapping[str, Any] | None = None,
    q: str | None = None,
) -> Page:
    """One page of rows, in two queries (the count and the page).

    Raises:
        InvalidInputError: the sort field or a filter is unknown, a filter's value is not
            of its column's type, or limit/offset are out of range.
    """
    problems = page_problems(limit, offset)
    if problems:
        raise InvalidInputError(problems)
    conditions = _conditions(resource, filters or {}, q)
    order = _order(resource, sort)
    total = session.scalar(select(func.count()).select_from(resource.model).where(*conditions))
    query = select(resource.model).where(*conditions).order_by(*order).limit(limit).offset(offset)
    items = list(session.scalars(query.options(*resource.options)).unique())
    return Page(items=items, total=total or 0, limit=limit, offset=offset)


def page_problems(limit: int, offset: int) -> list[Problem]:
    """What is wrong with a page's limit and offset.

    Returns:
        One problem per value out of range (limit 1 to 500, offset 0 to 10⁹); none if both fit.
    """
    problems: list[Problem] = []
    if not 1 <= limit <= MAX_LIMIT:
        problems.append(("limit", limit, f"expected a whole number from 1 to {MAX_LIMIT}"))
    if not 0 <= offset <= MAX_OFFSET:
        problems.append(("offset", offset, f"expected a whole number from 0 to {MAX_OFFSET}"))
    return problems


def text_search(q: str, columns: tuple[Any, ...]) -> ColumnElement[bool]:
    """A condition: one of the columns contains ``q`` literally, ignoring case.

    A NULL column matches nothing.
    """
    pattern = contains_pattern(q)
    return or_(*(func.lower(column).like(pattern, escape=LIKE_ESCAPE) for column in columns))


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching values that contain ``text`` literally (lower-cased).

    ``%`` and ``_`` in the text are matched as themselves, not as wildcards; use the
    pattern with ``escape=LIKE_ESCAPE``.
    """
    escaped = "".join(LIKE_ESCAPE + c if c in "%_" + LIKE_ESCAPE else c for c in text.lower())
    return f"%{escaped}%"


def _conditions(resource: Resource, filters: Mapping[str, Any], q: str | None) -> list[Any]:
    conditions: list[ColumnElement[bool]] = []
    for name, value in filters.items():
        if value is None:
            continue
        if name not in resource.filters:
            hint = did_you_mean(name, resource.filters)
            raise InvalidInputError([(name, value, f"is not a filter of {resource.noun}.{hint}")])
        column = resource.filters[name]
        conditions.append(column == filter_value(name, column, value))
    if q and unstorable(q):
        raise InvalidInputError([("q", q, unstorable(q) or "")])
    if q and resource.search:
        conditions.append(text_search(q, resource.search))
    return conditions


def filter_value(name: str, column: Any, value: Any) -> Any:
    """A filter's value as its column's type (query strings arrive as text).

    Raises:
        InvalidInputError: the value is not of the column's type, naming the filter.
    """
    kind = column.type
    if isinstance(kind, Boolean):
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise InvalidInputError([(name, value, "expected true or false")])
    if isinstance(kind, Integer):
        try:
            number = value if isinstance(value, int) else int(str(value).strip())
        except ValueError:
            number = None
        if number is None or isinstance(number, bool) or abs(number) > MAX_ID:
            raise InvalidInputError([(name, value, f"expected a whole number up to {MAX_ID}")])
        return number
    text = str(value)
    if unstorable(text):
        raise InvalidInputError([(name, value, unstorable(text) or "")])
    return text


def _order(resource: Resource, sort: str) -> list[Any]:
    name = sort.removeprefix("-")
    if name not in resource.sortable:
        expected = f"expected one of {', '.join(resource.sortable)} (prefix - for descending)."
        raise InvalidInputError([("sort", sort, expected + did_you_mean(name, resource.sortable))])
    column = getattr(resource.model, name)
    return [column.desc() if sort.startswith("-") else column.asc(), resource.model.id]
