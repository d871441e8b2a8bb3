import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

import core.models.configuration as config
from core.errors import ConfigurationError, NotFoundError
from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.runner.local import LocalRunner


def _states(report) -> dict[str, str]:
    return {task.task_id.rsplit("_", 1)[0]: task.state for task in report.tasks}


def test_a_pipeline_runs_group_after_group(world) -> None:
    events: list[tuple[str, str]] = []
    runner = LocalRunner(world, workers=2, listener=lambda e, t, d: events.append((e, t.task_id)))
    report = runner.run("small")
    assert report.state == "success"
    assert _states(report) == {"ingest_numbers": "success", "master_doubled": "success"}
    assert [t.rows_out for t in report.tasks] == [5, 5]
    started = [task for event, task in events if event == "started"]
    assert started[0].startswith("ingest_") and started[1].startswith("master_")
    doubled = DatasetContract("acme", "zentrix", "master", "doubled", settings=world)
    assert sorted(doubled.fetch(run_id=report.run_id)["n"]) == [0, 2, 4, 6, 8]


def test_a_failure_retries_then_stops_downstream(world) -> None:
    report = LocalRunner(world, sleep=lambda _: None).run("failing")
    assert report.failed
    assert _states(report) == {
        "ingest_numbers": "success",
        "ingest_broken": "failed",
        "master_doubled": "upstream_failed",
        "metrics_noop": "upstream_failed",
    }
    broken = next(t for t in report.tasks if "broken" in t.task_id)
    assert broken.attempt == 2  # retries: 1
    assert broken.error.startswith("ValueError: the source had no header row")
    assert broken.log is not None and "FAILED: ValueError" in broken.log.read_text()
    with SessionHelper(world) as session:
        assert session.get(config.RunEvent, report.run_id).state == "failed"


def test_resume_reruns_only_what_did_not_succeed(world) -> None:
    first = LocalRunner(world, sleep=lambda _: None).run("failing")
    with SessionHelper(world) as session:  # fix the broken transformation, as a user would
        template = session.scalars(
            select(config.TransformationTemplate).where(
                config.TransformationTemplate.name == "broken"
            )
        ).one()
        template.entrypoint = "tests.unit.transforms.sample_transforms:numbers"
        template.variable_structures = {"count": {"type": "int", "default": 2}}
        session.commit()
    events: list[tuple[str, str]] = []
    runner = LocalRunner(world, listener=lambda e, t, d: events.append((e, t.task_id)))
    second = runner.run("failing", resume=first.run_id)
    assert second.run_id == first.run_id and second.state == "success"
    skipped = [task for event, task in events if event == "skipped"]
    assert len(skipped) == 1 and skipped[0].startswith("ingest_numbers")
    numbers = DatasetContract("acme", "zentrix", "ingest", "numbers", settings=world)
    assert len(numbers.fetch(run_id=first.run_id)) == 3  # not re-run, not duplicated


def test_only_runs_one_state_reading_upstream_from_its_latest_run(world) -> None:
    first = LocalRunner(world).run("small")
    second = LocalRunner(world).run("small", only="master")
    assert _states(second) == {"ingest_numbers": "not run", "master_doubled": "success"}
    doubled = DatasetContract("acme", "zentrix", "master", "doubled", settings=world)
    assert len(doubled.fetch(run_id=second.run_id)) == 5
    assert first.run_id != second.run_id


def test_bad_requests_are_clear(world) -> None:
    runner = LocalRunner(world)
    with pytest.raises(NotFoundError, match="no pipeline named 'smal'. Did you mean 'small'"):
        runner.run("smal")
    with pytest.raises(ConfigurationError, match="no transformation in state 'enrich'"):
        runner.run("small", only="enrich")
    first = runner.run("small")
    with pytest.raises(ConfigurationError, match=f"run {first.run_id} is a run of 'small'"):
        runner.run("failing", resume=first.run_id)
    with pytest.raises(NotFoundError, match="no run with id 999"):
        runner.run("small", resume=999)


def test_a_worker_killed_mid_transform_then_resume_leaves_no_duplicates(
    world, tmp_path, monkeypatch
) -> None:
    with SessionHelper(world) as session:
        template = session.scalars(
            select(config.TransformationTemplate).where(
                config.TransformationTemplate.name == "doubled"
            )
        ).one()
        template.entrypoint = "tests.unit.transforms.sample_transforms:slow_doubled"
        session.commit()
    env = {**os.environ, **world.to_environment(), "SLOW_MARKER": str(tmp_path / "started")}
    code = "from core.cli import main; main(['run', 'small'])"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the runner and its worker, mid-transform
    process.wait()
    with SessionHelper(world) as session:
        run_id = session.scalars(select(config.RunEvent.id)).one()
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "resumed"))
    monkeypatch.setenv("SLOW_SECONDS", "0")
    report = LocalRunner(world, workers=1).run("small", resume=run_id)
    assert report.state == "success"
    doubled = DatasetContract("acme", "zentrix", "master", "doubled", settings=world)
    assert sorted(doubled.fetch(run_id=run_id)["n"]) == [0, 2, 4, 6, 8]


def test_a_runner_that_cannot_start_a_worker_ends_the_run_failed(world, monkeypatch) -> None:
    import core.runner.local as local

    def broken_start(*args, **kwargs):
        raise OSError("fork failed: no memory")

    monkeypatch.setattr(local, "start_local", broken_start)
    with pytest.raises(OSError, match="fork failed"):
        LocalRunner(world).run("small")
    with SessionHelper(world) as session:
        event = session.scalars(select(config.RunEvent)).one()
    assert event.state == "failed" and event.ended_at is not None


def _starts(monkeypatch) -> list[tuple[int, bool, object]]:
    """(transformation id, held, worker) of each worker the runner starts from now on."""
    import core.runner.local as local

    started: list[tuple[int, bool, object]] = []
    real = local.start_local

    def spy(job, settings, output, warm=True, held=False):
        worker = real(job, settings, output, warm=warm, held=held)
        started.append((job.transformation_id, held, worker))
        return worker

    monkeypatch.setattr(local, "start_local", spy)
    return started


def test_the_next_groups_workers_start_ahead_held_and_run_once_released(world, monkeypatch) -> None:
    started = _starts(monkeypatch)
    report = LocalRunner(world, workers=2).run("small")
    assert _states(report) == {"ingest_numbers": "success", "master_doubled": "success"}
    ingest, master = (task.transformation_id for task in report.tasks)
    # The master task's worker was started while the ingest group ran, held, then released.
    assert [(tid, held) for tid, held, _ in started] == [(ingest, False), (master, True)]
    doubled = DatasetContract("acme", "zentrix", "master", "doubled", settings=world)
    assert sorted(doubled.fetch(run_id=report.run_id)["n"]) == [0, 2, 4, 6, 8]


def test_a_failed_group_ends_the_workers_held_for_the_next_and_leaves_no_log(
    world, monkeypatch
) -> None:
    started = _starts(monkeypatch)
    report = LocalRunner(world, workers=2, sleep=lambda _: None).run("failing")
    held = [worker for _, is_held, worker in started if is_held]
    assert len(held) == 1  # the master group's one task
    assert held[0].wait(120) is not None  # none left waiting
    master = next(t for t in report.tasks if "doubled" in t.task_id)
    assert (master.state, master.attempt, master.log) == ("upstream_failed", 0, None)


def test_a_lost_database_becomes_one_line_that_says_what_next() -> None:
    from sqlalchemy.exc import OperationalError

    from core.database.engine import database_lost_means
    from core.errors import DatabaseError

    after = "resume run 3"
    lost = OperationalError("SELECT 1", {}, Exception("connection refused\n  detail"))
    expected = r"reached \(connection refused\); resume run 3$"
    with pytest.raises(DatabaseError, match=expected), database_lost_means(after):
        raise lost
    expected = r"^behind migrations; resume run 3$"
    with pytest.raises(DatabaseError, match=expected), database_lost_means(after):
        raise DatabaseError("behind migrations")
    with pytest.raises(ValueError, match="not about the database"), database_lost_means(after):
        raise ValueError("not about the database")
