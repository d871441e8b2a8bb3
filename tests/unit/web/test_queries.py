"""Pages load what they show in a fixed number of queries, however many rows there are."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from core.database.engine import get_engine
from core.helpers.session_helper import SessionHelper, resolve_database_url
from core.models import configuration as cfg
from core.runs import start_run
from core.service.pipelines import pipeline_plan
from core.settings import Settings


def _queries(settings: Settings, client: TestClient, path: str) -> int:
    engine = get_engine(resolve_database_url(settings))
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def _grow(settings: Settings, batch: int) -> None:
    """Twenty more pipelines, ten more transformations of pipeline 1, five more runs."""
    with SessionHelper(settings, actor="test") as session:
        brand, kind = session.get(cfg.Brand, 1), session.get(cfg.PipelineType, 1)
        for i in range(20):
            session.add(cfg.Pipeline(name=f"more_{batch}_{i}", brand=brand, pipeline_type=kind))
        noop = session.scalars(select(cfg.TransformationTemplate).filter_by(name="noop")).one()
        state = session.get(cfg.Pipeline, 1).pipeline_states[-1]
        for i in range(10):
            state.transformations.append(
                cfg.Transformation(transformation_template=noop, graph_order=i + 1)
            )
        session.commit()
        for _ in range(5):
            start_run(session, pipeline_plan(session, 1), "test")


@pytest.mark.parametrize(
    "path",
    [
        "/pipelines",
        "/pipelines/1",
        "/pipelines/1/arrange",
        "/runs",
        "/audit",
        "/audit?pipeline_id=1",
        "/pipelines/1/audit",
        "/pipelines/1/grid",
        "/runs?since=2020-01-01&until=2100-01-01&started_by=tes",
    ],
)
def test_a_page_needs_as_many_queries_for_more_rows(
    client: TestClient, as_editor: str, settings: Settings, path: str
) -> None:
    _grow(settings, 1)  # so that every kind of row is there (the run list's counts)
    before = _queries(settings, client, path)
    _grow(settings, 2)
    assert _queries(settings, client, path) == before
    assert before <= 14


def test_a_run_page_needs_a_fixed_number_of_queries(
    client: TestClient, as_viewer: str, settings: Settings, sign_in: Callable[[str], str]
) -> None:
    with SessionHelper(settings, actor="test") as session:
        run_id = start_run(session, pipeline_plan(session, 1), "test").id
    assert _queries(settings, client, f"/runs/{run_id}") <= 10
