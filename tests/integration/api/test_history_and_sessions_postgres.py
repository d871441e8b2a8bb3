"""Issue 17 items 4 and 6 on PostgreSQL: the same tests as on SQLite, on a real cluster.

Configuration changes that would rewrite history or break pipelines, and sessions that
end, behave the same where uat and prod run: the tests of
``tests/unit/api/test_history.py`` and ``tests/unit/api/test_sessions_end.py`` run here
against a migrated, seeded PostgreSQL database (audited by triggers).
"""

from __future__ import annotations

import pytest

from core.database import migrate
from core.database.engine import get_engine
from core.database.seed import load_world as seed_world
from core.database.seed import sample_world
from core.helpers.session_helper import make_session
from core.settings import Settings, load_settings
from tests.unit.api.test_history import *  # noqa: F403 - the tests, run again here
from tests.unit.api.test_sessions_end import *  # noqa: F403 - the tests, run again here

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(core_env: object, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Dev settings on a migrated PostgreSQL database holding the sample configuration."""
    migrate.upgrade(postgres_url)
    with make_session(get_engine(postgres_url), actor="seed") as session:
        seed_world(session, sample_world())
        session.commit()
    monkeypatch.setenv("CORE_DATABASE_URL", postgres_url)
    return load_settings()
