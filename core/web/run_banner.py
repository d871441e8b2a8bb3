"""The sentence at the top of a run's page: where the run stands, and what to do next.

It is part of the run's refreshing body, so it follows the run: the page of a run that
fails while watched says it failed, not that it started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.web.templating import duration

FAILED = ("failed", "upstream_failed")
NAMED = 3  # failed tasks named in the sentence; more are counted


@dataclass(frozen=True)
class Banner:
    """A banner's kind (its colour: ok, error, warn, run) and its text."""

    kind: str
    text: str


def run_banner(run: Any) -> Banner:
    """The banner of a run (``core.service.runs.RunDetail``)."""
    total = len(run.tasks)
    done = sum(1 for task in run.tasks if task.state not in ("pending", "running"))
    if run.state in ("queued", "running"):
        running = sum(1 for task in run.tasks if task.state == "running")
        return Banner(
            "run",
            f"Run {run.id} is running: {done} of {total} tasks finished, {running} running.",
        )
    if run.state == "success":
        return Banner(
            "ok", f"Run {run.id} succeeded: {total} tasks in {duration(run.duration_seconds)}."
        )
    if run.state == "cancelled":
        who = run.cancelled_by or "someone"
        stopping = sum(1 for task in run.tasks if task.state == "running")
        if stopping:
            return Banner(
                "warn", f"Run {run.id} was cancelled by {who}: {stopping} running task(s) stopping."
            )
        return Banner(
            "warn",
            f"Run {run.id} was cancelled by {who} with {done} of {total} tasks finished. "
            "Resume it to run what did not finish.",
        )
    return Banner(
        "error",
        f"Run {run.id} failed: {_failures(run)}. "
        "Read the error below, fix the configuration, then resume the run.",
    )


def _failures(run: Any) -> str:
    failed = [task for task in run.tasks if task.state == "failed"]
    if not failed:
        return "no task failed, but the run was ended (its runner stopped)"
    names = [f"{task.template} #{task.transformation_id}" for task in failed[:NAMED]]
    more = len(failed) - NAMED
    return ", ".join(names) + (f" and {more} more" if more > 0 else "") + " failed"
