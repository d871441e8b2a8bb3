"""Run one transformation in one run: what ``corebot run TRANSFORM_ID RUN_ID`` does.

The transformation is read from the run's configuration snapshot (one query; see
core.transforms.pinned), never from the live rows: its template, variables and the
pipeline's contracts are what the run pinned. Its variables are validated, a
TransformContext is built, the template's kind runs it, and its task_runs row
follows along: running, then success or failed, with attempt, timings, rows,
output and error. Never imports Airflow.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from core.errors import ConfigurationError, CoreError, SettingsError
from core.helpers.session_helper import SessionHelper
from core.models.runs import TaskRun
from core.runs import begin_task, end_task, published_columns, stopped_state, task_runs
from core.settings import Settings
from core.stop import Terminated, stop_guard, stop_requested
from core.transforms.context import TransformContext
from core.transforms.kinds import KindResult, TemplateRef, kind_runner
from core.transforms.pinned import PinnedTask, current_task, pinned_task
from core.worker import ExitCode, worker_identity, worker_job
from core.worker_child import await_turn

logger = logging.getLogger("core.transforms.runtime")


@dataclass(frozen=True)
class Outcome:
    """How one transformation ended, for the worker's exit code and its one line."""

    exit_code: int
    message: str

    @property
    def succeeded(self) -> bool:
        """True when the transformation succeeded."""
        return self.exit_code == ExitCode.SUCCESS


def prepare_worker(session: Session, template: str | None = None) -> None:
    """Open what every task uses, before the task may begin: a held worker's wait.

    A worker started while its upstream still runs (core.worker.start_local) has its
    settings, its configuration session and its pinned task when it gets here
    (core.worker_child.await_turn); it ends the session's read transaction (none stays
    open while it waits) and opens this process's DuckDB database and delta-rs's runtime:
    together 40-70 ms of each task done before it is released; a task of a template whose
    DuckDB reads its inputs' files (core.transforms.library.duckdb_inputs) has that
    database opened too. Nothing is recorded; whatever fails here is left for the task
    to meet and report as it always does.
    """
    from deltalake import DeltaTable

    from core.helpers.duckdb_helper import locked_duckdb, prepare_reading
    from core.transforms.library.duckdb_inputs import TEMPLATES

    try:
        session.rollback()  # nothing was written: the pinned task is plain data
        with locked_duckdb():
            pass
        if template in TEMPLATES:
            prepare_reading()
        DeltaTable.is_deltatable("/nonexistent-core-lake")  # starts its async runtime
    except Exception:  # the task meets it again, and says what it is
        logger.debug("preparing the worker failed", exc_info=True)


def run_transformation(
    settings: Settings, session: Session, transform_id: int, run_id: int
) -> Outcome:
    """Run one transformation for one run and record it in task_runs.

    Args:
        settings: CORE's settings.
        session: a configuration session.
        transform_id: the transformation's id.
        run_id: the run event's id (the transformation must be part of its snapshot).

    Returns:
        The outcome: exit code 0 (success), 1 (the transformation failed or was
        stopped) or 2 (the configuration is invalid or missing).

    SIGTERM and SIGINT stop it within seconds, even inside native code
    (core.stop); the row is recorded failed either way (``cancelled`` when the run was
    cancelled).
    """
    try:
        pinned = pinned_task(session, transform_id, run_id)
    except CoreError as exc:
        await_turn(partial(prepare_worker, session))  # said when its turn comes, as always
        return Outcome(ExitCode.INVALID, str(exc))
    except Exception:  # the database unreachable, say: the task's error, at its turn too
        await_turn(partial(prepare_worker, session))
        raise
    # A held worker waits here, nothing recorded.
    await_turn(partial(prepare_worker, session, pinned.task.template))
    row = begin_task(session, run_id, transform_id, worker_identity(), *worker_job())
    outcome = None
    try:
        with stop_guard(partial(_record_overdue, settings, row.id)):
            outcome = _guarded(settings, session, row, pinned, run_id)
    except Terminated as exc:  # a stop landing in the guard's own set-up or as it was left
        if outcome is not None:  # the task had ended, and its record stands
            return outcome
        if row.state == "running":
            _end_failed(session, row, str(exc))
        return Outcome(ExitCode.FAILED, str(exc))
    return outcome


def _guarded(
    settings: Settings, session: Session, row: Any, pinned: PinnedTask, run_id: int
) -> Outcome:
    """The task's work once its row is running, a stop turned into Terminated."""
    try:
        ctx, template = _context(settings, session, pinned, run_id)
    except CoreError as exc:  # invalid variables, an unusable contract: not worth a retry
        _end_failed(session, row, str(exc))
        return Outcome(ExitCode.INVALID, str(exc))
    except SystemExit as exc:  # sys.exit(0) here must not make the worker exit 0
        _end_failed(session, row, _summary(exc))
        return Outcome(ExitCode.FAILED, _summary(exc))
    except BaseException as exc:  # even Ctrl-C: the row must not stay "running"
        _end_failed(session, row, _summary(exc))
        raise
    # End the read transaction: a transform may run for hours, and an open transaction
    # would hold locks on the configuration tables all that time.
    session.commit()
    return _execute(session, row, ctx, template)


def _record_overdue(settings: Settings, row_id: int, reason: str) -> None:
    """From the stop watcher: the work ignored the stop; record the task failed."""
    with SessionHelper(settings, actor="corebot") as session:
        row = session.get(TaskRun, row_id)
        if row is not None and row.state == "running":
            end_task(session, row, stopped_state(session, row.run_event_id), error_summary=reason)


def _end_failed(session: Session, row: Any, summary: str) -> None:
    session.rollback()
    end_task(session, row, stopped_state(session, row.run_event_id), error_summary=summary)


def build_context(
    settings: Settings, session: Session, transform_id: int, run_id: int, current: bool = False
) -> TransformContext:
    """The context the runtime gives a transformation in a run, built the same way.

    Notebook transforms call it (through ``core.transforms.notebook.load_context``)
    in their kernel, which is another process than the worker's.

    Args:
        current: use the configuration as it is now instead of the run's snapshot
            (notebook authoring against a run's data; never for a run's own tasks).

    Raises:
        NotFoundError: the run does not exist.
        ConfigurationError: the transformation is not part of the run's snapshot, or
            its pinned variables do not fit its pinned template.
    """
    pinned = (current_task if current else pinned_task)(session, transform_id, run_id)
    ctx = _context(settings, session, pinned, run_id)[0]
    session.commit()  # no transaction left open while the caller works
    return ctx


def _context(
    settings: Settings, session: Session, pinned: PinnedTask, run_id: int
) -> tuple[TransformContext, TemplateRef]:
    task = pinned.task
    variables = pinned.variables()  # first: a bad value is named as the variable it is
    contracts = pinned.contracts(settings)
    rows = task_runs(session, run_id)
    ctx = TransformContext(
        settings=settings,
        session=session,
        transform_id=task.transformation_id,
        run_id=run_id,
        pipeline=pinned.plan.name,
        state=task.state,
        template=task.template,
        variables=variables,
        output=contracts[task.transformation_id],
        contracts=contracts,
        ran_in_this_run=set(rows),
        published_columns={tid: published_columns(row) for tid, row in rows.items()},
        checks=list(task.checks),
    )
    return ctx, TemplateRef(task.template, task.kind, task.entrypoint)


def _execute(session: Session, row: Any, ctx: TransformContext, template: TemplateRef) -> Outcome:
    result = KindResult()
    try:
        result = kind_runner(template.kind)(ctx, template)
        ctx.commit_side_outputs()  # after the output: a failed task leaves them as they were
    except (ConfigurationError, SettingsError) as exc:
        _revert_output(ctx)
        _record_failure(session, row, ctx, result, exc)
        return Outcome(ExitCode.INVALID, str(exc))
    except (Exception, Terminated, SystemExit) as exc:  # sys.exit in a transform: failed too
        _revert_output(ctx)
        _record_failure(session, row, ctx, getattr(exc, "kind_result", result), exc)
        logger.debug("transformation %s failed", ctx.transform_id, exc_info=True)
        return Outcome(ExitCode.FAILED, _summary(exc))
    end_task(session, row, "success", **_fields(ctx, result))
    return Outcome(ExitCode.SUCCESS, _success_line(ctx, result))


def _revert_output(ctx: TransformContext) -> None:
    """A failed task commits no output: put back this run's rows it already published."""
    try:
        ctx.revert_output()
    except Exception:  # the failure being recorded matters more; say the revert failed
        logger.exception("putting back this run's rows of %s failed", ctx.output.uri)


def _record_failure(
    session: Session, row: Any, ctx: TransformContext, result: KindResult, exc: BaseException
) -> None:
    session.rollback()  # a failed flush must not block recording the failure
    # its output was put back (or never written): a failed task wrote no rows
    fields = {**_fields(ctx, result), "rows_out": None}
    state = stopped_state(session, row.run_event_id)  # a cancelled run's tasks: cancelled
    summary = _summary(exc)
    stopped_by = stop_requested()
    if stopped_by and not isinstance(exc, Terminated):  # native code's own interrupted error
        summary = f"terminated by signal {stopped_by} ({summary})"
    if state == "cancelled":
        summary = f"cancelled with run {row.run_event_id}: {summary}"
    end_task(session, row, state, error_summary=summary, **fields)


def _fields(ctx: TransformContext, result: KindResult) -> dict[str, Any]:
    published = ctx.published
    references: dict[str, Any] = {"uri": ctx.output.uri, **ctx.metadata}
    if published is not None:
        references.update(version=published.version, files=published.files)
    return {
        "rows_in": ctx.rows_in,
        "rows_out": published.rows if published else ctx.metadata.get("rows_out"),
        "output_references": references,
        "notebook_location": result.notebook_location,
    }


def _summary(exc: BaseException) -> str:
    if isinstance(exc, CoreError | Terminated):  # where a stop was raised tells nothing
        return str(exc)
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _success_line(ctx: TransformContext, result: KindResult) -> str:
    rows = ctx.published.rows if ctx.published else ctx.metadata.get("rows_out", 0)
    line = f"{ctx.state}/{ctx.template} ({ctx.transform_id}) wrote {rows} rows to {ctx.output.uri}"
    if result.notebook_location:
        line += f"; notebook: {result.notebook_location}"
    return line
