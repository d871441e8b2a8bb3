"""DagBuilder and the DAG file with real Airflow 3: structure, parsing, resilience."""

import datetime as dt

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from sqlalchemy import update

import core.models.configuration as config
from core.airflow.dagbuilder.dag_builder import DagBuilder
from core.airflow.dagbuilder.shape import dag_shape
from core.airflow.plugins.transform_operator import TransformOperator
from core.helpers.session_helper import SessionHelper
from core.plan import load_plans
from core.settings import load_settings
from tests.support.airflow import DAGS_FOLDER, EXECUTOR
from tests.unit.airflow.test_plans import Statements

MIXED_EDGES = {
    ("RunEvent", "ingest_group_step_0"),
    ("ingest_group_step_0", "ingest_other_2"),
    ("ingest_group_step_0", "ingest_noop_3"),
    ("ingest_other_2", "ingest_group_step_1"),
    ("ingest_noop_3", "ingest_group_step_1"),
    ("ingest_group_step_1", "ingest_noop_1"),
    ("ingest_noop_1", "metrics_group_step_2"),
    ("metrics_group_step_2", "metrics_noop_4"),
    ("metrics_noop_4", "EndRun"),
}


def _edges(dag) -> set[tuple[str, str]]:
    return {(task.task_id, down) for task in dag.tasks for down in task.downstream_task_ids}


def test_one_dag_per_active_pipeline_wired_as_an_hourglass(shapes) -> None:
    dags = DagBuilder(shapes).do_build_dags()
    assert sorted(dags) == ["empty", "mixed", "single"]  # asleep is inactive
    assert _edges(dags["mixed"]) == MIXED_EDGES
    assert _edges(dags["single"]) == {
        ("RunEvent", "enrich_group_step_0"),
        ("enrich_group_step_0", "enrich_other_5"),
        ("enrich_other_5", "EndRun"),
    }
    assert _edges(dags["empty"]) == {("RunEvent", "EndRun")}
    with SessionHelper(shapes) as session:
        for plan in load_plans(session):
            assert _edges(dags[plan.name]) == set(dag_shape(plan, shapes).edges)


def test_dag_settings_and_operators(shapes) -> None:
    dag = DagBuilder(shapes).do_build_dags()["mixed"]
    assert dag.schedule == "@hourly" and dag.catchup is False
    assert dag.start_date == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert dag.max_active_runs == 1
    assert set(dag.tags) == {"company:acme", "brand:zentrix", "segment:S", "type:t"}
    assert dag.doc_md.startswith("Several groups in one state")
    assert isinstance(dag.task_dict["RunEvent"], PythonOperator)
    assert isinstance(dag.task_dict["ingest_group_step_1"], EmptyOperator)
    end = dag.task_dict["EndRun"]
    assert isinstance(end, PythonOperator) and end.trigger_rule == "all_done"
    other = dag.task_dict["ingest_other_2"]
    assert isinstance(other, TransformOperator) and other.owner == "acme"
    assert other.retries == 3 and other.retry_delay == dt.timedelta(seconds=30)
    assert other.transform.transformation_id == 2 and other.transform.state == "ingest"


def test_settings_reach_the_dag(shapes, monkeypatch) -> None:
    monkeypatch.setenv("CORE_DAG_START_DATE", "2022-03-04")
    monkeypatch.setenv("CORE_MAX_ACTIVE_RUNS", "4")
    dag = DagBuilder().do_build_dags()["single"]
    assert dag.start_date == dt.datetime(2022, 3, 4, tzinfo=dt.UTC) and dag.max_active_runs == 4
    assert dag.schedule == "0 6 * * 1-5"


def test_six_queries_then_one_while_unchanged(shapes) -> None:
    with SessionHelper(shapes) as session, Statements(session.get_bind()) as sql:
        DagBuilder(shapes, session).do_build_dags()
        cold = len(sql)
        builder = DagBuilder(shapes, session)
        builder.do_build_dags()
    assert (
        cold <= 6 and len(sql) - cold == 1 and sorted(builder.dags) == ["empty", "mixed", "single"]
    )


def _bag(path=EXECUTOR) -> DagBag:
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    return bag


def test_airflow_imports_the_dag_file(shapes) -> None:
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert not bag.import_errors, bag.import_errors
    assert sorted(bag.dag_ids) == ["core_operator_tester", "empty", "mixed", "single"]


def test_a_worker_builds_only_its_task_dag(shapes, monkeypatch) -> None:
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "single")
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_TASK_ID", "enrich_other_5")
    assert _bag().dag_ids == ["single"]


def test_a_database_outage_keeps_the_last_good_dags(shapes, monkeypatch, caplog) -> None:
    assert sorted(_bag().dag_ids) == ["empty", "mixed", "single"]
    monkeypatch.setenv("CORE_DATABASE_URL", "postgresql+psycopg://core@127.0.0.1:9/none")
    assert sorted(_bag().dag_ids) == ["empty", "mixed", "single"]
    builder = DagBuilder()
    builder.do_build_dags()
    assert "configuration database unavailable" in builder.problems["*"]
    assert _edges(builder.dags["mixed"]) == MIXED_EDGES


def test_a_broken_pipeline_keeps_its_last_good_dag_and_hides_no_other(shapes) -> None:
    DagBuilder(shapes).do_build_dags()
    pipelines = config.Pipeline.__table__
    with SessionHelper(shapes) as session:  # bypass the ORM's validation, as raw SQL would
        broken = update(pipelines).values(run_frequency="not a cron")
        session.execute(broken.where(pipelines.c.name == "single"))
        session.execute(
            update(pipelines)
            .where(pipelines.c.name == "asleep")
            .values(is_active=True, run_frequency="never ever")
        )
        session.commit()
    builder = DagBuilder(shapes)
    dags = builder.do_build_dags()
    assert sorted(dags) == ["empty", "mixed", "single"]  # asleep: broken, never good
    assert dags["single"].schedule == "0 6 * * 1-5"  # the last good plan's
    assert set(builder.problems) == {"single", "asleep"}
    assert "not a cron" in builder.problems["single"]


@pytest.mark.parametrize(
    ("environment", "dag_ids"), [("dev", ["core_operator_tester"]), ("test", [])]
)
def test_operator_tester_exists_only_in_dev(monkeypatch, environment, dag_ids) -> None:
    monkeypatch.setenv("CORE_ENVIRONMENT", environment)
    assert _bag(DAGS_FOLDER / "operator_tester.py").dag_ids == dag_ids
    assert load_settings().environment == environment


def test_an_unchanged_configuration_reuses_the_built_dags(shapes) -> None:
    first = DagBuilder(shapes).do_build_dags()
    assert not DagBuilder(shapes).dag_cache.path.exists()
    second = DagBuilder(shapes)  # unchanged since the first: the plans are reused, DAGs saved
    second.do_build_dags()
    assert second.unchanged and second.dag_cache.path.exists()
    with SessionHelper(shapes) as session, Statements(session.get_bind()) as sql:
        third = DagBuilder(shapes, session)
        dags = third.do_build_dags()
    assert len(sql) == 1 and not third.unchanged  # the fingerprint, then the pickled DAGs
    assert {name: _edges(dag) for name, dag in dags.items()} == {
        name: _edges(dag) for name, dag in first.items()
    }
    assert sorted(_bag().dag_ids) == ["empty", "mixed", "single"]
    with SessionHelper(shapes) as session:  # any change rebuilds
        session.execute(update(config.Pipeline.__table__).values(run_frequency="daily"))
        session.commit()
    assert DagBuilder(shapes).do_build_dags()["mixed"].schedule == "@daily"


def test_a_dag_cache_others_could_write_is_never_unpickled(shapes, caplog) -> None:
    DagBuilder(shapes).do_build_dags()
    DagBuilder(shapes).do_build_dags()  # saves the DAGs
    cache = DagBuilder(shapes).dag_cache.path
    cache.chmod(0o666)
    with SessionHelper(shapes) as session:
        builder = DagBuilder(shapes, session)
        dags = builder.do_build_dags()
    assert sorted(dags) == ["empty", "mixed", "single"]  # rebuilt from the plans instead
    assert "not private to this user" in caplog.text
