"""CORE's lineage as Airflow sees it: Assets for inlets and outlets, OpenLineage facets.

Each TransformOperator declares the Assets of its input contracts as ``inlets``
and of its output contract as ``outlets`` (URIs from ``core.lineage.datasets``),
so Airflow's asset graph shows CORE's lineage across pipelines, and DAGs can be
scheduled on other pipelines' datasets. When a task succeeds, its asset event
carries the run id, the rows written and the Delta version as ``extra``; Airflow's
OpenLineage provider gets the datasets with their schema and row counts.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, AssetAll, AssetAny

from core.helpers.session_helper import SessionHelper
from core.lake.contracts import contract_class
from core.lineage.datasets import ASSET_GROUP, DatasetRef, TaskLineage, dataset_ref
from core.lineage.facts import TaskFacts, task_facts
from core.plan import PipelinePlan
from core.settings import Settings

CONDITIONS = {"all": AssetAll, "any": AssetAny}


class AssetCache:
    """One Asset per dataset URI while a DAG file is parsed (many tasks share each)."""

    def __init__(self) -> None:
        self.assets: dict[str, Asset] = {}

    def asset(self, ref: DatasetRef) -> Asset:
        """The Asset of a dataset: named by its URI, in the group ``core``."""
        found = self.assets.get(ref.uri)
        if found is None:
            found = self.assets[ref.uri] = Asset(name=ref.uri, uri=ref.uri, group=ASSET_GROUP)
        return found

    def lineage_arguments(self, lineage: TaskLineage | None) -> dict[str, Any]:
        """``inlets`` and ``outlets`` for a TransformOperator (none without lineage)."""
        if lineage is None:
            return {}
        return {
            "inlets": [self.asset(ref) for ref in lineage.inputs],
            "outlets": [self.asset(lineage.output)],
        }


def asset_schedule(plan: PipelinePlan, settings: Settings) -> dict[str, Any]:
    """``{"schedule": AssetAll(...) | AssetAny(...)}`` for a dataset-scheduled pipeline, else {}.

    A pipeline with a ``dataset_schedule`` runs when Airflow records asset events of
    those datasets (``all``: each one since its last run; ``any``: one of them).
    """
    if not plan.dataset_schedule:
        return {}
    ((condition, keys),) = plan.dataset_schedule.items()
    cache = AssetCache()
    assets = []
    for key in keys:
        company, brand, state, dataset = key.split("/")
        contract = contract_class(state)(company, brand, state, dataset, settings=settings)
        assets.append(cache.asset(dataset_ref(contract)))
    return {"schedule": CONDITIONS[condition](*assets)}


def facts_of(settings: Settings, lineage: TaskLineage, run_id: int) -> TaskFacts:
    """What a task of a run read and wrote (its task_runs row, then the lake)."""
    with SessionHelper(settings, actor="airflow") as session:
        return task_facts(settings, session, lineage, run_id)


def record_asset_event(
    context: Any, outlet: Asset, facts: TaskFacts, pipeline: str
) -> dict[str, Any]:
    """Put the run id, rows and Delta version in the extra of the output's asset event.

    Returns:
        The extra recorded.
    """
    extra = {
        "pipeline": pipeline,
        "transformation_id": facts.lineage.transformation_id,
        "run_id": facts.run_id,
        "rows": facts.output.rows,
        "delta_version": facts.output.version,
    }
    context["outlet_events"][outlet].extra.update(extra)
    return extra


def operator_lineage(facts: TaskFacts) -> Any:
    """The provider's OperatorLineage of a task: inputs and output with their facets."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    from core.lineage.openlineage import datasets

    inputs, outputs = datasets(facts)
    return OperatorLineage(inputs=inputs, outputs=outputs)
