"""SessionHelper: a configuration-database session for the current environment.

    from core.helpers.session_helper import SessionHelper
    session = SessionHelper().session

dev uses the embedded SQLite file under CORE_HOME, migrated and seeded with the
sample configuration on first use; test uses an in-memory mock; uat and prod
use PostgreSQL from CORE_DATABASE_URL or the secret ``configuration_application``.
"""

from __future__ import annotations

import fcntl
import getpass
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from core.database.audit import CoreSession
from core.database.engine import (
    DEFAULT_LOCK_TIMEOUT,
    create_sqlite_file,
    get_engine,
    sqlite_file_missing,
)
from core.database.revision import code_head, database_revision, safe_url
from core.errors import DatabaseError
from core.settings import Settings, load_settings

_PREPARED: set[str] = set()
_PREPARE_LOCK = threading.Lock()


def default_actor() -> str:
    """Who a session acts for when nobody says: the operating-system user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def make_session(engine: Engine, actor: str | None = None) -> CoreSession:
    """A new session on an engine that stamps and audits as ``actor``."""
    factory = sessionmaker(bind=engine, class_=CoreSession)
    session = factory()
    session.info["actor"] = actor or default_actor()
    return session


def resolve_database_url(settings: Settings) -> str:
    """The configuration database's URL for these settings.

    Raises:
        SecretNotFoundError: uat/prod without CORE_DATABASE_URL and without the secret.
    """
    if settings.database_url:
        return settings.database_url
    if settings.environment == "dev":
        return settings.embedded_database_url
    if settings.environment == "test":
        return "sqlite://"
    from core.secret import Secret  # only uat and prod need the secrets backend

    secret = Secret(
        name="configuration_application",
        type_of="database",
        mode="write",
        env=settings.environment,
        settings=settings,
    )
    return secret.url


def prepare_database(
    settings: Settings, url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> None:
    """Make sure the database at ``url`` is usable, once per process.

    The embedded dev database is created, migrated to head and seeded with the
    sample configuration on first use, and CORE records that it did (a marker file
    beside it, see :func:`created_marker`). From then on a missing or empty embedded
    database is refused, never created and seeded again: it was moved or lost, and a
    fresh sample would replace the pipelines everyone expects. Any other database
    must already be at head (CORE never migrates a shared database behind its
    owners' back).

    Args:
        lock_timeout: seconds to wait for a locked database before failing.

    Raises:
        DatabaseError: the database is missing, empty, unreachable, locked or behind
            the code's migrations; the message says how to restore or re-create it.
    """
    with _PREPARE_LOCK:
        if url in _PREPARED:
            return
        if url == settings.embedded_database_url:
            _prepare_embedded(url, lock_timeout)
        else:
            _require_head(url, lock_timeout)
        _PREPARED.add(url)


def created_marker(database: Path) -> Path:
    """The file that records that CORE created (or has used) this embedded database."""
    return database.with_name(database.name + ".created")


def _prepare_embedded(url: str, lock_timeout: float) -> None:
    database = Path(make_url(url).database or "")
    database.parent.mkdir(parents=True, exist_ok=True)
    marker = created_marker(database)
    with _file_lock(database.with_suffix(".lock"), lock_timeout):
        known = marker.exists()
        if known and not database.exists():
            raise _lost(database, marker, "is missing")
        if not database.exists():
            create_sqlite_file(url)  # first use: engines never create files
        current = database_revision(url, lock_timeout)
        if known and current is None:
            raise _lost(database, marker, "is empty")
        if current != code_head():
            from core.database import migrate  # alembic: only when there is work to do

            migrate.upgrade(url)
        if current is None:
            with make_session(get_engine(url), "core") as session:
                from core.database.seed import load_world, sample_world

                load_world(session, sample_world())
                session.commit()
        if not known:
            marker.write_text(f"{database}\n", encoding="utf-8")


def _lost(database: Path, marker: Path, state: str) -> DatabaseError:
    return DatabaseError(
        f"the configuration database {database} {state}, but CORE created it before "
        f"(see {marker}): it was moved or deleted, and CORE will not replace it with the "
        "sample configuration. Restore it from a backup (or move it back), or re-create it "
        "on purpose with `core db upgrade` then `core db seed`"
    )


def _require_head(url: str, lock_timeout: float) -> None:
    _refuse_missing_file(url)
    current, head = database_revision(url, lock_timeout), code_head()
    if current is None:
        raise DatabaseError(
            f"the configuration database {safe_url(url)} is empty (no CORE tables): restore "
            "it from a backup, or create its tables with `core db upgrade` (and load the "
            "sample configuration with `core db seed`)"
        )
    if current != head:
        raise DatabaseError(
            f"the configuration database is at revision {current or 'none'}, but this code "
            f"expects {head}; run `core db upgrade` against it first"
        )


def _refuse_missing_file(url: str) -> None:
    """A configured SQLite file that does not exist (engines never create one)."""
    if sqlite_file_missing(url):
        raise DatabaseError(
            f"the configuration database {make_url(url).database} does not exist: restore it from "
            "a backup, or create it with `core db upgrade` (and `core db seed` for the "
            "sample configuration)"
        )


@contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    # Several worker processes may open the embedded database for the first time at once.
    # Waiting is bounded: a process stuck holding the lock must not hang the DAG file.
    deadline = time.monotonic() + timeout
    with path.open("w") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatabaseError(
                        f"the configuration database is being prepared by another process "
                        f"(it holds {path}) for more than {timeout:g} s; try again later"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SessionHelper:
    """A session on the configuration database of the current environment.

    Args:
        settings: the settings to use; loaded from the environment when omitted.
        actor: who the session's changes are recorded as (default: the OS user).
        lock_timeout: seconds to wait for a locked or unreachable database.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        actor: str | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.settings = settings or load_settings()
        if self.settings.environment == "test" and not self.settings.database_url:
            from core.helpers.configuration_mocker import ConfigurationMocker

            self._mocker: object | None = ConfigurationMocker(actor=actor)
            self._mocker.generate_mocks()
            self.session = self._mocker.get_session()
            return
        self._mocker = None
        url = resolve_database_url(self.settings)
        prepare_database(self.settings, url, lock_timeout)
        self.session = make_session(get_engine(url, lock_timeout), actor)

    def __enter__(self) -> CoreSession:
        return self.session

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the session (rolling back anything uncommitted)."""
        self.session.close()
