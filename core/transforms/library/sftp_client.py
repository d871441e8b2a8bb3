"""SFTP sessions for the SFTP transforms: paramiko, a CORE secret, retries with backoff.

The login comes from an ``SFTP`` secret (user, password, host, port). When the
secret also holds ``host_key`` (``"ssh-ed25519 AAAA..."``, as in known_hosts without
the host name), the server's key must match it. A connection that drops (or a
transfer that comes up short) is retried on a new connection, up to ``retries``
times, waiting ``backoff_seconds`` and then twice as long each time. Errors the
server answers with (no such file, permission denied) and refused logins are not
retried. Host names, users and passwords are never logged nor put in messages:
the secret's identifier stands for them.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import paramiko

from core.errors import ConfigurationError, TransformError
from core.transforms.library._common import owner

if TYPE_CHECKING:
    from core.transforms.context import TransformContext

T = TypeVar("T")
TIMEOUT_SECONDS = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_SECONDS = 2.0
SUPPORTED_TYPES = ("SFTP",)

RETRY_VARIABLES = {
    "retries": {
        "type": "int",
        "required": False,
        "default": DEFAULT_RETRIES,
        "description": "new connections to try after a dropped one (0 to 20)",
        "check": {"kind": "range", "min": 0, "max": 20},
    },
    "backoff_seconds": {
        "type": "float",
        "required": False,
        "default": DEFAULT_BACKOFF_SECONDS,
        "description": "wait before the first retry; doubled for each next one (0 to 600)",
        "check": {"kind": "range", "min": 0, "max": 600},
    },
}


class TransferError(TransformError):
    """A file transfer failed on every attempt (the connection kept dropping)."""


class IncompleteTransferError(Exception):
    """Fewer bytes arrived than the file holds; retried like a dropped connection."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to log in; only the secret's identifier shows in reprs.

    Attributes:
        identifier: the secret's identifier (what messages name).
        host: the server's host name.
        port: its port.
        user: the login.
        password: the password.
        host_key: the expected host key, ``"TYPE BASE64"``, when the secret has one.
    """

    identifier: str
    host: str = field(repr=False)
    port: int = field(repr=False)
    user: str = field(repr=False)
    password: str = field(repr=False)
    host_key: str | None = field(default=None, repr=False)


def endpoint(ctx: TransformContext, secret_type: str = "SFTP") -> Endpoint:  # noqa: S107
    """The login of the secret named by the variables secret_name (and secret_mode).

    Args:
        ctx: the context.
        secret_type: the secret's type (only SFTP is supported).

    Returns:
        The Endpoint.

    Raises:
        ConfigurationError: the type is not SFTP.
        SecretNotFoundError: no such secret.
    """
    if secret_type.upper() not in SUPPORTED_TYPES:
        raise ConfigurationError(
            f"{owner(ctx)}: variable 'secret_type'={secret_type!r} is not supported: template "
            f"{ctx.template!r} speaks SFTP only (FTP sends passwords in clear text); use an "
            "SFTP secret and set secret_type to 'SFTP'"
        )
    mode = ctx.variables.get("secret_mode") or "read"
    secret = ctx.secret(ctx.variables["secret_name"], secret_type, mode=mode)
    return Endpoint(
        identifier=secret.identifier,
        host=secret.host,
        port=int(secret.port or 22),
        user=secret.user,
        password=secret.password,
        host_key=secret.to_dict().get("host_key"),
    )


class SftpSession:
    """One SFTP connection, opened on first use and opened again after a drop.

    Args:
        login: where and how to log in.
        timeout: seconds to wait for the server (connect, handshake, each reply).
    """

    def __init__(self, login: Endpoint, timeout: float = TIMEOUT_SECONDS) -> None:
        self.login, self.timeout = login, timeout
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def active(self) -> bool:
        """True while the connection is up."""
        return self._transport is not None and self._transport.is_active()

    def client(self) -> paramiko.SFTPClient:
        """The SFTP client, connecting first when there is no live connection."""
        if self._sftp is None or not self.active:
            self.close()
            self._sftp = self._connect()
        return self._sftp

    def _connect(self) -> paramiko.SFTPClient:
        sock = socket.create_connection((self.login.host, self.login.port), self.timeout)
        self._transport = transport = paramiko.Transport(sock)
        transport.banner_timeout = transport.auth_timeout = self.timeout
        transport.start_client(timeout=self.timeout)
        _check_host_key(self.login, transport.get_remote_server_key())
        transport.auth_password(self.login.user, self.login.password)
        sftp = paramiko.SFTPClient.from_transport(transport)
        if sftp is None:
            raise paramiko.SSHException("the server refused to open an SFTP channel")
        sftp.get_channel().settimeout(self.timeout)
        return sftp

    def close(self) -> None:
        """Close the connection (if any); the next :meth:`client` reconnects."""
        for closable in (self._sftp, self._transport):
            if closable is not None:
                closable.close()
        self._sftp = self._transport = None

    def __enter__(self) -> SftpSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass(frozen=True)
class Retrying:
    """Runs SFTP actions on a session, reconnecting and retrying after a drop.

    Attributes:
        session: the session.
        retries: how many new connections to try after the first attempt.
        backoff: seconds before the first retry; doubled each time.
        logger: where retries are logged.
    """

    session: SftpSession
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF_SECONDS
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger(__name__))

    def __call__(self, action: Callable[[paramiko.SFTPClient], T], what: str) -> T:
        """Run ``action(sftp_client)``; retry it on a new connection when the old one drops.

        Args:
            action: what to do with the SFTP client (it must be safe to repeat).
            what: what it does, for the log and messages, e.g. "listing /outgoing".

        Returns:
            What ``action`` returned.

        Raises:
            ConfigurationError: the server refused the login.
            TransferError: the connection dropped on every attempt.
        """
        attempt = 0
        while True:
            try:
                return action(self.session.client())
            except paramiko.AuthenticationException as exc:
                raise self._refused(exc) from exc
            except (OSError, EOFError, paramiko.SSHException, IncompleteTransferError) as exc:
                if not _dropped(exc, self.session):
                    raise
                if attempt >= self.retries:
                    raise self._failed(what, attempt + 1, exc) from exc
                self._wait(what, attempt, exc)
                attempt += 1

    def _wait(self, what: str, attempt: int, exc: BaseException) -> None:
        delay = self.backoff * 2**attempt
        self.logger.warning(
            "%s over SFTP secret %r: %s (%s); retry %d of %d in %.1f s",
            what,
            self.session.login.identifier,
            type(exc).__name__,
            exc,
            attempt + 1,
            self.retries,
            delay,
        )
        self.session.close()
        time.sleep(delay)

    def _refused(self, exc: paramiko.AuthenticationException) -> ConfigurationError:
        return ConfigurationError(
            f"the SFTP server of secret {self.session.login.identifier!r} refused its user and "
            f"password ({type(exc).__name__}); fix the secret's user and password"
        )

    def _failed(self, what: str, attempts: int, exc: BaseException) -> TransferError:
        return TransferError(
            f"{what} over SFTP secret {self.session.login.identifier!r} failed on {attempts} "
            f"attempt{'s' if attempts > 1 else ''}; last error: {type(exc).__name__}: {exc}. "
            "Check that the server is reachable, or raise the variable 'retries'"
        )


def retrying(ctx: TransformContext, session: SftpSession) -> Retrying:
    """A Retrying for the session with the variables retries and backoff_seconds."""
    retries = ctx.variables.get("retries")
    backoff = ctx.variables.get("backoff_seconds")
    return Retrying(
        session,
        retries=max(0, DEFAULT_RETRIES if retries is None else retries),
        backoff=max(0.0, DEFAULT_BACKOFF_SECONDS if backoff is None else backoff),
        logger=ctx.logger,
    )


def _dropped(exc: BaseException, session: SftpSession) -> bool:
    """True for a lost connection or short transfer; False for the server's own answer."""
    lost = (IncompleteTransferError, EOFError, TimeoutError, ConnectionError, paramiko.SSHException)
    return isinstance(exc, lost) or not session.active


def _check_host_key(login: Endpoint, key: paramiko.PKey) -> None:
    if not login.host_key:
        # Sending the password to a server nobody vouched for would hand it to any
        # man in the middle: refuse, and show the key so an operator can check and add it.
        raise ConfigurationError(
            f"SFTP secret {login.identifier!r} has no host_key, so the server cannot be "
            f"verified and no password is sent; check the server's key out of band and add "
            f'host_key = "{key.get_name()} {key.get_base64()}" to the secret'
        )
    kind, _, rest = login.host_key.strip().partition(" ")
    if (kind, (rest.split() or [""])[0]) != (key.get_name(), key.get_base64()):
        raise ConfigurationError(
            f"the SFTP server of secret {login.identifier!r} presented a {key.get_name()} host "
            f"key that differs from the secret's host_key; if the server's key changed on "
            'purpose, update host_key in the secret ("TYPE BASE64"), else do not connect'
        )
