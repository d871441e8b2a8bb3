"""Progress lines: elapsed time and place in the run on each, and a sign of life."""

from __future__ import annotations

import re
import time

from core.plan import TaskSpec
from core.runner.progress import Progress, clock


def _task(tid: int, name: str) -> TaskSpec:
    return TaskSpec(tid, name, "python", None, "ingest", 1, 0, 0, {})


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_clock_formats_minutes_and_hours() -> None:
    assert clock(4.23) == "00:04.2"
    assert clock(65.0) == "01:05.0"
    assert clock(3725.5) == "1:02:05.5"
    assert clock(-1) == "00:00.0"


def test_each_line_has_the_place_in_the_run_and_the_elapsed_time() -> None:
    lines: list[str] = []
    now = Clock()
    progress = Progress(lines.append, now=now)
    a, b = _task(7, "a"), _task(9, "b")
    now.t += 0.5
    progress.start(3, [a, b])
    now.t += 1.0
    progress("started", b, "attempt 1 of 1")
    now.t += 2.25
    progress("finished", b, "success")
    progress("finished", a, "failed")
    assert lines[0] == "run 3: 2 tasks, 00:00.5"
    assert lines[1] == "… task 2 of 2, 00:01.5: ingest_b_9 started (attempt 1 of 1)"
    assert lines[2] == "✓ task 2 of 2, 00:03.8: ingest_b_9 finished (success in 2.2s)"
    assert lines[3].startswith("✗ task 1 of 2, 00:03.8: ingest_a_7 finished (failed")


def test_a_long_task_shows_it_is_alive_only_after_a_silence() -> None:
    lines: list[str] = []
    now = Clock()
    progress = Progress(lines.append, alive_every=10, now=now)
    task = _task(1, "slow")
    progress.start(1, [task])
    progress("started", task, "attempt 1 of 1")
    now.t += 5
    progress.alive()
    assert len(lines) == 2  # not silent long enough
    now.t += 6
    progress.alive()
    assert lines[-1] == "  00:11.0: still running: ingest_slow_1 for 00:11.0"
    progress("finished", task, "success")
    now.t += 60
    count = len(lines)
    progress.alive()
    assert len(lines) == count  # nothing runs: nothing to say


def test_the_heartbeat_thread_speaks_during_a_long_task_and_stops() -> None:
    lines: list[str] = []
    task = _task(1, "slow")
    with Progress(lines.append, alive_every=0.05) as progress:
        progress.start(1, [task])
        progress("started", task, "attempt 1 of 1")
        deadline = time.monotonic() + 30
        while not any("still running" in line for line in lines):
            assert time.monotonic() < deadline, lines
            time.sleep(0.02)
        progress("finished", task, "success")
    assert progress._thread is not None and not progress._thread.is_alive()
    assert any(re.search(r"still running: ingest_slow_1 for \d\d:\d\d\.\d", x) for x in lines)


def test_elapsed_counts_from_when_the_command_started() -> None:
    now = Clock()
    progress = Progress(print, now=now, started=now.t - 2.5)
    assert progress.elapsed() == "00:02.5"
