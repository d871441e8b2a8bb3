"""uat and prod reach PostgreSQL through the secret configuration_application."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

import core.models.configuration as config
from core.database import migrate
from core.errors import DatabaseError, SecretNotFoundError
from core.helpers import session_helper
from core.helpers.session_helper import SessionHelper
from core.secret import set_secret
from core.settings import load_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def uat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_helper, "_PREPARED", set())
    monkeypatch.setenv("CORE_ENVIRONMENT", "uat")
    monkeypatch.setenv("CORE_LAKE_ROOT", "s3://uat-lake")
    monkeypatch.setenv("CORE_SECRETS_BACKEND", "local")


def test_uat_reads_the_database_from_its_secret(uat, postgres_url: str) -> None:
    url = make_url(postgres_url)
    set_secret(
        "uat/database/configuration_application/write",
        {
            "user": url.username,
            "password": "unused-with-trust",
            "rdbms": "postgresql",
            "host": url.host,
            "port": url.port,
            "database": url.database,
        },
        load_settings(),
    )
    with pytest.raises(DatabaseError, match="core db upgrade"):
        SessionHelper()  # never migrated: refused, not migrated behind the owners' back
    migrate.upgrade(postgres_url)
    with SessionHelper(actor="ops@example.com") as session:
        session.add(config.Segment(name="Oncology"))
        session.commit()
        event = session.query(config.AuditEvent).one()
    assert (event.table_name, event.actor) == ("segments", "ops@example.com")


def test_uat_without_url_or_secret_names_what_was_tried(uat) -> None:
    with pytest.raises(SecretNotFoundError) as caught:
        SessionHelper()
    message = str(caught.value)
    assert "uat/database/configuration_application/write" in message
    assert "all/database/configuration_application/write" in message
