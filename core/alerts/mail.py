"""The ``email`` channel: mail the pipeline's owners through an ``email`` secret's server.

The secret (``{environment}/email/{alert_email_secret}/read``) gives ``address`` (the
sender), ``host``, ``port``, ``password``, and optionally ``username`` (the login, when
it is not the address) and ``starttls`` (upgrade the connection before logging in). The
login is sent only when the server offers AUTH.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from core.alerts.base import TIMEOUT_SECONDS, AlertResult, describe_exception
from core.alerts.message import Alert
from core.errors import AlertError
from core.secret import Secret
from core.settings import Settings

NAME = "email"


@dataclass(frozen=True)
class EmailChannel:
    """Mails one message to all of the pipeline's owners."""

    setting: str = "alert_email_secret"

    def send(self, settings: Settings, alert: Alert) -> AlertResult:
        """Mail the alert to the pipeline's owners; skipped when it has none.

        Args:
            settings: CORE's settings; ``alert_email_secret`` names the secret.
            alert: the alert to mail.

        Returns:
            ``sent`` (with any refused owners named) or ``skipped``.

        Raises:
            SecretError, SecretNotFoundError: the secret is missing or not an email secret.
            AlertError: the server could not be reached or refused the login or message.
        """
        if not alert.owners:
            return AlertResult(
                NAME,
                "skipped",
                f"pipeline {alert.pipeline!r} has no owners to mail; set its owners "
                '(API: PATCH /api/pipelines/ID with {"owners": ["ana@example.com"]})',
            )
        name = str(getattr(settings, self.setting))
        secret = Secret(name=name, type_of="email", mode="read", settings=settings)
        server = f"the SMTP server of secret {secret.identifier!r}"
        try:
            refused = _deliver(secret, _message(secret.address, alert))
        except (OSError, smtplib.SMTPException) as exc:
            reason = describe_exception(exc, _values(secret))
            raise AlertError(
                f"could not mail the owners of pipeline {alert.pipeline!r} through {server}: "
                f"{reason}; check the secret's host, port, starttls and login"
            ) from None
        delivered = len(alert.owners) - len(refused)
        detail = f"mailed {delivered} of {len(alert.owners)} owners through {server}"
        if refused:
            detail += f"; the server refused {', '.join(refused)}"
        return AlertResult(NAME, "sent", detail)


def _message(sender: str, alert: Alert) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(alert.owners)
    message["Subject"] = alert.subject
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    message.set_content(alert.text())
    return message


def _deliver(secret: Secret, message: EmailMessage) -> list[str]:
    with smtplib.SMTP(secret.host, secret.port, timeout=TIMEOUT_SECONDS) as smtp:
        if secret.starttls:
            smtp.starttls(context=ssl.create_default_context())
        smtp.ehlo_or_helo_if_needed()
        if smtp.has_extn("auth"):
            smtp.login(secret.username or secret.address, secret.password)
        return sorted(smtp.send_message(message))


def _values(secret: Secret) -> list[str]:
    return [value for value in secret.to_dict().values() if isinstance(value, str)]
