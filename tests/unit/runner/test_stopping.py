"""Workers that crash, are stopped or die without a word: each ends its task only, recorded.

Real worker processes (warm forkserver children and cold ``python -m corebot run``)
running sample transforms; bounds are generous, the assertions are about what was
recorded, never about how fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

import core.models.configuration as config
from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.plan import load_plan
from core.runner.local import LocalRunner
from core.runs import get_run, reap, start_run, task_runs
from core.settings import Settings
from core.stop import Terminated
from core.worker import ExitCode, LocalWorker, WorkerJob, local_command, start_local, worker_gone
from tests.support.worlds import load_test_world

SAMPLES = "tests.unit.transforms.sample_transforms"


def _two_groups(name: str, first: str, then: str = "doubled") -> str:
    """A pipeline: ``first`` in the ingest group, then ``then`` in the master group."""
    return f"""  - name: {name}
    company: acme
    brand: zentrix
    type: t
    states:
      - {{state: ingest, transformations: [{{template: {first}}}]}}
      - {{state: master, transformations: [{{template: {then}}}]}}"""


WORLD = f"""
segments: [{{name: S, pipeline_types: [t]}}]
companies: [{{name: acme, brands: [{{name: zentrix}}]}}]
templates:
  - {{name: numbers, state: ingest, entrypoint: "{SAMPLES}:numbers",
     variables: {{count: {{type: int}}}}}}
  - {{name: aborting, entrypoint: "{SAMPLES}:aborting"}}
  - {{name: hog, entrypoint: "{SAMPLES}:memory_hog"}}
  - {{name: doubled, entrypoint: "{SAMPLES}:doubled"}}
  - {{name: long_query, entrypoint: "{SAMPLES}:long_query"}}
  - {{name: deaf, entrypoint: "{SAMPLES}:deaf"}}
  - {{name: lingering, entrypoint: "{SAMPLES}:lingering"}}
  - {{name: broken, entrypoint: "{SAMPLES}:broken"}}
  - {{name: quitting, entrypoint: "{SAMPLES}:quitting"}}
  - {{name: sys_exiting, entrypoint: "{SAMPLES}:sys_exiting"}}
  - {{name: impostor, entrypoint: "{SAMPLES}:impostor"}}
  - {{name: marking, entrypoint: "tests.unit.transforms.marking_transforms:numbers"}}
  - {{name: gated, entrypoint: "{SAMPLES}:gated_doubled"}}
pipelines:
  - name: crashy
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations:
          - {{template: numbers, variables: {{count: 3}}}}
          - {{template: aborting}}
          - {{template: hog}}
      - state: master
        transformations: [{{template: doubled}}]
  - name: stoppable
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{{template: long_query}}, {{template: deaf}}, {{template: lingering}}]
  - name: retrying
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{{template: broken, retries: 2, retry_delay_seconds: 600}}]
{_two_groups("quitting", "quitting")}
{_two_groups("sys_exiting", "sys_exiting")}
{_two_groups("impostor", "impostor")}
{_two_groups("lingering_then_more", "lingering")}
{_two_groups("broken_then_marking", "broken", "marking")}
  - name: server_lost
    company: acme
    brand: zentrix
    type: t
    states:
      - {{state: ingest, transformations: [{{template: numbers, variables: {{count: 3}}}}]}}
      - {{state: master, transformations: [{{template: gated}}]}}
      - {{state: enrich, transformations: [{{template: doubled}}]}}
  - name: tiny
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{{template: numbers, variables: {{count: 1}}}}]
"""
BOUND = 60  # seconds: far above the 5 s a stop takes, so a busy machine cannot fail it
# How `core run` is started: called from Python (the run goes on in that process), or as
# the console script, which hands the run to the shared worker server (core.runner.served).
STARTS = {
    "called": "from core.cli import main; main({argv!r})",
    "script": "import sys; sys.argv = ['core', *{argv!r}]; from core.cli import main; main()",
}


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[LocalWorker, bool]]:
    """Every worker the runner starts, and whether it was started held."""
    import core.runner.local as local

    workers: list[tuple[LocalWorker, bool]] = []
    real = local.start_local

    def spy(*args, **kwargs):
        worker = real(*args, **kwargs)
        workers.append((worker, worker.held))
        return worker

    monkeypatch.setattr(local, "start_local", spy)
    return workers


@pytest.fixture
def world(core_env: Path) -> Settings:
    return load_test_world(WORLD)


def _job(settings: Settings, pipeline: str, template: str) -> WorkerJob:
    with SessionHelper(settings) as session:
        plan = load_plan(session, pipeline)
        run_id = start_run(session, plan, "test").id
    task = next(t for t in plan.tasks if t.template == template)
    return WorkerJob(task.transformation_id, run_id, state=task.state, template=task.template)


def _row(settings: Settings, job: WorkerJob):
    with SessionHelper(settings) as session:
        return task_runs(session, job.run_id)[job.transformation_id]


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _wait_for(marker: Path, alive) -> None:
    deadline = time.monotonic() + BOUND
    while not marker.exists():
        assert alive(), "the worker ended before its transform started"
        assert time.monotonic() < deadline, "the transform did not start"
        time.sleep(0.05)


def _wait_until_gone(workers: list[str]) -> None:
    deadline = time.monotonic() + BOUND
    for worker in workers:
        while psutil.pid_exists(int(worker.rpartition(":")[2])):
            assert time.monotonic() < deadline, f"worker {worker} did not stop"
            time.sleep(0.05)


def _wait_until_group_gone(group: int) -> None:
    deadline = time.monotonic() + BOUND
    while True:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, f"process group {group} outlived SIGKILL"
        time.sleep(0.05)


def test_a_crash_or_a_memory_blow_up_fails_that_task_only(world) -> None:
    report = LocalRunner(world, workers=3).run("crashy")
    states = {t.task_id.rsplit("_", 1)[0]: t for t in report.tasks}
    assert states["ingest_numbers"].state == "success"
    assert states["ingest_aborting"].state == "failed"
    assert "SIGABRT" in states["ingest_aborting"].error
    assert states["ingest_hog"].state == "failed"
    assert states["ingest_hog"].error.startswith("MemoryError")
    assert states["master_doubled"].state == "upstream_failed"
    numbers = DatasetContract("acme", "zentrix", "ingest", "numbers", settings=world)
    assert len(numbers.fetch(run_id=report.run_id)) == 3  # its sibling's crash did not touch it
    with SessionHelper(world) as session:
        assert get_run(session, report.run_id).state == "failed"


@pytest.mark.parametrize("code", [0, 1, 2])
def test_a_worker_that_exits_without_recording_fails_its_task_whatever_its_code(
    world, monkeypatch, code
) -> None:
    # A transform (or a library under it) ending the process with os._exit: the code is
    # one of the protocol's, but nothing was recorded. The row must not stay running, and
    # a 0 must not pass for a success (the downstream task would read nothing).
    monkeypatch.setenv("QUIT_CODE", str(code))
    report = LocalRunner(world, workers=1).run("quitting")
    states = {t.task_id.rsplit("_", 1)[0]: t for t in report.tasks}
    assert states["ingest_quitting"].state == "failed"
    assert f"exited with {code} before it could record" in states["ingest_quitting"].error
    assert states["master_doubled"].state == "upstream_failed"
    with SessionHelper(world) as session:
        assert get_run(session, report.run_id).state == "failed"


def test_sys_exit_in_a_transform_fails_the_task_and_says_so(world) -> None:
    report = LocalRunner(world, workers=1).run("sys_exiting")
    states = {t.task_id.rsplit("_", 1)[0]: t for t in report.tasks}
    assert states["ingest_sys_exiting"].state == "failed"
    assert "SystemExit" in states["ingest_sys_exiting"].error
    assert states["master_doubled"].state == "upstream_failed"


def test_a_stop_ends_the_workers_held_for_the_next_group_too(
    world, tmp_path, monkeypatch, started
) -> None:
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))

    def stop_once_lingering() -> None:  # as `kill` would; the runner turns it into a stop
        _wait_for(tmp_path / "started", lambda: True)
        os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_once_lingering)
    stopper.start()
    try:
        with pytest.raises(Terminated):
            LocalRunner(world, workers=1).run("lingering_then_more")
    finally:
        stopper.join()
    held = [worker for worker, was_held in started if was_held]
    assert len(held) == 1 and held[0].wait(BOUND) is not None  # not left waiting
    with SessionHelper(world) as session:
        run_id = session.scalars(select(config.RunEvent.id)).one()
        rows = task_runs(session, run_id)
    # The lingering task ended failed; the held one never began: nothing recorded for it.
    assert [row.state for row in rows.values()] == ["failed"]


def test_a_worker_held_for_a_task_that_never_begins_runs_none_of_its_code(
    world, tmp_path, monkeypatch, started
) -> None:
    # What a configuration names (a template's entrypoint module) runs only once its
    # task begins: a worker held ahead for it opens CORE's own things, not the module,
    # and when the group before it fails the module was never imported anywhere.
    marker = tmp_path / "imported"
    monkeypatch.setenv("IMPORT_MARKER", str(marker))
    report = LocalRunner(world, workers=1).run("broken_then_marking")
    states = {t.task_id.rsplit("_", 1)[0]: t.state for t in report.tasks}
    assert states == {"ingest_broken": "failed", "master_marking": "upstream_failed"}
    held = [worker for worker, was_held in started if was_held]
    assert len(held) == 1 and held[0].wait(BOUND) is not None  # held, then dropped
    assert not marker.exists()


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_sigterm_during_a_long_duckdb_query_ends_the_worker_and_records_failed(
    world, tmp_path, monkeypatch, warm
) -> None:
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    job = _job(world, "stoppable", "long_query")
    with (tmp_path / "worker.log").open("ab") as log:
        worker = start_local(job, world, log.fileno(), warm=warm)
    try:
        _wait_for(tmp_path / "started", lambda: worker.poll() is None)
        worker.terminate()
        code = worker.wait(BOUND)  # (it ends, or TimeoutExpired fails the test)
    finally:
        worker.stop(0)
    assert code == ExitCode.FAILED, (tmp_path / "worker.log").read_text()
    row = _row(world, job)
    assert row.state == "failed" and row.ended_at is not None
    assert "SIGTERM" in row.error_summary
    output = DatasetContract("acme", "zentrix", "ingest", "long_query", settings=world)
    assert not output.exists()  # the lake is as it was


def test_a_worker_deaf_to_the_stop_in_native_code_is_ended_and_recorded(
    world, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    job = _job(world, "stoppable", "deaf")
    env = {**os.environ, **world.to_environment()}
    process = subprocess.Popen(
        local_command(job), env=env, start_new_session=True, stderr=subprocess.PIPE
    )
    try:
        _wait_for(tmp_path / "started", lambda: process.poll() is None)
        process.terminate()
        code = process.wait(BOUND)
    finally:
        _kill_group(process)  # the deaf transform's own child
    assert code == ExitCode.FAILED
    assert "did not end within" in process.stderr.read().decode()
    row = _row(world, job)
    assert row.state == "failed" and row.ended_at is not None
    assert "stopped by signal SIGTERM" in row.error_summary


def test_a_killed_worker_is_found_on_the_next_look_and_its_run_ended_failed(
    world, tmp_path, monkeypatch
) -> None:
    from core.service.runs import run_detail

    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    job = _job(world, "stoppable", "lingering")
    with (tmp_path / "worker.log").open("ab") as log:
        worker = start_local(job, world, log.fileno())
    _wait_for(tmp_path / "started", lambda: worker.poll() is None)
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(BOUND) == -signal.SIGKILL
    row = _row(world, job)
    assert row.state == "running" and row.worker.endswith(f":{worker.pid}")
    with SessionHelper(world) as session:
        detail = run_detail(session, job.run_id)  # the run page is a look
    assert detail.state == "failed" and detail.ended_at is not None
    task = next(t for t in detail.tasks if t.transformation_id == job.transformation_id)
    assert task.state == "failed" and task.ended_at is not None
    assert f":{worker.pid})" in task.error_summary  # names the worker that died
    assert "ended without recording how" in task.error_summary
    with SessionHelper(world) as session:
        assert reap(session) == []  # nothing is reaped twice


def test_the_runner_start_ends_a_killed_worker_s_run(world, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    job = _job(world, "stoppable", "lingering")
    with (tmp_path / "worker.log").open("ab") as log:
        worker = start_local(job, world, log.fileno())
    _wait_for(tmp_path / "started", lambda: worker.poll() is None)
    os.kill(worker.pid, signal.SIGKILL)  # as the out-of-memory killer would
    worker.wait(BOUND)
    assert LocalRunner(world).run("tiny").state == "success"
    with SessionHelper(world) as session:
        assert get_run(session, job.run_id).state == "failed"
    assert _row(world, job).state == "failed"


@pytest.mark.parametrize("server", ["per-process", "shared"])
def test_core_runs_reap_finds_a_killed_runner_and_its_workers(
    world, tmp_path, monkeypatch, server
) -> None:
    """Its process group killed: a server of its own and its workers die with the runner
    (their tasks are reaped); a shared server's workers are not in that group, so they
    stop themselves and record their tasks, and the look ends the run its runner left."""
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    env = {**os.environ, **world.to_environment(), "CORE_WORKER_SERVER": server}
    code = "from core.cli import main; main(['run', 'stoppable', '--workers', '3'])"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(tmp_path / "started", lambda: process.poll() is None)
    os.killpg(process.pid, signal.SIGKILL)  # the runner, its worker server and its workers
    process.wait()
    _wait_until_group_gone(process.pid)  # the killed workers are gone before the look
    with SessionHelper(world) as session:
        run_id = session.scalars(select(config.RunEvent.id)).one()
        workers = [row.worker for row in task_runs(session, run_id).values() if row.worker]
    _wait_until_gone(workers)  # a shared server's workers stop themselves
    reaped = subprocess.run(
        [sys.executable, "-m", "core.cli", "runs", "reap"],
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND * 2,
        check=False,
    )
    assert reaped.returncode == 0, reaped.stderr
    if server == "per-process":
        assert f"run {run_id}: transformation" in reaped.stdout
    else:  # the workers stop by themselves; one that could not record its end (the deaf
        # one, a stop landing before its handlers) is reaped as lost: either way the run ends
        assert f"run {run_id}: its runner" in reaped.stdout or (
            f"run {run_id}: transformation" in reaped.stdout
        )
    assert "the run ended failed" in reaped.stdout
    with SessionHelper(world) as session:
        assert get_run(session, run_id).state == "failed"
        assert "running" not in {row.state for row in task_runs(session, run_id).values()}


@pytest.mark.parametrize("start", list(STARTS))
def test_sigterm_to_core_run_stops_its_workers_and_ends_the_run_failed(
    world, tmp_path, monkeypatch, start
) -> None:
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    with SessionHelper(world) as session:  # only the lingering task: the others need no test
        for template in ("long_query", "deaf"):
            session.execute(
                config.Transformation.__table__.delete().where(
                    config.Transformation.transformation_template_id.in_(
                        select(config.TransformationTemplate.id).where(
                            config.TransformationTemplate.name == template
                        )
                    )
                )
            )
        session.commit()
    env = {**os.environ, **world.to_environment()}
    code = STARTS[start].format(argv=["run", "stoppable"])
    process = subprocess.Popen(
        [sys.executable, "-c", code], env=env, start_new_session=True, stdout=subprocess.PIPE
    )
    try:
        _wait_for(tmp_path / "started", lambda: process.poll() is None)
        process.terminate()  # the runner only, as a service manager would
        assert process.wait(BOUND) != 0
    finally:
        _kill_group(process)
    with SessionHelper(world) as session:
        event = session.scalars(select(config.RunEvent)).one()
        rows = task_runs(session, event.id)
    assert event.state == "failed" and event.ended_at is not None
    assert [row.state for row in rows.values()] == ["failed"]
    assert "SIGTERM" in next(iter(rows.values())).error_summary


@pytest.mark.parametrize("start", list(STARTS))
def test_sigterm_while_core_run_waits_to_retry_ends_it_without_a_further_attempt(
    world, start
) -> None:
    env = {**os.environ, **world.to_environment()}
    code = STARTS[start].format(argv=["run", "retrying"])
    process = subprocess.Popen(
        [sys.executable, "-c", code], env=env, start_new_session=True, stdout=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + BOUND
        while not _task_states(world):  # the first attempt failed: it waits 600 s to retry
            assert process.poll() is None and time.monotonic() < deadline, "no attempt ended"
            time.sleep(0.05)
        process.terminate()
        assert process.wait(BOUND) != 0  # not after the 600 s wait (TimeoutExpired fails it)
    finally:
        _kill_group(process)
    with SessionHelper(world) as session:
        event = session.scalars(select(config.RunEvent)).one()
    assert event.state == "failed" and event.ended_at is not None
    assert _task_states(world) == [("failed", 1)]  # one attempt: no retry after the stop


def _task_states(settings: Settings) -> list[tuple[str, int]]:
    """The state and attempt of each task that has ended."""
    with SessionHelper(settings) as session:
        rows = session.scalars(select(config.TaskRun)).all()
        return [(row.state, row.attempt) for row in rows if row.state != "running"]


@pytest.mark.parametrize("server", ["per-process", "shared"])
def test_a_worker_whose_starter_was_killed_stops_and_records_its_task(
    world, tmp_path, monkeypatch, server
) -> None:
    """Nobody waits for it any more: it stops as if sent SIGTERM, not runs on unwatched."""
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    job = _job(world, "stoppable", "lingering")
    env = {**os.environ, **world.to_environment(), "CORE_WORKER_SERVER": server}
    pid_file = tmp_path / "worker.pid"
    code = (
        "import os, pathlib, time\n"
        "from core.settings import load_settings\n"
        "from core.worker import WorkerJob, start_local\n"
        f"job = WorkerJob({job.transformation_id}, {job.run_id})\n"
        f"log = os.open({str(tmp_path / 'worker.log')!r}, os.O_WRONLY | os.O_CREAT)\n"
        "worker = start_local(job, load_settings(), log)\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(worker.pid))\n"
        "time.sleep(600)\n"
    )
    starter = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    try:
        _wait_for(tmp_path / "started", lambda: starter.poll() is None)
        worker = int(pid_file.read_text())
    finally:
        os.kill(starter.pid, signal.SIGKILL)  # the starter only, not its group
        starter.wait()
    _wait_until_gone([f"host:{worker}"])
    row = _row(world, job)
    assert row.state == "failed" and row.ended_at is not None
    assert "has ended: stopping" in (tmp_path / "worker.log").read_text()


def test_a_worker_that_claims_success_while_it_runs_is_stopped_and_fails_its_task(
    world, started
) -> None:
    """A worker's told exit code is a shortcut, not its record: code writing "0" down every
    pipe it can reach (the told pipe among them) and running on is found out by its
    record, its task fails, and the run does not return with it still running."""
    report = LocalRunner(world, workers=1).run("impostor")
    states = {t.task_id.rsplit("_", 1)[0]: t.state for t in report.tasks}
    assert states == {"ingest_impostor": "failed", "master_doubled": "upstream_failed"}
    assert report.state == "failed"
    impostor = [worker for worker, _held in started if worker.job.template == "impostor"]
    assert len(impostor) == 1
    assert worker_gone(f"{socket.gethostname()}:{impostor[0].pid}")
