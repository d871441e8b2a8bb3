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
from core.airflow.plugins.lineage import AssetCache, facts_of, operator_lineage, record_asset_event
from core.errors import CoreError
from core.lineage.datasets import TaskLineage
from core.lineage.facts import TaskFacts
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
    lineage: TaskLineage | None = None  # the datasets it reads and writes (inlets, outlets)
    facts: TaskFacts | None = None  # what it read and wrote, once it succeeded

    @classmethod
    def for_task(
        cls,
        task: TaskSpec,
        company: str,
        brand: str,
        lineage: TaskLineage | None = None,
        assets: AssetCache | None = None,
        **kwargs: Any,
    ) -> TransformOperator:
        """The operator of a plan's task: its task id, retries, retry delay, inlets and outlets.

        Args:
            task: the task of the plan.
            company: the pipeline's company.
            brand: the pipeline's brand.
            lineage: what the task reads and writes: its inlets and outlets (Assets).
            assets: the Assets made so far while parsing (shared by the tasks of the file).
            **kwargs: more BaseOperator arguments (dag, ...).

        Returns:
            The operator, added to the DAG when one is given.
        """
        operator = cls(
            task_id=task.task_id,
            retries=task.retries,
            retry_delay=task.retry_delay_seconds,
            **(assets or AssetCache()).lineage_arguments(lineage),
            **kwargs,
        )
        operator.transform = WorkerJob(
            task.transformation_id, 0, company, brand, task.state, task.template
        )
        operator.lineage = lineage
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

    def post_execute(self, context: Any, result: Any = None) -> None:
        """Give the output's asset event the run id, the rows written and the Delta version.

        The facts are kept for :meth:`get_openlineage_facets_on_complete`, which the
        OpenLineage provider calls in a forked process, where the lake's client
        (whose threads do not survive a fork) must not be used.
        """
        if self.lineage is None or not self.outlets:
            return
        try:  # the work is committed: lineage that cannot be gathered must not fail it
            run_id = int(context["ti"].xcom_pull(task_ids=RUN_EVENT_TASK_ID))
            self.facts = facts_of(load_settings(), self.lineage, run_id)
            record_asset_event(context, self.outlets[0], self.facts, self.dag_id)
        except Exception as exc:
            self.facts = None
            self.log.warning(
                "no lineage facts for %s (its asset event is plain): %s", self.task_id, exc
            )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """For Airflow's OpenLineage provider: inputs and output with schema and row counts."""
        if self.facts is None:
            return None
        return operator_lineage(self.facts)

    def on_kill(self) -> None:
        """Stop the worker: the local process (killed after 5 s), the Batch job or the pod."""
        if self.process is not None:
            self.process.stop()
        for delegate in (self.batch, self.pod):
            if delegate is not None:
                delegate.on_kill()
