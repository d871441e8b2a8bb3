"""A run page's "what changed since run N" names checks added, changed and removed."""

from __future__ import annotations

from dataclasses import replace

from core.plan.diff import plan_changes
from core.plan.model import PipelinePlan, TaskGroup, TaskSpec

TASK = TaskSpec(1, "sql", "python", "x:y", "master", 0, 0, 0, {"query": "select 1"})


def _plan(task: TaskSpec) -> PipelinePlan:
    return PipelinePlan(
        1, "p", "c", "b", "s", "t", True, "none", None, [TaskGroup(0, "master", 0, [task])]
    )


def test_check_changes_are_named_with_before_and_after() -> None:
    kept = {"id": 1, "kind": "not_null", "arguments": {"columns": ["a"]}, "severity": "error"}
    gone = {"id": 2, "kind": "unique", "arguments": {"columns": ["a"]}, "severity": "warn"}
    before = _plan(replace(TASK, checks=[kept, gone]))
    added = {"id": 3, "kind": "row_count", "arguments": {"min": 1}, "severity": "error"}
    after = _plan(replace(TASK, checks=[{**kept, "severity": "warn"}, added]))
    changes = {c.what: (c.before, c.after) for c in plan_changes(before, after)}
    assert changes == {
        "check 1": ("not_null(columns=['a']) [error]", "not_null(columns=['a']) [warn]"),
        "check 2": ("unique(columns=['a']) [warn]", None),
        "check 3": (None, "row_count(min=1) [error]"),
    }
    assert plan_changes(before, before) == []
    # a snapshot from before checks existed has none: nothing to report against none
    data = _plan(TASK).to_dict()
    for group in data["groups"]:
        for task in group["tasks"]:
            del task["checks"]
    old = PipelinePlan.from_dict(data)
    assert plan_changes(old, _plan(TASK)) == []
