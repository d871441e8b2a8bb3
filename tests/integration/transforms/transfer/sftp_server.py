"""A real SFTP server on loopback (asyncssh), rooted at a directory, that can drop connections.

The server runs on its own event loop in a background thread. It accepts one
user by password. ``faults`` makes it abort the whole connection in the middle
of a transfer: after the first chunk of a read (or write) of a file whose name
contains a given text, a given number of times.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

USER = "hub"
PASSWORD = "s3cr3t-Pa55word"


@dataclass
class Faults:
    """Connections to drop: {text in the file name: how many more times}."""

    reads: dict[str, int] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)
    dropped: int = 0

    def take(self, kind: dict[str, int], name: str) -> bool:
        """True (once per count) when a transfer of ``name`` should drop now."""
        for text, left in kind.items():
            if text in name and left > 0:
                kind[text] = left - 1
                self.dropped += 1
                return True
        return False


@dataclass
class SftpServer:
    """What tests need to know about the running server."""

    host: str
    port: int
    root: Path
    host_key: str
    faults: Faults
    logins: list[str] = field(default_factory=list)
    connections: list[asyncssh.SSHServerConnection] = field(default_factory=list, repr=False)


class _Auth(asyncssh.SSHServer):
    def __init__(self, server: SftpServer) -> None:
        self.server = server

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.server.connections.append(conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        self.server.logins.append(username)
        return (username, password) == (USER, PASSWORD)


class _FaultySftp(asyncssh.SFTPServer):
    """SFTP rooted at the server's root that drops the connection when faults say so."""

    def __init__(self, chan: asyncssh.SSHServerChannel, server: SftpServer) -> None:
        super().__init__(chan, chroot=str(server.root).encode())
        self.server = server
        self.names: dict[int, str] = {}
        self.aborted = False

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        handle = super().open(path, pflags, attrs)
        self.names[id(handle)] = path.decode()
        return handle

    def close(self, file_obj: object) -> None:
        self.names.pop(id(file_obj), None)
        return super().close(file_obj)

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        self._maybe_drop(self.server.faults.reads, file_obj, offset)
        return super().read(file_obj, offset, size)  # type: ignore[return-value]

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        self._maybe_drop(self.server.faults.writes, file_obj, offset)
        return super().write(file_obj, offset, data)  # type: ignore[return-value]

    def _maybe_drop(self, kind: dict[str, int], file_obj: object, offset: int) -> None:
        # After the first chunk, so the client has part of the file when the line drops.
        name = self.names.get(id(file_obj), "")
        if self.aborted or (offset > 0 and self.server.faults.take(kind, name)):
            self._drop()

    def _drop(self) -> None:
        # Requests already received on this connection fail too; only the first counts.
        self.aborted = True
        self.channel.get_extra_info("connection").abort()
        raise asyncssh.SFTPConnectionLost("dropped by the test server")


@contextlib.contextmanager
def running_sftp_server(root: Path) -> Iterator[SftpServer]:
    """Start the server on 127.0.0.1 (a free port) serving ``root``; stop it on exit."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    public = key.export_public_key("openssh").decode().split()
    server = SftpServer("127.0.0.1", 0, root, f"{public[0]} {public[1]}", Faults())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sftp-server", daemon=True)
    thread.start()

    async def listen() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            server.host,
            0,
            server_host_keys=[key],
            server_factory=lambda: _Auth(server),
            sftp_factory=lambda chan: _FaultySftp(chan, server),
            allow_scp=False,
        )

    acceptor = asyncio.run_coroutine_threadsafe(listen(), loop).result(timeout=10)
    server.port = acceptor.get_port()

    async def stop() -> None:
        acceptor.close()
        await acceptor.wait_closed()
        for connection in server.connections:
            connection.close()
            await connection.wait_closed()

    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
