"""The DAG's shape and the worker job's values: plain functions, no Airflow."""

import datetime as dt

import pytest

from core.airflow.dagbuilder.shape import dag_arguments, dag_shape, schedule_for
from core.airflow.jobs import (
    batch_container_overrides,
    batch_job_definition,
    job_name,
    pod_name,
    worker_image,
)
from core.errors import ContractError, SettingsError
from core.plan import PipelinePlan, TaskGroup, TaskSpec
from core.settings import load_settings
from core.worker import WorkerJob, local_command, worker_command


def _task(tid: int, state: str, order: int = 0) -> TaskSpec:
    return TaskSpec(tid, "noop", "python", None, state, order, 1, 60, {})


def _plan(*groups: TaskGroup, frequency: str = "daily") -> PipelinePlan:
    return PipelinePlan(
        7, "p", "acme", "zentrix", "S", "t", True, frequency, "About p.", list(groups)
    )


@pytest.mark.parametrize(
    ("frequency", "schedule"),
    [
        ("none", None),
        ("hourly", "@hourly"),
        ("daily", "@daily"),
        ("weekly", "@weekly"),
        ("monthly", "@monthly"),
        ("yearly", "@yearly"),
        ("0 6 * * 1-5", "0 6 * * 1-5"),
    ],
)
def test_schedule_follows_run_frequency(frequency: str, schedule: str | None) -> None:
    assert schedule_for(frequency) == schedule


def test_dag_arguments_come_from_the_plan_and_settings() -> None:
    settings = load_settings({"CORE_DAG_START_DATE": "2023-02-01", "CORE_MAX_ACTIVE_RUNS": "3"})
    args = dag_arguments(_plan(), settings)
    assert args["dag_id"] == "p" and args["schedule"] == "@daily" and args["catchup"] is False
    assert args["start_date"] == dt.datetime(2023, 2, 1, tzinfo=dt.UTC)
    assert args["max_active_runs"] == 3
    assert args["tags"] == ["company:acme", "brand:zentrix", "segment:S", "type:t"]
    assert args["doc_md"].startswith("About p.") and args["default_args"] == {"owner": "acme"}


def test_shape_is_an_hourglass_in_plan_order() -> None:
    a, b, c = _task(1, "ingest"), _task(2, "ingest"), _task(3, "master")
    plan = _plan(TaskGroup(0, "ingest", 0, [a, b]), TaskGroup(1, "master", 0, [c]))
    shape = dag_shape(plan, load_settings({}))
    assert [t.task_id for t in shape.tasks] == [
        "RunEvent",
        "ingest_group_step_0",
        "ingest_noop_1",
        "ingest_noop_2",
        "master_group_step_1",
        "master_noop_3",
        "EndRun",
    ]
    assert shape.edges == [
        ("RunEvent", "ingest_group_step_0"),
        ("ingest_group_step_0", "ingest_noop_1"),
        ("ingest_group_step_0", "ingest_noop_2"),
        ("ingest_noop_1", "master_group_step_1"),
        ("ingest_noop_2", "master_group_step_1"),
        ("master_group_step_1", "master_noop_3"),
        ("master_noop_3", "EndRun"),
    ]


def test_a_pipeline_without_transformations_is_run_event_then_end_run() -> None:
    shape = dag_shape(_plan(), load_settings({}))
    assert shape.edges == [("RunEvent", "EndRun")]


JOB = WorkerJob(12, 40, "acme", "zentrix", "ingest", "numbers")


def test_worker_commands() -> None:
    assert worker_command(JOB) == ["corebot", "run", "12", "40"]
    assert local_command(JOB)[1:] == ["-m", "corebot", "run", "12", "40"]
    assert batch_container_overrides(JOB) == {"command": ["corebot", "run", "12", "40"]}


def test_job_name_is_the_contract_key_made_safe_and_short() -> None:
    settings = load_settings({"CORE_BRANCH": "feature-x"})
    assert job_name(JOB, settings) == "feature-x-acme-zentrix-ingest-numbers-t12-r40"
    long = WorkerJob(12, 40, "a" * 100, "b" * 100, "ingest", "numbers")
    name = job_name(long, settings)
    assert len(name) <= 128 and name.endswith("-t12-r40")
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    pod = pod_name(long, settings)
    assert len(pod) <= 63 and pod.endswith("-t12-r40") and "_" not in pod


def test_job_name_refuses_what_the_lake_would_refuse() -> None:
    with pytest.raises(ContractError, match="contract state 'nowhere'"):
        job_name(WorkerJob(1, 2, "acme", "zentrix", "nowhere", "numbers"), load_settings({}))


def test_job_definition_per_environment_and_branch() -> None:
    assert batch_job_definition(load_settings({})) == "core-dev-dev"
    prod = {"CORE_ENVIRONMENT": "prod", "CORE_LAKE_ROOT": "s3://lake"}
    assert batch_job_definition(load_settings(prod)) == "core-prod-master"
    named = load_settings({"CORE_BATCH_JOB_DEFINITION": "worker:3"})
    assert batch_job_definition(named) == "worker:3"


def test_worker_image_is_required_for_kubernetes() -> None:
    with pytest.raises(SettingsError, match="CORE_WORKER_IMAGE is not set"):
        worker_image(load_settings({}))
    assert worker_image(load_settings({"CORE_WORKER_IMAGE": "core:1"})) == "core:1"


@pytest.mark.parametrize(
    ("conf", "run_type", "user", "expected"),
    [
        ({"triggered_by": "ana@example.com"}, "manual", None, "ana@example.com"),
        ({}, "scheduled", None, "schedule"),
        (None, "manual", "admin", "admin"),
        ({}, "backfill", None, "airflow (backfill)"),
        ({"triggered_by": "  "}, None, None, "airflow"),
        (
            {"triggered_by": "ana@example.com"},
            "manual",
            "core-bot",
            "ana@example.com (via core-bot)",
        ),
        ({"triggered_by": "ana@example.com"}, "manual", "ana@example.com", "ana@example.com"),
        ({"triggered_by": "ana"}, "manual", "dag_test", "ana (via airflow dags test)"),
        ({}, "manual", "dag_test", "airflow dags test"),
        ({"triggered_by": "x" * 300}, "manual", None, "x" * 100),
    ],
)
def test_a_dag_run_records_who_started_it(conf, run_type, user, expected) -> None:
    from core.airflow.dagbuilder.run_events import who_started

    assert who_started(conf, run_type, user) == expected
