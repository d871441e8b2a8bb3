"""A dev-only DAG that runs any one transformation, by id, as a new run of its pipeline.

Trigger ``core_operator_tester`` from the Airflow UI with the parameter
``transformation_id``. It exists only when CORE's environment is ``dev``.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Param

from core.airflow.dagbuilder.run_events import close_run, open_run
from core.airflow.dagbuilder.shape import END_RUN_TASK_ID, RUN_EVENT_TASK_ID, start_date
from core.airflow.dagbuilder.task_orchestrator import RunFailedError
from core.airflow.plugins.backends import get_backend
from core.helpers.session_helper import SessionHelper
from core.plan import PipelinePlan, plan_of_transformation
from core.settings import load_settings
from core.worker import WorkerJob

DAG_ID = "core_operator_tester"
RUN_TASK_ID = "RunTransformation"


def _plan(params: dict[str, Any]) -> PipelinePlan:
    with SessionHelper(load_settings(), actor="airflow") as session:
        return plan_of_transformation(session, int(params["transformation_id"]))


def start(params: dict[str, Any]) -> int:
    """Create a run event of the transformation's pipeline; its id goes to XCom."""
    return open_run(load_settings(), _plan(params))


def run(params: dict[str, Any], ti: Any, task: Any, **context: Any) -> Any:
    """Run the transformation on the configured worker backend."""
    settings, plan = load_settings(), _plan(params)
    spec = plan.tasks[0]
    run_id = int(ti.xcom_pull(task_ids=RUN_EVENT_TASK_ID))
    job = WorkerJob(
        spec.transformation_id, run_id, plan.company, plan.brand, spec.state, spec.template
    )
    return get_backend(settings.worker_backend)(task, {"ti": ti, **context}, job, settings)


def end(params: dict[str, Any], ti: Any) -> None:
    """Record the run's end; fail when the transformation failed."""
    run_id = ti.xcom_pull(task_ids=RUN_EVENT_TASK_ID)
    if run_id is None:  # the run event was never created: there is nothing to close
        return
    plan = _plan(params)
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    outcome = close_run(
        load_settings(), plan, int(run_id), {plan.tasks[0].task_id: states.get(RUN_TASK_ID)}
    )
    if outcome.failed:
        raise RunFailedError(
            f"transformation {plan.tasks[0].task_id} of run {run_id} failed; see its log"
        )


def tester_dag() -> DAG:
    """The operator tester's DAG: RunEvent -> RunTransformation -> EndRun."""
    with DAG(
        DAG_ID,
        schedule=None,
        start_date=start_date(load_settings()),
        catchup=False,
        tags=["core:dev"],
        doc_md=__doc__,
        params={"transformation_id": Param(1, type="integer", minimum=1)},
    ) as dag:
        first = PythonOperator(task_id=RUN_EVENT_TASK_ID, python_callable=start)
        middle = PythonOperator(task_id=RUN_TASK_ID, python_callable=run)
        last = PythonOperator(task_id=END_RUN_TASK_ID, python_callable=end, trigger_rule="all_done")
        first >> middle >> last
    return dag


if load_settings().environment == "dev":
    operator_tester = tester_dag()
