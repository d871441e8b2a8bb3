"""The failure alert of a run: what failed, who started it, and how to resume it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.plan import PipelinePlan
from core.runs import duration, get_run, task_runs

# Characters of a task's error summary quoted in an alert.
ERROR_LIMIT = 1000


@dataclass(frozen=True)
class FailedTask:
    """One transformation that failed in the run."""

    task_id: str
    attempt: int
    seconds: float | None
    error: str | None

    def describe(self) -> str:
        """One entry of the alert's list: task id, attempt, duration and error summary."""
        took = f", {self.seconds:.1f} s" if self.seconds is not None else ""
        error = (self.error or "no error recorded; see the task's log").strip()
        if len(error) > ERROR_LIMIT:
            error = error[:ERROR_LIMIT] + " …"
        return f"{self.task_id} (attempt {self.attempt}{took}):\n    " + error.replace(
            "\n", "\n    "
        )


@dataclass(frozen=True)
class Alert:
    """What a failure alert says; built from the run's records, never from secrets."""

    pipeline: str
    run_id: int
    triggered_by: str | None
    owners: tuple[str, ...]
    failed: tuple[FailedTask, ...]
    not_run: tuple[str, ...]

    @property
    def subject(self) -> str:
        """The email subject: pipeline and run id."""
        return f"CORE: run {self.run_id} of pipeline {self.pipeline} failed"

    @property
    def resume_command(self) -> str:
        """The command that re-runs what did not succeed, under the same run id."""
        return f"core run {self.pipeline} --resume {self.run_id}"

    def text(self) -> str:
        """The alert as plain text (the email body and the webhook's ``text``)."""
        lines = [
            f"Run {self.run_id} of pipeline {self.pipeline} failed.",
            f"Triggered by: {self.triggered_by or 'unknown'}",
            "",
            "Failed transformations:",
            *(f"- {task.describe()}" for task in self.failed),
        ]
        if not self.failed:
            lines.append("- none recorded; see the run's logs")
        if self.not_run:
            lines += ["", "Not run because of the failure: " + ", ".join(self.not_run)]
        lines += [
            "",
            "Once fixed, resume the run (only what did not succeed runs again):",
            f"    {self.resume_command}",
        ]
        return "\n".join(lines) + "\n"


def build_alert(session: Session, run_id: int) -> Alert:
    """The alert of a failed run, from its run event, snapshot and task runs (three queries).

    Args:
        session: a configuration session.
        run_id: the run's RunEvent id.

    Returns:
        The alert; the owners are the pipeline's as they are now.

    Raises:
        NotFoundError: no run has this id.
    """
    event = get_run(session, run_id)
    plan = PipelinePlan.from_dict(event.configuration_snapshot or {})
    rows = task_runs(session, run_id)
    failed: list[FailedTask] = []
    not_run: list[str] = []
    for task in plan.tasks:
        row = rows.get(task.transformation_id)
        if row is not None and row.state == "failed":
            seconds = duration(row.started_at, row.ended_at)
            failed.append(FailedTask(task.task_id, row.attempt, seconds, row.error_summary))
        elif row is not None and row.state == "upstream_failed":
            not_run.append(task.task_id)
    return Alert(
        pipeline=plan.name,
        run_id=run_id,
        triggered_by=event.triggered_by,
        owners=tuple(event.pipeline.owners or ()),
        failed=tuple(failed),
        not_run=tuple(not_run),
    )
