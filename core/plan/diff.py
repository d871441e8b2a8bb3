"""What changed in a pipeline's configuration between two plans (two runs' snapshots).

The run page shows it as a readable table: transformation, what changed (a
variable, the template, the order, the retries), before, after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.plan.model import PipelinePlan, TaskSpec

# The task fields a change of which is shown, with how they are named.
COMPARED = (
    ("template", "template"),
    ("kind", "kind"),
    ("entrypoint", "entrypoint"),
    ("state", "state"),
    ("graph_order", "order"),
    ("retries", "retries"),
    ("retry_delay_seconds", "retry delay (s)"),
)


@dataclass(frozen=True)
class ConfigurationChange:
    """One difference: in a transformation, a field or variable, its value before and after."""

    transformation_id: int
    transformation: str
    what: str
    before: Any
    after: Any


def plan_changes(before: PipelinePlan | None, after: PipelinePlan) -> list[ConfigurationChange]:
    """Every difference between two plans of a pipeline, in the later plan's task order.

    Args:
        before: the earlier plan (None: nothing to compare with, no changes).
        after: the later plan.

    Returns:
        Transformations added or removed, and for the others each changed field and
        each variable set, changed or removed (values as stored).
    """
    if before is None:
        return []
    old = {task.transformation_id: task for task in before.tasks}
    new = {task.transformation_id: task for task in after.tasks}
    changes: list[ConfigurationChange] = []
    for tid, task in new.items():
        if tid not in old:
            changes.append(_change(task, "transformation added", None, task.template))
        else:
            changes += _task_changes(old[tid], task)
    changes += [
        _change(task, "transformation", "present", None)
        for tid, task in old.items()
        if tid not in new
    ]
    return changes


def _task_changes(before: TaskSpec, after: TaskSpec) -> list[ConfigurationChange]:
    changes = [
        _change(after, label, getattr(before, field), getattr(after, field))
        for field, label in COMPARED
        if getattr(before, field) != getattr(after, field)
    ]
    for name in sorted(set(before.variables) | set(after.variables)):
        old, new = before.variables.get(name), after.variables.get(name)
        if old != new:
            changes.append(_change(after, f"variable {name}", old, new))
    return changes + _check_changes(before, after)


def _check_changes(before: TaskSpec, after: TaskSpec) -> list[ConfigurationChange]:
    """Checks added, removed or changed (kind, arguments, severity), by check id."""
    old = {c.get("id"): c for c in before.checks}
    new = {c.get("id"): c for c in after.checks}
    changes = []
    for check_id in sorted(set(old) | set(new), key=lambda i: (i is None, i or 0)):
        shown_old, shown_new = _shown_check(old.get(check_id)), _shown_check(new.get(check_id))
        if shown_old != shown_new:
            changes.append(_change(after, f"check {check_id}", shown_old, shown_new))
    return changes


def _shown_check(check: dict[str, Any] | None) -> str | None:
    if check is None:
        return None
    arguments = ", ".join(f"{k}={v!r}" for k, v in (check.get("arguments") or {}).items())
    return f"{check.get('kind')}({arguments}) [{check.get('severity')}]"


def _change(task: TaskSpec, what: str, before: Any, after: Any) -> ConfigurationChange:
    return ConfigurationChange(
        task.transformation_id,
        f"{task.state}/{task.template} ({task.transformation_id})",
        what,
        before,
        after,
    )
