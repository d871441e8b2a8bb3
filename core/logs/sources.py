"""Where a task's worker output is, and reading it whole, by its tail or from a position.

Two kinds: ``file`` (the local runner's ``$CORE_HOME/logs/run_N/TASK.log``,
also written by Airflow's ``local`` backend) and ``cloudwatch`` (an AWS Batch job's
stream, read through the Amazon provider's ``AwsLogsHook``). A position is opaque to
callers: the byte offset in a file, the count of events in a stream; ``next_offset`` of
one answer continues where it ended, which is how a running task's log is followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.errors import LogUnavailableError
from core.settings import Settings

TAIL_BYTES = 4 * 1024 * 1024  # a tail never reads more than this of a file
BATCH_LOG_GROUP = "/aws/batch/job"  # where AWS Batch sends every job's output


@dataclass(frozen=True)
class Chunk:
    """A piece of a log: its text, where it began and where the next piece begins."""

    text: str
    offset: int
    next_offset: int
    at_end: bool


class LogSource(Protocol):
    """One task's log on one backend."""

    kind: str
    where: str  # for people: a path, a stream name

    def exists(self) -> bool:
        """Whether anything was written yet."""

    def tail(self, lines: int) -> Chunk:
        """The last ``lines`` lines."""

    def read(self, offset: int, limit: int) -> Chunk:
        """From ``offset``, at most ``limit`` bytes (or events), ending on a whole line."""


class FileLog:
    """A log file on this machine.

    Args:
        path: the file.
    """

    kind = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def exists(self) -> bool:
        """Whether the file exists."""
        return self.path.is_file()

    def tail(self, lines: int) -> Chunk:
        """The last ``lines`` lines (of at most the last 4 MiB)."""
        size = self._size()
        start = max(0, size - TAIL_BYTES)
        data = self._bytes(start, size - start)
        kept = data.splitlines(keepends=True)[-lines:] if lines else []
        text = b"".join(kept)
        return Chunk(_decode(text), size - len(text), size, True)

    def read(self, offset: int, limit: int) -> Chunk:
        """From byte ``offset``, up to ``limit`` bytes cut after the last whole line."""
        size = self._size()
        offset = min(max(offset, 0), size)
        data = self._bytes(offset, limit)
        if offset + len(data) < size and b"\n" in data:
            data = data[: data.rindex(b"\n") + 1]  # a line is never cut in two
        end = offset + len(data)
        return Chunk(_decode(data), offset, end, end >= size)

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _bytes(self, offset: int, length: int) -> bytes:
        try:
            with self.path.open("rb") as handle:
                handle.seek(offset)
                return handle.read(length)
        except FileNotFoundError:
            return b""


class CloudWatchLog:
    """An AWS Batch job's log stream, read through the Amazon provider's hook.

    Args:
        settings: the AWS region and endpoint.
        stream: the stream's name in ``/aws/batch/job``.
    """

    kind = "cloudwatch"

    def __init__(self, settings: Settings, stream: str) -> None:
        self.settings, self.stream = settings, stream
        self.where = f"CloudWatch {BATCH_LOG_GROUP} {stream}"

    def exists(self) -> bool:
        """Whether the stream has any event (a job not yet started has none)."""
        return bool(self._messages(0))

    def tail(self, lines: int) -> Chunk:
        """The last ``lines`` events."""
        messages = self._messages(0)
        kept = messages[-lines:] if lines else []
        return Chunk(_joined(kept), len(messages) - len(kept), len(messages), True)

    def read(self, offset: int, limit: int) -> Chunk:
        """From event ``offset``, at most ``limit`` events."""
        messages = self._messages(max(offset, 0))
        kept = messages[:limit]
        end = max(offset, 0) + len(kept)
        return Chunk(_joined(kept), max(offset, 0), end, len(kept) == len(messages))

    def _messages(self, skip: int) -> list[str]:
        from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook
        from botocore.exceptions import BotoCoreError, ClientError

        hook = AwsLogsHook(aws_conn_id=None, region_name=self.settings.aws_region)
        if self.settings.aws_endpoint_url:
            hook.conn_config.endpoint_url = self.settings.aws_endpoint_url
        try:
            events = hook.get_log_events(
                BATCH_LOG_GROUP, self.stream, skip=skip, start_from_head=True
            )
            return [str(event["message"]) for event in events]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []  # the job has not written yet
            raise LogUnavailableError(f"cannot read {self.where}: {exc}") from exc
        except BotoCoreError as exc:
            raise LogUnavailableError(f"cannot read {self.where}: {exc}") from exc


def batch_log_stream(settings: Settings, job_id: str) -> str | None:
    """The CloudWatch stream of a Batch job's latest attempt (None before it started).

    Raises:
        LogUnavailableError: Batch cannot be asked.
    """
    from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook
    from botocore.exceptions import BotoCoreError, ClientError

    hook = BatchClientHook(aws_conn_id=None, region_name=settings.aws_region)
    if settings.aws_endpoint_url:
        hook.conn_config.endpoint_url = settings.aws_endpoint_url
    try:
        jobs: list[dict[str, Any]] = hook.client.describe_jobs(jobs=[job_id])["jobs"]
    except (ClientError, BotoCoreError) as exc:
        raise LogUnavailableError(f"cannot describe Batch job {job_id}: {exc}") from exc
    if not jobs:
        return None
    return jobs[0].get("container", {}).get("logStreamName")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _joined(messages: list[str]) -> str:
    return "".join(message if message.endswith("\n") else message + "\n" for message in messages)
