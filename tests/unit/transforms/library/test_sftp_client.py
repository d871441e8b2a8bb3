"""The SFTP retry rules, without a server: what is retried, how long it waits, what is not."""

from __future__ import annotations

import logging

import paramiko
import pytest

from core.errors import ConfigurationError
from core.transforms.library import sftp_client
from core.transforms.library.sftp_client import (
    Endpoint,
    IncompleteTransferError,
    Retrying,
    SftpSession,
    TransferError,
)

LOGIN = Endpoint("dev/SFTP/hub/read", "sftp.example.com", 22, "hub", "pa55word", None)


class FakeSession(SftpSession):
    """A session whose connection is 'up' unless told otherwise, and that counts closes."""

    def __init__(self, active: bool = True) -> None:
        super().__init__(LOGIN)
        self.up, self.closes = active, 0

    @property
    def active(self) -> bool:
        return self.up

    def client(self) -> paramiko.SFTPClient:
        return None  # type: ignore[return-value]

    def close(self) -> None:
        self.closes += 1


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr(sftp_client.time, "sleep", waited.append)
    return waited


def failing(*errors: BaseException):
    """An action raising ``errors`` in turn, then returning 'done'."""
    queue = list(errors)

    def action(_sftp: object) -> str:
        if queue:
            raise queue.pop(0)
        return "done"

    return action


@pytest.mark.parametrize(
    "error",
    [
        EOFError(),
        ConnectionResetError(),
        TimeoutError("timed out"),
        paramiko.SSHException("Server connection dropped"),
        IncompleteTransferError("short"),
    ],
)
def test_drops_are_retried_with_doubling_waits(error: BaseException, sleeps: list[float]) -> None:
    session = FakeSession()
    run = Retrying(session, retries=3, backoff=0.5)
    assert run(failing(error, error), "listing /") == "done"
    assert sleeps == [0.5, 1.0]
    assert session.closes == 2


def test_an_error_on_a_closed_connection_counts_as_a_drop(sleeps: list[float]) -> None:
    assert Retrying(FakeSession(active=False))(failing(OSError("Socket is closed")), "x") == "done"
    assert len(sleeps) == 1


def test_the_servers_own_answers_are_not_retried(sleeps: list[float]) -> None:
    with pytest.raises(FileNotFoundError):
        Retrying(FakeSession())(failing(FileNotFoundError(2, "No such file")), "x")
    with pytest.raises(PermissionError):
        Retrying(FakeSession())(failing(PermissionError(13, "Permission denied")), "x")
    assert sleeps == []


def test_giving_up_names_the_secret_the_attempts_and_the_fix(
    sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    action = failing(*[EOFError("gone")] * 5)
    with pytest.raises(TransferError) as caught:
        Retrying(FakeSession(), retries=2, backoff=1)(action, "downloading /a.csv")
    message = str(caught.value)
    assert message.startswith(
        "downloading /a.csv over SFTP secret 'dev/SFTP/hub/read' failed on 3 attempts"
    )
    assert "'retries'" in message
    assert sleeps == [1, 2]
    for value in ("pa55word", "sftp.example.com"):
        assert value not in message and value not in caplog.text


def test_a_refused_login_is_a_configuration_error_at_once(sleeps: list[float]) -> None:
    with pytest.raises(ConfigurationError, match="refused its user and password"):
        Retrying(FakeSession())(failing(paramiko.AuthenticationException("no")), "x")
    assert sleeps == []


def test_zero_retries_fails_on_the_first_drop(sleeps: list[float]) -> None:
    with pytest.raises(TransferError, match="failed on 1 attempt;"):
        Retrying(FakeSession(), retries=0)(failing(EOFError()), "x")


def test_the_login_never_shows_in_a_repr() -> None:
    text = repr(LOGIN)
    assert "dev/SFTP/hub/read" in text
    assert "pa55word" not in text and "sftp.example.com" not in text and "hub'" not in text
