"""Failure alerts: when a run fails, tell the pipeline's owners, and optionally a chat.

    notify_failure(settings, session, run_id)   # after finish_run(..., failed=True)

Channels are kept in :data:`CHANNELS` by name; one is used when the setting it reads
names a secret: ``email`` (``alert_email_secret``) mails the pipeline's owners through
an ``email`` secret's SMTP server, ``webhook`` (``alert_webhook_secret``) posts
``{"text": ...}`` to a ``webhook`` secret's URL. A channel that fails is logged as a
warning, naming the channel and the reason, and recorded; it never raises and never
stops another channel, so the run's own failure is what the caller reports. Secret
values appear nowhere: not in the alert, the logs or the results. See docs/alerts.md.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy.orm import Session

from core.alerts.base import AlertResult, Channel
from core.alerts.mail import EmailChannel
from core.alerts.message import Alert, build_alert
from core.alerts.webhook import WebhookChannel
from core.errors import CoreError
from core.settings import Settings

__all__ = [
    "CHANNELS",
    "Alert",
    "AlertResult",
    "Channel",
    "build_alert",
    "notify_failure",
    "register_channel",
]

logger = logging.getLogger("core.alerts")

CHANNELS: dict[str, Channel] = {
    "email": EmailChannel(),
    "webhook": WebhookChannel(),
}


def register_channel(name: str, channel: Channel) -> None:
    """Add a channel (or replace the one of the same name).

    Args:
        name: the channel's name, used in logs and results.
        channel: the channel; it is used when ``settings.<channel.setting>`` is set.
    """
    CHANNELS[name] = channel


def configured_channels(settings: Settings) -> dict[str, Channel]:
    """The channels whose setting names a secret, by name."""
    return {
        name: channel
        for name, channel in CHANNELS.items()
        if getattr(settings, channel.setting, None)
    }


def notify_failure(settings: Settings, session: Session, run_id: int) -> list[AlertResult]:
    """Send the failure alert of a run through every configured channel.

    Args:
        settings: CORE's settings (which channels, and their secrets).
        session: a configuration session.
        run_id: the failed run's RunEvent id.

    Returns:
        One result per configured channel (none when no channel is configured).
    """
    channels = configured_channels(settings)
    if not channels:
        logger.debug("run %s failed; no alert channel is configured", run_id)
        return []
    try:
        alert = build_alert(session, run_id)
    except Exception as exc:  # an alert must never hide the run's failure
        session.rollback()  # the run's end is committed already; the caller reads on
        reason = f"could not describe the run: {_reason(exc)}"
        return [_log(AlertResult(name, "failed", reason), run_id) for name in channels]
    session.commit()  # the alert is read: hold no transaction while mail and posts go out
    return [
        _log(_send(name, channel, settings, alert), run_id) for name, channel in channels.items()
    ]


def _send(name: str, channel: Channel, settings: Settings, alert: Alert) -> AlertResult:
    try:
        return replace(channel.send(settings, alert), channel=name)
    except Exception as exc:  # one channel's failure must not stop the others
        return AlertResult(name, "failed", _reason(exc))


def _reason(exc: Exception) -> str:
    # CORE's own errors are written without secret values; a stranger's message may hold
    # one (a library quoting its input), so only its type is kept.
    return str(exc) if isinstance(exc, CoreError) else f"{type(exc).__name__} (unexpected)"


def _log(result: AlertResult, run_id: int) -> AlertResult:
    if result.status == "failed":
        logger.warning(
            "failure alert of run %s: %s failed: %s", run_id, result.channel, result.detail
        )
    else:
        logger.info(
            "failure alert of run %s: %s %s: %s",
            run_id,
            result.channel,
            result.status,
            result.detail,
        )
    return result
