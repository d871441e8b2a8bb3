"""The audit trail in words: each event as a sentence, a link to its object and its pipeline.

"alice@example.com set delimiter of initial_ingest #2 from `|` to `;`". The names come
from the rows an event refers to (a variable's transformation, that one's template and
state, the state's pipeline), read from the newest image of each row in the trail itself,
so a deleted transformation keeps its name. They are looked up a level at a time, all
rows of a level in one query: a fixed number of queries for a page of any size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from core.models.audit import AuditEvent
from core.service.audit import BOOKKEEPING, row_field
from core.service.audit_words import Part, sentence

# Which rows a row refers to: table -> (column, the table it points into).
PARENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "transformation_variables": (("transformation_id", "transformations"),),
    "dataset_checks": (("transformation_id", "transformations"),),
    "transformations": (
        ("pipeline_state_id", "pipeline_states"),
        ("transformation_template_id", "transformation_templates"),
    ),
    "pipeline_states": (
        ("pipeline_id", "pipelines"),
        ("pipeline_state_type_id", "pipeline_state_types"),
    ),
    "brands": (("pharmaceutical_company_id", "pharmaceutical_companies"),),
    "pipeline_types": (("segment_id", "segments"),),
    "transformation_template_tags": (
        ("transformation_template_id", "transformation_templates"),
        ("tag_id", "tags"),
    ),
    "api_tokens": (("administrator_id", "administrators"),),
    "web_sessions": (("administrator_id", "administrators"),),
}
# Tables whose rows have a place in the UI: whether the row still exists decides the link.
LINKED = frozenset({"pipelines", "pipeline_states", "transformations", "dataset_checks"})
# Where the pipeline page shows a row: table -> (the row shown, its id's column, anchor).
ANCHORS = {
    "pipeline_states": ("pipeline_states", "id", "state"),
    "transformations": ("transformations", "id", "transformation"),
    "transformation_variables": ("transformations", "transformation_id", "transformation"),
    "dataset_checks": ("transformations", "transformation_id", "checks"),
}
# variable -> transformation -> state -> pipeline: no chain is longer. Each level is one
# query, asked even when it has nothing to find, so that a page always costs the same.
MAX_DEPTH = 3

Key = tuple[str, int]


@dataclass(frozen=True)
class Change:
    """One column of a changed row: its value before and after."""

    key: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Row:
    """What the trail last recorded of a row: its image, and whether it was deleted."""

    image: dict[str, Any]
    deleted: bool


class Names:
    """The rows an entry's words need, by (table, id); unknown ones read as empty."""

    def __init__(self, rows: dict[Key, Row]) -> None:
        self.rows = rows

    def image(self, table: str, row_id: Any) -> dict[str, Any]:
        """The newest image of a row ({} when the trail holds none)."""
        row = self.rows.get((table, row_id)) if isinstance(row_id, int) else None
        return row.image if row else {}

    def exists(self, table: str, row_id: Any) -> bool:
        """Whether the row is still there (a row the trail never saw is taken to be)."""
        if not isinstance(row_id, int):
            return False
        row = self.rows.get((table, row_id))
        return row is None or not row.deleted

    def parent(self, table: str, image: dict[str, Any], parent_table: str) -> dict[str, Any]:
        """The image of the row ``image`` (of ``table``) points to in ``parent_table``."""
        for column, target in PARENTS.get(table, ()):
            if target == parent_table:
                return self.image(target, image.get(column))
        return {}

    def pipeline_of(self, table: str, image: dict[str, Any]) -> tuple[int | None, str | None]:
        """The id and name of the pipeline a row belongs to, or (None, None)."""
        while table != "pipelines":
            if table in ("transformation_variables", "dataset_checks"):
                image, table = self.parent(table, image, "transformations"), "transformations"
            elif table == "transformations":
                image, table = self.parent(table, image, "pipeline_states"), "pipeline_states"
            elif table == "pipeline_states":
                pipeline_id = image.get("pipeline_id")
                return pipeline_id, self.image("pipelines", pipeline_id).get("name")
            else:
                return None, None
        return image.get("id"), image.get("name")


@dataclass(frozen=True)
class Entry:
    """One audit event in words."""

    event: AuditEvent
    parts: tuple[Part, ...]
    url: str | None
    pipeline_id: int | None
    pipeline_name: str | None
    changes: tuple[Change, ...]

    @property
    def summary(self) -> str:
        """The sentence as plain text, values in backticks."""
        return "".join(f"`{p.text}`" if p.kind == "value" else p.text for p in self.parts)


def describe(session: Session, events: list[AuditEvent]) -> list[Entry]:
    """The events in words, with links and pipelines, in MAX_DEPTH queries (none for none).

    Args:
        session: a configuration session.
        events: audit events, already redacted (``core.service.audit.list_events``).
    """
    names = Names(_rows(session, events))
    return [_entry(event, names) for event in events]


def changes(
    action: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Change]:
    """The columns an event changed: all of an insert or delete, else those that differ.

    BOOKKEEPING columns are left out. Password and token hashes arrive redacted
    (core.service.audit.redact).

    Args:
        action: INSERT, UPDATE or DELETE.
        before: the row before (None for an insert).
        after: the row after (None for a delete).

    Returns:
        The changed columns, sorted by name.
    """
    before, after = before or {}, after or {}
    keys = sorted((set(before) | set(after)) - BOOKKEEPING)
    if action == "UPDATE":
        keys = [k for k in keys if before.get(k) != after.get(k)]
    return [Change(k, before.get(k), after.get(k)) for k in keys]


def _entry(event: AuditEvent, names: Names) -> Entry:
    table, image = event.table_name, event.after or event.before or {}
    changed = changes(event.action, event.before, event.after)
    pipeline_id, pipeline_name = names.pipeline_of(table, image)
    return Entry(
        event=event,
        parts=tuple(sentence(event, changed, names)),
        url=_url(table, image, names, pipeline_id),
        pipeline_id=pipeline_id,
        pipeline_name=pipeline_name,
        changes=tuple(changed),
    )


def _url(table: str, image: dict[str, Any], names: Names, pipeline_id: int | None) -> str | None:
    """The page showing the row (or, once it is deleted, its pipeline), if there is one."""
    if table == "run_snapshots" and isinstance(image.get("run_event_id"), int):
        return f"/runs/{image['run_event_id']}"
    if table not in LINKED and table not in ANCHORS:
        return None
    if pipeline_id is None or not names.exists("pipelines", pipeline_id):
        return None
    page = f"/pipelines/{pipeline_id}"
    if table in ANCHORS:
        target, column, prefix = ANCHORS[table]
        if names.exists(target, image.get(column)):
            return f"{page}#{prefix}-{image[column]}"
    return page


def _rows(session: Session, events: list[AuditEvent]) -> dict[Key, Row]:
    """The newest image of every row the events refer to, a level per query."""
    known: dict[Key, Row] = {}
    wanted: set[Key] = set()
    for event in events:
        image = event.after or event.before or {}
        if event.table_name in LINKED and isinstance(image.get("id"), int):
            wanted.add((event.table_name, image["id"]))
        wanted |= set(_parents(event.table_name, [event.before or {}, event.after or {}]))
    for _level in range(MAX_DEPTH if events else 0):
        wanted -= set(known)
        found = _newest(session, wanted)
        known.update(found)
        known.update({key: Row({}, False) for key in wanted - set(found)})
        wanted = {
            parent for (table, _id), row in found.items() for parent in _parents(table, [row.image])
        }
    return known


def _parents(table: str, images: Iterable[dict[str, Any]]) -> Iterable[Key]:
    for image in images:
        for column, target in PARENTS.get(table, ()):
            if isinstance(image.get(column), int):
                yield target, image[column]


def _newest(session: Session, keys: set[Key]) -> dict[Key, Row]:
    """The newest event of each row: one query, whatever the number of rows (even none)."""
    by_table: dict[str, set[int]] = {}
    for table, row_id in keys:
        by_table.setdefault(table, set()).add(row_id)
    row_id = row_field("id")
    which = [and_(AuditEvent.table_name == t, row_id.in_(ids)) for t, ids in by_table.items()]
    newest = (
        select(func.max(AuditEvent.id))
        .where(or_(*which) if which else false())
        .group_by(AuditEvent.table_name, row_id)
    )
    query = select(AuditEvent.table_name, AuditEvent.action, AuditEvent.before, AuditEvent.after)
    rows: dict[Key, Row] = {}
    for table, action, before, after in session.execute(query.where(AuditEvent.id.in_(newest))):
        image = after or before or {}
        if isinstance(image.get("id"), int):
            rows[(table, image["id"])] = Row(image, action == "DELETE")
    return rows
