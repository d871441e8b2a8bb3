"""Airflow 3 as docs/airflow.md sets it up on a laptop: scheduler, dag-processor, api-server.

The processes run on loopback with the LocalExecutor, a throwaway SQLite metadata
database in their own AIRFLOW_HOME, and free ports; each writes its output to a
log file whose end a failing test shows. :meth:`AirflowServices.stop` ends them
(and their children) by process group.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.airflow import DAGS_FOLDER, REPOSITORY

PROCESSES = ("dag-processor", "scheduler", "api-server")
LOG_TAIL = 3000


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def airflow_environment(home: Path, port: int) -> dict[str, str]:
    """The variables of docs/airflow.md's laptop set-up, for a private AIRFLOW_HOME and port."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    }


@dataclass
class AirflowServices:
    """The three Airflow processes of one test, and a client of their REST API."""

    home: Path
    env: dict[str, str]
    port: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The api-server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def airflow(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run one ``airflow`` command to its end (``db migrate``, ``tasks test``, ...)."""
        return subprocess.run(
            [str(REPOSITORY / ".venv" / "bin" / "airflow"), *args],
            env=self.env,
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self) -> None:
        """Start the dag-processor, the scheduler and the api-server, each in its own group."""
        for name in PROCESSES:
            log = (self.home / f"{name}.log").open("ab")
            self.processes[name] = subprocess.Popen(
                [str(REPOSITORY / ".venv" / "bin" / "airflow"), name],
                env=self.env,
                cwd=REPOSITORY,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        """End every process this object started, and their children."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        for process in self.processes.values():
            try:
                process.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)

    def logs(self) -> str:
        """The end of each process's log, for a failing assertion."""
        parts = []
        for name in PROCESSES:
            log = self.home / f"{name}.log"
            if log.exists():
                parts.append(f"--- {name}.log ---\n{log.read_text(errors='replace')[-LOG_TAIL:]}")
        return "\n".join(parts)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call of the REST API with a token from ``GET /auth/token`` (all users are admins)."""
        with httpx.Client(base_url=self.url, timeout=60) as client:
            token = client.get("/auth/token").json()["access_token"]
            return client.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        """Poll ``check`` until it returns something truthy; fail naming ``what`` and the logs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise AssertionError(
                        f"airflow {name} exited ({process.returncode})\n{self.logs()}"
                    )
            try:
                found = check()
            except (httpx.HTTPError, ValueError, KeyError):
                found = None
            if found:
                return found
            time.sleep(2)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.logs()}")


def services(home: Path, core_env: Mapping[str, str]) -> AirflowServices:
    """Airflow services in ``home`` (created), with CORE's settings in their environment."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CORE_"))}
    env = {**inherited, **core_env, **airflow_environment(home, port)}
    return AirflowServices(home, env, port)
