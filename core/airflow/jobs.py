"""What a remote worker needs besides the job: its name, the Batch definition and overrides.

Plain functions, no Airflow: the TransformOperator's backends pass these values on
to AWS Batch or Kubernetes. The job and its command are ``core.worker``'s.
"""

from __future__ import annotations

import re

from core.errors import SettingsError
from core.settings import Settings
from core.worker import WorkerJob, worker_command

BATCH_JOB_NAME_MAX = 128
K8S_NAME_MAX = 63
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# Batch job states in which a job will still run to an end of its own.
ALIVE_BATCH_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


def job_name(job: WorkerJob, settings: Settings, limit: int = BATCH_JOB_NAME_MAX) -> str:
    """A job name from the contract's key: branch, company, brand, state, template, ids.

    Only letters, digits, '_' and '-' are kept, and the name is cut to ``limit``
    characters at the front, so the unique end (transformation and run id) survives.

    Args:
        job: the worker job.
        settings: CORE's settings (the branch).
        limit: the longest name allowed (Batch: 128).

    Returns:
        A name unique to the transformation and run, e.g.
        ``dev-acme-zentrix-ingest-numbers-t12-r40``.
    """
    prefix = _UNSAFE.sub("_", "-".join(contract_parts(job, settings)))
    suffix = f"-t{job.transformation_id}-r{job.run_id}"
    return prefix[: max(0, limit - len(suffix))].rstrip("-_") + suffix


def contract_parts(job: WorkerJob, settings: Settings) -> list[str]:
    """The key parts of the job's contract: branch, company, brand, state, template.

    Raises:
        ContractError: a part is not valid in a lake path (as the worker would find).
    """
    from core.lake.contract import Contract  # pyarrow: only when a job is sent

    contract = Contract(job.company, job.brand, job.state, job.template, settings=settings)
    return contract.parts


def pod_name(job: WorkerJob, settings: Settings) -> str:
    """A Kubernetes pod name: the job name, lower case, at most 63 characters, no '_'."""
    name = job_name(job, settings, K8S_NAME_MAX).lower().replace("_", "-")
    return name.strip("-")


def batch_job_definition(settings: Settings) -> str:
    """The Batch job definition: the setting, or ``core-{environment}-{branch}``."""
    if settings.batch_job_definition:
        return settings.batch_job_definition
    return _UNSAFE.sub("_", f"core-{settings.environment}-{settings.branch}")


def batch_container_overrides(job: WorkerJob) -> dict[str, list[str]]:
    """Batch's ``containerOverrides``: the worker command."""
    return {"command": worker_command(job)}


def worker_image(settings: Settings) -> str:
    """The worker image for Kubernetes pods.

    Raises:
        SettingsError: CORE_WORKER_IMAGE is not set.
    """
    if not settings.worker_image:
        raise SettingsError(
            "CORE_WORKER_IMAGE is not set: the kubernetes worker backend needs the image "
            "of a CORE worker (e.g. registry/core-worker:1.0); set it, or choose "
            "CORE_WORKER_BACKEND=local or batch"
        )
    return settings.worker_image
