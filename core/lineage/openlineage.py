"""OpenLineage datasets and run events of CORE's tasks, through the OpenLineage Python client.

The TransformOperator hands :func:`datasets` to Airflow's OpenLineage provider;
the LocalRunner sends :func:`run_event`s itself through a client built from the
``openlineage_transport`` setting (the client's transport configuration as JSON,
the same as Airflow's ``[openlineage] transport``). Both name a task's job
``{pipeline}.{task_id}``, as the provider names an Airflow task's, so the events of
``core run`` and of the DAG land on the same job. The client is an optional
dependency (extras ``lineage`` and ``airflow``): it is imported only here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from core.errors import ConfigurationError
from core.helpers.session_helper import SessionHelper
from core.lineage.datasets import plan_lineage
from core.lineage.facts import DatasetFacts, TaskFacts, task_facts
from core.plan import PipelinePlan, TaskSpec
from core.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent

log = logging.getLogger(__name__)
PRODUCER = "https://github.com/core-platform/core"
INTEGRATION = "CORE"
# The run id of a task's events: one per (pipeline, run, task, attempt), the same for START and end.
RUN_UUID_NAMESPACE = uuid.UUID("6f1c8f0e-7d4b-4b7e-9a51-2c3e5d7a9b10")


def client_for(settings: Settings) -> OpenLineageClient | None:
    """The OpenLineage client the settings configure, or None when lineage is off.

    Raises:
        ConfigurationError: the transport is set but the client is not installed.
    """
    if not settings.openlineage_transport:
        return None
    try:
        from openlineage.client import OpenLineageClient
    except ImportError as exc:
        raise ConfigurationError(
            "CORE_OPENLINEAGE_TRANSPORT is set but the OpenLineage client is not installed: "
            "install core[lineage] (or unset the setting)"
        ) from exc
    transport = json.loads(settings.openlineage_transport)
    return OpenLineageClient(config={"transport": transport})


def datasets(facts: TaskFacts) -> tuple[list[InputDataset], list[OutputDataset]]:
    """The task's inputs and output as OpenLineage datasets with schema, rows and version."""
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import (
        input_statistics_input_dataset,
        output_statistics_output_dataset,
    )

    inputs = [
        InputDataset(
            namespace=item.ref.openlineage_namespace,
            name=item.ref.openlineage_name,
            facets=_facets(item),
            inputFacets=_rows(
                item,
                "inputStatistics",
                input_statistics_input_dataset.InputStatisticsInputDatasetFacet,
            ),
        )
        for item in facts.inputs
    ]
    output = facts.output
    outputs = [
        OutputDataset(
            namespace=output.ref.openlineage_namespace,
            name=output.ref.openlineage_name,
            facets=_facets(output),
            outputFacets=_rows(
                output,
                "outputStatistics",
                output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
            ),
        )
    ]
    return inputs, outputs


def _facets(item: DatasetFacts) -> dict[str, Any]:
    from openlineage.client.facet_v2 import dataset_version_dataset, schema_dataset

    facets: dict[str, Any] = {}
    if item.fields:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=name, type=kind)
                for name, kind in item.fields
            ]
        )
    if item.version is not None:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=str(item.version)
        )
    return facets


def _rows(item: DatasetFacts, key: str, facet: Any) -> dict[str, Any]:
    return {} if item.rows is None else {key: facet(rowCount=item.rows)}


def job_name(pipeline: str, task_id: str) -> str:
    """A task's OpenLineage job name, as Airflow's provider names it: ``{dag_id}.{task_id}``."""
    return f"{pipeline}.{task_id}"


def run_uuid(pipeline: str, run_id: int, task_id: str, attempt: int) -> str:
    """The OpenLineage run id of one attempt of a task of a run: START and its end share it."""
    return str(uuid.uuid5(RUN_UUID_NAMESPACE, f"{pipeline}/{run_id}/{task_id}/{attempt}"))


def run_event(
    settings: Settings,
    pipeline: str,
    facts: TaskFacts,
    event_type: str,
    attempt: int,
    error: str | None = None,
) -> RunEvent:
    """One OpenLineage run event of a task (START, COMPLETE or FAIL).

    Args:
        settings: CORE's settings (``openlineage_namespace``).
        pipeline: the pipeline's name.
        facts: what the task read and wrote (START: the datasets without rows).
        event_type: START, COMPLETE or FAIL.
        attempt: the attempt (1 for the first).
        error: FAIL's one-line error, sent as the error message facet.
    """
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import error_message_run, job_type_job

    task_id = facts.lineage.task_id
    run_facets: dict[str, Any] = {}
    if error:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python"
        )
    inputs, outputs = datasets(facts)
    return RunEvent(
        eventType=RunState[event_type],
        eventTime=dt.datetime.now(dt.UTC).isoformat(),
        producer=PRODUCER,
        run=Run(runId=run_uuid(pipeline, facts.run_id, task_id, attempt), facets=run_facets),
        job=Job(
            namespace=settings.openlineage_namespace,
            name=job_name(pipeline, task_id),
            facets={
                "jobType": job_type_job.JobTypeJobFacet(
                    processingType="BATCH", integration=INTEGRATION, jobType="TASK"
                )
            },
        ),
        inputs=inputs,
        outputs=outputs,
    )


class TaskEvents:
    """The LocalRunner's OpenLineage events: START, then COMPLETE or FAIL, of each attempt.

    Does nothing when ``openlineage_transport`` is not set. A transport that fails
    is logged, never raised: lineage must not fail a run.

    Args:
        settings: CORE's settings.
        plan: the plan being run.
    """

    def __init__(self, settings: Settings, plan: PipelinePlan) -> None:
        self.settings = settings
        self.plan = plan
        self.client = client_for(settings)
        self.lineage = {}
        if self.client is not None:
            try:
                self.lineage = plan_lineage(plan, settings)
            except Exception as exc:  # lineage never fails a run
                log.warning("OpenLineage: no events for %s: %s", plan.name, exc)
                self.client = None

    def started(self, task: TaskSpec, run_id: int, attempt: int) -> None:
        """Send START: the task's datasets, nothing measured yet."""
        if self.client is not None:
            self._send("START", task, lambda: self._start(task, run_id, attempt))

    def ended(self, task: TaskSpec, run_id: int, attempt: int) -> None:
        """Send COMPLETE (or FAIL with the error): datasets with schema, rows and version."""
        if self.client is not None:
            self._send("the end", task, lambda: self._end(task, run_id, attempt))

    def _start(self, task: TaskSpec, run_id: int, attempt: int) -> RunEvent:
        facts = TaskFacts.before(self.lineage[task.transformation_id], run_id)
        return run_event(self.settings, self.plan.name, facts, "START", attempt)

    def _end(self, task: TaskSpec, run_id: int, attempt: int) -> RunEvent:
        with SessionHelper(self.settings, actor="core run") as session:
            facts = task_facts(self.settings, session, self.lineage[task.transformation_id], run_id)
        kind = "COMPLETE" if facts.state == "success" else "FAIL"
        error = facts.error or (None if kind == "COMPLETE" else "the worker failed")
        return run_event(self.settings, self.plan.name, facts, kind, attempt, error)

    def _send(self, what: str, task: TaskSpec, build: Callable[[], RunEvent]) -> None:
        try:  # lineage never fails a run: neither gathering the facts nor sending them
            self.client.emit(build())  # type: ignore[union-attr]
        except Exception as exc:
            log.warning("OpenLineage: could not send %s of %s: %s", what, task.task_id, exc)
