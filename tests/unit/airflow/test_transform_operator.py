"""TransformOperator's backends with real Airflow operators and real worker processes."""

import sys
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from core.airflow.plugins.backends import (
    BackendUnavailableError,
    InvalidWorkerConfigurationError,
    WorkerFailedError,
    get_backend,
    kubernetes_pod_operator,
    pod_environment,
    run_local,
)
from core.airflow.plugins.transform_operator import TransformOperator
from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.plan import load_plan
from core.runner.report import task_log_path
from core.runs import start_run, task_runs
from core.settings import load_settings
from core.worker import WorkerJob
from tests.support.worlds import load_test_world


def _run(world, pipeline: str):
    with SessionHelper(world) as session:
        plan = load_plan(session, pipeline)
        return plan, start_run(session, plan, "test").id


def _job(plan, task, run_id: int) -> WorkerJob:
    return WorkerJob(
        task.transformation_id, run_id, plan.company, plan.brand, task.state, task.template
    )


def test_local_backend_runs_corebot_in_a_worker_process(world) -> None:
    plan, run_id = _run(world, "small")
    task = plan.tasks[0]
    operator = TransformOperator.for_task(task, plan.company, plan.brand)
    assert get_backend("local") is run_local
    assert run_local(operator, {}, _job(plan, task, run_id), world) == 0
    numbers = DatasetContract("acme", "zentrix", "ingest", "numbers", settings=world)
    assert len(numbers.fetch(run_id=run_id)) == 5
    with SessionHelper(world) as session:
        assert task_runs(session, run_id)[task.transformation_id].state == "success"


def test_a_failing_transformation_is_retried_an_invalid_one_is_not(world) -> None:
    plan, run_id = _run(world, "failing")
    broken = next(t for t in plan.tasks if t.template == "broken")
    operator = TransformOperator.for_task(broken, plan.company, plan.brand)
    with pytest.raises(WorkerFailedError, match="corebot exited with 1") as failed:
        run_local(operator, {}, _job(plan, broken, run_id), world)
    # the worker's output is also kept where CORE's log viewer reads it
    kept = task_log_path(world, run_id, broken.task_id).read_text()
    assert "FAILED: ValueError: the source had no header row" in kept
    assert isinstance(failed.value, AirflowException)
    assert not isinstance(failed.value, AirflowFailException)
    missing = WorkerJob(999, run_id, "acme", "zentrix", "ingest", "numbers")
    with pytest.raises(InvalidWorkerConfigurationError, match="exited with 2") as invalid:
        run_local(operator, {}, missing, world)
    assert isinstance(invalid.value, AirflowFailException)


QUITTING = """
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: acme, brands: [{name: zentrix}]}]
templates:
  - {name: quitting, entrypoint: "tests.unit.transforms.sample_transforms:quitting"}
pipelines:
  - name: quitting
    company: acme
    brand: zentrix
    type: t
    states: [{state: ingest, transformations: [{template: quitting}]}]
"""


def test_a_worker_exiting_0_without_recording_fails_the_airflow_task(core_env, monkeypatch) -> None:
    # os._exit(0) from a transform: Airflow must not mark the task a success, and the
    # task's row must not stay running.
    monkeypatch.setenv("QUIT_CODE", "0")
    world = load_test_world(QUITTING)
    plan, run_id = _run(world, "quitting")
    task = plan.tasks[0]
    operator = TransformOperator.for_task(task, plan.company, plan.brand)
    with pytest.raises(WorkerFailedError, match="corebot exited with 1"):
        run_local(operator, {}, _job(plan, task, run_id), world)
    with SessionHelper(world) as session:
        row = task_runs(session, run_id)[task.transformation_id]
    assert row.state == "failed"
    assert "exited with 0 before it could record" in row.error_summary


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(BackendUnavailableError, match="expected one of batch, kubernetes, local"):
        get_backend("ssh")


def test_kubernetes_pod_runs_corebot_in_the_worker_image() -> None:
    settings = load_settings(
        {"CORE_WORKER_IMAGE": "registry/core:1", "CORE_KUBERNETES_NAMESPACE": "pipelines"}
    )
    job = WorkerJob(12, 40, "acme", "zentrix", "ingest", "numbers")
    pod = kubernetes_pod_operator("ingest_numbers_12", job, settings)
    pod = pod.build_pod_request_obj(dry_run=True)
    container = pod.spec.containers[0]
    assert container.image == "registry/core:1" and pod.metadata.namespace == "pipelines"
    assert [*container.command, *container.args] == ["corebot", "run", "12", "40"]
    assert pod.metadata.name.startswith("dev-acme-zentrix-ingest-numbers-t12-r40")
    environment = {variable.name: variable.value for variable in container.env}
    assert environment["CORE_ENVIRONMENT"] == "dev" and "CORE_HOME" not in environment


def test_pods_get_no_credentials() -> None:
    settings = load_settings({"CORE_DATABASE_URL": "postgresql://u:secret@db/core"})
    assert "CORE_DATABASE_URL" not in pod_environment(settings)


def test_pods_get_the_roots_their_transformations_are_confined_to() -> None:
    environ = {
        "CORE_ENVIRONMENT": "prod",
        "CORE_LAKE_ROOT": "s3://lake",
        "CORE_LANDING_ROOTS": "s3://drop/landing, s3://drop-2/landing",
        "CORE_EXPORT_ROOTS": "s3://drop/outbox",
    }
    settings = load_settings(environ, Path("/nonexistent"))
    pod = load_settings(pod_environment(settings), Path("/nonexistent"))
    assert pod.landing_roots == ["s3://drop/landing", "s3://drop-2/landing"]
    assert pod.export_roots == ["s3://drop/outbox"]


def test_kubernetes_without_its_extra_says_which_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "airflow.providers.cncf.kubernetes.operators.pod", None)
    job = WorkerJob(12, 40, "acme", "zentrix", "ingest", "numbers")
    with pytest.raises(BackendUnavailableError, match=r"core\[kubernetes\]"):
        kubernetes_pod_operator("t", job, load_settings({"CORE_WORKER_IMAGE": "core:1"}))
