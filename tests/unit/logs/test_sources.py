"""Reading a task's log where its backend keeps it: a file here, a Batch job's CloudWatch stream."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import boto3
import pytest

from core.helpers.session_helper import SessionHelper
from core.logs.sources import BATCH_LOG_GROUP, CloudWatchLog, FileLog
from core.runs import begin_task, end_task
from core.service import task_logs
from core.settings import Settings, load_settings
from tests.unit.api.test_runs import recorded_run
from tests.unit.api.worlds import transformation_ids

STREAM = "core-worker/default/0123456789abcdef"


@pytest.fixture
def stream(aws_env: str) -> Settings:
    """A Batch job's stream in moto's CloudWatch Logs holding 5 lines, one with a password."""
    settings = load_settings()
    logs = boto3.client("logs", endpoint_url=aws_env, region_name=settings.aws_region)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=BATCH_LOG_GROUP)
    logs.create_log_stream(logGroupName=BATCH_LOG_GROUP, logStreamName=STREAM)
    now = int(time.time() * 1000)
    messages = ["start", "read 5 rows", "password=s3cr3t-value", "wrote 5 rows", "done"]
    events = [{"timestamp": now + n, "message": m} for n, m in enumerate(messages)]
    logs.put_log_events(logGroupName=BATCH_LOG_GROUP, logStreamName=STREAM, logEvents=events)
    yield settings
    logs.delete_log_stream(logGroupName=BATCH_LOG_GROUP, logStreamName=STREAM)


def test_a_batch_stream_is_read_by_its_tail_and_from_an_event(stream: Settings) -> None:
    log = CloudWatchLog(stream, STREAM)
    assert log.exists()
    tail = log.tail(2)
    assert tail.text == "wrote 5 rows\ndone\n" and (tail.offset, tail.next_offset) == (3, 5)
    first = log.read(0, 2)
    assert first.text == "start\nread 5 rows\n" and not first.at_end
    rest = log.read(first.next_offset, 100)
    assert rest.text.endswith("done\n") and rest.at_end
    assert not CloudWatchLog(stream, "no-such-stream").exists()  # a job not started yet


def test_a_batch_task_shows_its_job_stream_masked(
    world: Settings, stream: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto cannot run a Batch job here (it needs Docker), so the job's description, which
    # names its stream, is the one edge played; CloudWatch itself is moto's.
    asked: list[str] = []
    monkeypatch.setattr(
        task_logs, "batch_log_stream", lambda _s, job_id: asked.append(job_id) or STREAM
    )
    settings = stream.model_copy(update={"worker_backend": "batch", "home": world.home})
    run_id = recorded_run(world, "small", {})
    numbers = transformation_ids(world, "small")["numbers"]
    with SessionHelper(world, actor="test") as session:
        end_task(
            session, begin_task(session, run_id, numbers, "ip-10-0-0-1:7", "job-42"), "success"
        )
        log = task_logs.task_log(settings, session, run_id, numbers)
    assert asked == ["job-42"] and log.job_id == "job-42"
    assert log.source == "cloudwatch" and log.where == f"CloudWatch {BATCH_LOG_GROUP} {STREAM}"
    assert "password=***" in log.text and "s3cr3t" not in log.text and log.complete


def test_a_file_log_read_past_its_end_is_empty_and_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "task.log"
    path.write_bytes("één\ntwee\n".encode())
    log = FileLog(path)
    first = log.read(0, 7)  # "één\nt": cut after the line, never inside "twee" or a letter
    assert (first.text, first.next_offset, first.at_end) == ("één\n", 6, False)
    beyond = log.read(10_000, 10)
    assert beyond.text == "" and beyond.at_end and beyond.next_offset == path.stat().st_size
    assert FileLog(tmp_path / "absent.log").tail(5).text == ""
