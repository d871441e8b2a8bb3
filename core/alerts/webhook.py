"""The ``webhook`` channel: post the alert as Slack-compatible JSON, ``{"text": ...}``.

The URL comes from the ``url`` of a ``webhook`` secret
(``{environment}/webhook/{alert_webhook_secret}/read``): a Slack (or Teams, Mattermost,
Google Chat) incoming-webhook URL is itself the credential, so it is never logged.
The standard library's client is used on purpose: it logs nothing of its requests.
Redirects are not followed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.alerts.base import TIMEOUT_SECONDS, AlertResult, describe_exception
from core.alerts.message import Alert
from core.errors import AlertError
from core.secret import Secret
from core.settings import Settings

NAME = "webhook"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None  # a 3xx then surfaces as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class WebhookChannel:
    """Posts ``{"text": alert}`` to the webhook URL of a secret."""

    setting: str = "alert_webhook_secret"

    def send(self, settings: Settings, alert: Alert) -> AlertResult:
        """Post the alert to the webhook.

        Args:
            settings: CORE's settings; ``alert_webhook_secret`` names the secret.
            alert: the alert to post.

        Returns:
            ``sent``, with the HTTP status.

        Raises:
            SecretError, SecretNotFoundError: the secret is missing or has no ``url``.
            AlertError: the URL is not http(s), or the webhook is unreachable or refused it.
        """
        name = str(getattr(settings, self.setting))
        secret = Secret(name=name, type_of="webhook", mode="read", settings=settings)
        where = f"the webhook of secret {secret.identifier!r}"
        url = str(secret.url)
        if urlsplit(url).scheme not in ("http", "https"):
            raise AlertError(
                f"{where}: its url is not valid: expected an http:// or https:// URL; fix it "
                f"with `core secrets set {secret.identifier} url` (prompted, hidden)"
            )
        status = _post(url, {"text": alert.text()}, where)
        return AlertResult(NAME, "sent", f"posted to {where} (HTTP {status})")


def _post(url: str, body: dict[str, str], where: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s)
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise AlertError(
            f"{where} answered HTTP {exc.code}: expected a 2xx status; check that the "
            'webhook still exists and accepts {"text": ...}'
        ) from None
    except (OSError, ValueError) as exc:  # URLError, timeouts, malformed URLs
        parts = urlsplit(url)
        secrets = [p for p in (url, parts.netloc, parts.path, parts.query) if len(p) > 1]
        reason = describe_exception(exc, secrets)
        raise AlertError(f"{where} could not be reached: {reason}") from None
