"""Editing a pipeline's own fields: its schedule in words and next fire times, and deleting it.

The fields themselves are saved through core.service.resources (one validation path
for the API, the UI and the CLI); this module adds what an editor needs to decide:
when a frequency would fire, and what a delete would take with it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import ConflictError, InvalidInputError, InvalidNameError
from core.models import configuration as cfg
from core.models.dataset_checks import DatasetCheck
from core.models.runs import RunEvent
from core.names import describe_frequency, next_fire_times, validate_run_frequency
from core.service.catalog import PIPELINES
from core.service.resources import delete_row, get_row

FIRE_TIMES = 3


@dataclass(frozen=True)
class ScheduleView:
    """A run frequency in words, and when it next fires."""

    run_frequency: str
    description: str
    next_fire_times: list[dt.datetime]


@dataclass(frozen=True)
class DeletionImpact:
    """What deleting a pipeline takes with it, and the runs that forbid it."""

    pipeline_id: int
    name: str
    states: int
    transformations: int
    variables: int
    checks: int
    runs: int

    @property
    def summary(self) -> str:
        """``3 states, 7 transformations, 12 variables and 2 checks``."""
        parts = [
            _count(self.states, "state"),
            _count(self.transformations, "transformation"),
            _count(self.variables, "variable"),
            _count(self.checks, "check"),
        ]
        return ", ".join(parts[:-1]) + " and " + parts[-1]


def schedule_view(run_frequency: str, now: dt.datetime | None = None) -> ScheduleView:
    """A frequency's words and next three fire times (UTC).

    Raises:
        InvalidInputError: not a preset nor a cron expression that fires (field
            ``run_frequency``).
    """
    try:
        valid = validate_run_frequency(run_frequency)
    except InvalidNameError as exc:
        raise InvalidInputError([("run_frequency", run_frequency, str(exc))]) from None
    after = now or dt.datetime.now(dt.UTC)
    return ScheduleView(valid, describe_frequency(valid), next_fire_times(valid, after, FIRE_TIMES))


def deletion_impact(session: Session, pipeline_id: int) -> DeletionImpact:
    """Count what goes with the pipeline (four queries).

    Raises:
        NotFoundError: no such pipeline.
    """
    pipeline = get_row(session, PIPELINES, pipeline_id)
    states = select(cfg.PipelineState.id).where(cfg.PipelineState.pipeline_id == pipeline_id)
    transformations = select(cfg.Transformation.id).where(
        cfg.Transformation.pipeline_state_id.in_(states)
    )
    count = func.count()
    return DeletionImpact(
        pipeline_id=pipeline_id,
        name=pipeline.name,
        states=session.scalar(select(count).select_from(states.subquery())) or 0,
        transformations=session.scalar(select(count).select_from(transformations.subquery())) or 0,
        variables=session.scalar(
            select(count).where(cfg.TransformationVariable.transformation_id.in_(transformations))
        )
        or 0,
        checks=session.scalar(
            select(count).where(DatasetCheck.transformation_id.in_(transformations))
        )
        or 0,
        runs=session.scalar(select(count).where(RunEvent.pipeline_id == pipeline_id)) or 0,
    )


def delete_pipeline(session: Session, pipeline_id: int, confirm: str) -> DeletionImpact:
    """Delete a pipeline that never ran, with its states, transformations, variables and
    checks; ``confirm`` must be its name.

    Returns:
        What was deleted.

    Raises:
        NotFoundError: no such pipeline.
        InvalidInputError: ``confirm`` is not the pipeline's name.
        ConflictError: it has runs (their history keeps it: deactivate it instead), or
            another pipeline starts when its datasets are published.
    """
    impact = deletion_impact(session, pipeline_id)
    if confirm != impact.name:
        raise InvalidInputError(
            [("confirm", confirm, f"type the pipeline's name {impact.name!r} to delete it")]
        )
    if impact.runs:
        raise ConflictError(
            f"pipeline {impact.name} has {_count(impact.runs, 'run')}: their history keeps "
            "it, so it cannot be deleted; deactivate it instead (it is then never scheduled)"
        )
    delete_row(session, PIPELINES, pipeline_id, permanently=True)
    return impact


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
