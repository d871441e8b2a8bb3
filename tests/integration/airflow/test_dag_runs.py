"""Pipelines run by Airflow 3's ``dag.test()``: local workers, and AWS Batch on moto."""

import threading
import time

import boto3
import pytest
import requests
from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook

from core.airflow.dagbuilder.dag_builder import DagBuilder
from core.airflow.jobs import batch_job_definition, job_name
from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.models.runs import RunEvent
from core.runner.local import LocalRunner
from core.runs import task_runs
from core.settings import load_settings
from core.worker import WorkerJob

pytestmark = pytest.mark.integration


def _run_dag(settings, pipeline: str, conf: dict | None = None):
    dag = DagBuilder(settings).do_build_dags()[pipeline]
    return dag.test(run_conf=conf)


def _states(settings, run_id: int) -> dict[int, tuple[str, int]]:
    with SessionHelper(settings) as session:
        return {tid: (row.state, row.attempt) for tid, row in task_runs(session, run_id).items()}


def _latest_run(settings) -> RunEvent:
    with SessionHelper(settings) as session:
        return session.query(RunEvent).order_by(RunEvent.id.desc()).first()


def _rows(settings, state: str, dataset: str, run_id: int) -> list[int]:
    contract = DatasetContract("acme", "zentrix", state, dataset, settings=settings)
    return sorted(contract.fetch(run_id=run_id)["n"])


def test_a_dag_run_produces_what_core_run_produces(airflow_db, world) -> None:
    conf = {"triggered_by": "ana@example.com"}  # what "Run now" sends through Airflow's API
    assert _run_dag(world, "small", conf).state == "success"
    event = _latest_run(world)
    assert (event.state, event.triggered_by) == (
        "success",
        "ana@example.com (via airflow dags test)",
    )
    assert event.configuration_snapshot["name"] == "small"
    local = LocalRunner(world).run("small")
    for state, dataset in (("ingest", "numbers"), ("master", "doubled")):
        assert _rows(world, state, dataset, event.id) == _rows(world, state, dataset, local.run_id)
    assert _rows(world, "master", "doubled", event.id) == [0, 2, 4, 6, 8]


def test_a_failed_transformation_fails_the_run_like_core_run(airflow_db, world) -> None:
    assert _run_dag(world, "failing").state == "failed"
    event = _latest_run(world)
    assert event.state == "failed"
    # No person in its conf: the Airflow user who triggered it (dag.test() names itself).
    assert event.triggered_by == "airflow dags test"
    local = LocalRunner(world, sleep=lambda _: None).run("failing")
    assert _states(world, event.id) == _states(world, local.run_id)
    assert sorted(state for state, _ in _states(world, event.id).values()) == [
        "failed",
        "success",
        "upstream_failed",
        "upstream_failed",
    ]


@pytest.fixture
def batch(aws_env, monkeypatch, world):
    """moto's Batch (jobs succeed at once, no docker), a queue and a job definition."""
    requests.post(f"{aws_env}/moto-api/config", json={"batch": {"use_docker": False}}, timeout=10)
    monkeypatch.setenv("CORE_WORKER_BACKEND", "batch")
    monkeypatch.setattr(BatchClientHook, "DEFAULT_DELAY_MIN", 0)
    monkeypatch.setattr(BatchClientHook, "DEFAULT_DELAY_MAX", 0.05)
    settings = load_settings()
    client = boto3.client("batch", endpoint_url=aws_env, region_name="us-east-1")
    role = boto3.client("iam", endpoint_url=aws_env, region_name="us-east-1").create_role(
        RoleName="batch", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    environment = client.create_compute_environment(
        computeEnvironmentName="core", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    client.create_job_queue(
        jobQueueName="core",
        priority=1,
        state="ENABLED",
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )
    client.register_job_definition(
        jobDefinitionName=batch_job_definition(settings),
        type="container",
        containerProperties={"image": "core-worker", "vcpus": 1, "memory": 512},
    )
    yield settings, client
    requests.post(f"{aws_env}/moto-api/reset", timeout=10)


def _jobs(client) -> list[dict]:
    summaries = client.list_jobs(jobQueue="core", filters=[{"name": "JOB_NAME", "values": ["*"]}])
    ids = [job["jobId"] for job in summaries["jobSummaryList"]]
    return client.describe_jobs(jobs=ids)["jobs"] if ids else []


def _mark(job_id: str, status: str) -> None:
    from moto.batch.models import batch_backends

    batch_backends["123456789012"]["us-east-1"]._jobs[job_id].status = status


def _finish_once_run_started(settings, job_id: str) -> None:
    """The earlier job ends once the retry's operator runs and has had time to attach.

    Waiting for the task instance (not a fixed delay) keeps a loaded machine from
    ending the job before the operator looked for it.
    """
    deadline = time.monotonic() + 120
    while not _ingest_running() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)
    _mark(job_id, "SUCCEEDED")


def _ingest_running() -> bool:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        states = session.query(TaskInstance.state).filter(
            TaskInstance.task_id.like("ingest_numbers_%")
        )
        return any(state == "running" for (state,) in states)


def test_batch_jobs_run_corebot_and_a_retry_reattaches(airflow_db, batch) -> None:
    settings, client = batch
    # A job of an earlier try of ingest_numbers (run 1) that is still running.
    alive = WorkerJob(1, 1, "acme", "zentrix", "ingest", "numbers")
    earlier = client.submit_job(
        jobName=job_name(alive, settings),
        jobQueue="core",
        jobDefinition=batch_job_definition(settings),
        containerOverrides={"command": ["corebot", "run", "1", "1"]},
    )["jobId"]
    _mark(earlier, "RUNNING")
    threading.Thread(target=_finish_once_run_started, args=(settings, earlier)).start()
    assert _run_dag(settings, "small").state == "success"
    jobs = {job["jobName"]: job for job in _jobs(client)}
    doubled = WorkerJob(2, 1, "acme", "zentrix", "master", "doubled")
    assert sorted(jobs) == sorted([job_name(alive, settings), job_name(doubled, settings)])
    assert jobs[job_name(alive, settings)]["jobId"] == earlier  # re-attached, not resubmitted
    submitted = jobs[job_name(doubled, settings)]
    assert submitted["container"]["command"] == ["corebot", "run", "2", "1"]
    assert submitted["jobQueue"].endswith("job-queue/core")
    assert "job-definition/core-dev-dev" in submitted["jobDefinition"]
