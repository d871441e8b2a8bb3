"""Alembic, driven from CORE: upgrade, downgrade, current, revision.

The same migrations serve PostgreSQL (with triggers) and SQLite (the embedded
dev database). Callers pass a URL; the engine comes from :mod:`core.database.engine`.
"""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError

from core.database.engine import create_sqlite_file, get_engine, sqlite_file_missing
from core.database.revision import safe_url
from core.errors import DatabaseError

DATABASE_DIR = Path(__file__).resolve().parent


def alembic_config(output: io.StringIO | None = None) -> Config:
    """Alembic's Config for CORE's migrations, independent of the working directory."""
    config = Config(str(DATABASE_DIR / "alembic.ini"), stdout=output or io.StringIO())
    config.set_main_option("script_location", str(DATABASE_DIR))
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "core/database/versions holds no migration"
    return head


def current_revision(url: str) -> str | None:
    """The revision the database is at (None when it was never migrated, or is a missing
    SQLite file, which is not created by asking).

    Raises:
        DatabaseError: the database cannot be reached.
    """
    if sqlite_file_missing(url):
        return None
    try:
        with get_engine(url).connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot read the revision of {safe_url(url)}: {exc}") from exc


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database up to a revision (default: the newest); a new SQLite file is made."""
    create_sqlite_file(url)
    _run(url, "upgrade", revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to a revision ('base' removes everything)."""
    _run(url, "downgrade", revision)


def revision(url: str, message: str, autogenerate: bool = False) -> list[Path]:
    """Write a new migration file; with autogenerate, from the models' difference.

    Returns:
        The paths of the files written.
    """
    config = alembic_config()
    create_sqlite_file(url)
    try:
        with get_engine(url).begin() as connection:
            config.attributes["connection"] = connection
            scripts = command.revision(config, message=message, autogenerate=autogenerate)
    except (SQLAlchemyError, CommandError) as exc:
        raise DatabaseError(f"cannot autogenerate against {safe_url(url)}: {exc}") from exc
    scripts = scripts if isinstance(scripts, list) else [scripts]
    return [Path(script.path) for script in scripts if script is not None]


def _run(url: str, verb: str, target: str) -> None:
    config = alembic_config()
    try:
        with get_engine(url).begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, verb)(config, target)
    except (SQLAlchemyError, CommandError) as exc:
        raise DatabaseError(f"{verb} to {target} failed on {safe_url(url)}: {exc}") from exc
