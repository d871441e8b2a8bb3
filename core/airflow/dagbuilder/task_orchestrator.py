"""TaskOrchestrator: the tasks of one pipeline's DAG, wired as an hourglass.

    RunEvent -> spacer 0 -> tasks of group 0 -> spacer 1 -> ... -> EndRun

RunEvent creates the run event and pushes its id to XCom; each transformation is
a TransformOperator; spacers are EmptyOperators (``TaskGroup.spacer_id``); EndRun
(trigger rule all_done) records how the run ended and fails the DAG run when a
transformation failed. The order is the plan's, so it is deterministic and the
same as ``shape.dag_shape`` and the LocalRunner's.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

from core.airflow.dagbuilder.run_events import close_run, open_run, who_started
from core.airflow.dagbuilder.shape import END_RUN_TASK_ID, RUN_EVENT_TASK_ID
from core.airflow.plugins.lineage import AssetCache
from core.airflow.plugins.transform_operator import MissingRunError, TransformOperator
from core.errors import CoreError
from core.lineage.datasets import plan_lineage
from core.plan import PipelinePlan
from core.settings import Settings, load_settings


class RunFailedError(CoreError, AirflowFailException):
    """A pipeline run ended with failed transformations: the DAG run fails too."""


class TaskOrchestrator:
    """Adds a plan's tasks to a DAG.

    Args:
        dag: the pipeline's DAG (tasks are added to it).
        plan: the pipeline's plan.
        settings: CORE's settings (the lake addresses of the inlets and outlets).
        assets: the Assets made so far (shared by the DAGs of one parse).
    """

    def __init__(
        self,
        dag: DAG,
        plan: PipelinePlan,
        settings: Settings,
        assets: AssetCache | None = None,
    ) -> None:
        self.dag = dag
        self.plan = plan
        self.settings = settings
        self.assets = assets or AssetCache()

    def build(self) -> DAG:
        """Create and wire every task of the plan.

        Returns:
            The DAG, with RunEvent, the spacers, the transformations and EndRun.
        """
        plan, dag = self.plan, self.dag
        lineage = plan_lineage(plan, self.settings)
        previous: list[Any] = [
            PythonOperator(
                task_id=RUN_EVENT_TASK_ID, python_callable=partial(start_run_task, plan), dag=dag
            )
        ]
        for group in plan.groups:
            spacer = EmptyOperator(task_id=group.spacer_id, dag=dag)
            spacer.set_upstream(previous)
            previous = [
                TransformOperator.for_task(
                    task,
                    plan.company,
                    plan.brand,
                    lineage[task.transformation_id],
                    self.assets,
                    dag=dag,
                )
                for task in group.tasks
            ]
            spacer.set_downstream(previous)
        end = PythonOperator(
            task_id=END_RUN_TASK_ID,
            python_callable=partial(end_run_task, plan),
            trigger_rule="all_done",
            dag=dag,
        )
        end.set_upstream(previous)
        return dag


def start_run_task(plan: PipelinePlan, dag_run: Any = None, run_id: str = "") -> int:
    """RunEvent's callable: create the run event; its id goes to XCom.

    The run records who started it: ``conf.triggered_by`` (CORE's "Run now"), the
    Airflow user who triggered it, or ``schedule``.

    Args:
        plan: the pipeline's plan.
        dag_run: the DAG run (Airflow passes it).
        run_id: Airflow's DAG run id (Airflow passes it).
    """
    triggered_by = who_started(
        getattr(dag_run, "conf", None),
        str(getattr(dag_run, "run_type", "") or "") or None,
        getattr(dag_run, "triggering_user_name", None),
    )
    return open_run(load_settings(), plan, triggered_by, run_id)


def end_run_task(plan: PipelinePlan, ti: Any) -> int:
    """EndRun's callable: record the run's end; fail if a transformation failed.

    Args:
        plan: the pipeline's plan.
        ti: the running task instance (Airflow passes it).

    Returns:
        The run id, when every transformation succeeded.

    Raises:
        MissingRunError: RunEvent created no run.
        RunFailedError: a transformation failed or never ran because of a failure.
    """
    run_id = ti.xcom_pull(task_ids=RUN_EVENT_TASK_ID)
    if run_id is None:
        raise MissingRunError(
            f"pipeline {plan.name!r}: {RUN_EVENT_TASK_ID} created no run event, so there is "
            "no run to close; see that task's log"
        )
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    end = close_run(load_settings(), plan, int(run_id), states)
    if end.failed:
        raise RunFailedError(
            f"pipeline {plan.name!r} run {end.run_id}: expected every transformation to "
            f"succeed, but {', '.join(end.failed_task_ids)} did not; see their logs, fix, "
            f"and clear the failed tasks (or `core run {plan.name} --resume {end.run_id}`)"
        )
    return end.run_id
