"""Create, read, update and delete configuration rows, with validation where data enters.

Each kind of row is described once by a :class:`Resource`; the functions here
work for all of them, so the API, the UI and the tests share one behaviour:

- every value is set through the model, whose validators check names, cron
  expressions and graph orders, and every problem is collected before anything
  is written (:class:`InvalidInputError` names each field, value and rule);
- references to other rows and unique names are checked in one query each;
- a failed change leaves nothing behind (the session is rolled back);
- an update that names a stale ``version`` is a conflict, not a lost update.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, String, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    VersionRequiredError,
    did_you_mean,
)
from core.models.base import Base
from core.settings import Settings

Problem = tuple[str, object, str]

# Ids are INTEGER columns: PostgreSQL's int4. A larger id cannot exist (and SQLite
# refuses to bind integers beyond 64 bits), so it is answered as "not found".
MAX_ID = 2**31 - 1
# How deep a JSON value (variables, variable structures) may nest: far beyond any real
# configuration, far below what the JSON encoder and the database can take.
MAX_NESTING = 64


def unstorable(value: Any) -> str | None:
    """Why no database column can hold a value, or None when one can.

    PostgreSQL refuses NUL characters in text and JSON, JSON has no NaN or
    Infinity, UTF-8 cannot carry a lone surrogate (``"\\ud800"``, valid JSON), and
    nothing is nested deeper than MAX_NESTING; nested objects and lists are looked
    into (without recursion, so no depth makes this fail).

    Returns:
        A sentence saying what is wrong, or None.
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_NESTING:
            return f"must not be nested more than {MAX_NESTING} levels deep"
        problem = _unstorable_scalar(item)
        if problem:
            return problem
        if isinstance(item, dict):
            pending.extend((part, depth + 1) for pair in item.items() for part in pair)
        elif isinstance(item, list | tuple):
            pending.extend((part, depth + 1) for part in item)
    return None


def _unstorable_scalar(value: Any) -> str | None:
    if isinstance(value, str):
        if "\x00" in value:
            return "must not contain NUL (\\x00) characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text (it holds a lone surrogate such as \\ud800)"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, not {value}"
    return None


def valid_id(value: Any) -> bool:
    """Whether a value can be the id of a row (a whole number from 1 to MAX_ID)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


@dataclass(frozen=True)
class Resource:
    """How one kind of configuration row is listed, checked and changed.

    Attributes:
        noun: how messages name one row ("brand").
        model: the mapped class.
        fields: the columns a client may set.
        references: field -> the mapped class its id must exist in.
        unique: groups of fields whose values no two rows may share.
        sortable: the fields a list may be sorted by.
        filters: query parameter -> column a list may be filtered on (equality).
        search: columns a text search looks in.
        options: loader options that fetch what a response shows in the same query.
        deactivate: a boolean field that DELETE clears instead of deleting the row.
        setters: fields that are not columns: name -> ``setter(session, row, value)``,
            which raises ConfigurationError for a bad value.
        redacted: fields whose values never appear in errors (passwords).
        before_save: ``hook(session, row, settings)`` returning more problems for a row
            about to be saved (checks that need the whole row).
        guard: ``guard(session, row, values)`` returning the problems of a change that
            would break other rows or history, seen before anything is assigned (the row
            as stored, the values as sent); see core.service.guards.
        before_delete: ``hook(session, row)`` raising ConflictError for a delete that
            would take other rows along.
        invariant: ``check(session)`` -> what is wrong with the configuration as a whole
            that a change of this kind of row can break in *other* pipelines (their
            dataset schedules). Run before the change and again once it is flushed (not
            committed); what is wrong only after is the change's fault, and refused.
        invariant_fields: the fields a refusal of the invariant is tied to: the first
            one the client sent (else the first).
    """

    noun: str
    model: type[Base]
    fields: tuple[str, ...]
    references: Mapping[str, type[Base]] = field(default_factory=dict)
    unique: tuple[tuple[str, ...], ...] = ()
    sortable: tuple[str, ...] = ("id",)
    filters: Mapping[str, Any] = field(default_factory=dict)
    search: tuple[Any, ...] = ()
    options: tuple[Any, ...] = ()
    deactivate: str | None = None
    setters: Mapping[str, Callable[[Session, Any, Any], None]] = field(default_factory=dict)
    redacted: tuple[str, ...] = ()
    before_save: Callable[[Session, Any, Settings | None], list[Problem]] | None = None
    guard: Callable[[Session, Any, Mapping[str, Any]], list[Problem]] | None = None
    before_delete: Callable[[Session, Any], None] | None = None
    invariant: Callable[[Session], set[str]] | None = None
    invariant_fields: tuple[str, ...] = ("id",)


def get_row(session: Session, resource: Resource, row_id: int) -> Any:
    """The row with this id.

    Raises:
        NotFoundError: there is none.
    """
    if not valid_id(row_id):
        raise NotFoundError(f"no {resource.noun} with id {row_id}")
    query = select(resource.model).where(resource.model.id == row_id)
    row = session.scalars(query.options(*resource.options)).unique().one_or_none()
    if row is None:
        raise NotFoundError(f"no {resource.noun} with id {row_id}")
    return row


def create_row(
    session: Session,
    resource: Resource,
    values: Mapping[str, Any],
    settings: Settings | None = None,
) -> Any:
    """Validate and insert a row; committed, or nothing written.

    Args:
        settings: CORE's settings, for checks that read files (notebook parameters).

    Raises:
        InvalidInputError: every problem with the values, each naming its field.
    """
    row = resource.model()
    return _save(session, resource, row, values, settings, adding=True)


def update_row(
    session: Session,
    resource: Resource,
    row_id: int,
    values: Mapping[str, Any],
    version: int | None = None,
    settings: Settings | None = None,
) -> Any:
    """Validate and apply a partial update; committed, or nothing written.

    Args:
        version: the version the client read; required for versioned rows (pipelines,
            transformations); a newer stored one is a conflict.
        settings: CORE's settings, for checks that read files (notebook parameters).

    Raises:
        NotFoundError: no such row.
        VersionRequiredError: the row is versioned and ``version`` is missing.
        ConflictError: the row changed since the client read ``version``.
        InvalidInputError: every problem with the values.
    """
    row = get_row(session, resource, row_id)
    check_version(resource, row, version)
    return _save(session, resource, row, values, settings, adding=False)


def delete_row(session: Session, resource: Resource, row_id: int, permanently: bool = False) -> Any:
    """Delete a row (or deactivate it, for resources that keep their rows, unless
    ``permanently``).

    Raises:
        NotFoundError: no such row.
        ConflictError: other rows still refer to it (the message names them).
    """
    row = get_row(session, resource, row_id)
    if resource.before_delete:
        try:
            resource.before_delete(session, row)
        except ConflictError:
            session.rollback()
            raise
    if resource.deactivate and not permanently:
        setattr(row, resource.deactivate, False)
        return commit(session, f"{resource.noun} {row_id}")
    referrers = _referrers(session, resource, row_id)
    if referrers:
        session.rollback()
        raise ConflictError(
            f"{resource.noun} {row_id} cannot be deleted while other rows refer to it "
            f"({', '.join(referrers)}); delete them or point them elsewhere first"
        )
    held = resource.invariant(session) if resource.invariant else set()
    session.delete(row)
    broken = _broken(session, resource, held, deleting=True)
    if broken:
        session.rollback()
        raise ConflictError(f"{resource.noun} {row_id} cannot be deleted: {'; '.join(broken)}")
    commit(session, f"{resource.noun} {row_id}", deleting=True)
    return row


def check_version(resource: Resource, row: Any, version: int | None) -> None:
    """Refuse an update of a versioned row that is not made from its latest read.

    Pipelines and transformations carry a ``version``: an update must name the one it
    was made from, so that two editors never overwrite each other unawares.

    Raises:
        VersionRequiredError: the row is versioned and ``version`` is missing.
        ConflictError: ``version`` is not the stored one (naming who saved it and when).
    """
    stored = getattr(row, "version", None)
    if stored is None:
        return
    if version is None:
        raise VersionRequiredError(
            f"{resource.noun} {row.id}: an update must name the version it was made from; "
            f"send `version` with the value from your last read of {resource.noun} {row.id} "
            "(updates without it are refused so that no one's change is lost)"
        )
    if version != stored:
        when = f"{_utc(row.updated_at):%Y-%m-%d %H:%M:%S} UTC" if row.updated_at else "lately"
        raise ConflictError(
            f"{resource.noun} {row.id} changed since you read it: {row.last_actor or 'someone'} "
            f"saved version {stored} at {when} (you have version {version}); reload it and "
            "apply your change again"
        )


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were stored in UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def commit(session: Session, what: str, deleting: bool = False) -> Any:
    """Commit, turning database refusals into CORE errors (rolled back).

    Raises:
        ConflictError: a stale version, or rows still refer to a deleted one.
    """
    with _refusals(session, what, deleting):
        session.commit()
    return None


@contextmanager
def _refusals(session: Session, what: str, deleting: bool) -> Iterator[None]:
    """Turn the database's refusal of a flush or commit into a ConflictError (rolled back)."""
    try:
        yield
    except StaleDataError as exc:
        session.rollback()
        raise ConflictError(
            f"{what} was changed by someone else while you edited it; reload it and retry"
        ) from exc
    except IntegrityError as exc:
        session.rollback()
        reason = "other rows still refer to it" if deleting else "it breaks a database rule"
        raise ConflictError(f"{what} cannot be saved: {reason} ({exc.orig})") from exc


def _save(
    session: Session,
    resource: Resource,
    row: Any,
    values: Mapping[str, Any],
    settings: Settings | None,
    adding: bool,
) -> Any:
    held = resource.invariant(session) if resource.invariant else set()
    if adding:
        session.add(row)  # setters may need the row in the session (relationships)
    with session.no_autoflush:  # nothing reaches the database before every check passed
        problems = resource.guard(session, row, values) if resource.guard else []
        problems += _problems(session, resource, row, values, settings, adding)
    if not problems:
        sent = [f for f in resource.invariant_fields if f in values] or resource.invariant_fields
        problems = [(sent[0], values.get(sent[0]), m) for m in _broken(session, resource, held)]
    if problems:
        session.rollback()
        raise InvalidInputError(problems)
    commit(session, f"{resource.noun} {getattr(row, 'id', None) or '(new)'}")
    return get_row(session, resource, row.id)


def _broken(
    session: Session, resource: Resource, held: set[str], deleting: bool = False
) -> list[str]:
    """What the pending change breaks of the resource's invariant (flushed, not committed)."""
    if resource.invariant is None:
        return []
    with _refusals(session, resource.noun, deleting):
        session.flush()
    return sorted(resource.invariant(session) - held)


def _problems(
    session: Session,
    resource: Resource,
    row: Any,
    values: Mapping[str, Any],
    settings: Settings | None,
    adding: bool,
) -> list[Problem]:
    problems = _assign(session, resource, row, values)
    unusable = _missing_references(session, resource, values)
    if adding:
        unusable += [(f, None, "is required") for f in _required(resource, values)]
    if unusable:  # the checks below need every referenced row and required value
        return problems + unusable
    problems += _taken(session, resource, row)
    # Every problem at once: the checks of the whole row run even when a field was refused
    # (each refused field keeps its stored value, or none), unless a setter's field was.
    refused = {field for field, _value, _message in problems}
    if resource.before_save and not refused & set(resource.setters):
        seen = {(field, message) for field, _value, message in problems}
        more = resource.before_save(session, row, settings)
        problems += [p for p in more if (p[0], p[2]) not in seen]
    # Whole-row checks (variables, the pipeline, path confinement) go in before_save.
    return problems


def _assign(
    session: Session, resource: Resource, row: Any, values: Mapping[str, Any]
) -> list[Problem]:
    problems: list[Problem] = []
    known = (*resource.fields, *resource.setters)
    for name, value in values.items():
        if name not in known:
            hint = did_you_mean(name, known)
            problems.append((name, value, f"is not a field of {resource.noun}.{hint}"))
            continue
        shown = "(redacted)" if name in resource.redacted else value
        if unstorable(value):
            problems.append((name, shown, unstorable(value) or ""))
            continue
        try:
            if name in resource.setters:
                resource.setters[name](session, row, value)
            else:
                setattr(row, name, value)
        except ConfigurationError as exc:
            problems.append((name, shown, str(exc)))
        else:  # checked as stored: a validator may change a value (emails are lower-cased)
            refused = None if name in resource.setters else _column_refuses(resource, row, name)
            if refused:
                problems.append((name, shown, refused))
    return problems


def _column_refuses(resource: Resource, row: Any, name: str) -> str | None:
    """Why the column ``name`` cannot hold the row's value (null, length, range), or None."""
    column, value = resource.model.__table__.columns[name], getattr(row, name)
    if value is None:
        return None if column.nullable else "must not be null"
    if isinstance(column.type, String) and isinstance(value, str):
        length = column.type.length
        if length is not None and len(value) > length:
            return f"is {len(value)} characters long: expected at most {length}"
    if isinstance(column.type, Integer) and isinstance(value, int) and abs(value) > MAX_ID:
        return f"is out of range: expected at most {MAX_ID}"
    return None


def _required(resource: Resource, values: Mapping[str, Any]) -> list[str]:
    columns = resource.model.__table__.columns
    return [
        name
        for name in resource.fields
        if name not in values
        and not columns[name].nullable
        and columns[name].default is None
        and columns[name].server_default is None
    ]


def _missing_references(
    session: Session, resource: Resource, values: Mapping[str, Any]
) -> list[Problem]:
    problems: list[Problem] = []
    for name, model in resource.references.items():
        value = values.get(name)
        if value is None or (isinstance(value, int) and abs(value) > MAX_ID):
            continue  # absent, or already refused as out of range
        if not valid_id(value) or session.get(model, value) is None:
            problems.append((name, value, f"no {model.__tablename__} row has id {value}"))
    return problems


def _referrers(session: Session, resource: Resource, row_id: int) -> list[str]:
    """What still refers to a row through a foreign key that forbids deleting it."""
    table = resource.model.__table__
    found: list[str] = []
    for other in table.metadata.sorted_tables:
        for key in other.foreign_keys:
            if key.column.table is not table or (key.ondelete or "").upper() in (
                "CASCADE",
                "SET NULL",
            ):
                continue
            count = session.scalar(
                select(func.count()).select_from(other).where(key.parent == row_id)
            )
            if count:
                found.append(f"{count} row{'s' if count > 1 else ''} of {other.name}")
    return found


def _taken(session: Session, resource: Resource, row: Any) -> list[Problem]:
    if not resource.unique:
        return []
    model = resource.model
    clauses = [
        and_(*(getattr(model, f) == getattr(row, f) for f in group)) for group in resource.unique
    ]
    query = select(model).where(or_(*clauses))
    if row.id is not None:
        query = query.where(model.id != row.id)
    others = session.scalars(query).all()
    problems: list[Problem] = []
    for group in resource.unique:
        if any(all(getattr(o, f) == getattr(row, f) for f in group) for o in others):
            name = group[-1]
            problems.append(
                (name, getattr(row, name), f"another {resource.noun} already has this {name}")
            )
    return problems
