import pytest
from sqlalchemy import event, select

import core.models.configuration as config
from core.database.seed import load_world, read_world, sample_world
from core.errors import ConfigurationError, NotFoundError
from core.helpers.configuration_mocker import ConfigurationMocker
from core.plan import PipelinePlan, PlanFilters, load_plan, load_plans

WORLD = """
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: co, brands: [{name: br}]}]
templates:
  - {name: a}
  - {name: b}
pipelines:
  - name: mixed
    company: co
    brand: br
    type: t
    states:
      - state: ingest
        graph_order: 1
        transformations:
          - {template: a, graph_order: 3}
          - {template: b, graph_order: 0}
          - {template: a, graph_order: 3}
      - state: raw
        graph_order: 0
        transformations: [{template: a}]
      - state: master
        graph_order: 2
      - state: metrics
        graph_order: 3
        transformations: [{template: b, graph_order: 5}]
  - name: single
    company: co
    brand: br
    type: t
    states: [{state: raw, transformations: [{template: a}]}]
  - {name: asleep, company: co, brand: br, type: t, active: false}
"""


@pytest.fixture
def session(tmp_path):
    path = tmp_path / "world.yaml"
    path.write_text(WORLD)
    session = ConfigurationMocker().get_session()
    load_world(session, read_world(path))
    session.commit()
    return session


def _ids(session, template: str) -> list[int]:
    query = (
        select(config.Transformation.id)
        .join(config.Transformation.transformation_template)
        .where(config.TransformationTemplate.name == template)
        .order_by(config.Transformation.id)
    )
    return list(session.scalars(query))


def test_groups_follow_state_order_then_graph_order_and_skip_empty_states(session) -> None:
    plan = load_plan(session, "mixed")
    a1, a2, a3, _ = _ids(session, "a")
    b1, b2 = _ids(session, "b")
    assert [(g.step, g.state, g.graph_order) for g in plan.groups] == [
        (0, "raw", 0),
        (1, "ingest", 0),
        (2, "ingest", 3),
        (3, "metrics", 5),
    ]
    assert [[t.transformation_id for t in g.tasks] for g in plan.groups] == [
        [a3],
        [b1],
        [a1, a2],
        [b2],
    ]
    assert [g.spacer_id for g in plan.groups] == [
        "raw_group_step_0",
        "ingest_group_step_1",
        "ingest_group_step_2",
        "metrics_group_step_3",
    ]
    assert plan.groups[2].tasks[0].task_id == f"ingest_a_{a1}"


def test_one_task_pipeline(session) -> None:
    plan = load_plan(session, "single")
    assert [len(g.tasks) for g in plan.groups] == [1]


def test_only_active_by_default(session) -> None:
    assert [p.name for p in load_plans(session)] == ["mixed", "single"]
    assert [p.name for p in load_plans(session, only_active=False)] == ["asleep", "mixed", "single"]


def test_filters(session) -> None:
    assert [p.name for p in load_plans(session, False, filters=PlanFilters(active=False))] == [
        "asleep"
    ]
    assert load_plans(session, False, filters=PlanFilters(company="nobody")) == []
    named = load_plans(
        session,
        False,
        filters=PlanFilters(company="co", brand="br", pipeline_type="t", active=True),
    )
    assert [p.name for p in named] == ["mixed", "single"]


def test_unknown_pipeline_suggests_close_names(session) -> None:
    with pytest.raises(NotFoundError, match="no pipeline named 'mixd'. Did you mean 'mixed'"):
        load_plan(session, "mixd")


def test_plan_round_trips_through_json_data(session) -> None:
    import json

    plan = load_plan(session, "mixed")
    assert PipelinePlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_query_count_does_not_grow_with_the_number_of_pipelines() -> None:
    session = ConfigurationMocker().get_session()
    load_world(session, sample_world())
    session.commit()
    counts = []
    for _ in range(2):
        statements: list[str] = []

        def listener(*args, statements=statements) -> None:
            statements.append(args[2])

        event.listen(session.get_bind(), "before_cursor_execute", listener)
        plans = load_plans(session, only_active=False)
        event.remove(session.get_bind(), "before_cursor_execute", listener)
        counts.append((len(plans), len(statements)))
        # Double the configuration for the second round.
        source = load_plan(session, plans[0].name)
        for i in range(len(plans)):
            copy = config.Pipeline(
                name=f"copy_{len(counts)}_{i}",
                brand_id=session.get(config.Pipeline, source.pipeline_id).brand_id,
                pipeline_type_id=session.get(config.Pipeline, source.pipeline_id).pipeline_type_id,
            )
            session.add(copy)
        session.commit()
        session.expire_all()
    (first_pipelines, first_queries), (second_pipelines, second_queries) = counts
    assert second_pipelines > first_pipelines
    assert first_queries == second_queries <= 5


CHECKED_WORLD = """
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: co, brands: [{name: br}]}]
templates: [{name: a}]
pipelines:
  - name: checked
    company: co
    brand: br
    type: t
    states:
      - state: master
        transformations:
          - template: a
            checks:
              - {kind: not_null, arguments: {columns: [id]}, description: every row has one}
              - {kind: row_count_change, arguments: {max_drop_pct: 20}, severity: warn}
"""


def test_a_world_s_checks_are_loaded_with_its_pipeline_and_carried_by_the_plan(tmp_path) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(CHECKED_WORLD)
    session = ConfigurationMocker().get_session()
    added = load_world(session, read_world(path))
    session.commit()
    assert added["dataset checks"] == 2
    (task,) = load_plan(session, "checked").tasks
    assert [(c["kind"], c["arguments"], c["severity"], c["description"]) for c in task.checks] == [
        ("not_null", {"columns": ["id"]}, "error", "every row has one"),
        ("row_count_change", {"max_drop_pct": 20}, "warn", None),
    ]
    assert "dataset checks" not in load_world(session, read_world(path))  # loaded once


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ("{kind: not_nul, arguments: {columns: [id]}}", "Did you mean 'not_null'?"),
        ("{kind: range, arguments: {column: id}}", "range: Value error, expected min, max or both"),
        ("{kind: unique, arguments: {columns: [id]}, severity: fatal}", "'error' or 'warn'"),
    ],
)
def test_a_bad_check_in_a_world_file_names_its_entry(tmp_path, check: str, expected: str) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(
        CHECKED_WORLD.replace(
            "{kind: not_null, arguments: {columns: [id]}, description: every row has one}", check
        )
    )
    with pytest.raises(ConfigurationError) as caught:
        read_world(path)
    message = str(caught.value)
    assert "pipelines.0.states.0.transformations.0.checks.0" in message and expected in message


def test_the_sample_world_checks_the_demo_pipeline_s_datasets() -> None:
    (demo,) = [p for p in sample_world().pipelines if p.name == "acme_zentrix_patient_status"]
    checked = {
        t.variables["dataset"]: sorted(c.kind for c in t.checks)
        for state in demo.states
        for t in state.transformations
        if t.checks
    }
    assert checked == {
        "patient_status": ["accepted_values", "not_null", "range"],
        "patient_journeys": ["sql", "unique"],
        "fill_metrics": ["range", "row_count_change"],
    }
