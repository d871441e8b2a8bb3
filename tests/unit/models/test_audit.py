"""The audit trail on SQLite, written from ORM events (PostgreSQL: tests/integration)."""

from sqlalchemy import select

import core.models.configuration as config
from core.helpers.configuration_mocker import ConfigurationMocker


def _events(session, table: str) -> list[config.AuditEvent]:
    query = select(config.AuditEvent).where(config.AuditEvent.table_name == table)
    return list(session.scalars(query.order_by(config.AuditEvent.id)))


def test_insert_update_delete_are_recorded_with_actor_and_images() -> None:
    session = ConfigurationMocker(actor="ana@example.com").get_session()
    segment = config.Segment(name="Oncology")
    session.add(segment)
    session.commit()
    segment.name = "Oncology & Rare"
    session.commit()
    session.info["actor"] = "bob@example.com"
    session.delete(segment)
    session.commit()

    inserted, updated, deleted = _events(session, "segments")
    assert (inserted.action, inserted.actor, inserted.before) == ("INSERT", "ana@example.com", None)
    assert inserted.after["name"] == "Oncology"
    assert updated.action == "UPDATE"
    assert (updated.before["name"], updated.after["name"]) == ("Oncology", "Oncology & Rare")
    assert (deleted.action, deleted.actor, deleted.after) == ("DELETE", "bob@example.com", None)
    assert deleted.before["name"] == "Oncology & Rare"


def test_last_actor_is_stamped_from_the_session() -> None:
    session = ConfigurationMocker(actor="ana@example.com").get_session()
    tag = config.Tag(name="csv")
    session.add(tag)
    session.commit()
    assert tag.last_actor == "ana@example.com"
    session.info["actor"] = "bob@example.com"
    tag.name = "tsv"
    session.commit()
    assert tag.last_actor == "bob@example.com"


def test_an_unchanged_object_records_nothing() -> None:
    session = ConfigurationMocker().get_session()
    tag = config.Tag(name="csv")
    session.add(tag)
    session.commit()
    tag.name = "csv"
    session.commit()
    assert [e.action for e in _events(session, "tags")] == ["INSERT"]


def test_operational_tables_are_not_audited() -> None:
    mock = ConfigurationMocker()
    mock.generate_mocks()
    session = mock.get_session()
    assert _events(session, "run_events") == []
    assert len(_events(session, "pipelines")) == 3
