"""One locked in-memory DuckDB database per process, lent out a connection at a time;
and, for a query over Parquet files DuckDB reads itself, a database locked to those files.

Opening a DuckDB database costs 15-25 ms (its catalog, extensions and thread pool);
a standard transform opens several (its query, date formats, each dataset check,
the parser of a SQL variable), so a task paid it up to six times. A cursor of a
database that is already open costs microseconds (docs/performance.md, "Where a warm
task's time went").

Each use gets a connection of its own (``cursor()``): the Arrow tables it registers
are views of that connection only and go with it, and ``interrupt()`` stops its
query alone. The database holds no table between uses: the SQL that reaches it
(a transform's query, a check's) is one SELECT, checked before it runs, and the
configuration is locked (no files, no network, no ``SET`` back to them).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

# lock_configuration: a query cannot SET its way back to files or the network
LOCKED = {"enable_external_access": False, "lock_configuration": True}

_lock = threading.Lock()
# The databases this process keeps, with the pid that opened them: "shared" (the locked
# one) and "spare" (opened ahead for the next reading()).
_database: dict[str, tuple[int, Any]] = {}
# A database inherited through a fork is never closed in the child: its threads
# stayed in the parent, and closing it would wait for them.
_inherited: list[Any] = []


@contextmanager
def locked_duckdb() -> Iterator[duckdb.DuckDBPyConnection]:
    """A new connection to this process's locked in-memory database, closed after use."""
    with _cursor() as connection:
        yield connection


@contextmanager
def reading(files: list[str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A new in-memory database that may read these files and nothing else, closed after use.

    Each file is allowed by its path (``allowed_paths``, which DuckDB takes only while
    external access is on), then external access is turned off and the configuration
    locked: a query can read those files, and no other file, write none, reach no
    network and not SET its way back. A database of its own (12-30 ms to open, done
    ahead by :func:`prepare_reading` in a worker waiting for its turn), as the process's
    shared one is locked from its start.

    Args:
        files: absolute paths of the files (core.lake.run_files).
    """
    database = _spare()
    try:
        database.execute("SET allowed_paths = ?", [files])
        database.execute("SET enable_external_access = false")
        database.execute("SET lock_configuration = true")
        yield database
    finally:
        database.close()


def prepare_reading() -> None:
    """Open the database the next :func:`reading` of this process locks to its files.

    For a worker that waits for its turn (core.transforms.runtime.prepare_worker): no
    SQL reaches it before :func:`reading` has locked it.
    """
    import duckdb

    with _lock:
        earlier = _take("spare")
        if earlier is not None:
            earlier.close()
        _database["spare"] = (os.getpid(), duckdb.connect())


def _spare() -> duckdb.DuckDBPyConnection:
    """The database :func:`prepare_reading` opened in this process, else a new one."""
    import duckdb

    with _lock:
        spare = _take("spare")
    return spare if spare is not None else duckdb.connect()


def _take(key: str) -> duckdb.DuckDBPyConnection | None:
    """The database kept under ``key`` if this process opened it, removed from the keep.

    One a forked child inherited is never closed here (see ``_inherited``). The caller
    holds ``_lock``.
    """
    kept = _database.pop(key, None)
    if kept is None:
        return None
    pid, database = kept
    if pid == os.getpid():
        return database
    _inherited.append(database)
    return None


def _cursor() -> duckdb.DuckDBPyConnection:
    # Under the lock: a DuckDB connection object is not for two threads at once, and
    # every thread of a process (the API's, a worker's watcher) makes its cursors here.
    with _lock:
        return _shared().cursor()


def _shared() -> duckdb.DuckDBPyConnection:
    """This process's database (the caller holds ``_lock``)."""
    import duckdb

    shared = _take("shared")  # none at first use, nor in a forked child
    if shared is None:
        shared = duckdb.connect(config=LOCKED)
    _database["shared"] = (os.getpid(), shared)
    return shared
