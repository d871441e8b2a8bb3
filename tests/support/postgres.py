"""A throwaway PostgreSQL cluster for tests and benchmarks (initdb + pg_ctl).

PostgreSQL refuses to run as root, so when the tests run as root the server
runs as the ``postgres`` system user, owning its own temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SEARCH_PATHS = ("/usr/lib/postgresql/*/bin",)


@dataclass(frozen=True)
class PostgresCluster:
    """A running cluster: its port and how to reach it."""

    port: int
    user: str
    directory: Path

    def url(self, database: str = "postgres", user: str | None = None, password: str = "") -> str:
        """A SQLAlchemy URL (psycopg 3) for a database of this cluster."""
        who = user or self.user
        auth = f"{who}:{password}" if password else who
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{database}"


def find_binary(name: str) -> str | None:
    """The path of a PostgreSQL server program, or None when it is not installed."""
    found = shutil.which(name)
    if found:
        return found
    for pattern in SEARCH_PATHS:
        for directory in sorted(Path("/").glob(pattern.lstrip("/")), reverse=True):
            if (directory / name).exists():
                return str(directory / name)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _start(pg_ctl: str, data: Path, port: int, directory: Path) -> None:
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = str(directory / "server.log")
    subprocess.run(
        _as_server_user([pg_ctl, "-D", str(data), "-o", options, "-w", "-l", log, "start"]),
        check=True,
        capture_output=True,
        cwd=directory,
    )


def stop_cluster(cluster: PostgresCluster) -> None:
    """Stop a running cluster now (``-m fast``: open connections are cut, as in an outage)."""
    pg_ctl = find_binary("pg_ctl") or "pg_ctl"
    subprocess.run(
        _as_server_user(
            [pg_ctl, "-D", str(cluster.directory / "data"), "-m", "fast", "-w", "stop"]
        ),
        check=True,
        capture_output=True,
        cwd=cluster.directory,
    )


def start_cluster(cluster: PostgresCluster) -> None:
    """Start a cluster stopped by :func:`stop_cluster` again, on the same port."""
    pg_ctl = find_binary("pg_ctl") or "pg_ctl"
    _start(pg_ctl, cluster.directory / "data", cluster.port, cluster.directory)


def create_database(cluster: PostgresCluster, name: str) -> str:
    """Create database ``name`` on ``cluster``, dropping any left over by an earlier run.

    Returns:
        The new database's URL.
    """
    import sqlalchemy as sa

    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return cluster.url(name)


@contextlib.contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    """Start a fresh cluster on a free loopback port; stop and delete it afterwards.

    Raises:
        FileNotFoundError: initdb or pg_ctl is not installed.
    """
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise FileNotFoundError("initdb and pg_ctl (PostgreSQL server) are not installed")
    directory = Path(tempfile.mkdtemp(prefix="core-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(directory, account.pw_uid, account.pw_gid)
    data, port = directory / "data", _free_port()
    run = {"check": True, "capture_output": True, "cwd": directory}
    subprocess.run(
        _as_server_user([initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]),
        **run,
    )
    _start(pg_ctl, data, port, directory)
    try:
        yield PostgresCluster(port=port, user="postgres", directory=directory)
    finally:
        subprocess.run(
            _as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
            cwd=directory,
        )
        shutil.rmtree(directory, ignore_errors=True)
