"""Workers started ahead: the next group's first workers, held until their turn.

While a group runs, its next group's first tasks (as many as run at once) get their
workers started *held* (``core.worker.start_local(..., held=True)``): each opens what
every task uses and waits, so it begins the moment its task's turn comes instead of
paying its fork and set-up (30-60 ms a task) on the run's critical path. They are started
by the group's own pool threads once the group's first workers are running — never
before them, and never in the thread that signals interrupt. A held worker records
nothing; one that is not used (its group will not run, the run was stopped) is dropped
and the empty log it was given removed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from core.plan import TaskSpec
from core.worker import LocalWorker

logger = logging.getLogger("core.runner")


class WorkersAhead:
    """The held workers of one run, by transformation id.

    Args:
        start: starts a held worker for a task (its output on the task's log).
        log_of: the task's log file.
    """

    def __init__(
        self, start: Callable[[TaskSpec], LocalWorker], log_of: Callable[[TaskSpec], Path]
    ) -> None:
        self._start = start
        self._log_of = log_of
        self._lock = threading.Lock()
        self._held: dict[int, tuple[LocalWorker, Path | None]] = {}
        self._next: list[TaskSpec] = []
        self._starts_before = 0
        self._closed = False

    def plan(self, tasks: list[TaskSpec], after_starts: int) -> None:
        """Hold workers for ``tasks`` once ``after_starts`` workers of this group started."""
        with self._lock:
            self._next, self._starts_before = list(tasks), after_starts

    def started(self) -> None:
        """A worker of the current group started (called from its pool thread)."""
        with self._lock:
            self._starts_before -= 1
            if self._starts_before != 0 or self._closed:
                return
            tasks, self._next = self._next, []
        for task in tasks:
            if not self._hold(task):
                return

    def take(self, transformation_id: int) -> LocalWorker | None:
        """The held worker of this task, now the caller's; None when there is none."""
        with self._lock:
            entry = self._held.pop(transformation_id, None)
        return None if entry is None else entry[0]

    def close(self) -> list[LocalWorker]:
        """Hold no more workers; the held ones, for the caller to stop (then :meth:`tidy`)."""
        with self._lock:
            self._closed, self._next = True, []
            return [worker for worker, _log in self._held.values()]

    def tidy(self) -> None:
        """Drop what is still held and remove the empty logs the dropped workers were given."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for worker, new_log in held:
            worker.drop()
            _remove_if_empty(new_log)

    def _hold(self, task: TaskSpec) -> bool:
        log = self._log_of(task)
        new_log = None if log.exists() else log
        try:
            worker = self._start(task)
        except Exception as exc:  # harmless: the task starts its own worker when its turn comes
            logger.warning("could not start a worker ahead for %s: %s", task.task_id, exc)
            return False
        with self._lock:
            if not self._closed:
                self._held[task.transformation_id] = (worker, new_log)
                return True
        worker.drop()  # the run was stopped meanwhile
        _remove_if_empty(new_log)
        return False


def _remove_if_empty(log: Path | None) -> None:
    """Remove a log that a dropped worker was given and never wrote to."""
    if log is not None and log.exists() and log.stat().st_size == 0:
        log.unlink()
