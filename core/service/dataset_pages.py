"""A pipeline's datasets, one dataset's versions and rows, and restoring a version.

What the UI's dataset pages, the API's ``/api/datasets/{key}`` routes and ``core lake
restore`` share. A dataset is named by its key, ``company/brand/state/dataset``; only the
outputs some pipeline writes have pages. A restore is a new Delta commit (nothing is
lost) recorded in ``dataset_restores`` with who did it and why (audited).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, NotFoundError, did_you_mean
from core.lake.contracts import contract_class
from core.lake.dataset_contract import DatasetContract, RestoreSummary
from core.lineage.datasets import plan_lineage
from core.models.dataset_restores import REASON_LENGTH, DatasetRestore
from core.models.runs import PERSON_LENGTH
from core.plan.queries import load_plans
from core.service.datasets import json_safe
from core.service.pipelines import pipeline_plan
from core.settings import Settings

MAX_PAGE = 500
MAX_OFFSET = 10_000_000
VERSIONS_SHOWN = 50
RUN_OF_PREDICATE = re.compile(r"__metadata_run_id\s*=\s*'?(\d+)")


@dataclass(frozen=True)
class Column:
    """A column of a dataset and its Arrow type."""

    name: str
    type: str


@dataclass(frozen=True)
class DatasetSummary:
    """One dataset as a pipeline writes it, and its current version in the lake."""

    key: str
    state: str
    dataset: str
    transformation_id: int | None
    template: str | None
    uri: str
    published: bool
    version: int | None = None
    rows: int | None = None
    run_ids: list[int] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)


@dataclass(frozen=True)
class Version:
    """One commit of a dataset's Delta table."""

    version: int
    timestamp: Any
    operation: str | None
    run_id: int | None
    rows: int | None


@dataclass(frozen=True)
class Restore:
    """One recorded restore of a dataset."""

    version: int
    new_version: int | None
    restored_by: str | None
    reason: str | None
    created_at: Any


@dataclass(frozen=True)
class DatasetDetail:
    """A dataset with its versions (newest first) and the restores made of it."""

    summary: DatasetSummary
    versions: list[Version]
    restores: list[Restore]


@dataclass(frozen=True)
class RowsPage:
    """Rows of a dataset's version, from ``offset``, with the columns' types."""

    key: str
    version: int
    offset: int
    limit: int
    total: int
    columns: list[Column]
    rows: list[dict[str, Any]]


def pipeline_datasets(
    settings: Settings, session: Session, pipeline_id: int
) -> list[DatasetSummary]:
    """The datasets a pipeline's transformations write, in run order (raw files left out).

    Raises:
        NotFoundError: no such pipeline.
    """
    plan = pipeline_plan(session, pipeline_id)
    tasks = {task.transformation_id: task for task in plan.tasks}
    shown = []
    for tid, item in plan_lineage(plan, settings).items():
        if contract_class(item.output.state) is DatasetContract:
            contract = _contract(settings, item.output.key)
            shown.append(_summary(contract, item.output.key, tid, tasks[tid].template))
    return shown


def dataset_detail(settings: Settings, session: Session, key: str) -> DatasetDetail:
    """A dataset's summary, its last 50 versions and its restores.

    Raises:
        NotFoundError: no pipeline writes a dataset of this key.
    """
    writer = _writer(settings, session, key)
    contract = _contract(settings, key)
    summary = _summary(contract, key, *writer)
    versions = [_version(e) for e in contract.history(VERSIONS_SHOWN)] if summary.published else []
    rows = session.scalars(
        select(DatasetRestore)
        .where(DatasetRestore.path == contract.uri)
        .order_by(DatasetRestore.id.desc())
    ).all()
    restores = [
        Restore(r.version, r.new_version, r.restored_by, r.reason, r.created_at) for r in rows
    ]
    return DatasetDetail(summary, versions, restores)


def dataset_rows(
    settings: Settings,
    session: Session,
    key: str,
    version: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> RowsPage:
    """A page of a version's rows (the current version by default) and the column types.

    Raises:
        NotFoundError: no pipeline writes it, or it was never published.
        InvalidInputError: offset or limit out of range, or no such version.
    """
    if not 1 <= limit <= MAX_PAGE or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInputError(
            [("limit", limit, f"expected offset 0 to {MAX_OFFSET} and limit 1 to {MAX_PAGE}")]
        )
    _writer(settings, session, key)
    contract = _published(settings, key)
    latest = contract.delta_table().version()
    if version is not None and not 0 <= version <= latest:
        raise InvalidInputError(
            [("version", version, f"{key} has versions 0 to {latest}; `core lake show` lists them")]
        )
    table = contract.delta_table(latest if version is None else version)
    data = table.to_pyarrow_dataset()
    total = data.count_rows()
    page = _slice(data, offset, limit)
    return RowsPage(
        key=key,
        version=table.version(),
        offset=offset,
        limit=limit,
        total=total,
        columns=_columns(page.schema),
        rows=[{k: json_safe(v) for k, v in row.items()} for row in page.to_pylist()],
    )


def restore_dataset(
    settings: Settings,
    session: Session,
    key: str,
    version: int,
    reason: str,
    actor: str,
) -> Restore:
    """Make an earlier version current again (a new commit), recording who and why.

    Raises:
        NotFoundError: no pipeline writes it, or it was never published.
        InvalidInputError: no reason given, or one over 500 characters.
        InvalidInputError: also, not an earlier version.
    """
    reason = reason.strip()
    if not reason or len(reason) > REASON_LENGTH:
        raise InvalidInputError(
            [("reason", reason, f"say why, in 1 to {REASON_LENGTH} characters: the audit keeps it")]
        )
    _writer(settings, session, key)
    contract = _published(settings, key)
    latest = contract.delta_table().version()
    if not 0 <= version < latest:
        raise InvalidInputError(
            [
                (
                    "version",
                    version,
                    f"expected an earlier version of {key}, 0 to {latest - 1} (the current "
                    f"one is {latest})",
                )
            ]
        )
    return record_restore(session, contract.uri, contract.restore(version), actor, reason)


def record_restore(
    session: Session, uri: str, summary: RestoreSummary, actor: str, reason: str
) -> Restore:
    """Keep a restore done in the lake in ``dataset_restores`` (audited: who, and why)."""
    row = DatasetRestore(
        path=uri,
        version=summary.restored,
        new_version=summary.version,
        restored_by=actor[:PERSON_LENGTH],
        reason=reason[:REASON_LENGTH],
    )
    session.add(row)
    session.commit()
    return Restore(row.version, row.new_version, row.restored_by, row.reason, row.created_at)


def _writer(settings: Settings, session: Session, key: str) -> tuple[int | None, str | None]:
    """The transformation writing ``key`` and its template (of the first pipeline found)."""
    written: dict[str, tuple[int, str]] = {}
    for plan in load_plans(session, only_active=False):
        tasks = {task.transformation_id: task for task in plan.tasks}
        for tid, item in plan_lineage(plan, settings).items():
            written.setdefault(item.output.key, (tid, tasks[tid].template))
    if key not in written:
        raise NotFoundError(
            f"no pipeline writes dataset {key!r}: expected company/brand/state/dataset of a "
            "transformation's output." + did_you_mean(key, written)
        )
    return written[key]


def _contract(settings: Settings, key: str) -> Any:
    company, brand, state, dataset = key.split("/")
    return contract_class(state)(company, brand, state, dataset, settings=settings)


def _published(settings: Settings, key: str) -> DatasetContract:
    contract = _contract(settings, key)
    if not isinstance(contract, DatasetContract):
        raise NotFoundError(f"{key} holds raw files, not a dataset: it has no versions or rows")
    if not contract.exists():
        raise NotFoundError(f"dataset {key} has never been published: run its pipeline first")
    return contract


def _summary(contract: Any, key: str, tid: int | None, template: str | None) -> DatasetSummary:
    base = {"key": key, "state": contract.state, "dataset": contract.dataset}
    base |= {"transformation_id": tid, "template": template, "uri": contract.uri}
    if not isinstance(contract, DatasetContract) or not contract.exists():
        return DatasetSummary(**base, published=False)
    table = contract.delta_table()
    return DatasetSummary(
        **base,
        published=True,
        version=table.version(),
        rows=table.to_pyarrow_dataset().count_rows(),
        run_ids=contract.run_ids(),
        columns=_columns(pa.schema(table.schema().to_arrow())),
    )


def _version(entry: dict[str, Any]) -> Version:
    found = RUN_OF_PREDICATE.search(entry.get("predicate") or "")
    rows = entry.get("rows")
    return Version(
        version=entry["version"],
        timestamp=entry["timestamp"],
        operation=entry.get("operation"),
        run_id=int(found.group(1)) if found else None,
        rows=int(rows) if rows is not None else None,
    )


def _columns(schema: pa.Schema) -> list[Column]:
    return [Column(f.name, str(f.type)) for f in schema]


def _slice(data: Any, offset: int, limit: int) -> pa.Table:
    """Rows ``offset`` to ``offset + limit`` of a dataset, reading batch by batch."""
    taken, seen = [], 0
    for batch in data.to_batches():
        if seen + batch.num_rows > offset:
            start = max(0, offset - seen)
            taken.append(batch.slice(start, limit - sum(b.num_rows for b in taken)))
            if sum(b.num_rows for b in taken) >= limit:
                break
        seen += batch.num_rows
    return pa.Table.from_batches(taken, schema=data.schema)
