"""Senders of warm workers and the records of shared worker servers, for the tests of
core.worker_server and core.worker_servers: each test gives them a TMPDIR of its own
(short: a socket's path has at most 107 bytes), so the servers it starts and sees are its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil


def run_sender(
    world,
    tmp_path: Path,
    temporary: Path,
    body: str,
    capture: bool = True,
    server: str = "shared",
    idle: float = 30,
    name: str = "sender",
) -> subprocess.CompletedProcess[bytes]:
    """Run a script that starts warm workers (a missing transformation exits 2).

    It has no ``__main__`` guard and notes each import of itself in a file: a warm worker
    server or child that imported the sender's main module again would show there.
    Without ``capture`` its output goes to a file, so the run returns once the sender
    itself has ended (a pipe would wait for every process that holds it).
    """
    script = tmp_path / f"{name}.py"
    script.write_text(
        "import os, pathlib\n"
        "with pathlib.Path(os.environ['IMPORTS']).open('a') as f: f.write('imported\\n')\n"
        "from core.settings import load_settings\n"
        "from core.worker import WorkerJob, start_local\n"
        "from core.worker_server import start_server\n" + body
    )
    argv = [sys.executable, str(script)]
    env = environment(world, tmp_path, temporary, server, idle)
    env["IMPORTS"] = str(tmp_path / f"{name}.imports")
    if capture:
        return subprocess.run(argv, env=env, timeout=300, check=False, capture_output=True)
    with (tmp_path / f"{name}.out").open("wb") as output:
        return subprocess.run(
            argv, env=env, timeout=300, check=False, stdout=output, stderr=subprocess.STDOUT
        )


def environment(world, tmp_path: Path, temporary: Path, server: str, idle: float) -> dict[str, str]:
    env = {**os.environ, **world.to_environment(), "TMPDIR": str(temporary)}
    env.update(CORE_WORKER_SERVER=server, CORE_WORKER_SERVER_IDLE_SECONDS=str(idle))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), str(tmp_path)])
    return env


def records(temporary: Path) -> list[dict[str, int | str]]:
    """The shared servers' records in the senders' private directory."""
    directory = temporary / f"core-{os.getuid()}"
    return [json.loads(p.read_text()) for p in sorted(directory.glob("worker-server-*.json"))]


def wait_until(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the bound"
        time.sleep(0.1)


def running(pid: int | str) -> bool:
    try:
        return psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@contextlib.contextmanager
def private_temporary() -> Iterator[Path]:
    """A TMPDIR for senders; the keepers and servers started in it are killed after."""
    directory = Path(tempfile.mkdtemp(prefix="cw", dir="/tmp"))
    try:
        yield directory
    finally:
        for record in records(directory):
            for pid in (record["keeper"], record["server"]):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        shutil.rmtree(directory, ignore_errors=True)
