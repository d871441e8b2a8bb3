"""The pipeline pages' queries: a fixed number, however many pipelines and tasks."""

from __future__ import annotations

from core.database.seed import load_world, read_world
from core.helpers.session_helper import SessionHelper
from core.plan.queries import PlanFilters
from core.service import pipelines
from core.settings import load_settings
from tests.support.queries import counted

MANY = """
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: acme, brands: [{name: zentrix}]}]
templates: [{name: noop}]
pipelines:
""" + "".join(
    f"""
  - name: p{i:03d}
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{{template: noop}}, {{template: noop, graph_order: 1}}]
      - state: master
        transformations: [{{template: noop}}, {{template: noop}}]
"""
    for i in range(40)
)


def _session(tmp_path):
    settings = load_settings()
    path = tmp_path / "many.yaml"
    path.write_text(MANY)
    session = SessionHelper(settings, actor="test").session
    load_world(session, read_world(path))
    session.commit()
    return session


def test_the_list_takes_two_queries_for_any_page(tmp_path) -> None:
    session = _session(tmp_path)
    for limit in (5, 40):
        with counted(session) as statements:
            rows, total = pipelines.list_pipelines(session, PlanFilters(), limit=limit)
        assert len(rows) == min(limit, total) and len(statements) == 2


def test_the_filters_take_three_queries(tmp_path) -> None:
    session = _session(tmp_path)
    with counted(session) as statements:
        values = pipelines.filter_values(session)
    assert "acme" in values["companies"] and len(statements) == 3


def test_a_pipeline_page_takes_a_fixed_number_of_queries(tmp_path) -> None:
    session = _session(tmp_path)
    pipeline_id = pipelines.list_pipelines(session, PlanFilters(), q="p039")[0][0].id
    session.expunge_all()
    with counted(session) as statements:
        plan = pipelines.pipeline_plan(session, pipeline_id)
    assert [len(g.tasks) for g in plan.groups] == [1, 1, 2]
    assert len(statements) <= 5
