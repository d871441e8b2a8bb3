"""A task's log for the API, the UI and the CLI: found on its backend, read in pieces, masked.

Where the log is depends on how the task ran: the local runner (and Airflow's ``local``
backend) keep it in ``$CORE_HOME/logs/run_N/TASK.log``; an AWS Batch job's is its
CloudWatch stream, found from the job id the worker recorded. A task run under Airflow
also links to Airflow's own log of the try. Every text returned has passed through the
secrets masker (core.secrets.masking) — there is no unmasked path out of this module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, NotFoundError
from core.helpers.session_helper import SessionHelper
from core.logs.sources import Chunk, CloudWatchLog, FileLog, LogSource, batch_log_stream
from core.models.runs import TaskRun
from core.plan import PipelinePlan, TaskSpec
from core.runner.report import task_log_path
from core.runs import get_run
from core.secrets.masking import masker_for
from core.settings import Settings

DEFAULT_TAIL = 500
MAX_TAIL = 100_000
DEFAULT_LIMIT = 1024 * 1024  # bytes (events for CloudWatch) per read from an offset
MAX_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class TaskLog:
    """A piece of one task's log, masked, with where it came from and where it goes on."""

    run_id: int
    transformation_id: int
    task_id: str
    state: str
    attempt: int
    source: str | None  # "file", "cloudwatch"; None when nothing was written yet
    where: str | None
    text: str
    offset: int
    next_offset: int
    complete: bool  # the task has ended and this piece reaches the end of its log
    job_id: str | None
    try_number: int | None
    airflow_url: str | None


@dataclass(frozen=True)
class LogRequest:
    """What part of the log: the last ``tail`` lines, or from ``offset`` at most ``limit``."""

    tail: int | None = DEFAULT_TAIL
    offset: int | None = None
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        if self.tail is not None and not 0 <= self.tail <= MAX_TAIL:
            raise InvalidInputError(
                f"log tail={self.tail} is out of range: expected 0 to {MAX_TAIL} lines"
            )
        if self.offset is not None and self.offset < 0:
            raise InvalidInputError(f"log offset={self.offset} is negative: expected 0 or more")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInputError(f"log limit={self.limit} is out of range: 1 to {MAX_LIMIT}")


def task_log(
    settings: Settings,
    session: Session,
    run_id: int,
    transformation_id: int,
    request: LogRequest | None = None,
) -> TaskLog:
    """A piece of a task's log (by default its last 500 lines), secrets masked.

    Raises:
        NotFoundError: no such run, or the run has no such task.
        InvalidInputError: tail, offset or limit out of range.
        LogUnavailableError: the log service (CloudWatch, Batch) cannot be read now.
    """
    request = request or LogRequest()
    event = get_run(session, run_id)
    plan = PipelinePlan.from_dict(event.configuration_snapshot or {})
    task = _task(plan, run_id, transformation_id)
    row = session.scalars(
        select(TaskRun).where(
            TaskRun.run_event_id == run_id, TaskRun.transformation_id == transformation_id
        )
    ).one_or_none()
    state = row.state if row else "pending"
    source = _source(settings, run_id, task, row)
    chunk = _read(source, request) if source else Chunk("", 0, 0, True)
    log = TaskLog(
        run_id=run_id,
        transformation_id=transformation_id,
        task_id=task.task_id,
        state=state,
        attempt=row.attempt if row else 0,
        source=source.kind if source else None,
        where=source.where if source else None,
        text=chunk.text,
        offset=chunk.offset,
        next_offset=chunk.next_offset,
        complete=chunk.at_end and state not in ("running", "pending", "queued"),
        job_id=row.job_id if row else None,
        try_number=row.try_number if row else None,
        airflow_url=airflow_task_url(
            settings, plan.name, event.dag_run_id, task.task_id, row.try_number if row else None
        ),
    )
    return replace(log, text=masker_for(settings)(log.text)) if log.text else log


def airflow_task_url(
    settings: Settings,
    dag_id: str,
    dag_run_id: str | None,
    task_id: str,
    try_number: int | None,
) -> str | None:
    """The task's page (with its log) in Airflow's UI, for a run an Airflow DAG run recorded."""
    if not dag_run_id or not settings.airflow_api_url:
        return None
    base = settings.airflow_api_url.rstrip("/")
    url = f"{base}/dags/{quote(dag_id)}/runs/{quote(dag_run_id, safe='')}/tasks/{task_id}"
    return f"{url}?try_number={try_number}" if try_number else url


def task_links(settings: Settings, detail: Any) -> dict[int, str]:
    """Each task's page in Airflow's UI by transformation id, for a run's detail
    (core.service.runs.RunDetail; no query); none for a local run."""
    links = {
        task.transformation_id: airflow_task_url(
            settings, detail.pipeline_name, detail.dag_run_id, task.task_id, task.try_number
        )
        for task in detail.tasks
    }
    return {tid: url for tid, url in links.items() if url}


def follow(settings: Settings, first: TaskLog, poll_seconds: float = 1.0) -> Iterator[str]:
    """The text of ``first``, then each new piece of its log until the task has ended.

    Each poll opens its own short session, so a follow holds no connection while it waits.
    """
    log = first
    yield log.text
    while not log.complete:
        time.sleep(poll_seconds)
        with SessionHelper(settings) as session:
            request = LogRequest(offset=log.next_offset)
            log = task_log(settings, session, log.run_id, log.transformation_id, request)
        if log.text:
            yield log.text


def _task(plan: PipelinePlan, run_id: int, transformation_id: int) -> TaskSpec:
    for task in plan.tasks:
        if task.transformation_id == transformation_id:
            return task
    raise NotFoundError(
        f"run {run_id} has no task of transformation {transformation_id}: its tasks are "
        + ", ".join(str(t.transformation_id) for t in plan.tasks)
    )


def _source(
    settings: Settings, run_id: int, task: TaskSpec, row: TaskRun | None
) -> LogSource | None:
    """Where the task's log is: its Batch job's stream, else this machine's log file."""
    if row is not None and row.job_id and settings.worker_backend == "batch":
        stream = batch_log_stream(settings, row.job_id)
        return CloudWatchLog(settings, stream) if stream else None
    log = FileLog(task_log_path(settings, run_id, task.task_id))
    return log if log.exists() else None


def _read(source: LogSource, request: LogRequest) -> Chunk:
    if request.offset is not None:
        return source.read(request.offset, request.limit)
    return source.tail(request.tail if request.tail is not None else DEFAULT_TAIL)
