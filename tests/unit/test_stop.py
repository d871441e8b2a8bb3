"""A stop request raises Terminated in the main thread, but never inside an import.

A cold worker may be stopped while it imports DuckDB or pyarrow; an exception raised
inside a native module's initialisation can abort the interpreter instead of unwinding
(no record, exit -6). The stop is therefore taken once the import has ended.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from core.stop import Terminated, stop_guard, stop_requested
from core.worker import STOPPED_UNRECORDED, ExitCode

# A module that is stopped half way through its own import.
STOPPED_WHILE_IMPORTED = """
import os, signal, time
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(0.3)  # the signal's handler runs here, inside the import
FINISHED = True
"""
BOUND = 30.0  # seconds: far above the moment the retry takes


def test_a_stop_inside_an_import_is_taken_once_the_import_has_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "stopped_while_imported.py").write_text(STOPPED_WHILE_IMPORTED)
    monkeypatch.syspath_prepend(str(tmp_path))
    deadline = time.monotonic() + BOUND
    with pytest.raises(Terminated, match="SIGTERM"), stop_guard(grace=BOUND):
        module = importlib.import_module("stopped_while_imported")
        assert module.FINISHED  # the import ran to its end, undisturbed
        while time.monotonic() < deadline:  # the stop arrives after it
            time.sleep(0.01)
    assert sys.modules["stopped_while_imported"].FINISHED
    sys.modules.pop("stopped_while_imported")


def test_a_stop_outside_an_import_is_taken_at_once() -> None:
    with pytest.raises(Terminated, match="SIGINT"), stop_guard(grace=BOUND):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(BOUND)


def test_a_stop_is_forgotten_when_the_next_guarded_work_begins() -> None:
    """A process that runs several tasks (a test session, bench/step.py) must not blame
    the next task's failure on an earlier task's stop."""
    with pytest.raises(Terminated, match="SIGINT"), stop_guard(grace=BOUND):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(BOUND)
    assert stop_requested() == "SIGINT"  # still known while the stopped work is recorded
    with stop_guard(grace=BOUND):
        assert stop_requested() is None


DEAF_WORK = """
import os, signal, threading
import core.stop as stop
stop.RECORD_SECONDS = {record_seconds}
with stop.stop_guard(on_overdue=lambda reason: threading.Event().wait({record_takes}), grace=0.2):
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        threading.Event().wait(60)
    except stop.Terminated:
        pass  # deaf: the work goes on
    threading.Event().wait(120)
"""


@pytest.mark.parametrize(
    ("record_seconds", "record_takes", "expected"),
    [(60, 0, ExitCode.FAILED), (0.2, 120, STOPPED_UNRECORDED)],
    ids=["recorded", "not recorded in time"],
)
def test_a_deaf_worker_exits_saying_whether_its_stop_was_recorded(
    record_seconds: float, record_takes: float, expected: int
) -> None:
    """Only a recorded stop may exit with an ExitCode: otherwise the runner records it."""
    import subprocess

    program = DEAF_WORK.format(record_seconds=record_seconds, record_takes=record_takes)
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == expected, done.stderr
    assert "FAILED: Terminated: stopped by signal SIGTERM" in done.stderr
    assert ExitCode.recorded(done.returncode) == (expected == ExitCode.FAILED)


def test_a_stop_landing_while_the_guard_installs_its_handlers_leaves_none_behind(
    monkeypatch,
) -> None:
    import core.stop as stop

    before = {signum: signal.getsignal(signum) for signum in stop.STOP_SIGNALS}
    looks = []

    def stopped_half_way(signum):
        looks.append(signum)
        if len(looks) == 2:  # the first handler is installed, the second not yet
            raise Terminated("terminated by signal SIGTERM")
        return before[signum]

    monkeypatch.setattr(stop.signal, "getsignal", stopped_half_way)
    with pytest.raises(Terminated), stop_guard():
        pass
    monkeypatch.undo()
    assert {signum: signal.getsignal(signum) for signum in stop.STOP_SIGNALS} == before
    assert signal.set_wakeup_fd(-1) == -1  # the wakeup descriptor was put back too
