"""Migrations on a real PostgreSQL cluster (started by the tests) and on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import core.models.configuration as config
from core.database import migrate
from core.database.engine import get_engine, metadata_for, schema_translation
from core.helpers.session_helper import make_session

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'configuration.db'}"
    return request.getfixturevalue("postgres_url")


def _tables(url: str) -> set[str]:
    inspector = sa.inspect(get_engine(url))
    tables = set(inspector.get_table_names())
    if get_engine(url).dialect.name == "postgresql" and "auditing" in inspector.get_schema_names():
        tables |= {f"auditing.{t}" for t in inspector.get_table_names(schema="auditing")}
    return tables - {"alembic_version"}


def test_upgrade_to_head_and_down_to_base(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert {"pipelines", "transformations", "task_runs", "administrators"} <= _tables(database_url)
    migrate.downgrade(database_url, "base")
    assert migrate.current_revision(database_url) is None
    assert _tables(database_url) == set()
    migrate.upgrade(database_url)  # and up again: the downgrade left nothing behind
    assert migrate.current_revision(database_url) == migrate.head_revision()


def test_stepping_down_and_up_one_revision_keeps_the_configuration(database_url: str) -> None:
    from core.database.seed import load_world, sample_world

    migrate.upgrade(database_url)
    with _session(database_url, "test") as session:
        load_world(session, sample_world())
        session.commit()
    counts = _counts(database_url)
    assert counts["transformations"] > 0
    migrate.downgrade(database_url, "-1")
    assert _counts(database_url) == counts  # a table rebuild must not cascade deletes
    migrate.upgrade(database_url)
    assert _counts(database_url) == counts
    with get_engine(database_url).connect() as connection:
        versions = connection.execute(sa.text("SELECT DISTINCT version FROM pipelines")).all()
    assert versions == [(1,)]


def _counts(url: str) -> dict[str, int]:
    tables = ("pipelines", "pipeline_states", "transformations", "transformation_variables")
    with get_engine(url).connect() as connection:
        return {
            t: connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables
        }


def test_autogenerate_finds_no_difference(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = get_engine(database_url)
    with engine.connect() as connection:
        connection = connection.execution_options(
            schema_translate_map=schema_translation(connection)
        )
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_schemas": engine.dialect.name == "postgresql",
                "include_name": lambda name, type_, _: (
                    type_ != "schema" or name in (None, "auditing")
                ),
            },
        )
        assert compare_metadata(context, metadata_for(connection, config.Base.metadata)) == []


def _session(url: str, actor: str):
    return make_session(get_engine(url), actor)


def test_updated_at_trigger_stamps_changes_made_outside_the_orm(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    with get_engine(postgres_url).begin() as connection:
        connection.execute(sa.text("INSERT INTO segments (name) VALUES ('Oncology')"))
        created = connection.execute(sa.text("SELECT updated_at FROM segments")).scalar_one()
    time.sleep(0.01)
    with get_engine(postgres_url).begin() as connection:
        connection.execute(sa.text("UPDATE segments SET name = 'Rare'"))
        updated = connection.execute(sa.text("SELECT updated_at FROM segments")).scalar_one()
    assert updated > created


def test_audit_triggers_record_insert_update_delete_with_actor_and_images(
    postgres_url: str,
) -> None:
    migrate.upgrade(postgres_url)
    with _session(postgres_url, "ana@example.com") as session:
        segment = config.Segment(name="Oncology")
        session.add(segment)
        session.commit()
        segment.name = "Oncology & Rare"
        session.commit()
    with _session(postgres_url, "bob@example.com") as session:
        session.delete(session.scalars(sa.select(config.Segment)).one())
        session.commit()
    with _session(postgres_url, "reader") as session:
        events = session.scalars(
            sa.select(config.AuditEvent)
            .where(config.AuditEvent.table_name == "segments")
            .order_by(config.AuditEvent.id)
        ).all()
    assert [(e.action, e.actor) for e in events] == [
        ("INSERT", "ana@example.com"),
        ("UPDATE", "ana@example.com"),
        ("DELETE", "bob@example.com"),
    ]
    inserted, updated, deleted = events
    assert inserted.before is None and inserted.after["name"] == "Oncology"
    assert (updated.before["name"], updated.after["name"]) == ("Oncology", "Oncology & Rare")
    assert deleted.after is None and deleted.before["name"] == "Oncology & Rare"
    assert deleted.before["last_actor"] == "ana@example.com"  # the row's, not the deleter's


def test_changes_outside_core_are_audited_as_the_database_user(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    with get_engine(postgres_url).begin() as connection:
        connection.execute(sa.text("INSERT INTO tags (name) VALUES ('psql')"))
        actor = connection.execute(sa.text("SELECT actor FROM auditing.events")).scalar_one()
    assert actor == "postgres"


def test_constraints_hold_on_postgresql(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    with _session(postgres_url, "ana") as session:
        session.add_all([config.Segment(name="S"), config.Segment(name="S")])
        with pytest.raises(sa.exc.IntegrityError, match="uq_segments_name"):
            session.commit()
        session.rollback()
        with pytest.raises(sa.exc.IntegrityError, match="graph_order_non_negative"):
            session.execute(
                sa.text("INSERT INTO pipeline_state_types (name, graph_order) VALUES ('raw', -1)")
            )


def test_alembic_command_line_as_the_dev_guide_shows(postgres_url: str) -> None:
    # `cd core/database && alembic upgrade head`, the database chosen by CORE's settings.
    env = {**os.environ, "CORE_DATABASE_URL": postgres_url, "CORE_ENVIRONMENT": "dev"}
    alembic = str(Path(sys.executable).with_name("alembic"))
    result = subprocess.run(
        [alembic, "upgrade", "head"],
        cwd=ROOT / "core" / "database",
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert migrate.current_revision(postgres_url) == migrate.head_revision()
    result = subprocess.run(
        [alembic, "current"],
        cwd=ROOT / "core" / "database",
        env=env,
        capture_output=True,
        text=True,
    )
    assert migrate.head_revision() in result.stdout


def test_core_db_against_postgresql(postgres_url: str) -> None:
    env = {**os.environ, "CORE_DATABASE_URL": postgres_url}
    core = str(Path(sys.executable).with_name("core"))
    for argv in (["db", "upgrade"], ["db", "seed"], ["pipelines", "list"]):
        result = subprocess.run([core, *argv], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    assert "acme_zentrix_patient_status" in result.stdout


def test_the_fast_head_agrees_with_alembic() -> None:
    from core.database.revision import code_head

    assert code_head() == migrate.head_revision()


def test_the_fast_revision_agrees_with_alembic(database_url: str) -> None:
    from core.database.revision import database_revision

    assert database_revision(database_url) is None
    migrate.upgrade(database_url)
    assert database_revision(database_url) == migrate.current_revision(database_url)
