"""core.worker_servers and ``core workers``: start, show and stop the shared worker server.

Each test runs ``core workers …`` (and senders of workers) in a TMPDIR of its own, so the
servers it starts and sees are its own; they are stopped after it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from core.errors import SettingsError
from core.worker_keeper import started_with
from core.worker_servers import list_servers
from tests.support import servers

# Long enough that no server of a test ends unused while a loaded machine runs the test.
IDLE = 900.0


def _workers(world, tmp_path: Path, temporary: Path, *words: str, **env: str):
    """``core workers WORDS`` as a person types it, in the test's TMPDIR."""
    environment = {**servers.environment(world, tmp_path, temporary, "shared", IDLE), **env}
    return subprocess.run(
        [sys.executable, "-m", "core.cli", "workers", *words],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_start_starts_the_server_and_returns_once_a_worker_can_be_forked(
    world, tmp_path, temporary
) -> None:
    started = _workers(world, tmp_path, temporary, "start")
    assert started.returncode == 0, started.stderr
    (record,) = servers.records(temporary)
    assert "started in" in started.stdout and f"process {record['server']}" in started.stdout
    assert f"ends {IDLE:.0f} s unused" in started.stdout
    # Its imports are done: the server has forked (and reaped) a worker already.
    server = psutil.Process(int(record["server"]))
    assert "forkserver" in " ".join(server.cmdline()) and not server.children()
    again = _workers(world, tmp_path, temporary, "start")
    assert again.returncode == 0 and "was running already" in again.stdout, again.stderr
    # A run of the same settings forks from it: no second server.
    sender = servers.run_sender(
        world, tmp_path, temporary, "start_local(WorkerJob(999, 1), load_settings(), 2).wait(120)\n"
    )
    assert sender.returncode == 0, sender.stderr.decode()[-2000:]
    assert servers.records(temporary) == [record]


def test_status_shows_the_server_its_workers_and_when_it_ends(world, tmp_path, temporary) -> None:
    none = _workers(world, tmp_path, temporary, "status")
    assert none.returncode == 0 and "no shared worker server is running" in none.stdout
    assert _workers(world, tmp_path, temporary, "start").returncode == 0
    (record,) = servers.records(temporary)
    shown = _workers(world, tmp_path, temporary, "status")
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if str(record["server"]) in line)
    cells = [cell.strip() for cell in row.strip("│┃ ").split("│")]
    assert cells[:4] == [str(record["server"]), str(record["keeper"]), "yes", "0"]
    assert float(cells[4]) < IDLE and cells[5] == f"{IDLE:.0f}"


def test_stop_ends_the_server_and_the_next_start_starts_another(world, tmp_path, temporary) -> None:
    assert _workers(world, tmp_path, temporary, "start").returncode == 0
    (record,) = servers.records(temporary)
    stopped = _workers(world, tmp_path, temporary, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == f"stopped the shared worker server {record['server']}"
    assert servers.records(temporary) == []
    assert not servers.running(record["server"])  # stop waited for it: it had no worker
    servers.wait_until(lambda: not servers.running(record["keeper"]))
    assert _workers(world, tmp_path, temporary, "stop").stdout.strip() == (
        "no shared worker server was running"
    )
    assert _workers(world, tmp_path, temporary, "start").returncode == 0
    (another,) = servers.records(temporary)
    assert another["keeper"] != record["keeper"]


def test_stop_lets_a_running_worker_finish_and_report_its_exit_code(
    world, tmp_path, temporary
) -> None:
    """A worker's exit code passes through the server: the server outlives the stop."""
    (tmp_path / "waiting.py").write_text(
        "import os, time\ndef until(path):\n    while not os.path.exists(path): time.sleep(0.05)\n"
    )
    flag, started = tmp_path / "flag", tmp_path / "started"
    body = (
        "import waiting\n"
        "from core.worker_server import start_child\n"
        f"child = start_child(waiting.until, ({str(flag)!r},), 'waiting', load_settings())\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        "child.join(300)\n"
        "raise SystemExit(child.exitcode)\n"
    )
    with ThreadPoolExecutor(1) as background:
        sender = background.submit(servers.run_sender, world, tmp_path, temporary, body)
        try:
            servers.wait_until(started.exists)
            (record,) = servers.records(temporary)
            stopped = _workers(world, tmp_path, temporary, "stop")
            left = (servers.records(temporary), servers.running(record["server"]))
        finally:
            flag.touch()
        done = sender.result()
    assert stopped.stdout.strip() == (
        f"stopped the shared worker server {record['server']}; "
        "it ends once its 1 running worker(s) have"
    )
    assert left == ([], True)  # withdrawn at once, ending after its worker
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    servers.wait_until(
        lambda: not servers.running(record["server"]) and not servers.running(record["keeper"])
    )


def test_a_server_of_other_settings_is_shown_and_stopped_only_with_all(
    world, tmp_path, temporary
) -> None:
    postgresql = {"CORE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"}
    assert _workers(world, tmp_path, temporary, "start", **postgresql).returncode == 0
    assert _workers(world, tmp_path, temporary, "start").returncode == 0
    (other,) = [
        r for r in servers.records(temporary) if "psycopg" in started_with(int(r["keeper"]))[1]
    ]
    shown = _workers(world, tmp_path, temporary, "status").stdout
    assert shown.index("yes") < shown.index("no: other code or preload")
    assert _workers(world, tmp_path, temporary, "stop").returncode == 0
    assert servers.records(temporary) == [other]
    stopped = _workers(world, tmp_path, temporary, "stop", "--all")
    assert stopped.stdout.strip() == f"stopped the shared worker server {other['server']}"
    assert servers.records(temporary) == []


def test_a_per_process_server_cannot_be_started_shown_or_stopped(
    world, tmp_path, temporary
) -> None:
    for words in (["start"], ["status"], ["stop"]):
        refused = _workers(world, tmp_path, temporary, *words, CORE_WORKER_SERVER="per-process")
        assert refused.returncode == SettingsError.exit_code, refused
        assert refused.stderr.strip().startswith("FAILED: CORE_WORKER_SERVER is 'per-process'")
        assert "expected 'shared'" in refused.stderr
    assert servers.records(temporary) == []


def test_a_record_whose_keeper_has_ended_is_not_listed(world, temporary, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(temporary))
    monkeypatch.setattr("tempfile.tempdir", None)  # gettempdir reads TMPDIR again
    directory = temporary / f"core-{os.getuid()}"
    directory.mkdir(mode=0o700)
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (directory / "worker-server-0123456789abcdef.json").write_text(
        json.dumps({"keeper": int(ended.stdout), "server": 1, "address": "/nowhere"})
    )
    assert list_servers(world.model_copy(update={"worker_server": "shared"})) == []


def test_started_with_reads_the_keeper_s_idle_seconds_and_preload() -> None:
    keeper = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(60)",
            "core.worker_keeper",
            "/r",
            "12.5",
            "core.preload",
            "psycopg",
        ]
    )
    try:
        servers.wait_until(lambda: psutil.Process(keeper.pid).cmdline()[-1] == "psycopg")
        assert started_with(keeper.pid) == (12.5, ["core.preload", "psycopg"])
    finally:
        keeper.kill()
        keeper.wait()
    assert started_with(keeper.pid) is None
