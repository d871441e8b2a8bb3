"""Worker backends: how a TransformOperator sends ``corebot run TID RUN_ID`` to a worker.

A registry keyed by the ``worker_backend`` setting: ``local`` (a subprocess on the
Airflow worker), ``batch`` (the Amazon provider's BatchOperator) and
``kubernetes`` (the cncf provider's KubernetesPodOperator, an optional extra).
Each backend is a function ``(operator, context, job, settings) -> result``; the job,
its command, environment and exit codes are ``core.worker``'s, the remote jobs' names
and definitions ``core.airflow.jobs``'.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from core.airflow import jobs
from core.errors import ConfigurationError, CoreError, SettingsError
from core.runner.report import task_log_path
from core.settings import Settings
from core.worker import ExitCode, WorkerJob, local_command, settle_worker_exit, start_local

# Settings a pod inherits; credentials and database URLs come from the pod's own secrets.
# The roots are where its transformations may read and write (core/roots.py).
POD_SETTINGS = (
    "environment",
    "branch",
    "lake_root",
    "log_level",
    "aws_region",
    "secrets_backend",
    "landing_roots",
    "export_roots",
)
Backend = Callable[[Any, Any, WorkerJob, Settings], Any]
BACKENDS: dict[str, Backend] = {}


class WorkerFailedError(CoreError, AirflowException):
    """A worker ended in failure: Airflow retries the task if it has retries left."""


class InvalidWorkerConfigurationError(ConfigurationError, AirflowFailException):
    """corebot found the transformation's configuration invalid: retrying cannot help."""


class BackendUnavailableError(SettingsError, AirflowFailException):
    """The configured worker backend cannot be used here (unknown, or its extra is missing)."""


def register_backend(name: str) -> Callable[[Backend], Backend]:
    """Register a backend function under a ``worker_backend`` name."""

    def register(function: Backend) -> Backend:
        BACKENDS[name] = function
        return function

    return register


def get_backend(name: str) -> Backend:
    """The backend registered under ``name``.

    Raises:
        BackendUnavailableError: no backend has that name.
    """
    if name not in BACKENDS:
        raise BackendUnavailableError(
            f"worker backend {name!r} is not known: expected one of "
            f"{', '.join(sorted(BACKENDS))}; set CORE_WORKER_BACKEND"
        )
    return BACKENDS[name]


@register_backend("local")
def run_local(operator: Any, context: Any, job: WorkerJob, settings: Settings) -> int:
    """Run the worker here, a child of the warm worker server, its output in the task's log
    (and in ``$CORE_HOME/logs/run_N/TASK.log``, where CORE's log viewer reads it).

    Raises:
        InvalidWorkerConfigurationError: exit code 2 (fails without retry).
        WorkerFailedError: any other non-zero exit code (retried).
    """
    operator.log.info("running %s", " ".join(local_command(job)[2:]))
    read, write = os.pipe()
    try:
        operator.process = start_local(job, settings, write)
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)  # the worker has its own copy: the pipe ends when the worker does
    kept = task_log_path(settings, job.run_id, operator.task_id)  # for CORE's log viewer
    kept.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(read, encoding="utf-8", errors="replace") as output, kept.open("a") as copy:
        for line in output:
            operator.log.info("%s", line.rstrip())
            copy.write(line)
            copy.flush()
    code = operator.process.wait()
    code = -1 if code is None else code
    code = settle_worker_exit(settings, job, code, "airflow")  # did it record its end?
    return _check_exit(code, job)


def _check_exit(code: int, job: WorkerJob) -> int:
    if code == ExitCode.SUCCESS:
        return code
    what = job.name
    if code == ExitCode.INVALID:
        raise InvalidWorkerConfigurationError(
            f"{what}: corebot exited with 2 (invalid configuration), expected 0; fix the "
            "configuration named in the log above, then clear the task"
        )
    raise WorkerFailedError(f"{what}: corebot exited with {code}, expected 0; see the log above")


@register_backend("batch")
def run_batch(operator: Any, context: Any, job: WorkerJob, settings: Settings) -> str:
    """Run the worker command as an AWS Batch job, re-attaching to a live one of an earlier try.

    Returns:
        The Batch job id.
    """
    from airflow.providers.amazon.aws.operators.batch import BatchOperator

    name = jobs.job_name(job, settings)
    batch = BatchOperator(
        task_id=f"{operator.task_id}__batch",
        job_name=name,
        job_definition=jobs.batch_job_definition(settings),
        job_queue=settings.batch_job_queue,
        container_overrides=jobs.batch_container_overrides(job),
        region_name=settings.aws_region,
        aws_conn_id=None,
    )
    if settings.aws_endpoint_url:
        batch.hook.conn_config.endpoint_url = settings.aws_endpoint_url
    operator.batch = batch
    batch.job_id = alive_batch_job(batch.hook.client, settings.batch_job_queue, name)
    if batch.job_id:
        operator.log.info("re-attaching to Batch job %s (%s) of an earlier try", batch.job_id, name)
    else:
        batch.submit_job(context)
    batch.monitor_job(context)
    return batch.job_id


def alive_batch_job(client: Any, queue: str, name: str) -> str | None:
    """The id of the newest job of this name on this queue that has not ended, if any."""
    response = client.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [name]}])
    alive = [
        summary
        for summary in response.get("jobSummaryList", [])
        if summary.get("status") in jobs.ALIVE_BATCH_STATES and summary.get("jobName") == name
    ]
    if not alive:
        return None
    return max(alive, key=lambda summary: summary.get("createdAt", 0))["jobId"]


@register_backend("kubernetes")
def run_kubernetes(operator: Any, context: Any, job: WorkerJob, settings: Settings) -> Any:
    """Run the worker command in a Kubernetes pod of the worker image."""
    pod = kubernetes_pod_operator(operator.task_id, job, settings)
    operator.pod = pod
    return pod.execute_sync(context)


def kubernetes_pod_operator(task_id: str, job: WorkerJob, settings: Settings) -> Any:
    """The KubernetesPodOperator that runs one worker job.

    Raises:
        BackendUnavailableError: the cncf-kubernetes provider is not installed.
        SettingsError: CORE_WORKER_IMAGE is not set.
    """
    try:
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    except ImportError as exc:
        raise BackendUnavailableError(
            "worker backend 'kubernetes' needs apache-airflow-providers-cncf-kubernetes, "
            f"which is not installed ({exc}); install CORE's extra: pip install 'core[kubernetes]'"
        ) from None
    command = jobs.worker_command(job)
    return KubernetesPodOperator(
        task_id=f"{task_id}__pod",
        name=jobs.pod_name(job, settings),
        namespace=settings.kubernetes_namespace,
        image=jobs.worker_image(settings),
        cmds=command[:1],
        arguments=command[1:],
        env_vars=pod_environment(settings),
        random_name_suffix=True,
        get_logs=True,
        on_finish_action="delete_pod",
    )


def pod_environment(settings: Settings) -> dict[str, str]:
    """The CORE_* variables a worker pod gets: where it runs, never a credential."""
    values = settings.to_environment()
    wanted = {f"CORE_{name.upper()}" for name in POD_SETTINGS}
    return {key: value for key, value in values.items() if key in wanted}
