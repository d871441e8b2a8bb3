"""What every alert channel provides, and how reasons are kept free of secret values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from core.alerts.message import Alert
from core.settings import Settings

Status = Literal["sent", "skipped", "failed"]
# Seconds a channel waits for its server before giving up.
TIMEOUT_SECONDS = 10.0
REASON_LIMIT = 500
REDACTED = "***"


@dataclass(frozen=True)
class AlertResult:
    """What one channel did with one alert.

    Attributes:
        channel: the channel's registry name (``email``, ``webhook``).
        status: ``sent``, ``skipped`` (nothing to send to) or ``failed``.
        detail: what happened, naming secrets by identifier only.
    """

    channel: str
    status: Status
    detail: str


class Channel(Protocol):
    """A way to deliver an alert, used when the setting it reads names a secret.

    Attributes:
        setting: the Settings field holding the name of the channel's secret.
    """

    setting: str

    def send(self, settings: Settings, alert: Alert) -> AlertResult:
        """Deliver the alert.

        Args:
            settings: CORE's settings (the channel's secret is read through them).
            alert: the alert to deliver.

        Returns:
            The result: sent, or skipped with the reason.

        Raises:
            CoreError: the alert could not be delivered; the message holds no secret value.
        """
        ...


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each secret value replaced by ``***``, shortened.

    Args:
        text: a message that may quote a secret value (e.g. a library's exception).
        secrets: the values to hide; empty ones are ignored.

    Returns:
        The redacted text, at most REASON_LIMIT characters.
    """
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text[:REASON_LIMIT]


def describe_exception(exc: BaseException, secrets: Iterable[str | None]) -> str:
    """An exception as ``Type: message``, redacted of secret values.

    Args:
        exc: the exception a client library raised.
        secrets: the values it must not show.

    Returns:
        The redacted description.
    """
    message = str(exc)
    return redact(f"{type(exc).__name__}: {message}" if message else type(exc).__name__, secrets)
