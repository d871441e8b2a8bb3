"""TransformOperator: one transformation of a pipeline, run by a worker.

The operator is thin: it reads the run id that the DAG's RunEvent task pushed to
XCom, and hands ``corebot run TID RUN_ID`` to the worker backend the settings
name (see ``backends``). It holds only what naming the worker job needs, so that
building thousands of them at parse time costs no more than plain operators.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from airflow.sdk import BaseOperator

from core.airflow.dagbuilder.shape import RUN_EVENT_TASK_ID
from core.airflow.plugins.backends import get_backend
from core.errors import CoreError
from core.plan import TaskSpec
from core.settings import load_settings
from core.worker import WorkerJob


class MissingRunError(CoreError):
    """A transformation task found no run id: the RunEvent task did not succeed."""


class TransformOperator(BaseOperator):
    """Run one transformation on the configured worker backend.

    Build it with :meth:`for_task`. It has no ``__init__`` of its own on purpose:
    Airflow re-applies default arguments for every ``__init__`` in an operator's
    class hierarchy, which would double the cost of building 35,000 of them.
    """

    ui_color = "#d9ead3"
    # The worker job, but for the run id, which only the RunEvent task knows (0 until then).
    transform: WorkerJob | None = None
    process: Any = None  # the local worker (core.worker.LocalWorker), while it runs
    batch: Any = None  # the BatchOperator a batch backend delegates to
    pod: Any = None  # the KubernetesPodOperator a kubernetes backend delegates to

    @classmethod
    def for_task(cls, task: TaskSpec, company: str, brand: str, **kwargs: Any) -> TransformOperator:
        """The operator of a plan's task: its task id, retries and retry delay.

        Args:
            task: the task of the plan.
            company: the pipeline's company.
            brand: the pipeline's brand.
            **kwargs: more BaseOperator arguments (dag, ...).

        Returns:
            The operator, added to the DAG when one is given.
        """
        operator = cls(
            task_id=task.task_id,
            retries=task.retries,
            retry_delay=task.retry_delay_seconds,
            **kwargs,
        )
        operator.transform = WorkerJob(
            task.transformation_id, 0, company, brand, task.state, task.template
        )
        return operator

    def execute(self, context: Any) -> Any:
        """Send ``corebot run`` to the worker backend and wait for its end.

        Raises:
            MissingRunError: the RunEvent task pushed no run id.
            InvalidWorkerConfigurationError: corebot found the configuration invalid.
            WorkerFailedError: the worker failed (retried while retries are left).
        """
        settings = load_settings()
        run_id = context["ti"].xcom_pull(task_ids=RUN_EVENT_TASK_ID)
        if run_id is None:
            raise MissingRunError(
                f"task {self.task_id}: no run id in XCom from {RUN_EVENT_TASK_ID!r}, expected "
                f"the RunEvent id; check that task's log, then clear the DAG run"
            )
        if self.transform is None:
            raise MissingRunError(
                f"task {self.task_id}: no transformation; build TransformOperator with "
                "TransformOperator.for_task(task_spec, company, brand)"
            )
        job = replace(self.transform, run_id=int(run_id))
        return get_backend(settings.worker_backend)(self, context, job, settings)

    def on_kill(self) -> None:
        """Stop the worker: the local process (killed after 5 s), the Batch job or the pod."""
        if self.process is not None:
            self.process.stop()
        for delegate in (self.batch, self.pod):
            if delegate is not None:
                delegate.on_kill()
