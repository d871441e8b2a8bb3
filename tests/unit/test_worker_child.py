"""ChildExit: a warm child's exit code as its starter learns it, its server alive or gone.

The child is played by a real process (``sleep``) and its worker server by a fake
``multiprocessing`` Process whose server has died: it reports 255, as
``popen_forkserver`` does once the server's socket is gone. Nothing is timed.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import threading

import pytest

from core.worker_child import ChildExit, pid_alive

SERVER_GONE = 255  # what multiprocessing reports for a child whose forkserver has died


class _ServerGone:
    """A forkserver child as its starter sees it once the server has died."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exitcode = SERVER_GONE
        ended, other = os.pipe()
        os.close(other)
        self.sentinel = ended  # readable for good: the server's end


@pytest.fixture
def child():
    """A live process standing for the child, ended after the test."""
    process = subprocess.Popen(["sleep", "600"])
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def pipe():
    """The pipe the child says its code on: (read end for ChildExit, write end)."""
    told, teller = os.pipe()
    yield told, teller
    with contextlib.suppress(OSError):  # a test closed it
        os.close(teller)


def test_a_server_that_died_is_not_taken_for_the_end_of_a_child_that_still_runs(
    child, pipe
) -> None:
    told, teller = pipe
    ended = ChildExit(_ServerGone(child.pid), told)
    assert ended.poll() is None
    assert ended.wait(0.2) is None  # it runs on: the time was up
    assert ended.running()
    os.write(teller, b"0")  # it finished its work and said so
    assert ended.wait() == 0


def test_a_wait_started_before_the_word_returns_it(child, pipe) -> None:
    told, teller = pipe
    ended = ChildExit(_ServerGone(child.pid), told)
    threading.Timer(0.3, os.write, (teller, b"1")).start()
    assert ended.wait(120) == 1


def test_a_child_gone_without_a_word_is_read_from_its_server_even_with_its_pipe_held(
    child, pipe
) -> None:
    # What it forked (a pool, a kernel) may still hold the pipe open: its own end decides.
    told, _teller = pipe
    child.kill()
    child.wait()  # reaped: the pid is free
    ended = ChildExit(_ServerGone(child.pid), told)
    assert not pid_alive(child.pid)
    assert ended.wait(120) == SERVER_GONE
    assert not ended.running()


def test_a_child_killed_closes_its_pipe_and_its_end_is_its_servers_report(child, pipe) -> None:
    told, teller = pipe
    os.close(teller)  # the kernel closes a killed child's copy
    ended = ChildExit(_ServerGone(child.pid), told)
    assert ended.poll() == SERVER_GONE


def test_join_waits_for_the_process_after_its_word(child, pipe) -> None:
    told, teller = pipe
    ended = ChildExit(_ServerGone(child.pid), told)
    os.write(teller, b"0")
    assert ended.poll() == 0
    ended.join(0.2)  # said, but still tearing down: join waits for its end, here the bound
    assert ended.running()
    threading.Timer(0.3, lambda: (child.kill(), child.wait())).start()
    ended.join(120)
    assert not ended.running()


class _EndingLater:
    """A forkserver child killed without a word, whose server reports its end later."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.sentinel, self._report = os.pipe()
        self.looked = 0  # how often its end was asked for

    @property
    def exitcode(self) -> int | None:
        self.looked += 1
        ready = select.select([self.sentinel], [], [], 0)[0]
        return -9 if ready else None

    def report(self) -> None:
        os.write(self._report, b"x")


def test_a_wait_after_a_silent_end_waits_for_the_report_without_spinning(child, pipe) -> None:
    # The pipe at its end is always readable: waiting on it would loop until the report.
    told, teller = pipe
    os.close(teller)
    process = _EndingLater(child.pid)
    ended = ChildExit(process, told)
    threading.Timer(0.3, process.report).start()
    assert ended.wait(120) == -9
    assert process.looked < 20
