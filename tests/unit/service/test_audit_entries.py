"""The audit trail in words: sentences, links, pipelines, hidden bookkeeping, filters, queries."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.errors import InvalidInputError
from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.models.dataset_checks import DatasetCheck
from core.service import audit
from core.service.audit_entries import MAX_DEPTH, changes, describe
from core.settings import Settings
from tests.support.queries import counted


def _numbers(session) -> cfg.Transformation:
    """The numbers transformation of pipeline small (variable count = 5)."""
    pipeline = session.scalars(select(cfg.Pipeline).filter_by(name="small")).one()
    return pipeline.pipeline_states[0].transformations[0]


def _newest(settings: Settings, **filters):
    with SessionHelper(settings) as session:
        events, _total = audit.list_events(session, limit=50, **filters)
        return describe(session, events)


def test_a_variable_change_is_one_sentence_linked_to_its_transformation(world: Settings) -> None:
    with SessionHelper(world, actor="alice@example.com") as session:
        numbers = _numbers(session)
        numbers.set_variables({"count": 7})
        session.commit()
        tid, pid = numbers.id, numbers.pipeline_state.pipeline_id
    entry = _newest(world, actor="alice@example.com")[0]
    assert entry.summary == f"alice@example.com set count of numbers #{tid} from `5` to `7`"
    assert entry.url == f"/pipelines/{pid}#transformation-{tid}"
    assert (entry.pipeline_id, entry.pipeline_name) == (pid, "small")
    assert [(c.key, c.before, c.after) for c in entry.changes] == [("value", "5", "7")]
    kinds = [part.kind for part in entry.parts]
    assert kinds[0] == "actor" and kinds.count("value") == 2 and "object" in kinds


def test_a_created_transformation_names_its_template_and_pipeline(world: Settings) -> None:
    with SessionHelper(world, actor="bob@example.com") as session:
        noop = session.scalars(select(cfg.TransformationTemplate).filter_by(name="noop")).one()
        state = session.scalars(select(cfg.Pipeline).filter_by(name="small")).one()
        added = cfg.Transformation(transformation_template=noop, graph_order=3)
        state.pipeline_states[-1].transformations.append(added)
        session.commit()
        tid, pid = added.id, state.id
    entry = _newest(world, actor="bob@example.com", table="transformations")[0]
    assert (
        entry.summary == f"bob@example.com created transformation #{tid} (noop) in pipeline small"
    )
    assert entry.url == f"/pipelines/{pid}#transformation-{tid}"
    details = {c.key for c in entry.changes}
    assert "graph_order" in details and not details & audit.BOOKKEEPING


def test_a_deleted_check_and_a_deleted_transformation_keep_their_names(world: Settings) -> None:
    with SessionHelper(world, actor="carol@example.com") as session:
        numbers = _numbers(session)
        check = DatasetCheck(kind="row_count", arguments={"min": 1}, severity="error")
        numbers.dataset_checks.append(check)
        session.commit()
        tid, cid, pid = numbers.id, check.id, numbers.pipeline_state.pipeline_id
        session.delete(check)
        session.commit()
        session.delete(numbers)
        session.commit()
    entries = _newest(world, actor="carol@example.com")
    by_table = {(e.event.table_name, e.event.action): e for e in entries}
    gone = by_table[("dataset_checks", "DELETE")]
    assert gone.summary == f"carol@example.com deleted check row_count #{cid} of numbers #{tid}"
    assert gone.url == f"/pipelines/{pid}"  # the transformation is gone, its pipeline is not
    variable = by_table[("transformation_variables", "DELETE")]
    assert variable.summary == (
        f"carol@example.com removed variable count of numbers #{tid} (was `5`)"
    )
    removed = by_table[("transformations", "DELETE")]
    assert removed.summary == (
        f"carol@example.com deleted transformation #{tid} (numbers) from pipeline small"
    )
    added = by_table[("dataset_checks", "INSERT")]
    assert added.summary.startswith(f"carol@example.com created check row_count #{cid} of numbers")


def test_bookkeeping_alone_is_no_change_and_never_shown(world: Settings) -> None:
    with SessionHelper(world, actor="dave@example.com") as session:
        pipeline = session.scalars(select(cfg.Pipeline).filter_by(name="small")).one()
        pipeline.last_actor = "dave@example.com"  # stamps updated_at and version too
        session.commit()
        pipeline.is_active = False
        session.commit()
    shown = _newest(world, actor="dave@example.com")
    assert [e.summary for e in shown] == ["dave@example.com deactivated pipeline small"]
    assert [c.key for c in shown[0].changes] == ["is_active"]
    with SessionHelper(world) as session:
        everything, total = audit.list_events(session, actor="dave@example.com", bookkeeping=True)
    assert total == 2 and everything[-1].action == "UPDATE"


def test_changes_of_inserts_updates_and_deletes_leave_bookkeeping_out() -> None:
    stamped = {"a": 1, "updated_at": "x", "last_actor": "y", "created_at": "z"}
    assert [c.key for c in changes("INSERT", None, stamped)] == ["a"]
    assert [c.key for c in changes("DELETE", {"a": 1, "version": 3}, None)] == ["a"]
    updated = changes("UPDATE", {"a": 1, "b": 2, "version": 1}, {"a": 1, "b": 3, "version": 2})
    assert [(c.key, c.before, c.after) for c in updated] == [("b", 2, 3)]


def test_the_pipeline_filter_keeps_its_own_rows_only(world: Settings) -> None:
    with SessionHelper(world, actor="erin@example.com") as session:
        numbers = _numbers(session)
        numbers.set_variables({"count": 9})
        numbers.dataset_checks.append(DatasetCheck(kind="row_count", arguments={"min": 1}))
        failing = session.scalars(select(cfg.Pipeline).filter_by(name="failing")).one()
        failing.description = "not small"
        session.commit()
        small_id = numbers.pipeline_state.pipeline_id
    own = _newest(world, pipeline_id=small_id)
    tables = {e.event.table_name for e in own}
    assert {"pipelines", "pipeline_states", "transformations"} <= tables
    assert {"transformation_variables", "dataset_checks"} <= tables
    assert {e.pipeline_name for e in own} == {"small"}
    assert all("not small" not in e.summary for e in own)
    erin = _newest(world, pipeline_id=small_id, actor="erin@example.com")
    assert len(erin) == 2  # the variable and the check, not the other pipeline's change


def test_the_date_range_is_inclusive_days_in_utc(world: Settings) -> None:
    today = dt.datetime.now(dt.UTC).date()
    day = dt.timedelta(days=1)
    assert _newest(world, since=today, until=today)
    assert not _newest(world, since=today + day)
    assert not _newest(world, until=today - day)
    with pytest.raises(InvalidInputError) as refused:
        _newest(world, since=today, until=today - day)
    assert refused.value.problems[0][0] == "until" and "on or after" in str(refused.value)


def test_names_take_a_fixed_number_of_queries_however_many_entries(world: Settings) -> None:
    with SessionHelper(world, actor="frank@example.com") as session:
        numbers = _numbers(session)
        for count in range(10, 40):
            numbers.set_variables({"count": count})
            numbers.dataset_checks.append(DatasetCheck(kind="row_count", arguments={"min": 1}))
            session.commit()
    spent = []
    for limit in (4, 50):
        with SessionHelper(world) as session:
            events, _total = audit.list_events(session, limit=limit)
            with counted(session) as statements:
                entries = describe(session, events)
            assert len(entries) == limit
            spent.append(len(statements))
    assert spent[0] == spent[1] == MAX_DEPTH
    with SessionHelper(world) as session, counted(session) as statements:
        assert describe(session, []) == [] and statements == []
