"""Progress of a local run, as lines a person reads while it runs.

Each line carries the time since the command started and the task's place in the run
("task 3 of 12, 00:04.2"); while tasks run and nothing else was said for a while, a
line says which are still running and for how long, so a long task shows it is alive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the plan imports the models (SQLAlchemy): `core run` prints before that
    from core.plan import TaskSpec

MARKS = {"started": "…", "retrying": "↻", "skipped": "·", "finished": "✓"}


def clock(seconds: float) -> str:
    """``mm:ss.s`` (``h:mm:ss.s`` from an hour on): the elapsed time in a progress line."""
    minutes, rest = divmod(max(seconds, 0.0), 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}:{minutes:02d}:{rest:04.1f}"
    return f"{minutes:02d}:{rest:04.1f}"


class Progress:
    """A LocalRunner listener (and ``on_start`` hook) printing one line per task event.

    Use it as a context manager around the run: it then also prints, every
    ``alive_every`` seconds without another line, which tasks are still running.

    Args:
        say: where lines go (``print`` or a rich Console's ``print``).
        alive_every: seconds of silence before a "still running" line.
        now: the clock (tests pass their own).
        started: when the command started on that clock (now when omitted), so the
            elapsed time counts the imports made before the Progress existed.
    """

    def __init__(
        self,
        say: Callable[[str], object],
        alive_every: float = 10.0,
        now: Callable[[], float] = time.monotonic,
        started: float | None = None,
    ) -> None:
        self._say = say
        self._now = now
        self._alive_every = alive_every
        self._started = now() if started is None else started
        self._last_line = now()
        self._numbers: dict[int, int] = {}
        self._total = 0
        self._running: dict[int, tuple[TaskSpec, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def elapsed(self) -> str:
        """The time since the command started, as progress lines show it."""
        return clock(self._now() - self._started)

    def say(self, text: str) -> None:
        """Print one line (thread-safe: tasks of a group report from several threads)."""
        with self._lock:
            self._say(text)
            self._last_line = self._now()

    def start(self, run_id: int, tasks: Sequence[TaskSpec]) -> None:
        """The runner's ``on_start``: number the run's tasks in the order they run."""
        self._numbers = {t.transformation_id: n for n, t in enumerate(tasks, start=1)}
        self._total = len(tasks)
        self.say(f"run {run_id}: {self._total} tasks, {self.elapsed()}")

    def __call__(self, event: str, task: TaskSpec, detail: str) -> None:
        mark = "✗" if detail == "failed" else MARKS.get(event, " ")
        with self._lock:
            if event == "started":
                self._running[task.transformation_id] = (task, self._now())
            elif event == "finished":
                began = self._running.pop(task.transformation_id, (task, self._now()))[1]
                detail = f"{detail} in {self._now() - began:.1f}s"
        number = self._numbers.get(task.transformation_id)
        place = f"task {number} of {self._total}, " if number else ""
        self.say(f"{mark} {place}{self.elapsed()}: {task.task_id} {event} ({detail})")

    def alive(self) -> None:
        """Say which tasks are still running, when nothing was said for ``alive_every`` s."""
        with self._lock:
            now = self._now()
            if not self._running or now - self._last_line < self._alive_every:
                return
            running = ", ".join(
                f"{task.task_id} for {clock(now - began)}" for task, began in self._running.values()
            )
        self.say(f"  {self.elapsed()}: still running: {running}")

    def __enter__(self) -> Progress:
        self._thread = threading.Thread(target=self._beat, name="core-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self._alive_every)):
            self.alive()
