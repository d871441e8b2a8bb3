"""LocalRunner: run one pipeline on this machine, group after group.

The plan (core/plan.py) gives the groups in exactly the order the Airflow DAG
has them. Each transformation runs as its own worker process (``corebot run``);
those of one group run in parallel, up to ``workers`` at a time. A failure stops
the downstream groups (their tasks become ``upstream_failed``); ``resume`` re-runs
what failed or never ran in an earlier run, under the same run id, with the current
configuration (the run is re-pinned) or its snapshot as it was. A failed run
sends its failure alert (core.alerts) to the pipeline's owners. A cancel
(core.run_controls) stops the runner with SIGTERM: it stops its workers, which
record their tasks ``cancelled``, and reports the run as cancelled. With
``openlineage_transport`` set, each attempt of a task sends OpenLineage events.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from core.alerts import notify_failure
from core.database.engine import database_lost_means
from core.errors import ConfigurationError
from core.helpers.session_helper import SessionHelper
from core.plan import PipelinePlan, TaskGroup, TaskSpec, load_plan, load_plans
from core.plan.check import require_check
from core.run_controls import claim_run
from core.runner.ahead import WorkersAhead
from core.runner.report import RunReport, build_report, run_log_dir, task_log_path
from core.runs import (
    check_configuration_choice,
    finish_run,
    get_run,
    mark_tasks,
    reap,
    resume_run,
    start_run,
    task_runs,
)
from core.settings import Settings
from core.stop import Terminated, stop_signals_raise
from core.worker import (
    ExitCode,
    LocalWorker,
    WorkerJob,
    settle_worker_exit,
    start_local,
    worker_identity,
)
from core.worker_server import start_server

if TYPE_CHECKING:  # lineage reads the lake's contracts (pyarrow): imported when a run starts
    from core.lineage.openlineage import TaskEvents

logger = logging.getLogger("core.runner")
# Who the run records as having started or resumed it.
ACTOR = "core run"
# How long a run waits, at its end, for its ended workers' processes to be gone (their
# codes are known already; a process frees its memory in 5-10 ms).
JOIN_SECONDS = 30.0

Listener = Callable[[str, TaskSpec, str], None]


@dataclass
class LocalRunner:
    """Runs pipelines as local worker processes.

    Args:
        settings: CORE's settings; the workers get the same ones.
        workers: how many transformations of one group run at once.
        listener: called as ``listener(event, task, detail)`` for started, retrying,
            finished (detail: the state) and skipped tasks.
        sleep: how to wait between retries (tests pass a no-op); by default the wait
            ends early when the run is stopped.
        warm: start each worker as a child of the warm worker server (core.worker);
            False starts a new interpreter per task, as Batch and Kubernetes do.
        on_start: called once as ``on_start(run_id, tasks)`` with the tasks of the run in
            the order they run (core.runner.progress numbers them so).
    """

    settings: Settings
    workers: int = 1
    listener: Listener | None = None
    sleep: Callable[[float], None] | None = None
    warm: bool = True
    on_start: Callable[[int, list[TaskSpec]], None] | None = None
    _live: set[LocalWorker] = field(default_factory=set, init=False, repr=False)
    # Workers whose code is known but whose process may still be ending: a run returns
    # once they are gone (their teardown is off the run's path, not left behind it).
    _ended: list[LocalWorker] = field(default_factory=list, init=False, repr=False)
    _ahead: WorkersAhead | None = field(default=None, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _pipeline: str = field(default="", init=False, repr=False)

    def run(
        self,
        pipeline: str,
        resume: int | None = None,
        only: str | None = None,
        configuration: str = "current",
    ) -> RunReport:
        """Run a pipeline (or resume a run) and report every task.

        Args:
            pipeline: the pipeline's name.
            resume: an earlier run id of this pipeline: re-run what did not succeed.
            only: run only the groups of this state.
            configuration: for a resume, ``current`` (re-pin the run to the configuration
                now) or ``pinned`` (its snapshot as it was); see core.runs.resume_run.

        Returns:
            The run's report (its state is ``failed`` when any task failed).

        Raises:
            NotFoundError: no such pipeline or run.
            ConfigurationError: the run belongs to another pipeline, or the state is unknown.
            PipelineCheckError: the pipeline fails its check (nothing was started).
            DatabaseError: the configuration database cannot be reached (the message says
                how to resume the run once it is back).
        """
        self._pipeline = pipeline
        self._stop.clear()
        if self.warm:
            start_server(self.settings)  # its imports overlap with preparing the run
        with self._database(pipeline, resume) as session:
            for dead in reap(session):  # runs whose worker died without a word end failed
                logger.warning("%s", dead.message)
            plan, run_id = self._prepare(session, pipeline, resume, configuration)
            claim_run(session, run_id, worker_identity())  # a cancel stops this process
            done = {
                tid for tid, row in task_runs(session, run_id).items() if row.state == "success"
            }
        events = _lineage_events(self.settings, plan)
        groups = [g for g in plan.groups if only in (None, g.state)]
        if only is not None and not groups:
            states = sorted({g.state for g in plan.groups})
            raise ConfigurationError(
                f"pipeline {pipeline!r} has no transformation in state {only!r}; "
                f"its states: {', '.join(states)}"
            )
        if self.on_start is not None:
            self.on_start(run_id, [task for group in groups for task in group.tasks])
        try:
            with stop_signals_raise():
                failed = self._run_groups(groups, run_id, done, pipeline, events)
        except BaseException as exc:  # Ctrl-C, a worker that cannot start: the run ends failed
            with self._database(pipeline, run_id) as session:
                event = finish_run(session, run_id, failed=True)
                if isinstance(exc, Terminated) and event.state == "cancelled":
                    return build_report(session, plan, run_id, self.log_dir(run_id))
            raise
        with self._database(pipeline, run_id) as session:
            finish_run(session, run_id, failed)
            if failed:
                notify_failure(self.settings, session, run_id)  # logs, never raises
            return build_report(session, plan, run_id, self.log_dir(run_id))

    def run_with_dependants(self, pipeline: str) -> list[RunReport]:
        """Run a pipeline, then every active pipeline its datasets start, and theirs in turn.

        A pipeline whose ``dataset_schedule`` is satisfied by the datasets the runs so
        far published (``any``: one of them, ``all``: each) runs next, once, in name
        order; a failed run publishes nothing, so its dependants do not run.

        Returns:
            The reports, in the order the runs happened.
        """
        from core.lineage.schedule import dependants, output_keys

        with self._database(pipeline, None) as session:
            plans = {plan.name: plan for plan in load_plans(session)}
        reports = [self.run(pipeline)]
        published: set[str] = set()
        started = {pipeline}
        while True:
            last = reports[-1]
            if not last.failed and last.pipeline in plans:
                published.update(output_keys(plans[last.pipeline]))
            ready = [n for n in dependants(plans.values(), published) if n not in started]
            if not ready:
                return reports
            started.add(ready[0])
            reports.append(self.run(ready[0]))

    def log_dir(self, run_id: int) -> Path:
        """Where the workers' output of a run is kept."""
        return run_log_dir(self.settings, run_id)

    @contextmanager
    def _database(self, pipeline: str, run_id: int | None) -> Iterator[Session]:
        """A session; a lost database becomes a DatabaseError saying how to resume the run."""
        if run_id is None:
            after = f"no run of {pipeline!r} was started; start it again once the database is back"
        else:
            after = (
                f"run {run_id} of {pipeline!r} stopped and is not recorded as finished; once the "
                f"database is back, resume it with `core run {pipeline} --resume {run_id}`"
            )
        with database_lost_means(after), SessionHelper(self.settings, actor="core run") as session:
            yield session

    def _prepare(
        self, session: Session, pipeline: str, resume: int | None, configuration: str
    ) -> tuple[PipelinePlan, int]:
        if resume is None:
            plan = load_plan(session, pipeline)
            require_check(session, plan)  # a pipeline that fails its check starts no worker
            return plan, start_run(session, plan, ACTOR).id
        check_configuration_choice(configuration)
        snapshot = PipelinePlan.from_dict(get_run(session, resume).configuration_snapshot or {})
        if snapshot.name != pipeline:
            raise ConfigurationError(
                f"run {resume} is a run of {snapshot.name!r}, not {pipeline!r}; "
                f"resume it with `core run {snapshot.name} --resume {resume}`"
            )
        current = load_plan(session, pipeline) if configuration == "current" else None
        require_check(session, current or snapshot)
        return resume_run(session, resume, configuration, ACTOR, current), resume

    def _run_groups(
        self,
        groups: list[TaskGroup],
        run_id: int,
        done: set[int],
        pipeline: str,
        events: TaskEvents | None,
    ) -> bool:
        if self.warm:  # the next group's first workers start held while a group runs
            self._ahead = WorkersAhead(
                partial(self._start, run_id=run_id, held=True),
                lambda task: task_log_path(self.settings, run_id, task.task_id),
            )
        try:
            for index, group in enumerate(groups):
                pending = [t for t in group.tasks if t.transformation_id not in done]
                for task in group.tasks:
                    if task.transformation_id in done:
                        self._tell("skipped", task, "succeeded earlier in this run")
                if self._ahead is not None and index + 1 < len(groups):
                    following = groups[index + 1].tasks
                    ahead = [t for t in following if t.transformation_id not in done]
                    at_once = max(1, self.workers)
                    self._ahead.plan(ahead[:at_once], min(at_once, len(pending)))
                with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
                    try:
                        codes = list(pool.map(lambda t: self._run_task(t, run_id, events), pending))
                    except BaseException:  # Ctrl-C, SIGTERM: stop the workers before waiting
                        pool.shutdown(wait=False, cancel_futures=True)
                        self._stop_workers()
                        raise
                if any(code != 0 for code in codes):
                    self._tidy_ahead()
                    self._mark_downstream(groups[index + 1 :], run_id, pipeline)
                    return True
            return False
        finally:
            self._tidy_ahead()
            self._ahead = None
            self._join_ended()

    def _run_task(self, task: TaskSpec, run_id: int, events: TaskEvents | None) -> int:
        attempts = task.retries + 1
        for attempt in range(1, attempts + 1):
            self._tell("started", task, f"attempt {attempt} of {attempts}")
            if events is not None:
                events.started(task, run_id, attempt)
            code = self._spawn(task, run_id)
            if events is not None:
                events.ended(task, run_id, attempt)
            if self._stop.is_set() or not ExitCode.retryable(code) or attempt == attempts:
                break
            self._tell("retrying", task, f"in {task.retry_delay_seconds}s")
            if self.sleep is not None:
                self.sleep(task.retry_delay_seconds)
            elif self._stop.wait(task.retry_delay_seconds):
                break  # stopped while waiting: no further attempt
        self._tell("finished", task, "success" if code == 0 else "failed")
        return code

    def _spawn(self, task: TaskSpec, run_id: int) -> int:
        ahead = self._ahead
        held = None if ahead is None else ahead.take(task.transformation_id)
        if self._stop.is_set():
            if held is not None:
                held.drop()
            return ExitCode.FAILED
        worker = held if held is not None and held.release() else None
        if worker is None:
            if held is not None:  # it died while held: a fresh one runs the task
                held.drop()
            worker = self._start(task, run_id)
        self._live.add(worker)
        if ahead is not None:
            ahead.started()  # once this group's first workers run, the next group's start
        if self._stop.is_set():  # the stop came while it started: _stop_workers missed it
            worker.stop()
        try:
            code = worker.wait()
        finally:
            self._live.discard(worker)
            self._ended.append(worker)
        code = -1 if code is None else code
        settled = settle_worker_exit(self.settings, worker.job, code, ACTOR)  # did it record?
        if settled != code:  # its record says otherwise: it may still run, and must not
            worker.end_process()
        return settled

    def _start(self, task: TaskSpec, run_id: int, held: bool = False) -> LocalWorker:
        """A worker for this task, its output appended to the task's log."""
        log = task_log_path(self.settings, run_id, task.task_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        job = WorkerJob(task.transformation_id, run_id, state=task.state, template=task.template)
        with log.open("ab") as output:
            return start_local(job, self.settings, output.fileno(), warm=self.warm, held=held)

    def _join_ended(self) -> None:
        deadline = time.monotonic() + JOIN_SECONDS
        ended, self._ended = self._ended, []
        for worker in ended:
            worker.join(max(0.0, deadline - time.monotonic()))

    def _tidy_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead.close()
            self._ahead.tidy()

    def _stop_workers(self) -> None:
        """Stop every live and held worker at once (each is killed 5 s after it was asked)."""
        self._stop.set()
        workers = [*self._live, *(self._ahead.close() if self._ahead is not None else [])]
        if workers:
            with ThreadPoolExecutor(max_workers=len(workers)) as stoppers:
                list(stoppers.map(LocalWorker.stop, workers))

    def _mark_downstream(self, groups: list[TaskGroup], run_id: int, pipeline: str) -> None:
        ids = [t.transformation_id for g in groups for t in g.tasks]
        with self._database(pipeline, run_id) as session:
            mark_tasks(session, run_id, ids, "upstream_failed")

    def _tell(self, event: str, task: TaskSpec, detail: str) -> None:
        if self.listener is not None:
            self.listener(event, task, detail)


def _lineage_events(settings: Settings, plan: PipelinePlan) -> TaskEvents | None:
    """The run's OpenLineage events, or None when no transport is configured.

    Imported only when configured: lineage reads the lake's contracts, whose pyarrow
    (0.3 s) a run's own process needs for nothing else.
    """
    if not settings.openlineage_transport:
        return None
    from core.lineage.openlineage import TaskEvents

    return TaskEvents(settings, plan)
