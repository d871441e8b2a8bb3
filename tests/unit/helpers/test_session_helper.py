from pathlib import Path

import pytest
from sqlalchemy import select

import core.models.configuration as config
from core.database import migrate
from core.errors import DatabaseError
from core.helpers import session_helper
from core.helpers.session_helper import SessionHelper, resolve_database_url
from core.settings import load_settings


@pytest.fixture(autouse=True)
def _forget_prepared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_helper, "_PREPARED", set())


def test_dev_creates_migrates_and_seeds_the_embedded_database(core_env: Path) -> None:
    with SessionHelper(actor="ana") as session:
        names = session.scalars(select(config.Pipeline.name).order_by(config.Pipeline.name)).all()
    assert (core_env / "configuration.db").exists()
    assert "acme_zentrix_patient_status" in names
    url = load_settings().embedded_database_url
    assert migrate.current_revision(url) == migrate.head_revision()


def test_seeding_happens_only_on_first_use(core_env: Path, monkeypatch) -> None:
    with SessionHelper() as session:
        session.add(config.Tag(name="mine"))
        session.delete(session.scalars(select(config.Pipeline)).first())
        session.commit()
        before = session.query(config.Pipeline).count()
    monkeypatch.setattr(session_helper, "_PREPARED", set())
    with SessionHelper() as session:
        assert session.query(config.Pipeline).count() == before
        assert session.query(config.Tag).filter_by(name="mine").count() == 1


def test_test_environment_uses_an_in_memory_mock(monkeypatch, core_env: Path) -> None:
    monkeypatch.setenv("CORE_ENVIRONMENT", "test")
    helper = SessionHelper()
    assert helper.session.query(config.TransformationTemplate).count() == 2
    assert not (core_env / "configuration.db").exists()


def test_context_manager_closes_the_session() -> None:
    helper = SessionHelper()
    with helper as session:
        session.add(config.Tag(name="uncommitted"))
    assert not helper.session.new  # closed: pending objects are gone


def test_a_database_behind_head_is_refused(tmp_path: Path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("CORE_DATABASE_URL", url)
    (tmp_path / "other.db").touch()  # a database without CORE's tables
    with pytest.raises(DatabaseError, match=r"is empty \(no CORE tables\).*`core db upgrade`"):
        SessionHelper()
    migrate.upgrade(url)
    monkeypatch.setattr(session_helper, "_PREPARED", set())
    assert SessionHelper().session.query(config.Pipeline).count() == 0  # not seeded


def test_database_url_resolution(tmp_path: Path) -> None:
    dev = load_settings({"CORE_HOME": str(tmp_path)}, tmp_path / "x.toml")
    assert resolve_database_url(dev) == f"sqlite:///{tmp_path / 'configuration.db'}"
    test = load_settings({"CORE_ENVIRONMENT": "test"}, tmp_path / "x.toml")
    assert resolve_database_url(test) == "sqlite://"
    prod = load_settings(
        {
            "CORE_ENVIRONMENT": "prod",
            "CORE_LAKE_ROOT": "s3://l",
            "CORE_DATABASE_URL": "postgresql+psycopg://u@h/db",
        },
        tmp_path / "x.toml",
    )
    assert resolve_database_url(prod) == "postgresql+psycopg://u@h/db"


def test_an_unreachable_database_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("CORE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    with pytest.raises(DatabaseError, match="cannot read the revision of postgresql"):
        SessionHelper()
