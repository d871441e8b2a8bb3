"""The detached runner's reaper: it ends a run its runner left running, and only that one."""

from __future__ import annotations

import subprocess
import sys

from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from core.runner import detached
from core.runs import finish_run, get_run, resume_run, start_run
from core.settings import Settings


def _failed_runner() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])


def _resumed(settings: Settings, run_id: int):
    """Fail the run, then resume it again: its new ``resumed_at``."""
    with SessionHelper(settings, actor="test") as session:
        finish_run(session, run_id, failed=True)
        resume_run(session, run_id, "pinned", "test")
        return get_run(session, run_id).resumed_at


def _state(settings: Settings, run_id: int) -> str:
    with SessionHelper(settings) as session:
        return get_run(session, run_id).state


def test_the_reaper_of_an_earlier_resume_leaves_a_later_resume_running(world: Settings) -> None:
    with SessionHelper(world, actor="test") as session:
        run_id = start_run(session, load_plan(session, "small"), "test").id
    first = _resumed(world, run_id)
    second = _resumed(world, run_id)  # the first runner ended failed; someone resumed again
    assert first != second
    detached._wait(world, _failed_runner(), run_id, first)  # the first runner's reaper, late
    assert _state(world, run_id) == "running"  # the second runner's run is left alone
    detached._wait(world, _failed_runner(), run_id, second)  # its own runner died early
    assert _state(world, run_id) == "failed"


def test_the_reaper_of_a_new_run_ends_it_failed_when_its_runner_died(world: Settings) -> None:
    with SessionHelper(world, actor="test") as session:
        run_id = start_run(session, load_plan(session, "small"), "test").id
    detached._wait(world, _failed_runner(), run_id, None)
    assert _state(world, run_id) == "failed"
