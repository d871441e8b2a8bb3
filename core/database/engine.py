"""One engine (and pool) per database URL per process."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from core.errors import DatabaseError
from core.models.base import AUDIT_SCHEMA

_ENGINES: dict[tuple[int, str, float], Engine] = {}
_LOCK = threading.Lock()
# How long a statement waits for a locked database (SQLite) before it fails.
DEFAULT_LOCK_TIMEOUT = 30.0


def get_engine(url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Engine:
    """The process's engine for a URL, built on first use.

    Engines are keyed by process id too, so a forked worker never shares a pool
    with its parent.

    Args:
        url: the database URL.
        lock_timeout: seconds a statement waits for a lock (SQLite's busy timeout) or
            to connect (PostgreSQL) before failing; the DAG file waits less than
            Airflow's import timeout, so that it can fall back on the last good DAGs.
    """
    key = (os.getpid(), url, lock_timeout)
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = build_engine(url, lock_timeout)
        return _ENGINES[key]


def dispose_engines() -> None:
    """Close every pooled connection of this process (tests, shutdown)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def build_engine(url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Engine:
    """A new engine for a URL, with CORE's per-dialect settings.

    SQLite gets foreign keys switched on, the ``auditing`` schema mapped onto the
    main database, and a single shared connection when it lives in memory. A SQLite
    file is opened read-write only, never created: should it vanish (moved, deleted),
    a new connection fails saying so instead of creating an empty database in its
    place. Creating one is explicit (:func:`create_sqlite_file`).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect = {"connect_timeout": max(1, round(lock_timeout))}
        return create_engine(url, pool_pre_ping=True, connect_args=connect)
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if parsed.database in (None, "", ":memory:"):
        options["poolclass"] = StaticPool
    else:
        options["creator"] = _existing_file(Path(parsed.database).expanduser())
    engine = create_engine(url, **options)
    milliseconds = round(lock_timeout * 1000)
    event.listen(engine, "connect", lambda c, r: _sqlite_on_connect(c, r, milliseconds))
    return engine.execution_options(schema_translate_map=schema_translation(engine))


def _existing_file(path: Path) -> Callable[[], sqlite3.Connection]:
    uri = f"file:{quote(str(path.resolve()))}?mode=rw"

    def connect() -> sqlite3.Connection:
        try:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.OperationalError as exc:
            if path.exists():
                raise
            raise sqlite3.OperationalError(
                f"the database file {path} does not exist (moved or deleted?)"
            ) from exc

    return connect


def sqlite_file_missing(url: str) -> bool:
    """Whether a URL names a SQLite file that does not exist."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).expanduser().exists()


def create_sqlite_file(url: str) -> None:
    """Create the (empty) file of a SQLite URL if it is missing; other URLs are left alone.

    Only what creates a database on purpose calls this (``core db upgrade``, the
    embedded database's first use): engines never create files on their own.
    """
    if sqlite_file_missing(url):
        path = Path(make_url(url).database or "").expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()


def schema_translation(engine_or_connection: Any) -> dict[str | None, str | None]:
    """SQLite has no schemas: the audit table lives in the main database there."""
    if engine_or_connection.dialect.name == "sqlite":
        return {AUDIT_SCHEMA: None}
    return {}


def _sqlite_on_connect(connection: sqlite3.Connection, _record: Any, milliseconds: int) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(milliseconds)}")
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
