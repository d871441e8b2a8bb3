"""The lineage of one dataset across pipelines, for the dataset page (API and UI share it).

Edges come from the plans (four queries for all pipelines): a transformation's
inputs -> its output (``core.lineage.datasets``), and a dataset -> the datasets of
every pipeline whose ``dataset_schedule`` waits on it (``core.lineage.schedule``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from core.errors import NotFoundError, did_you_mean
from core.lineage.datasets import plan_lineage
from core.lineage.schedule import output_keys, schedule_keys
from core.plan import load_plans
from core.settings import Settings


@dataclass(frozen=True)
class DatasetLineage:
    """What is upstream and downstream of one dataset, and who uses it.

    Attributes:
        key: ``company/brand/state/dataset``.
        writers: pipelines whose transformations write it.
        readers: pipelines whose transformations read it.
        scheduled: pipelines that start when it is published.
        upstream: every dataset it is derived from, nearest first.
        downstream: every dataset derived from it, nearest first.
    """

    key: str
    writers: list[str] = field(default_factory=list)
    readers: list[str] = field(default_factory=list)
    scheduled: list[str] = field(default_factory=list)
    upstream: list[str] = field(default_factory=list)
    downstream: list[str] = field(default_factory=list)


def dataset_lineage(settings: Settings, session: Session, key: str) -> DatasetLineage:
    """The lineage of the dataset ``key`` across every configured pipeline.

    Raises:
        NotFoundError: no pipeline writes that dataset (close keys suggested).
    """
    plans = load_plans(session, only_active=False)
    parents: dict[str, set[str]] = defaultdict(set)
    children: dict[str, set[str]] = defaultdict(set)
    writers: dict[str, set[str]] = defaultdict(set)
    readers: dict[str, set[str]] = defaultdict(set)
    scheduled: dict[str, set[str]] = defaultdict(set)
    for plan in plans:
        for item in plan_lineage(plan, settings).values():
            writers[item.output.key].add(plan.name)
            for ref in item.inputs:
                readers[ref.key].add(plan.name)
                parents[item.output.key].add(ref.key)
                children[ref.key].add(item.output.key)
        for waited in schedule_keys(plan.dataset_schedule):
            scheduled[waited].add(plan.name)
            for out in output_keys(plan):
                parents[out].add(waited)
                children[waited].add(out)
    if key not in writers:
        raise NotFoundError(
            f"no pipeline writes dataset {key!r}: expected company/brand/state/dataset of a "
            "transformation's output." + did_you_mean(key, writers)
        )
    return DatasetLineage(
        key,
        sorted(writers[key]),
        sorted(readers[key]),
        sorted(scheduled[key]),
        _reach(key, parents),
        _reach(key, children),
    )


def _reach(start: str, edges: dict[str, set[str]]) -> list[str]:
    """Every node reachable from ``start``, breadth first (nearest first), without it."""
    seen, frontier, order = {start}, [start], []
    while frontier:
        following = sorted({n for node in frontier for n in edges.get(node, ()) if n not in seen})
        seen.update(following)
        order += following
        frontier = following
    return order
