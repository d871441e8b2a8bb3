"""The sentence of one audit event: who did what to which row, with the values it changed.

A sentence is a list of parts, so that a page can show the object as a link and the
values as code while the API joins them into plain text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.models.audit import AuditEvent
    from core.service.audit_entries import Change, Names

# What a row of each table is called, for tables without a wording of their own.
NOUNS = {
    "pharmaceutical_companies": "company",
    "brands": "brand",
    "segments": "segment",
    "pipeline_types": "pipeline type",
    "pipeline_state_types": "state type",
    "tags": "tag",
    "transformation_templates": "template",
    "pipelines": "pipeline",
    "pipeline_states": "state",
    "transformations": "transformation",
    "transformation_variables": "variable",
    "dataset_checks": "check",
    "administrators": "user",
    "api_tokens": "token",
    "web_sessions": "web session",
    "run_snapshots": "snapshot",
    "dataset_restores": "restore",
}
LONGEST_VALUE = 80  # characters of a value shown; longer ones end in "…"
MOST_CHANGES = 4  # columns named in the sentence of an update; the rest are counted


@dataclass(frozen=True)
class Part:
    """A piece of a sentence: plain words, the actor, the object, or a value."""

    text: str
    kind: str = "text"  # text, actor, object (linked when it has a page), value (code)


def sentence(event: AuditEvent, changed: list[Change], names: Names) -> Iterator[Part]:
    """The parts of the event's sentence, starting with who made the change.

    Args:
        event: the audit event (redacted).
        changed: its changed columns, bookkeeping left out.
        names: the rows it refers to.
    """
    yield Part(event.actor or "someone (unrecorded)", "actor")
    yield Part(" ")
    table, image = event.table_name, event.after or event.before or {}
    if table == "transformation_variables":
        yield from _variable(event.action, event.before or {}, event.after or {}, names)
        return
    if table == "dataset_restores" and event.action == "INSERT":
        yield from _restore(image)
        return
    thing = _object(table, image, names)
    if event.action == "INSERT":
        yield from (Part("created "), thing, *_where(table, image, names, " in "))
    elif event.action == "DELETE":
        yield from (Part("deleted "), thing, *_where(table, image, names, " from "))
    else:
        yield from _update(table, thing, changed)


def value_text(value: Any) -> str:
    """A stored value as a short text (JSON for structures)."""
    text = (
        json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else value
    )
    if isinstance(text, bool):
        text = "true" if text else "false"
    text = str(text)
    return text if len(text) <= LONGEST_VALUE else text[: LONGEST_VALUE - 1] + "…"


def _value(value: Any) -> Part:
    return Part("(empty)") if value is None or value == "" else Part(value_text(value), "value")


def _variable(
    action: str, before: dict[str, Any], after: dict[str, Any], names: Names
) -> Iterator[Part]:
    image = after or before
    owner = _transformation(names, image.get("transformation_id"))
    name, of = Part(str(image.get("name")), "object"), Part(f" of {owner}")
    if action == "INSERT":
        yield from (Part("set "), name, of, Part(" to "), _value(after.get("value")))
    elif action == "DELETE":
        yield from (Part("removed variable "), name, of, Part(" (was "))
        yield from (_value(before.get("value")), Part(")"))
    else:
        yield from (Part("set "), name, of, Part(" from "), _value(before.get("value")))
        yield from (Part(" to "), _value(after.get("value")))


def _restore(image: dict[str, Any]) -> Iterator[Part]:
    """``restored acme/zentrix/master/doubled to version 0 (as version 2): "why"``."""
    key = "/".join(str(image.get("path", "?")).rstrip("/").split("/")[-4:])
    yield from (Part("restored "), Part(key, "object"), Part(" to version "))
    yield from (_value(image.get("version")), Part(f" (as version {image.get('new_version')})"))
    yield from (Part(": "), _value(image.get("reason")))


def _update(table: str, thing: Part, changed: list[Change]) -> Iterator[Part]:
    keys = {c.key for c in changed}
    if keys == {"is_active"}:
        yield from (Part("activated " if changed[0].after else "deactivated "), thing)
    elif keys == {"revoked_at"} and changed[0].before is None:
        yield from (Part("ended " if table == "web_sessions" else "revoked "), thing)
    elif keys == {"hashed_password"}:
        yield from (Part("changed the password of "), thing)
    elif len(changed) == 1:
        change = changed[0]
        yield from (Part(f"set {change.key} of "), thing, Part(" from "), _value(change.before))
        yield from (Part(" to "), _value(change.after))
    else:
        yield from (Part("changed "), thing)
        for number, change in enumerate(changed[:MOST_CHANGES]):
            yield Part(f"{': ' if number == 0 else ', '}{change.key} ")
            yield from (_value(change.before), Part(" → "), _value(change.after))
        if len(changed) > MOST_CHANGES:
            yield Part(f" and {len(changed) - MOST_CHANGES} more")


def _object(table: str, image: dict[str, Any], names: Names) -> Part:
    """The row's name: ``transformation #7 (sql)``, ``check row_count #3 of sql #7``…"""
    row_id = image.get("id")
    if table == "transformations":
        template = names.parent(table, image, "transformation_templates").get("name", "?")
        return Part(f"transformation #{row_id} ({template})", "object")
    if table == "pipeline_states":
        kind = names.parent(table, image, "pipeline_state_types").get("name", "?")
        return Part(f"state {kind}", "object")
    if table == "dataset_checks":
        owner = _transformation(names, image.get("transformation_id"))
        return Part(f"check {image.get('kind')} #{row_id} of {owner}", "object")
    if table == "administrators":
        return Part(f"user {image.get('email_address')}", "object")
    if table in ("api_tokens", "web_sessions"):
        email = names.parent(table, image, "administrators").get("email_address", "?")
        label = f"token {image.get('name')}" if table == "api_tokens" else f"web session #{row_id}"
        return Part(f"{label} of user {email}", "object")
    if table == "run_snapshots":
        return Part(f"snapshot {image.get('number')} of run #{image.get('run_event_id')}", "object")
    if table == "transformation_template_tags":
        tag = names.parent(table, image, "tags").get("name", "?")
        template = names.parent(table, image, "transformation_templates").get("name", "?")
        return Part(f"tag {tag} of template {template}", "object")
    noun = NOUNS.get(table, table)
    return Part(f"{noun} {image['name']}" if image.get("name") else f"{noun} #{row_id}", "object")


def _where(table: str, image: dict[str, Any], names: Names, word: str) -> Iterator[Part]:
    """Where a created or deleted row was: its pipeline, for states and transformations."""
    if table not in ("pipeline_states", "transformations"):
        return
    pipeline_id, pipeline_name = names.pipeline_of(table, image)
    if pipeline_id is not None:
        yield Part(f"{word}pipeline {pipeline_name or f'#{pipeline_id}'}")


def _transformation(names: Names, transformation_id: Any) -> str:
    """``initial_ingest #2``: a transformation by its template's name and its id."""
    image = names.image("transformations", transformation_id)
    template = names.parent("transformations", image, "transformation_templates").get("name")
    return (
        f"{template} #{transformation_id}" if template else f"transformation #{transformation_id}"
    )
