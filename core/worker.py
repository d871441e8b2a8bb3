"""The worker: one transformation of one run, as every backend starts and stops it.

A *worker job* is a transformation id and a run id; a worker runs it as
``corebot run TRANSFORM_ID RUN_ID`` with the ``CORE_*`` variables of the settings
that sent it, and says how it ended with an :class:`ExitCode`. Batch and
Kubernetes get the command itself (``core.airflow.plugins.backends``); on this
machine (the local runner, the Airflow ``local`` backend) :func:`start_local`
starts it as a fresh child of a warm worker server — Python's ``multiprocessing``
forkserver with CORE, pyarrow, DuckDB and deltalake already imported — so each
task is still one process of its own (a crash, a leak or a kill touches that task
only) but pays neither the interpreter's start nor the imports. No Airflow here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from core.settings import Settings
from core.worker_child import RELEASE, ChildExit, InheritedFd, run_warm

# How long a worker asked to stop gets before it is killed (it records its end in less).
STOP_GRACE_SECONDS = 5.0
# The exit of a stopped worker whose record of the stop did not finish in time: not an
# ExitCode, so whoever started it records the task itself (ExitCode.recorded is False).
STOPPED_UNRECORDED = 75


class ExitCode(IntEnum):
    """How ``corebot run`` ends: the protocol between a worker and what started it."""

    SUCCESS = 0  # the transformation succeeded
    FAILED = 1  # it failed or was stopped: retrying may help
    INVALID = 2  # its configuration is invalid or missing: retrying cannot help

    @classmethod
    def recorded(cls, code: int) -> bool:
        """Whether a worker ending with this code recorded its task's end (not a crash)."""
        return code in cls._value2member_map_

    @classmethod
    def retryable(cls, code: int) -> bool:
        """Whether a worker that ended with this code may succeed when run again."""
        return code not in (cls.SUCCESS, cls.INVALID)


@dataclass(frozen=True)
class WorkerJob:
    """One transformation of one run, as sent to a worker.

    Args:
        transformation_id: the transformation's id.
        run_id: the RunEvent id.
        company: the pipeline's company (names Batch jobs and pods).
        brand: the pipeline's brand.
        state: the transformation's state.
        template: the transformation's template name.
    """

    transformation_id: int
    run_id: int
    company: str = ""
    brand: str = ""
    state: str = ""
    template: str = ""

    @property
    def name(self) -> str:
        """``transformation T of run R``, for messages."""
        return f"transformation {self.transformation_id} of run {self.run_id}"


def worker_command(job: WorkerJob) -> list[str]:
    """``corebot run TID RUN_ID``: the one command every worker runs."""
    return ["corebot", "run", str(job.transformation_id), str(job.run_id)]


def local_command(job: WorkerJob) -> list[str]:
    """The worker command for a cold local process: this interpreter's corebot."""
    return [sys.executable, "-m", *worker_command(job)]


def worker_environment(settings: Settings) -> dict[str, str]:
    """The environment of a local worker: this process's, with the sender's settings."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CORE_")}
    return {**inherited, **settings.to_environment()}


def settle_worker_exit(settings: Settings, job: WorkerJob, code: int, actor: str) -> int:
    """The code a local worker's task ended with, once its record is sure.

    ``core.runs.settle_exit`` (a task the worker left running is recorded failed; a 0 that
    recorded no success is a failure). When the database cannot be read just then, a code
    the worker records itself stands, as it did before this look; any other is raised.
    """
    from core.database.engine import database_lost_means
    from core.errors import DatabaseError
    from core.helpers.session_helper import SessionHelper
    from core.runs import settle_exit

    after = f"{job.name} ended with {code}, and how it was recorded could not be read"
    try:
        with database_lost_means(after), SessionHelper(settings, actor=actor) as session:
            return settle_exit(session, job.run_id, job.transformation_id, code)
    except DatabaseError as exc:
        if not ExitCode.recorded(code):
            raise
        logging.getLogger("core.worker").warning("%s; its exit code stands", exc)
        return code


def lost_reason(code: int) -> str:
    """Why a task that a worker left ``running`` failed, from the worker's exit code."""
    if code == STOPPED_UNRECORDED:
        return (
            "the worker was asked to stop, did not end its work in time and could not record "
            "the stop before it exited (the configuration database was slow or locked)"
        )
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return (
            f"the worker was ended by {name} before it could record how the task ended "
            "(a crash in native code, or killed: out of memory?); nothing was published"
        )
    return f"the worker exited with {code} before it could record how the task ended"


def worker_identity() -> str:
    """``host:pid`` of this process: recorded with a running task, to find it dead later."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_job() -> tuple[str | None, int | None]:
    """The backend's id of this worker's job, and Airflow's try of its task, when known.

    AWS Batch sets ``AWS_BATCH_JOB_ID`` in every job's container; Airflow exports
    ``AIRFLOW_CTX_TRY_NUMBER`` to a task's process, which its ``local`` backend's worker
    inherits. Recorded with the task, they lead to its CloudWatch log and Airflow's try.
    """
    job_id = os.environ.get("AWS_BATCH_JOB_ID") or None
    try_number = os.environ.get("AIRFLOW_CTX_TRY_NUMBER", "")
    return job_id, int(try_number) if try_number.isdigit() else None


def worker_gone(identity: str | None) -> bool:
    """Whether the worker of this identity has certainly ended without a word.

    Only a worker of this host can be checked (its process id no longer exists); one
    of another host (a Batch job, a pod) or of unknown identity counts as alive.
    """
    host, _, pid = (identity or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, as another user's process
        return False
    return _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """A process that has ended but not been waited for is gone too (Linux only)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[:1] == ["Z"]
    except OSError:
        return False


class LocalWorker:
    """A worker process on this machine: wait for it, or stop it.

    Build it with :func:`start_local`. ``pid``, ``poll()`` and ``wait()`` behave as
    a ``subprocess.Popen``'s: the exit code, negative when a signal ended it.
    """

    def __init__(
        self, job: WorkerJob, process: Any, gate: int | None = None, told: int | None = None
    ) -> None:
        self.job = job
        self._process = process
        self._gate = gate  # a held worker's: the write end of the pipe it waits on
        self._dropped = False
        # A warm worker says its exit code on a pipe just before it exits: the 5-10 ms its
        # process then takes to end (its memory, its threads) are off the run's path, and
        # a worker server that dies meanwhile does not end its tasks (core.worker_child).
        self._exit = None if told is None else ChildExit(process, told)

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return int(self._process.pid)

    def poll(self) -> int | None:
        """The exit code, or None while the worker runs."""
        if isinstance(self._process, subprocess.Popen):
            return self._process.poll()
        if self._exit is not None:
            return self._exit.poll()
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the worker's end (at most ``timeout`` seconds); its exit code or None."""
        if isinstance(self._process, subprocess.Popen):
            try:
                return self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        if self._exit is not None:
            return self._exit.wait(timeout)
        from multiprocessing.connection import wait

        wait([self._process.sentinel], timeout)
        return self._process.exitcode

    def join(self, timeout: float | None = None) -> None:
        """Wait (at most ``timeout`` seconds) for the process itself to be gone.

        A warm worker's code is known before its process has ended (it says it first):
        a caller that must leave no process behind waits for that end too.
        """
        if isinstance(self._process, subprocess.Popen):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout)
        elif self._exit is not None:
            self._exit.join(timeout)
        else:
            from multiprocessing.connection import wait

            wait([self._process.sentinel], timeout)

    def end_process(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Make sure the process itself is gone, its code said or not: SIGTERM, then SIGKILL.

        For a worker whose told code its record contradicts (it said it ended; its task
        is still running): whatever wrote that code runs on, and nobody would wait for it.
        """
        for signum in (signal.SIGTERM, signal.SIGKILL):
            if not self._process_running():
                return
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(self.pid, signum)
            self.join(grace)

    def _process_running(self) -> bool:
        if isinstance(self._process, subprocess.Popen):
            return self._process.poll() is None
        if self._exit is not None:
            return self._exit.running()
        return self._process.exitcode is None

    @property
    def held(self) -> bool:
        """Whether it waits to be released (``start_local(..., held=True)``)."""
        return self._gate is not None

    def release(self) -> bool:
        """Let a held worker begin its task; False when it is gone (then start another)."""
        gate, self._gate = self._gate, None
        if gate is None:
            return not self._dropped
        try:
            os.write(gate, RELEASE)
        except BrokenPipeError:  # it died while held (killed, out of memory)
            return False
        finally:
            os.close(gate)
        return True

    def drop(self) -> None:
        """End a held worker whose task will not run: it exits having recorded nothing."""
        gate, self._gate, self._dropped = self._gate, None, True
        if gate is not None:
            os.close(gate)  # it reads the end of the pipe and exits
        self.stop()  # at once when it is gone; a held worker ignores nothing

    def terminate(self) -> None:
        """Ask the worker to stop (SIGTERM): it records its task failed and exits."""
        self._signal(signal.SIGTERM)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> int | None:
        """Ask the worker to stop; kill it when it has not ended after ``grace`` seconds.

        Returns:
            The exit code (None if even SIGKILL did not end it within a second).
        """
        if self.poll() is None:
            self.terminate()
            if self.wait(grace) is None:
                self._signal(signal.SIGKILL)
        return self.wait(1.0 if self.poll() is None else 0)

    def _signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(self.pid, signum)


def start_local(
    job: WorkerJob, settings: Settings, output: int, warm: bool = True, held: bool = False
) -> LocalWorker:
    """Start ``corebot run`` for a job on this machine, its stdout and stderr on ``output``.

    Args:
        job: the worker job.
        settings: the sender's settings; the worker loads the same ones.
        output: a file descriptor (a log file, a pipe) for the worker's output; the
            caller keeps and closes its own copy.
        warm: a fresh child of the warm worker server (the default), or a new
            interpreter (``python -m corebot run``), as Batch and Kubernetes start one.
        held: (warm only) start it now but let it begin its task only once released
            (:meth:`LocalWorker.release`): meanwhile it starts ``corebot run``, reads its
            pinned task and opens what every task uses
            (``core.transforms.runtime.prepare_worker``), so a task whose upstream is
            still running starts at once when it ends. Nothing is recorded before the
            release; a dropped worker (:meth:`LocalWorker.drop`) exits without a word.

    A warm worker says its exit code on a pipe of its own just before it exits, so
    :meth:`LocalWorker.wait` returns without waiting for its process's teardown.

    Returns:
        The running worker.

    Raises:
        OSError: the process could not be started.
    """
    if held and not warm:
        raise ValueError("only a warm worker can be held: a new interpreter starts its task")
    environment = worker_environment(settings)
    if not warm:
        process = subprocess.Popen(
            local_command(job),
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        return LocalWorker(job, process)
    from core.worker_server import start_child

    gate, opener = os.pipe() if held else (None, None)
    told, teller = os.pipe()  # the worker's exit code, said before its process's teardown
    try:
        warmed = start_child(
            run_warm,
            (
                worker_command(job)[1:],
                environment,
                os.getcwd(),
                InheritedFd(output),
                None if gate is None else InheritedFd(gate),
                InheritedFd(teller),
            ),
            f"corebot-t{job.transformation_id}-r{job.run_id}",
            settings,
        )
    except BaseException:
        for end in (gate, opener, told, teller):
            if end is not None:
                os.close(end)
        raise
    for end in (gate, teller):
        if end is not None:
            os.close(end)  # the worker has its own copy
    return LocalWorker(job, warmed, opener, told)
