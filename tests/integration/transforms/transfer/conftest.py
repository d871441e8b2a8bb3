"""Fixtures of the transfer transforms' integration tests: a real SFTP server and its secret."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.secret import set_secret
from core.settings import load_settings
from tests.integration.transforms.transfer.sftp_server import (
    PASSWORD,
    USER,
    SftpServer,
    running_sftp_server,
)


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[SftpServer]:
    """An SFTP server on loopback serving tmp_path/sftp_root (with /outgoing and /incoming)."""
    root = tmp_path / "sftp_root"
    for folder in ("outgoing", "incoming"):
        (root / folder).mkdir(parents=True)
    with running_sftp_server(root) as server:
        yield server


@pytest.fixture
def sftp_secret(sftp_server: SftpServer, core_env: Path) -> str:
    """The secret 'hub' (read and write modes, with the server's host key); returns its name."""
    core_env.mkdir(parents=True, exist_ok=True)
    values = {
        "user": USER,
        "password": PASSWORD,
        "host": sftp_server.host,
        "port": sftp_server.port,
        "host_key": sftp_server.host_key,
    }
    for mode in ("read", "write"):
        set_secret(f"all/SFTP/hub/{mode}", values, load_settings())
    return "hub"
