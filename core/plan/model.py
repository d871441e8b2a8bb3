"""PipelinePlan: the ordered task groups of a pipeline, as plain JSON-able data.

The plan imports nothing from Airflow, so the Airflow DAG, the local runner, the
CLI and the API all share one ordering: states by their graph_order,
transformations of a state grouped by equal graph_order, empty states skipped.
:func:`build_plan` builds one from a loaded ORM pipeline; ``core.plan.queries``
builds all of them from plain rows in a fixed number of queries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import groupby
from typing import Any

from core.models import configuration as cfg

# The variable that names a transformation's output dataset, when its template declares it.
DATASET_VARIABLE = "dataset"


@dataclass(frozen=True)
class TaskSpec:
    """One transformation as a task of the plan."""

    transformation_id: int
    template: str
    kind: str
    entrypoint: str | None
    state: str
    graph_order: int
    retries: int
    retry_delay_seconds: int
    variables: dict[str, str | None]
    # What a worker needs besides the above to run from the snapshot alone: the
    # template's variable schema and the output dataset's name (its contract's last
    # part). None in snapshots taken before runs were pinned to them.
    variable_structures: dict[str, Any] | None = None
    dataset: str | None = None
    # The data quality checks of its output dataset: [{id, kind, arguments, severity,
    # description}] (core.checks), evaluated by the worker before it publishes.
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def task_id(self) -> str:
        """The Airflow task id: ``{state}_{template}_{transformation id}``."""
        return f"{self.state}_{self.template}_{self.transformation_id}"


@dataclass(frozen=True)
class TaskGroup:
    """Transformations of one state with equal graph_order: they run in parallel."""

    step: int
    state: str
    graph_order: int
    tasks: list[TaskSpec]

    @property
    def spacer_id(self) -> str:
        """The spacer task in front of this group: ``{state}_group_step_{step}``."""
        return f"{self.state}_group_step_{self.step}"


@dataclass(frozen=True)
class PipelinePlan:
    """Everything needed to schedule one pipeline, without the database."""

    pipeline_id: int
    name: str
    company: str
    brand: str
    segment: str
    pipeline_type: str
    is_active: bool
    run_frequency: str
    description: str | None
    groups: list[TaskGroup] = field(default_factory=list)
    # None, or {"all"|"any": [company/brand/state/dataset, ...]} (core.lineage.schedule)
    dataset_schedule: dict[str, list[str]] | None = None
    # How many runs may go at once (None: one); older snapshots lack it.
    max_active_runs: int | None = None

    @property
    def tasks(self) -> list[TaskSpec]:
        """Every task, in execution order."""
        return [task for group in self.groups for task in group.tasks]

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-able data (run snapshots, caches, the API)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelinePlan:
        """The inverse of :meth:`to_dict`."""
        groups = [
            TaskGroup(**{**g, "tasks": [TaskSpec(**t) for t in g["tasks"]]}) for g in data["groups"]
        ]
        return cls(**{**data, "groups": groups})


def ordered_states(pipeline: cfg.Pipeline) -> list[cfg.PipelineState]:
    """A loaded pipeline's states in the order its plan runs them."""
    return sorted(
        pipeline.pipeline_states,
        key=lambda s: (s.graph_order, s.pipeline_state_type.graph_order, s.id),
    )


def build_plan(pipeline: cfg.Pipeline) -> PipelinePlan:
    """The plan of a loaded pipeline (its states and transformations already loaded)."""
    groups: list[TaskGroup] = []
    for state in ordered_states(pipeline):
        ordered = sorted(state.transformations, key=lambda t: (t.graph_order, t.id))
        for order, members in groupby(ordered, key=lambda t: t.graph_order):
            tasks = [_task(t, state.pipeline_state_type.name) for t in members]
            groups.append(TaskGroup(len(groups), state.pipeline_state_type.name, order, tasks))
    return PipelinePlan(
        pipeline_id=pipeline.id,
        name=pipeline.name,
        company=pipeline.brand.pharmaceutical_company.name,
        brand=pipeline.brand.name,
        segment=pipeline.pipeline_type.segment.name,
        pipeline_type=pipeline.pipeline_type.name,
        is_active=pipeline.is_active,
        run_frequency=pipeline.run_frequency,
        description=pipeline.description,
        groups=groups,
        dataset_schedule=pipeline.dataset_schedule,
        max_active_runs=pipeline.max_active_runs,
    )


def _task(transformation: cfg.Transformation, state: str) -> TaskSpec:
    template = transformation.transformation_template
    structures = dict(template.variable_structures or {})
    stored = transformation.stored_variables
    return TaskSpec(
        transformation_id=transformation.id,
        template=template.name,
        kind=template.kind,
        entrypoint=template.entrypoint,
        state=state,
        graph_order=transformation.graph_order,
        retries=transformation.retries,
        retry_delay_seconds=transformation.retry_delay_seconds,
        variables=stored,
        variable_structures=structures,
        dataset=output_dataset(template.name, structures, stored),
        checks=[check_spec(c) for c in transformation.dataset_checks],
    )


def check_spec(check: Any) -> dict[str, Any]:
    """A check as a plan carries it (a DatasetCheck, or a row with the same columns)."""
    return {
        "id": check.id,
        "kind": check.kind,
        "arguments": dict(check.arguments or {}),
        "severity": check.severity,
        "description": check.description,
    }


def output_dataset(
    template: str, structures: dict[str, Any] | None, variables: dict[str, str | None]
) -> str:
    """The name of a transformation's output dataset.

    Its ``dataset`` variable (or that variable's default) when its template declares
    one, else the template's name.
    """
    if DATASET_VARIABLE in (structures or {}):
        value = variables.get(DATASET_VARIABLE)
        if value is None:
            value = (structures or {})[DATASET_VARIABLE].get("default")
        if value:
            return str(value)
    return template
