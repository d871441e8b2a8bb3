"""A held worker on PostgreSQL: its task pinned, no transaction left open while it waits."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from core.database.engine import dispose_engines
from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from core.runs import start_run, task_runs
from core.worker import ExitCode, WorkerJob, start_local
from tests.support.worlds import load_test_world
from tests.unit.conftest import WORLD

pytestmark = pytest.mark.integration


def _states(url: str) -> list[str]:
    """The states of the other connections to the test's database: the worker's alone."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "select state from pg_stat_activity "
                    "where datname = current_database() and pid <> pg_backend_pid()"
                )
            )
            return [row.state for row in rows]
    finally:
        engine.dispose()


def _waiting_on_a_pipe(pid: int) -> bool:
    """Whether the process's main thread is blocked reading a pipe (Linux /proc)."""
    with open(f"/proc/{pid}/syscall", encoding="ascii") as syscall:
        call = syscall.read().split()
    if call[:1] != ["0"]:  # read(2)
        return False
    try:
        return os.readlink(f"/proc/{pid}/fd/{int(call[1], 16)}").startswith("pipe:")
    except OSError:
        return False


def test_a_held_worker_waits_with_its_task_read_and_no_transaction_open(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CORE_DATABASE_URL", postgres_url)
    settings = load_test_world(WORLD)
    with SessionHelper(settings) as session:
        plan = load_plan(session, "small")
        run_id = start_run(session, plan, "test").id
    dispose_engines()  # this process's pooled connections: not the worker's
    job = WorkerJob(plan.tasks[0].transformation_id, run_id)
    with (tmp_path / "worker.log").open("ab") as output:
        worker = start_local(job, settings, output.fileno(), held=True)
    deadline = time.monotonic() + 120
    # Connected (its task read) and blocked on a pipe: its gate (it read its start from
    # another pipe, before it connected).
    while not (_states(postgres_url) and _waiting_on_a_pipe(worker.pid)):
        assert worker.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    assert _states(postgres_url) == ["idle"]  # connected, and not "idle in transaction"
    with SessionHelper(settings) as session:
        assert task_runs(session, run_id) == {}  # nothing recorded while held
    assert worker.release()
    assert worker.wait(120) == ExitCode.SUCCESS
    with SessionHelper(settings) as session:
        assert task_runs(session, run_id)[job.transformation_id].state == "success"
