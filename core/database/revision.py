"""Which migration a database is at, and which the code expects, without importing alembic.

Every worker checks this when it opens a session; alembic's import alone costs a
third of a second, so the head is read from the migration files directly (a test
keeps this in step with alembic's own answer).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from core.database.engine import DEFAULT_LOCK_TIMEOUT, get_engine, sqlite_file_missing
from core.errors import DatabaseError

VERSIONS = Path(__file__).resolve().parent / "versions"
_REVISION = re.compile(r'^revision(?:: str)? = ["\']([^"\']+)["\']', re.MULTILINE)
_DOWN = re.compile(r'^down_revision[^=]*= (?:["\']([^"\']+)["\']|None)', re.MULTILINE)


@cache
def code_head() -> str:
    """The newest revision in core/database/versions (the one no other revises).

    Raises:
        DatabaseError: the migrations do not form one line (several heads, or none).
    """
    revisions, parents = set(), set()
    for path in VERSIONS.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision:
            revisions.add(revision.group(1))
        if down and down.group(1):
            parents.add(down.group(1))
    heads = sorted(revisions - parents)
    if len(heads) != 1:
        raise DatabaseError(
            f"core/database/versions has {len(heads)} heads ({', '.join(heads) or 'none'}); "
            "expected one: merge them with `alembic merge heads`"
        )
    return heads[0]


def database_revision(url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> str | None:
    """The revision stamped in the database (None when it was never migrated, or is a
    missing SQLite file: asking never creates one).

    Args:
        lock_timeout: seconds to wait for a locked or unreachable database.

    Raises:
        DatabaseError: the database cannot be reached.
    """
    if sqlite_file_missing(url):
        return None
    try:
        with get_engine(url, lock_timeout).connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot read the revision of {safe_url(url)}: {exc}") from exc


def safe_url(url: str) -> str:
    """A URL fit for messages: the password hidden (or the whole URL, if unparseable)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the configured database (an unparseable URL)"
