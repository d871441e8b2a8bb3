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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from core.database.audit import CoreSession
from core.database.engine import get_engine
from core.database.revision import code_head, database_revision
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


def prepare_database(settings: Settings, url: str) -> None:
    """Make sure the database at ``url`` is usable, once per process.

    The embedded dev database is created, migrated to head and seeded with the
    sample configuration on first use; any other database must already be at
    head (CORE never migrates a shared database behind its owners' back).

    Raises:
        DatabaseError: the database is unreachable or behind the code's migrations.
    """
    with _PREPARE_LOCK:
        if url in _PREPARED:
            return
        if url == settings.embedded_database_url:
            _prepare_embedded(url)
        else:
            _require_head(url)
        _PREPARED.add(url)


def _prepare_embedded(url: str) -> None:
    database = Path(make_url(url).database or "")
    database.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(database.with_suffix(".lock")):
        current = database_revision(url)
        if current != code_head():
            from core.database import migrate  # alembic: only when there is work to do

            migrate.upgrade(url)
        if current is None:
            with make_session(get_engine(url), "core") as session:
                from core.database.seed import load_world, sample_world

                load_world(session, sample_world())
                session.commit()


def _require_head(url: str) -> None:
    current, head = database_revision(url), code_head()
    if current != head:
        raise DatabaseError(
            f"the configuration database is at revision {current or 'none'}, but this code "
            f"expects {head}; run `core db upgrade` against it first"
        )


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    # Several worker processes may open the embedded database for the first time at once.
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SessionHelper:
    """A session on the configuration database of the current environment.

    Args:
        settings: the settings to use; loaded from the environment when omitted.
        actor: who the session's changes are recorded as (default: the OS user).
    """

    def __init__(self, settings: Settings | None = None, actor: str | None = None) -> None:
        self.settings = settings or load_settings()
        if self.settings.environment == "test" and not self.settings.database_url:
            from core.helpers.configuration_mocker import ConfigurationMocker

            self._mocker: object | None = ConfigurationMocker(actor=actor)
            self._mocker.generate_mocks()
            self.session = self._mocker.get_session()
            return
        self._mocker = None
        url = resolve_database_url(self.settings)
        prepare_database(self.settings, url)
        self.session = make_session(get_engine(url), actor)

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
