"""``core run`` as the console script: the run goes on in a child of the shared worker server.

What a person sees must not change (output, exit code, what a signal does); what changes
is which process runs the run. Real processes; bounds are generous and nothing is timed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

import core.models.configuration as config
from core.helpers.session_helper import SessionHelper
from core.runs import get_run, task_runs
from core.settings import Settings
from core.worker_server import start_server
from tests.support.worlds import load_test_world
from tests.unit.runner.test_stopping import BOUND, STARTS, WORLD, _kill_group, _wait_for
from tests.unit.test_worker_server import _records, _wait_until


@pytest.fixture
def world(core_env: Path) -> Settings:
    return load_test_world(WORLD)


def _start(world: Settings, argv: list[str], **environment: str) -> subprocess.Popen[str]:
    """``core run`` as the console script, a shared worker server running (this one's)."""
    start_server(world)
    env = {**os.environ, **world.to_environment(), **environment}
    return subprocess.Popen(
        [sys.executable, "-c", STARTS["script"].format(argv=argv)],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _runner_pid(world: Settings) -> int:
    """The process that claimed the only run (``host:pid``)."""
    with SessionHelper(world) as session:
        claimed = session.scalars(select(config.RunEvent.runner)).one()
    return int(claimed.rpartition(":")[2])


@pytest.mark.parametrize(
    ("server", "served"), [("shared", True), ("per-process", False)], ids=["shared", "own"]
)
def test_the_console_script_runs_the_run_in_a_child_of_the_shared_server(
    world, server: str, served: bool
) -> None:
    process = _start(world, ["run", "tiny"], CORE_WORKER_SERVER=server)
    out, err = process.communicate(timeout=BOUND * 2)
    assert process.returncode == 0, out + err
    lines = out.splitlines()
    assert lines[0] == "core run: running tiny with 1 worker"
    assert any("task 1 of 1" in line and "finished (success" in line for line in lines)
    assert "run 1 of tiny: success" in out
    runner = _runner_pid(world)
    assert (runner != process.pid) is served  # with no shared server: the command itself


def test_a_command_that_starts_the_server_runs_its_run_itself_and_the_next_one_is_served(
    world, tmp_path
) -> None:
    """A new server's imports take 1.5-2 s: the command's own overlap them instead of
    waiting for them. The next command finds the server running and hands its run over."""
    # An idle time far above the gap between the two commands, however loaded the machine.
    alone = {"TMPDIR": str(tmp_path), "CORE_WORKER_SERVER_IDLE_SECONDS": "60"}
    env = {**os.environ, **world.to_environment(), **alone}
    command = [sys.executable, "-c", STARTS["script"].format(argv=["run", "tiny"])]
    served = []
    for _ in range(2):
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        out, _ = process.communicate(timeout=BOUND * 2)
        assert process.returncode == 0, out
        with SessionHelper(world) as session:
            claimed = session.scalars(
                select(config.RunEvent.runner).order_by(config.RunEvent.id.desc())
            ).first()
        served.append(int(claimed.rpartition(":")[2]) != process.pid)
    assert served == [False, True]


def test_an_error_in_the_served_run_is_one_failed_line_and_its_code(world) -> None:
    process = _start(world, ["run", "tinny"])
    out, err = process.communicate(timeout=BOUND * 2)
    assert process.returncode == 2
    assert err.startswith("FAILED: no pipeline named 'tinny'"), err
    assert "Traceback" not in err and out == "core run: running tinny with 1 worker\n"


def test_a_failed_task_is_the_commands_exit_code(world) -> None:
    process = _start(world, ["run", "crashy", "--workers", "3"])
    out, err = process.communicate(timeout=BOUND * 4)
    assert process.returncode == 1, out + err
    assert "run 1 of crashy: failed" in out


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 128 + signal.SIGINT), (signal.SIGHUP, None)]
)
def test_ctrl_c_or_a_closing_terminal_is_passed_on_and_ends_the_run_failed(
    world, tmp_path, monkeypatch, signum: int, code: int | None
) -> None:
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    process = _start(world, ["run", "stoppable", "--workers", "3"])
    try:
        _wait_for(tmp_path / "started", lambda: process.poll() is None)
        runner = _runner_pid(world)
        os.kill(process.pid, signum)  # the command only, as a terminal signals its process
        ended = process.wait(BOUND)  # not communicate(): the deaf transform's own child
        assert ended != 0 and ended == (code or ended)  # may hold the pipes a while
        assert not psutil.pid_exists(runner) or psutil.Process(runner).status() == "zombie"
    finally:
        _kill_group(process)
    err = process.stderr.read()
    assert "Traceback" not in err  # as the command's own Ctrl-C or SIGTERM: no trace
    if signum == signal.SIGHUP:  # passed on as SIGTERM: one line saying what next
        assert "FAILED: terminated by signal SIGTERM: the run of 'stoppable'" in err, err
        assert "core run stoppable --resume RUN_ID" in err
    with SessionHelper(world) as session:
        run_id = session.scalars(select(config.RunEvent.id)).one()
        event = get_run(session, run_id)
        assert event.state == "failed" and event.ended_at is not None
        rows = task_runs(session, run_id)  # every task ended, with no reap
        assert {row.state for row in rows.values()} == {"failed"}


def test_a_killed_command_leaves_its_run_to_stop_and_end_failed_by_itself(
    world, tmp_path, monkeypatch
) -> None:
    """Nobody waits for the run any more: it stops as SIGTERM would stop it."""
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    process = _start(world, ["run", "stoppable", "--workers", "3"])
    _wait_for(tmp_path / "started", lambda: process.poll() is None)
    runner = _runner_pid(world)
    _kill_group(process)  # SIGKILL: the command cannot pass anything on
    deadline = time.monotonic() + BOUND
    while psutil.pid_exists(runner) and psutil.Process(runner).status() != "zombie":
        assert time.monotonic() < deadline, "the served run did not stop"
        time.sleep(0.05)
    with SessionHelper(world) as session:
        run_id = session.scalars(select(config.RunEvent.id)).one()
        event, rows = get_run(session, run_id), task_runs(session, run_id)
        assert event.state == "failed" and event.ended_at is not None  # no reap needed
        assert "running" not in {row.state for row in rows.values()}


def test_a_served_run_outlives_its_worker_server_killed_meanwhile(
    world, tmp_path, monkeypatch
) -> None:
    """An out-of-memory kill (or a `pkill`) of the shared server while a run goes on: the
    server's report of its children (255 for each) is not taken for theirs. The running
    task and the held one finish; the command ends with the run's own code and summary."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # this test's server alone
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    monkeypatch.setenv("GO_MARKER", str(tmp_path / "go"))
    process = _start(world, ["run", "server_lost"], TMPDIR=str(temporary))
    try:
        _wait_for(tmp_path / "started", lambda: process.poll() is None)
        (record,) = _records(temporary)
        os.kill(int(record["server"]), signal.SIGKILL)
        _wait_until(lambda: not psutil.pid_exists(int(record["server"])))
        (tmp_path / "go").touch()
        out, err = process.communicate(timeout=BOUND * 2)
    finally:
        _kill_group(process)
        for left in _records(temporary):
            for pid in (left["keeper"], left["server"]):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
    assert process.returncode == 0, out + err
    assert "run 1 of server_lost: success" in out, out
    assert _runner_pid(world) != process.pid  # it was served
    with SessionHelper(world) as session:
        assert {row.state for row in task_runs(session, 1).values()} == {"success"}
