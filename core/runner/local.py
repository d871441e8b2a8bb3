"""LocalRunner: run one pipeline on this machine, group after group.

The plan (core/plan.py) gives the groups in exactly the order the Airflow DAG
has them. Each transformation runs as its own worker process (``corebot run``);
those of one group run in parallel, up to ``workers`` at a time. A failure stops
the downstream groups (their tasks become ``upstream_failed``); ``resume`` re-runs
what failed or never ran in an earlier run, under the same run id. A failed run
sends its failure alert (core.alerts) to the pipeline's owners. With
``openlineage_transport`` set, each attempt of a task sends OpenLineage events.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from core.alerts import notify_failure
from core.database.engine import database_lost_means
from core.errors import ConfigurationError
from core.helpers.session_helper import SessionHelper
from core.lineage.openlineage import TaskEvents
from core.lineage.schedule import dependants, output_keys
from core.plan import PipelinePlan, TaskGroup, TaskSpec, load_plan, load_plans
from core.runner.report import RunReport, build_report
from core.runs import finish_run, get_run, mark_tasks, start_run, task_runs
from core.settings import Settings

# corebot's exit code for an invalid configuration: retrying cannot help.
EXIT_INVALID = 2

Listener = Callable[[str, TaskSpec, str], None]


@dataclass
class LocalRunner:
    """Runs pipelines as local worker processes.

    Args:
        settings: CORE's settings; the workers get the same ones.
        workers: how many transformations of one group run at once.
        listener: called as ``listener(event, task, detail)`` for started, retrying,
            finished (detail: the state) and skipped tasks.
        sleep: how to wait between retries (tests pass a no-op).
    """

    settings: Settings
    workers: int = 1
    listener: Listener | None = None
    sleep: Callable[[float], None] = time.sleep

    def run(self, pipeline: str, resume: int | None = None, only: str | None = None) -> RunReport:
        """Run a pipeline (or resume a run) and report every task.

        Args:
            pipeline: the pipeline's name.
            resume: an earlier run id of this pipeline: re-run what did not succeed.
            only: run only the groups of this state.

        Returns:
            The run's report (its state is ``failed`` when any task failed).

        Raises:
            NotFoundError: no such pipeline or run.
            ConfigurationError: the run belongs to another pipeline, or the state is unknown.
            DatabaseError: the configuration database cannot be reached (the message says
                how to resume the run once it is back).
        """
        with self._database(pipeline, resume) as session:
            plan, run_id = self._prepare(session, pipeline, resume)
            done = {
                tid for tid, row in task_runs(session, run_id).items() if row.state == "success"
            }
        events = TaskEvents(self.settings, plan)  # OpenLineage, when configured
        groups = [g for g in plan.groups if only in (None, g.state)]
        if only is not None and not groups:
            states = sorted({g.state for g in plan.groups})
            raise ConfigurationError(
                f"pipeline {pipeline!r} has no transformation in state {only!r}; "
                f"its states: {', '.join(states)}"
            )
        try:
            failed = self._run_groups(groups, run_id, done, pipeline, events)
        except BaseException:  # Ctrl-C, a worker that cannot start: the run must end failed
            with self._database(pipeline, run_id) as session:
                finish_run(session, run_id, failed=True)
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
        return self.settings.home / "logs" / f"run_{run_id}"

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
        self, session: Session, pipeline: str, resume: int | None
    ) -> tuple[PipelinePlan, int]:
        if resume is None:
            plan = load_plan(session, pipeline)
            return plan, start_run(session, plan, "core run").id
        event = get_run(session, resume)
        plan = PipelinePlan.from_dict(event.configuration_snapshot or {})
        if plan.name != pipeline:
            raise ConfigurationError(
                f"run {resume} is a run of {plan.name!r}, not {pipeline!r}; "
                f"resume it with `core run {plan.name} --resume {resume}`"
            )
        event.state, event.ended_at = "running", None
        session.commit()
        return plan, resume

    def _run_groups(
        self,
        groups: list[TaskGroup],
        run_id: int,
        done: set[int],
        pipeline: str,
        events: TaskEvents,
    ) -> bool:
        for index, group in enumerate(groups):
            pending = [t for t in group.tasks if t.transformation_id not in done]
            for task in group.tasks:
                if task.transformation_id in done:
                    self._tell("skipped", task, "succeeded earlier in this run")
            with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
                codes = list(pool.map(lambda t: self._run_task(t, run_id, events), pending))
            if any(code != 0 for code in codes):
                self._mark_downstream(groups[index + 1 :], run_id, pipeline)
                return True
        return False

    def _run_task(self, task: TaskSpec, run_id: int, events: TaskEvents) -> int:
        attempts = task.retries + 1
        for attempt in range(1, attempts + 1):
            self._tell("started", task, f"attempt {attempt} of {attempts}")
            events.started(task, run_id, attempt)
            code = self._spawn(task, run_id)
            events.ended(task, run_id, attempt)
            if code in (0, EXIT_INVALID) or attempt == attempts:
                break
            self._tell("retrying", task, f"in {task.retry_delay_seconds}s")
            self.sleep(task.retry_delay_seconds)
        self._tell("finished", task, "success" if code == 0 else "failed")
        return code

    def _spawn(self, task: TaskSpec, run_id: int) -> int:
        log = self.log_dir(run_id) / f"{task.task_id}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "corebot", "run", str(task.transformation_id), str(run_id)]
        with log.open("ab") as output:
            return subprocess.run(
                command,
                env=worker_environment(self.settings),
                stdout=output,
                stderr=subprocess.STDOUT,
                check=False,
            ).returncode

    def _mark_downstream(self, groups: list[TaskGroup], run_id: int, pipeline: str) -> None:
        ids = [t.transformation_id for g in groups for t in g.tasks]
        with self._database(pipeline, run_id) as session:
            mark_tasks(session, run_id, ids, "upstream_failed")

    def _tell(self, event: str, task: TaskSpec, detail: str) -> None:
        if self.listener is not None:
            self.listener(event, task, detail)


def worker_environment(settings: Settings) -> dict[str, str]:
    """The environment of a worker process: this one's, with the runner's settings."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CORE_")}
    return {**inherited, **settings.to_environment()}
