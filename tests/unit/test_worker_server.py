"""core.worker_server: the warm server local workers are forked from, shared or per process.

Each test gives its senders a TMPDIR of its own (short: a socket's path has at most 107
bytes), so a test that shares a server starts (and sees) a keeper of its own; the
per-process tests check what a sender's own server does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from core.settings import Settings
from core.worker import ExitCode
from core.worker_server import PRELOAD, fingerprint, preload
from tests.support.servers import records as _records
from tests.support.servers import run_sender as _run_sender
from tests.support.servers import running as _running
from tests.support.servers import wait_until as _wait_until

# A sender's own server, started before its first worker: `server` is its process.
OWN_SERVER = (
    "import psutil\n"
    "start_server(load_settings())\n"
    "children = psutil.Process().children()\n"
    "(server,) = [c for c in children if 'forkserver' in ' '.join(c.cmdline())]\n"
)
# A sender with a server of its own that has started one worker (of a missing transformation).
OWN_WORKER = OWN_SERVER + "worker = start_local(WorkerJob(999, 1), load_settings(), 2)\n"
MISSING_WORKER = (
    "worker = start_local(WorkerJob(999, 1), load_settings(), 2)\n"
    "raise SystemExit(worker.wait(120))\n"
)


@pytest.mark.parametrize("server", ["shared", "per-process"])
def test_a_warm_worker_does_not_run_the_sender_s_main_module(
    world, tmp_path, server, temporary
) -> None:
    done = _run_sender(world, tmp_path, temporary, MISSING_WORKER, server=server)
    assert done.returncode == ExitCode.INVALID, done.stderr.decode()[-2000:]
    assert (tmp_path / "sender.imports").read_text() == "imported\n"


def test_processes_of_one_user_share_one_server_that_outlives_them(
    world, tmp_path, temporary
) -> None:
    first = _run_sender(world, tmp_path, temporary, MISSING_WORKER, name="first")
    (record,) = _records(temporary)
    second = _run_sender(world, tmp_path, temporary, MISSING_WORKER, name="second")
    assert (first.returncode, second.returncode) == (ExitCode.INVALID, ExitCode.INVALID)
    assert _records(temporary) == [record]  # the second forked from the first one's server
    keeper, server = psutil.Process(int(record["keeper"])), psutil.Process(int(record["server"]))
    assert "forkserver" in " ".join(server.cmdline()) and keeper.is_running()
    assert os.stat(record["address"]).st_mode & 0o077 == 0  # the socket is the user's alone


def test_senders_starting_at_once_start_one_server(world, tmp_path, temporary) -> None:
    with ThreadPoolExecutor(3) as senders:
        done = list(
            senders.map(
                lambda n: _run_sender(
                    world, tmp_path, temporary, MISSING_WORKER, name=f"sender{n}"
                ),
                range(3),
            )
        )
    assert [d.returncode for d in done] == [ExitCode.INVALID] * 3, done[0].stderr[-2000:]
    (record,) = _records(temporary)
    running = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if "core.worker_keeper" in " ".join(p.info["cmdline"] or [])
        and str(temporary) in " ".join(p.info["cmdline"] or [])
    ]
    assert running == [record["keeper"]]


def test_the_shared_server_ends_once_idle_and_its_workers_have_ended(
    world, tmp_path, temporary
) -> None:
    """A worker's exit code passes through the server: it must outlive every worker."""
    (tmp_path / "waiting.py").write_text(
        "import os, time\ndef until(path):\n    while not os.path.exists(path): time.sleep(0.05)\n"
    )
    flag, started = tmp_path / "flag", tmp_path / "started"
    body = (
        "import waiting\n"
        "from core.worker_server import start_child\n"
        "start_local(WorkerJob(999, 1), load_settings(), 2).wait(120)  # its imports are done\n"
        f"child = start_child(waiting.until, ({str(flag)!r},), 'waiting', load_settings())\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        "child.join(300)\n"
        "raise SystemExit(child.exitcode)\n"
    )
    with ThreadPoolExecutor(1) as background:
        sender = background.submit(_run_sender, world, tmp_path, temporary, body, idle=5)
        try:
            _wait_until(started.exists)
            (record,) = _records(temporary)
            # Past its idle time (5 s: a loaded machine may stall the sender between its two
            # workers for a while), but its worker still runs.
            time.sleep(7)
            kept = (_records(temporary), psutil.pid_exists(int(record["server"])))
        finally:
            flag.touch()  # the worker ends, whatever was found
        done = sender.result()
    assert kept == ([record], True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]  # the worker's own exit code
    _wait_until(lambda: not _records(temporary) and not _running(record["keeper"]))
    _wait_until(lambda: not _running(record["server"]))  # it ends once the keeper has


def test_a_server_that_was_killed_is_replaced(world, tmp_path, temporary) -> None:
    first = _run_sender(world, tmp_path, temporary, MISSING_WORKER, name="first")
    (dead,) = _records(temporary)
    for pid in (dead["keeper"], dead["server"]):
        os.kill(int(pid), signal.SIGKILL)
    _wait_until(lambda: not psutil.pid_exists(int(dead["keeper"])))
    second = _run_sender(world, tmp_path, temporary, MISSING_WORKER, name="second")
    assert (first.returncode, second.returncode) == (ExitCode.INVALID, ExitCode.INVALID)
    (record,) = _records(temporary)
    assert record["keeper"] != dead["keeper"]


def test_a_directory_that_is_not_private_is_not_shared(world, tmp_path, temporary) -> None:
    """Another user could connect to a server whose record it can replace: not used."""
    directory = temporary / f"core-{os.getuid()}"
    directory.mkdir()
    directory.chmod(0o755)
    done = _run_sender(world, tmp_path, temporary, MISSING_WORKER)
    assert done.returncode == ExitCode.INVALID, done.stderr.decode()[-2000:]
    assert "is not a directory of this user's alone" in done.stderr.decode()
    assert not list(directory.iterdir())  # no keeper, no record


def test_a_keeper_that_cannot_start_gives_way_to_a_server_of_its_own(
    world, tmp_path, temporary, monkeypatch
) -> None:
    (tmp_path / "sitecustomize.py").write_text(  # the keeper's interpreter fails at start
        "import os, sys\n"
        "if os.environ.get('BREAK_KEEPER') and 'core.worker_keeper' in sys.orig_argv:\n"
        "    raise SystemExit(3)\n"
    )
    monkeypatch.setenv("BREAK_KEEPER", "1")
    done = _run_sender(world, tmp_path, temporary, MISSING_WORKER)
    assert done.returncode == ExitCode.INVALID, done.stderr.decode()[-2000:]
    assert "did not start (its keeper exited" in done.stderr.decode()
    assert _records(temporary) == []


def test_a_change_to_core_s_code_names_another_server(tmp_path) -> None:
    code = tmp_path / "code"
    (code / "pkg").mkdir(parents=True)
    module = code / "pkg" / "module.py"
    module.write_text("x = 1\n")
    before = fingerprint(("core.preload",), (str(code),))
    fingerprint.cache_clear()
    assert fingerprint(("core.preload",), (str(code),)) == before  # nothing changed
    assert fingerprint(("core.preload", "psycopg"), (str(code),)) != before
    fingerprint.cache_clear()
    module.write_text("x = 22\n")
    assert fingerprint(("core.preload",), (str(code),)) != before
    fingerprint.cache_clear()
    (code / "pkg" / ".#module.py").symlink_to("user@host.1:2")  # an editor's lock link
    assert fingerprint(("core.preload",), (str(code),))  # dangling: left out, no error
    fingerprint.cache_clear()


def test_start_server_starts_the_warm_server_that_the_first_task_is_forked_from(
    world, tmp_path, temporary
) -> None:
    done = _run_sender(
        world,
        tmp_path,
        temporary,
        OWN_WORKER + "assert psutil.Process(worker.pid).ppid() == server.pid\n"
        "raise SystemExit(worker.wait(120))\n",
        server="per-process",
    )
    assert done.returncode == ExitCode.INVALID, done.stderr.decode()[-2000:]
    assert (tmp_path / "sender.imports").read_text() == "imported\n"  # the server did not


def test_a_server_of_its_own_ends_with_the_process_that_started_it(
    world, tmp_path, temporary
) -> None:
    """Not after its own teardown (~0.4 s) while holding the sender's stdout and stderr."""
    done = _run_sender(
        world,
        tmp_path,
        temporary,
        OWN_WORKER + "code = worker.wait(120)\n"
        "pathlib.Path(os.environ['IMPORTS']).with_name('server').write_text(str(server.pid))\n"
        "raise SystemExit(code)\n",
        capture=False,
        server="per-process",
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


def test_the_warm_server_leaves_nothing_for_a_task_to_set_up_that_it_could_have() -> None:
    """Importing the preload list configures the ORM's mappers (a first query's 0.06 s)."""
    program = (
        "import sys\n"
        "from core.worker_server import PRELOAD\n"
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
