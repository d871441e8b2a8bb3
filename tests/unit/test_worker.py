"""core.worker: the exit-code protocol, warm and cold local workers, finding dead ones."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import pytest

from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from core.runs import start_run, task_runs
from core.worker import (
    ExitCode,
    LocalWorker,
    WorkerJob,
    start_local,
    worker_gone,
    worker_identity,
)


def test_the_exit_code_protocol() -> None:
    assert [int(code) for code in ExitCode] == [0, 1, 2]
    assert ExitCode.retryable(ExitCode.FAILED) and ExitCode.retryable(-9)
    assert not ExitCode.retryable(ExitCode.SUCCESS) and not ExitCode.retryable(ExitCode.INVALID)
    assert ExitCode.recorded(2) and not ExitCode.recorded(-6) and not ExitCode.recorded(3)


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_a_local_worker_is_corebot_run_with_the_sender_s_settings(world, tmp_path, warm) -> None:
    with SessionHelper(world) as session:
        plan = load_plan(session, "small")
        run_id = start_run(session, plan, "test").id
    log = tmp_path / "worker.log"
    with log.open("ab") as output:
        ingest = start_local(
            WorkerJob(plan.tasks[0].transformation_id, run_id), world, output.fileno(), warm=warm
        )
        missing = start_local(WorkerJob(999, run_id), world, output.fileno(), warm=warm)
    assert (ingest.wait(120), missing.wait(120)) == (ExitCode.SUCCESS, ExitCode.INVALID)
    said = log.read_text()
    assert "ingest/numbers" in said and "wrote 5 rows" in said
    assert "FAILED: no transformation has id 999" in said
    with SessionHelper(world) as session:  # the sender's database, from its settings
        assert task_runs(session, run_id)[plan.tasks[0].transformation_id].state == "success"


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_a_worker_waited_for_by_several_threads_tells_each_its_exit_code(world, tmp_path, warm):
    """The runner's pool thread waits while a stop and other tasks' starts look at it too.

    A forkserver child's exit code comes once down a pipe: read twice (multiprocessing's
    join from two threads, or its clean-up of finished children when another task
    starts) the second reader got EOF and made it 255, and a task that had recorded
    success failed its run.
    """
    with (tmp_path / "worker.log").open("ab") as output, ThreadPoolExecutor(8) as waiters:
        workers, codes = [], []
        for missing in range(990, 996):  # each started while the others are waited on
            workers.append(start_local(WorkerJob(missing, 1), world, output.fileno(), warm))
            codes += [waiters.submit(workers[-1].wait, 120) for _ in range(4)]
        assert [code.result() for code in codes] == [ExitCode.INVALID] * len(codes)
    assert [worker.poll() for worker in workers] == [ExitCode.INVALID] * len(workers)


def test_a_worker_is_gone_only_when_its_process_on_this_host_is() -> None:
    assert not worker_gone(worker_identity())
    assert not worker_gone(None) and not worker_gone("elsewhere:1")
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 60
    while not worker_gone(f"{socket.gethostname()}:{ended.pid}"):  # a zombie until waited
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ended.wait()
    assert worker_gone(f"{socket.gethostname()}:{ended.pid}")


def test_a_worker_knows_its_batch_job_and_airflow_try_from_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.worker import worker_job

    monkeypatch.delenv("AWS_BATCH_JOB_ID", raising=False)
    monkeypatch.delenv("AIRFLOW_CTX_TRY_NUMBER", raising=False)
    assert worker_job() == (None, None)  # the local runner: neither
    monkeypatch.setenv("AWS_BATCH_JOB_ID", "5c1f-job")  # set by Batch in every job
    monkeypatch.setenv("AIRFLOW_CTX_TRY_NUMBER", "3")  # exported by Airflow to its task
    assert worker_job() == ("5c1f-job", 3)


def _first_task(world):
    with SessionHelper(world) as session:
        plan = load_plan(session, "small")
        run_id = start_run(session, plan, "test").id
    return WorkerJob(plan.tasks[0].transformation_id, run_id), run_id


def test_a_held_worker_waits_recording_nothing_and_runs_its_task_once_released(
    world, tmp_path
) -> None:
    job, run_id = _first_task(world)
    with (tmp_path / "worker.log").open("ab") as output:
        worker = start_local(job, world, output.fileno(), held=True)
    assert worker.held and worker.wait(1.0) is None  # waiting, not ended
    with SessionHelper(world) as session:
        assert task_runs(session, run_id) == {}  # nothing recorded while held
    assert worker.release() and not worker.held
    assert worker.wait(120) == ExitCode.SUCCESS
    assert "wrote 5 rows" in (tmp_path / "worker.log").read_text()
    with SessionHelper(world) as session:
        assert task_runs(session, run_id)[job.transformation_id].state == "success"


def test_a_dropped_worker_ends_without_a_word(world, tmp_path) -> None:
    job, run_id = _first_task(world)
    with (tmp_path / "worker.log").open("ab") as output:
        worker = start_local(job, world, output.fileno(), held=True)
    pid = worker.pid
    worker.drop()
    assert worker.wait(120) is not None and worker_gone(f"{socket.gethostname()}:{pid}")
    assert (tmp_path / "worker.log").read_text() == ""
    with SessionHelper(world) as session:
        assert task_runs(session, run_id) == {}


def test_a_held_worker_that_died_is_not_released(world, tmp_path) -> None:
    job, _run_id = _first_task(world)
    with (tmp_path / "worker.log").open("ab") as output:
        worker = start_local(job, world, output.fileno(), held=True)
    worker._signal(9)  # killed while it waited (out of memory, a person)
    assert worker.wait(120) == -9
    assert worker.release() is False  # the runner starts a fresh one instead


def test_a_held_worker_pins_its_task_first_and_says_what_is_wrong_only_when_released(
    world, tmp_path
) -> None:
    """A held worker reads its task before its turn; an error in it is the task's, told then."""
    _job, run_id = _first_task(world)
    with (tmp_path / "worker.log").open("ab") as output:
        worker = start_local(WorkerJob(999, run_id), world, output.fileno(), held=True)
    assert worker.wait(1.0) is None  # not ended with its error while held
    assert worker.release()
    assert worker.wait(120) == ExitCode.INVALID
    assert "FAILED: no transformation has id 999" in (tmp_path / "worker.log").read_text()
    with SessionHelper(world) as session:
        assert task_runs(session, run_id) == {}


class _Exiting:
    """A forkserver child as LocalWorker sees it: a sentinel and an exit code, set by hand."""

    def __init__(self) -> None:
        self._sentinel, self._ended = os.pipe()
        self.pid, self.code = os.getpid(), None

    @property
    def sentinel(self) -> int:
        return self._sentinel

    @property
    def exitcode(self) -> int | None:
        return self.code

    def end(self, code: int) -> None:
        self.code = code
        os.close(self._ended)


def _told_worker(at: int | None = None) -> tuple[LocalWorker, _Exiting, int]:
    """A worker as start_local makes it; ``at``: the descriptor its told pipe gets."""
    told, teller = os.pipe()
    if at is not None:  # a process with many files open (the service, an Airflow worker)
        told = os.dup2(told, at, inheritable=False) and at
    process = _Exiting()
    return LocalWorker(WorkerJob(1, 1), process, told=told), process, teller


def test_a_warm_worker_s_code_is_known_when_it_says_it_before_its_process_has_ended() -> None:
    worker, process, teller = _told_worker()
    with ThreadPoolExecutor(4) as waiters:  # the runner's wait, a stop's, the next start's
        waiting = [waiters.submit(worker.wait, 120) for _ in range(4)]
        assert worker.wait(0.2) is None and worker.poll() is None
        os.write(teller, b"1")  # said just before its exit
        first = next(as_completed(waiting, timeout=120))
        assert first.result() == ExitCode.FAILED
        assert process.exitcode is None  # its process had not ended yet
        assert worker.poll() == ExitCode.FAILED and worker.wait(0) == ExitCode.FAILED
        process.end(1)  # a waiter that missed the word has the process's end
        assert [w.result() for w in waiting] == [ExitCode.FAILED] * 4
    os.close(teller)


def test_a_warm_worker_that_ended_without_saying_its_code_is_read_from_its_end() -> None:
    worker, process, teller = _told_worker()
    with ThreadPoolExecutor(1) as waiter:
        waiting = waiter.submit(worker.wait, 120)
        os.close(teller)  # killed: its end of the pipe closes with it, nothing said
        assert worker.wait(0.2) is None  # the pipe's end alone is not the worker's end
        process.end(-9)
        assert waiting.result() == -9
    assert worker.poll() == -9


def test_a_told_code_is_read_on_a_descriptor_past_1024() -> None:
    """select() refuses descriptors from 1024 on: a busy process's workers must still end."""
    import resource

    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] <= 1500:
        pytest.skip("needs a file limit above 1500 (ulimit -n)")
    worker, process, teller = _told_worker(at=1500)
    assert worker.poll() is None
    os.write(teller, b"0")
    assert worker.wait(120) == ExitCode.SUCCESS
    os.close(teller)
    process.end(0)
    worker.join(120)
