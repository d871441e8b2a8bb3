"""core.worker: the exit-code protocol, warm and cold local workers, finding dead ones."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from core.runs import start_run, task_runs
from core.settings import Settings
from core.worker import (
    PRELOAD,
    ExitCode,
    WorkerJob,
    preload,
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


def _run_sender(
    world, tmp_path: Path, body: str, capture: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run a script that starts a warm worker for a missing transformation (exit 2).

    It has no ``__main__`` guard and notes each import of itself in a file: a warm worker
    server or child that imported the sender's main module again would show there.
    Without ``capture`` its output goes to a file, so the run returns once the sender
    itself has ended (a pipe would wait for every process that holds it).
    """
    script = tmp_path / "sender.py"
    script.write_text(
        "import os, pathlib\n"
        "with pathlib.Path(os.environ['IMPORTS']).open('a') as f: f.write('imported\\n')\n"
        "from core.settings import load_settings\n"
        "from core.worker import WorkerJob, start_local, start_server\n" + body
    )
    env = {**os.environ, **world.to_environment(), "IMPORTS": str(tmp_path / "imports")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    argv = [sys.executable, str(script)]
    if capture:
        return subprocess.run(argv, env=env, timeout=300, check=False, capture_output=True)
    with (tmp_path / "sender.out").open("wb") as output:
        return subprocess.run(
            argv, env=env, timeout=300, check=False, stdout=output, stderr=subprocess.STDOUT
        )


def test_a_warm_worker_does_not_run_the_sender_s_main_module(world, tmp_path) -> None:
    done = _run_sender(
        world,
        tmp_path,
        "worker = start_local(WorkerJob(999, 1), load_settings(), 2)\n"
        "raise SystemExit(worker.wait(120))\n",
    )
    assert done.returncode == ExitCode.INVALID, done.stderr.decode()[-2000:]
    assert (tmp_path / "imports").read_text() == "imported\n"


def test_start_server_starts_the_warm_server_that_the_first_task_is_forked_from(
    world, tmp_path
) -> None:
    done = _run_sender(
        world,
        tmp_path,
        "import psutil\n"
        "start_server()\n"
        "children = psutil.Process().children()\n"
        "(server,) = [c for c in children if 'forkserver' in ' '.join(c.cmdline())]\n"
        "worker = start_local(WorkerJob(999, 1), load_settings(), 2)\n"
        "assert psutil.Process(worker.pid).ppid() == server.pid\n"
        "raise SystemExit(worker.wait(120))\n",
    )
    assert done.returncode == ExitCode.INVALID, done.stderr.decode()[-2000:]
    assert (tmp_path / "imports").read_text() == "imported\n"  # the server did not import it


def test_the_warm_server_ends_with_the_process_that_started_it(world, tmp_path) -> None:
    """Not after its own teardown (~0.4 s) while holding the sender's stdout and stderr."""
    done = _run_sender(
        world,
        tmp_path,
        "import psutil\n"
        "start_server()\n"
        "worker = start_local(WorkerJob(999, 1), load_settings(), 2)\n"
        "code = worker.wait(120)\n"
        "(server,) = [c for c in psutil.Process().children() if 'forkserver' in c.cmdline()[-1]]\n"
        "pathlib.Path(os.environ['IMPORTS']).with_name('server').write_text(str(server.pid))\n"
        "raise SystemExit(code)\n",
        capture=False,
    )
    assert done.returncode == ExitCode.INVALID, (tmp_path / "sender.out").read_text()[-2000:]
    server = int((tmp_path / "server").read_text())
    assert not psutil.pid_exists(server)  # ended and reaped before the sender's exit


@pytest.mark.parametrize(
    ("environment", "database_url", "driver"),
    [
        ("dev", None, False),
        ("dev", "sqlite:////tmp/configuration.db", False),
        ("dev", "postgresql+psycopg://core@db:5432/configuration_application", True),
        ("prod", None, True),  # its URL comes from a secret: PostgreSQL
    ],
)
def test_the_warm_server_preloads_the_postgresql_driver_only_for_postgresql(
    tmp_path, environment, database_url, driver
) -> None:
    settings = Settings(home=tmp_path, environment=environment, database_url=database_url)
    assert preload(settings)[: len(PRELOAD)] == list(PRELOAD)
    assert ("psycopg" in preload(settings)) is driver
    assert preload(None) == list(PRELOAD)


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


def test_the_warm_server_leaves_nothing_for_a_task_to_set_up_that_it_could_have() -> None:
    """Importing the preload list configures the ORM's mappers (a first query's 0.06 s)."""
    program = (
        "import sys\n"
        "from core.worker import PRELOAD\n"
        "for name in PRELOAD: __import__(name)\n"
        "from core.models.base import Base\n"
        "mappers = list(Base.registry.mappers)\n"
        "assert len(mappers) > 10 and all(m.configured for m in mappers), mappers\n"
        "loaded = set(sys.modules)\n"
        "assert {'pyarrow.dataset', 'duckdb', 'deltalake', 'core.transforms.runtime'} <= loaded\n"
        "assert {'core.checks.evaluate', 'core.transforms.library.sql'} <= loaded\n"
        "assert 'psycopg' not in loaded and 'paramiko' not in loaded\n"
        "assert not any(name.startswith('airflow') for name in loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
