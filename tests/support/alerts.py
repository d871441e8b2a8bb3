"""Receivers for failure alerts: a real SMTP server (aiosmtpd) and an HTTP receiver.

Both listen on loopback ports and record what they receive, so tests see exactly
what a mail server and a Slack-compatible webhook would.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER = "alerts@example.com"
SMTP_PASSWORD = "smtp-pa55-Zq8vX"  # a value that must never leak


def free_port() -> int:
    """A loopback port nothing listens on (it may be taken again later: use it at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mail:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        """The text of the message."""
        return str(self.message.get_content())


@dataclass
class Mailbox:
    """What the SMTP server received; ``port`` is where it listens."""

    port: int
    mails: list[Mail] = field(default_factory=list)


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.mailbox.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _authenticate(*args: Any) -> AuthResult:
    auth_data = args[-1]
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """An SMTP server on loopback that requires AUTH (SMTP_USER, SMTP_PASSWORD), no TLS."""
    mailbox = Mailbox(port=free_port())
    controller = Controller(
        _Handler(mailbox),
        hostname="127.0.0.1",
        port=mailbox.port,
        authenticator=_authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@dataclass
class Receiver:
    """What the HTTP receiver got; set ``status`` to change its answer."""

    url: str
    status: int = 200
    posts: list[dict[str, Any]] = field(default_factory=list)

    def texts(self) -> list[str]:
        """The ``text`` of every JSON body posted."""
        return [json.loads(post["body"])["text"] for post in self.posts]


@contextmanager
def http_receiver(path: str = "/hooks/T0/B0/token") -> Iterator[Receiver]:
    """An HTTP server on loopback that records every POST and answers ``status``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}{path}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length).decode()
            receiver.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(receiver.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:  # quiet
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


OWNERS = ["ana@example.com", "bo@example.com"]


def configure_alerts(
    monkeypatch: Any, smtp_port: int | None, webhook_url: str | None, owners: list[str] | None
) -> Any:
    """Point CORE's alert settings at the receivers and give the ``failing`` pipeline owners.

    Args:
        monkeypatch: pytest's monkeypatch (the settings are environment variables).
        smtp_port: the SMTP server's port; None leaves the email channel off.
        webhook_url: the webhook's URL; None leaves the webhook channel off.
        owners: the owners of the ``failing`` pipeline (None: leave them as they are).

    Returns:
        The settings, loaded from the environment as a process would.
    """
    from sqlalchemy import select

    from core.helpers.session_helper import SessionHelper
    from core.models.configuration import Pipeline
    from core.secret import set_secret
    from core.settings import load_settings

    if smtp_port is not None:
        monkeypatch.setenv("CORE_ALERT_EMAIL_SECRET", "alerts")
    if webhook_url is not None:
        monkeypatch.setenv("CORE_ALERT_WEBHOOK_SECRET", "chat")
    settings = load_settings()
    if smtp_port is not None:
        mailbox = {"address": SMTP_USER, "password": SMTP_PASSWORD, "host": "127.0.0.1"}
        set_secret("dev/email/alerts/read", {**mailbox, "port": smtp_port}, settings)
    if webhook_url is not None:
        set_secret("dev/webhook/chat/read", {"url": webhook_url}, settings)
    if owners is not None:
        with SessionHelper(settings, actor="test") as session:
            pipeline = session.scalars(select(Pipeline).where(Pipeline.name == "failing")).one()
            pipeline.owners = owners
            session.commit()
    return settings
