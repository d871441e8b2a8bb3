"""What a run did, task by task: for the summary table, the CLI and the API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from core.plan import PipelinePlan
from core.runs import duration, get_run, run_duration, task_notes, task_runs
from core.settings import Settings


def run_log_dir(settings: Settings, run_id: int) -> Path:
    """Where a run's logs are kept: each task's worker output, and a detached runner's."""
    return settings.home / "logs" / f"run_{run_id}"


def task_log_path(settings: Settings, run_id: int, task_id: str) -> Path:
    """A task's worker output on this machine (the local runner's, Airflow's local backend's)."""
    return run_log_dir(settings, run_id) / f"{task_id}.log"


@dataclass(frozen=True)
class TaskReport:
    """One task of a run."""

    transformation_id: int
    task_id: str
    state: str
    attempt: int
    seconds: float | None
    rows_in: int | None
    rows_out: int | None
    error: str | None
    notebook_location: str | None
    log: Path | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunReport:
    """One run: its state and its tasks in plan order."""

    run_id: int
    pipeline: str
    state: str
    seconds: float | None
    tasks: list[TaskReport]
    configuration: str = "current"
    resumed_by: str | None = None

    @property
    def failed(self) -> bool:
        """True when the run failed or was cancelled: it published nothing to go on from."""
        return self.state in ("failed", "cancelled")


def build_report(
    session: Session, plan: PipelinePlan, run_id: int, log_dir: Path | None = None
) -> RunReport:
    """The report of a run, from its task runs (two queries)."""
    event = get_run(session, run_id)
    rows = task_runs(session, run_id)
    tasks = []
    for task in plan.tasks:
        row = rows.get(task.transformation_id)
        log = log_dir / f"{task.task_id}.log" if log_dir else None
        tasks.append(
            TaskReport(
                transformation_id=task.transformation_id,
                task_id=task.task_id,
                state=row.state if row else "not run",
                attempt=row.attempt if row else 0,
                seconds=duration(row.started_at, row.ended_at) if row else None,
                rows_in=row.rows_in if row else None,
                rows_out=row.rows_out if row else None,
                error=row.error_summary if row else None,
                notebook_location=row.notebook_location if row else None,
                log=log if log and log.exists() else None,
                notes=tuple(task_notes(row)),
            )
        )
    return RunReport(
        run_id=run_id,
        pipeline=plan.name,
        state=event.state,
        seconds=run_duration(event),
        tasks=tasks,
        configuration=event.configuration,
        resumed_by=event.resumed_by,
    )
