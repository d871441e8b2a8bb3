"""One engine (and pool) per database URL per process."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from core.errors import DatabaseError
from core.models.base import AUDIT_SCHEMA

_ENGINES: dict[tuple[int, str], Engine] = {}
_LOCK = threading.Lock()


def get_engine(url: str) -> Engine:
    """The process's engine for a URL, built on first use.

    Engines are keyed by process id too, so a forked worker never shares a pool
    with its parent.
    """
    key = (os.getpid(), url)
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = build_engine(url)
        return _ENGINES[key]


def dispose_engines() -> None:
    """Close every pooled connection of this process (tests, shutdown)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def build_engine(url: str) -> Engine:
    """A new engine for a URL, with CORE's per-dialect settings.

    SQLite gets foreign keys switched on, the ``auditing`` schema mapped onto the
    main database, and a single shared connection when it lives in memory.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if parsed.database in (None, "", ":memory:"):
        options["poolclass"] = StaticPool
    else:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **options)
    event.listen(engine, "connect", _sqlite_on_connect)
    return engine.execution_options(schema_translate_map=schema_translation(engine))


def schema_translation(engine_or_connection: Any) -> dict[str | None, str | None]:
    """SQLite has no schemas: the audit table lives in the main database there."""
    if engine_or_connection.dialect.name == "sqlite":
        return {AUDIT_SCHEMA: None}
    return {}


def _sqlite_on_connect(connection: sqlite3.Connection, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def metadata_for(engine_or_connection: Any, metadata: MetaData) -> MetaData:
    """The models' metadata as this database stores it (SQLite: no ``auditing`` schema).

    Autogenerate compares against this, so that SQLite does not see the audit
    table as missing.
    """
    translation = schema_translation(engine_or_connection)
    if not translation:
        return metadata
    translated = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(translated, schema=translation.get(table.schema, table.schema))
    return translated


def unreachable_reason(exc: BaseException) -> str | None:
    """Why the database could not be used, when ``exc`` is a lost or refused connection.

    Args:
        exc: an exception raised while using a session or connection.

    Returns:
        The driver's reason on one line (it names the host and port, never a password),
        or None when ``exc`` is not about reaching the database (a refused statement).
    """
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    lost = isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
    if not lost:
        return None
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


@contextmanager
def database_lost_means(after: str) -> Iterator[None]:
    """Turn a lost or refused configuration database into one DatabaseError saying what next.

    Args:
        after: what was left undone and how to carry on once the database is back;
            appended to the message.

    Raises:
        DatabaseError: the database could not be reached or used (the block's own
            DatabaseError, or a lost connection), its message ending with ``after``.
    """
    try:
        yield
    except DatabaseError as exc:  # e.g. unreachable when a session is first prepared
        raise DatabaseError(f"{exc}; {after}") from exc
    except Exception as exc:
        reason = unreachable_reason(exc)
        if reason is None:
            raise
        raise DatabaseError(
            f"the configuration database cannot be reached ({reason}); {after}"
        ) from exc
