"""Pipelines that start when datasets of other pipelines are published.

A pipeline's ``dataset_schedule`` is null (it runs on its ``run_frequency``) or a
condition on datasets other pipelines write: ``{"all": [keys]}`` (start when each
has been published since the last run) or ``{"any": [keys]}`` (when one has), each
key ``company/brand/state/dataset``. Under Airflow the DAG is scheduled on those
Assets (AssetAll / AssetAny); ``core run --with-dependants`` starts them after the
run that publishes them. On save every dataset must be written by another pipeline
and no cycle of pipelines may form; the error names the cycle. A change elsewhere (a
transformation renamed, moved or deleted) is held to the same (``broken_schedules``,
the invariant of core.service.catalog's resources).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigurationError, did_you_mean
from core.lineage.datasets import output_dataset
from core.names import validate_path_part
from core.plan import PipelinePlan

CONDITIONS = ("all", "any")


@dataclass(frozen=True)
class PipelineEdge:
    """``upstream`` writes ``dataset``, on which ``downstream``'s schedule waits."""

    upstream: str
    dataset: str
    downstream: str


def check_shape(value: Any, owner: str) -> dict[str, list[str]] | None:
    """A dataset_schedule as stored: None, or ``{"all"|"any": [unique keys]}``.

    Raises:
        ConfigurationError: not that shape, naming the value and what was expected.
    """
    if value in (None, {}):
        return None
    expected = (
        'expected null, or {"all": [...]} or {"any": [...]} listing datasets as '
        '"company/brand/state/dataset", e.g. {"any": ["acme_pharma/zentrix/master/patient_status"]}'
    )
    if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in CONDITIONS:
        raise ConfigurationError(f"{owner} dataset_schedule {value!r} is not valid: {expected}")
    condition, keys = next(iter(value.items()))
    if not isinstance(keys, list) or not keys:
        raise ConfigurationError(f"{owner} dataset_schedule {value!r} is not valid: {expected}")
    for key in keys:
        parts = key.split("/") if isinstance(key, str) else []
        if len(parts) != 4:
            raise ConfigurationError(
                f"{owner} dataset_schedule: {key!r} is not a dataset key: {expected}"
            )
        for part in parts:
            validate_path_part(part, f"{owner} dataset_schedule {key!r} part")
    return {condition: list(dict.fromkeys(keys))}


def schedule_keys(schedule: Mapping[str, list[str]] | None) -> list[str]:
    """The dataset keys a schedule waits on (none without one)."""
    return [key for keys in (schedule or {}).values() for key in keys]


def output_keys(plan: PipelinePlan) -> list[str]:
    """The keys (``company/brand/state/dataset``) of the datasets a pipeline writes."""
    return [f"{plan.company}/{plan.brand}/{t.state}/{output_dataset(t)}" for t in plan.tasks]


def dataset_writers(plans: Iterable[PipelinePlan]) -> dict[str, str]:
    """Dataset key -> the pipeline that writes it (the first by name when several do)."""
    writers: dict[str, str] = {}
    for plan in plans:
        for key in output_keys(plan):
            writers.setdefault(key, plan.name)
    return writers


def describe(schedule: Mapping[str, list[str]] | None) -> str | None:
    """A dataset schedule in words, e.g. ``any(acme/zentrix/master/status, ...)``."""
    if not schedule:
        return None
    ((condition, keys),) = schedule.items()
    return f"{condition}({', '.join(keys)})"


def pipeline_edges(plans: Iterable[PipelinePlan]) -> list[PipelineEdge]:
    """Every upstream -> dataset -> downstream edge of the pipelines' dataset schedules."""
    plans = list(plans)
    writers = dataset_writers(plans)
    return [
        PipelineEdge(writers[key], key, plan.name)
        for plan in plans
        for key in schedule_keys(plan.dataset_schedule)
        if key in writers
    ]


def check_schedule(
    plans: Iterable[PipelinePlan], pipeline: str, schedule: Mapping[str, list[str]] | None
) -> None:
    """Check a pipeline's new dataset_schedule against every other pipeline.

    Args:
        plans: the plans of every pipeline (as configured now).
        pipeline: the pipeline being saved.
        schedule: its new dataset_schedule (already shaped by :func:`check_shape`).

    Raises:
        ConfigurationError: a dataset no other pipeline writes (close keys suggested;
            its own datasets count as none), or the schedule closes a cycle of pipelines
            (the cycle is named).
    """
    plans = list(plans)
    others = [p for p in plans if p.name != pipeline]
    writers = dataset_writers(others)
    for key in schedule_keys(schedule):
        if key not in writers:
            raise ConfigurationError(
                f"pipeline {pipeline!r} dataset_schedule: no other pipeline writes dataset "
                f"{key!r}: expected a company/brand/state/dataset key that another "
                "pipeline's transformation outputs (see `core pipelines graph`)."
                + did_you_mean(key, writers)
            )
    edges = [e for e in pipeline_edges(plans) if e.downstream != pipeline] + [
        PipelineEdge(writers[key], key, pipeline) for key in schedule_keys(schedule)
    ]
    cycle = find_cycle(edges)
    if pipeline in cycle[:-1]:  # told from the pipeline being saved
        start = cycle.index(pipeline)
        cycle = [*cycle[start:-1], *cycle[:start], pipeline]
    if cycle:
        raise ConfigurationError(
            f"pipeline {pipeline!r} dataset_schedule {dict(schedule or {})!r} would make a "
            f"cycle of pipelines: {' -> '.join(cycle)}; a pipeline cannot wait, directly or "
            "through others, on its own datasets"
        )


def broken_schedules(plans: Iterable[PipelinePlan]) -> set[str]:
    """What is wrong with the pipelines' dataset schedules taken together.

    A schedule waiting on a dataset no other pipeline writes (it would never start), and
    a cycle of pipelines. Saving a schedule refuses both (:func:`check_schedule`); this
    finds those that a change elsewhere would make: a transformation renamed, moved or
    deleted, a pipeline moved to another brand.
    """
    plans = list(plans)
    writers: dict[str, set[str]] = {}
    for plan in plans:
        for key in output_keys(plan):
            writers.setdefault(key, set()).add(plan.name)
    problems = {
        f"pipeline {plan.name!r} starts when {key!r} is published, and no other pipeline "
        "would write it; change that pipeline's dataset_schedule first"
        for plan in plans
        for key in schedule_keys(plan.dataset_schedule)
        if not writers.get(key, set()) - {plan.name}
    }
    cycle = find_cycle(pipeline_edges(plans))
    if cycle:
        problems.add(
            f"pipelines would wait on each other's datasets in a cycle: {' -> '.join(cycle)}"
        )
    return problems


def find_cycle(edges: Iterable[PipelineEdge]) -> list[str]:
    """A cycle of pipelines (first name repeated at the end), or [] when there is none."""
    after: dict[str, list[str]] = {}
    for edge in edges:
        after.setdefault(edge.upstream, []).append(edge.downstream)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in after.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for node in sorted(after):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def dependants(plans: Iterable[PipelinePlan], published: set[str]) -> list[str]:
    """Active pipelines whose dataset schedule the ``published`` dataset keys satisfy.

    ``any``: one of its datasets was published; ``all``: every one was.
    """
    ready = []
    for plan in plans:
        schedule = plan.dataset_schedule or {}
        keys = set(schedule_keys(schedule))
        if not plan.is_active or not keys:
            continue
        if ("any" in schedule and keys & published) or ("all" in schedule and keys <= published):
            ready.append(plan.name)
    return ready
