"""All plans in five flat queries; the fingerprint; the last-good plan cache."""

import pytest
from sqlalchemy import event, update

import core.models.configuration as config
from bench.dags import fill
from core.airflow.dagbuilder.cache import PlanCache
from core.database import migrate
from core.database.seed import load_world, sample_world
from core.errors import NotFoundError
from core.helpers.configuration_mocker import ConfigurationMocker
from core.helpers.session_helper import SessionHelper
from core.plan import (
    configuration_fingerprint,
    load_plans,
    plan_of_transformation,
)
from core.settings import load_settings


class Statements:
    """Counts the SQL statements sent through an engine."""

    def __init__(self, engine) -> None:
        self.engine, self.sql = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self.sql

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args) -> None:
        self.sql.append(args[2])


def _orm_plans(session, only_active: bool) -> list:
    from sqlalchemy import select

    from core.models import configuration as cfg
    from core.plan import build_plan

    query = select(cfg.Pipeline).order_by(cfg.Pipeline.name)
    return [build_plan(p) for p in session.scalars(query) if p.is_active or not only_active]


def test_flat_plans_equal_plans_built_from_the_orm(shapes) -> None:
    session = ConfigurationMocker().get_session()
    load_world(session, sample_world())
    session.commit()
    for only_active in (True, False):
        assert load_plans(session, only_active) == _orm_plans(session, only_active)
    with SessionHelper(shapes) as session:
        assert load_plans(session, False) == _orm_plans(session, False)
        assert [p.name for p in load_plans(session, names=["single", "asleep"])] == ["single"]


def test_five_queries_whatever_the_number_of_pipelines(core_env) -> None:
    core_env.mkdir(parents=True)
    settings = load_settings()
    migrate.upgrade(settings.embedded_database_url)
    fill(settings.embedded_database_url, pipelines=1200, states=2, tasks=2)
    with SessionHelper(settings) as session, Statements(session.get_bind()) as sql:
        plans = load_plans(session)
        configuration_fingerprint(session)
    assert len(plans) == 1200 and len(plans[0].tasks) == 4
    assert len(sql) == 6  # five loads and the fingerprint, for 1,200 pipelines (> 500)


def test_fingerprint_moves_with_any_change(shapes) -> None:
    with SessionHelper(shapes) as session:
        first = configuration_fingerprint(session)
        assert configuration_fingerprint(session) == first
        variable = config.TransformationVariable(transformation_id=1, name="x", value="1")
        session.add(variable)
        session.commit()
        second = configuration_fingerprint(session)
        session.delete(variable)
        session.commit()
        third = configuration_fingerprint(session)
        session.execute(update(config.Pipeline).values(description="changed"))
        session.commit()
        fourth = configuration_fingerprint(session)
    # Every committed change moves it, even one undone later: the audit trail only grows,
    # which also catches a commit whose updated_at is older than the last one seen.
    assert len({first, second, third, fourth}) == 4


def test_plan_of_one_transformation(shapes) -> None:
    with SessionHelper(shapes) as session:
        (single,) = load_plans(session, names=["single"])
        plan = plan_of_transformation(session, single.tasks[0].transformation_id)
        with pytest.raises(NotFoundError, match="no transformation with id 999"):
            plan_of_transformation(session, 999)
    assert plan == single


def test_cache_keeps_last_good_plans(shapes, tmp_path) -> None:
    with SessionHelper(shapes) as session:
        plans = load_plans(session)
    cache = PlanCache(tmp_path / "cache")
    cache.fingerprint = "f1"
    cache.save_good({p.name: p for p in plans}, clean=True)
    again = PlanCache(tmp_path / "cache")
    assert again.plans_for("f1") == plans
    assert again.plans_for("f2") is None
    assert again.last_good() == plans and again.last_good("single") == [plans[-1]]
    assert again.last_good_plan("nothing") is None
    again.save_good({"single": plans[-1]}, clean=False)
    assert PlanCache(tmp_path / "cache").plans_for("f2") is None


def test_unreadable_cache_is_ignored(tmp_path) -> None:
    (tmp_path / "plans.json").write_text("{not json")
    assert PlanCache(tmp_path).last_good() == []


def test_cache_writes_plans_as_to_dict_does(shapes) -> None:
    from core.airflow.dagbuilder.cache import plan_dict

    with SessionHelper(shapes) as session:
        for plan in load_plans(session, False):
            assert plan_dict(plan) == plan.to_dict()
