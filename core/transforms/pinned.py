"""A task's configuration as its run pinned it: the run's snapshot, never the live rows.

Every run stores its pipeline's plan when it starts (and again when it is resumed
with the current configuration). A worker resolves everything it runs from that
snapshot alone: the transformation's template (kind, entrypoint, variable
schema), its variables, and the contracts of every transformation of the
pipeline. An edit saved while a run is going therefore reaches the next run (or
a resume that asks for the current configuration), never the tasks of this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.errors import ConfigurationError, NotFoundError
from core.lake.contract import Contract
from core.lake.contracts import contract_class
from core.models.variables import load_schema, parse_variables
from core.plan import PipelinePlan, TaskSpec
from core.plan.queries import pipeline_plan_of
from core.runs import get_run
from core.settings import Settings


@dataclass(frozen=True)
class PinnedTask:
    """One transformation of a run, as the run's configuration snapshot holds it."""

    plan: PipelinePlan
    task: TaskSpec

    @property
    def label(self) -> str:
        """How messages name the transformation."""
        return f"transformation {self.task.transformation_id} ({self.task.template})"

    def variables(self) -> dict[str, Any]:
        """The typed variables, defaults filled in.

        Raises:
            TransformationVariableError: a pinned value does not fit the pinned schema.
            VariableSchemaError: the pinned schema is invalid.
        """
        schema = load_schema(self.task.variable_structures, self.task.template)
        return parse_variables(schema, self.task.variables, self.label)

    def contracts(self, settings: Settings) -> dict[int, Contract]:
        """The output contract of every transformation of the run, in run order."""
        return {
            task.transformation_id: contract_class(task.state)(
                self.plan.company,
                self.plan.brand,
                task.state,
                task.dataset or task.template,
                settings=settings,
            )
            for task in self.plan.tasks
        }


def pinned_task(session: Session, transformation_id: int, run_id: int) -> PinnedTask:
    """The transformation as the run's configuration snapshot pinned it (one query).

    Raises:
        NotFoundError: no such run.
        ConfigurationError: the transformation is not part of the run, or the run's
            snapshot was taken before runs were pinned (it lacks templates and schemas).
    """
    event = get_run(session, run_id)
    plan = PipelinePlan.from_dict(event.configuration_snapshot or _EMPTY)
    task = next((t for t in plan.tasks if t.transformation_id == transformation_id), None)
    if task is None:
        known = ", ".join(str(t.transformation_id) for t in plan.tasks) or "none"
        raise NotFoundError(
            f"no transformation has id {transformation_id} in run {run_id} of {plan.name!r}: "
            f"expected one of its transformations ({known}); `core runs show {run_id}` "
            "lists them"
        )
    if task.variable_structures is None:
        raise ConfigurationError(
            f"run {run_id} of {plan.name!r} was started before runs were pinned to their "
            "configuration, so its snapshot lacks the templates and variable schemas a "
            f"worker needs; resume it with `core run {plan.name} --resume {run_id} "
            "--configuration current`"
        )
    return PinnedTask(plan, task)


# A run without a snapshot (never written by CORE itself) reads as an empty plan.
_EMPTY: dict[str, Any] = {
    "pipeline_id": 0,
    "name": "?",
    "company": "?",
    "brand": "?",
    "segment": "?",
    "pipeline_type": "?",
    "is_active": False,
    "run_frequency": "none",
    "description": None,
    "groups": [],
}


def current_task(session: Session, transformation_id: int, run_id: int) -> PinnedTask:
    """The transformation as configured now, reading the upstream data of a run.

    For notebook authoring (``development_context``): an author develops against the
    configuration being edited, not the one an earlier run pinned. Workers never use it.

    Raises:
        NotFoundError: no such transformation or run.
        ConfigurationError: the run belongs to another pipeline.
    """
    plan = pipeline_plan_of(session, transformation_id)
    if get_run(session, run_id).pipeline_id != plan.pipeline_id:
        raise ConfigurationError(
            f"run {run_id} belongs to another pipeline than transformation {transformation_id} "
            f"({plan.name!r}); start a run of {plan.name!r} with `core run {plan.name}`"
        )
    task = next(t for t in plan.tasks if t.transformation_id == transformation_id)
    return PinnedTask(plan, task)
