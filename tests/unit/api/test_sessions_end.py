"""Issue 17 item 6: sessions end, the login throttle cannot be dodged, people stay private.

A browser session is kept on the server: logout ends it (a replayed cookie gets 401);
a change of the user's password, role or active flag ends all of theirs; it ends after
an idle and an absolute lifetime. The login throttle keys on the socket peer unless a
trusted proxy is configured (a real uvicorn server shows it). Viewers do not read
people's records through the audit trail.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from core.api.app import create_app
from core.cli.serve import proxy_options
from core.models.administrators import Administrator, WebSession
from core.settings import Settings, load_settings
from tests.unit.api.conftest import PASSWORD
from tests.unit.api.resource_cases import database

BASE = "https://testserver"


def log_in(app: FastAPI, email: str) -> tuple[TestClient, str]:
    """A new browser signed in as ``email``: its client and its session cookie."""
    browser = TestClient(app, base_url=BASE)
    response = browser.post("/api/session", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    browser.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return browser, browser.cookies["core_session"]


def replay(app: FastAPI, cookie: str) -> httpx.Response:
    """A request from another client carrying only a copy of the cookie."""
    attacker = TestClient(app, base_url=BASE)
    attacker.cookies.set("core_session", cookie)
    return attacker.get("/api/session")


def user_id(app: FastAPI, email: str) -> int:
    with database(app) as session:
        return session.query(Administrator).filter_by(email_address=email).one().id


def test_logout_ends_the_session_on_the_server(app: FastAPI, users: dict) -> None:
    browser, cookie = log_in(app, "editor@example.com")
    assert replay(app, cookie).status_code == 200
    assert browser.delete("/api/session").status_code == 204
    replayed = replay(app, cookie)
    assert replayed.status_code == 401, replayed.text
    assert "the session has ended" in replayed.text


def test_the_ui_logout_ends_the_session_on_the_server(app: FastAPI, users: dict) -> None:
    browser, cookie = log_in(app, "viewer@example.com")
    response = browser.post(
        "/logout", data={"csrf_token": browser.headers["X-CSRF-Token"]}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert replay(app, cookie).status_code == 401


@pytest.mark.parametrize(
    "change",
    [{"password": "a whole new passphrase"}, {"role": "viewer"}, {"is_active": False}],
    ids=["password", "role", "deactivated"],
)
def test_a_change_of_credentials_ends_the_users_sessions(
    app: FastAPI, client: TestClient, users: dict, change: dict
) -> None:
    _, cookie = log_in(app, "editor@example.com")
    _, other = log_in(app, "editor@example.com")
    target = user_id(app, "editor@example.com")
    response = client.patch(f"/api/users/{target}", json=change, headers=users["admin"])
    assert response.status_code == 200, response.text
    for copy in (cookie, other):
        replayed = replay(app, copy)
        assert replayed.status_code == 401, replayed.text
        assert "changed since you logged in" in replayed.text or "deactivated" in replayed.text


def test_another_users_change_leaves_a_session_alone(
    app: FastAPI, client: TestClient, users: dict
) -> None:
    _, cookie = log_in(app, "editor@example.com")
    viewer = user_id(app, "viewer@example.com")
    client.patch(f"/api/users/{viewer}", json={"role": "editor"}, headers=users["admin"])
    assert replay(app, cookie).status_code == 200


def age(app: FastAPI, **columns: dt.timedelta) -> None:
    """Make every session older by these amounts (created_at, last_seen_at)."""
    now = dt.datetime.now(dt.UTC)
    with database(app) as session:
        session.execute(update(WebSession).values({k: now - v for k, v in columns.items()}))
        session.commit()


def test_an_idle_session_ends(app: FastAPI, users: dict) -> None:
    _, cookie = log_in(app, "viewer@example.com")
    age(app, last_seen_at=dt.timedelta(minutes=61))
    replayed = replay(app, cookie)
    assert replayed.status_code == 401
    assert "no request for more than 60 minutes" in replayed.text


def test_a_session_ends_after_its_absolute_lifetime_however_busy(app: FastAPI, users: dict) -> None:
    _, cookie = log_in(app, "viewer@example.com")
    age(app, created_at=dt.timedelta(hours=12, minutes=1))
    replayed = replay(app, cookie)
    assert replayed.status_code == 401
    assert "sessions last at most 12 hours" in replayed.text


def test_lifetimes_are_settings(
    core_env: object, seeded_database: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORE_WEB_SESSION_IDLE_MINUTES", "15")
    monkeypatch.setenv("CORE_WEB_SESSION_MAX_HOURS", "2")
    settings = load_settings()
    assert (settings.web_session_idle_minutes, settings.web_session_max_hours) == (15, 2)


# --- the audit trail ------------------------------------------------------------------


def test_a_viewer_cannot_read_peoples_records_through_the_audit_trail(
    client: TestClient, users: dict
) -> None:
    everything = client.get("/api/audit?limit=500", headers=users["viewer"]).json()
    tables = {event["table_name"] for event in everything["items"]}
    assert not tables & {"administrators", "api_tokens", "web_sessions"}, tables
    images = [e["after"] or e["before"] or {} for e in everything["items"]]
    assert not [image for image in images if "email_address" in image or "role" in image]
    refused = client.get("/api/audit?table=administrators", headers=users["viewer"])
    assert refused.status_code == 403, refused.text
    assert "admins only" in refused.text
    admin = client.get("/api/audit?table=administrators", headers=users["admin"]).json()
    assert {event["after"]["role"] for event in admin["items"]} >= {"viewer", "admin"}


# --- the login throttle behind a real server --------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(settings: Settings, users: dict) -> Iterator[callable]:
    """Start ``core serve``'s uvicorn (its proxy options) on loopback for given settings."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(trusted: str | None) -> str:
        chosen = settings.model_copy(update={"web_trusted_proxies": trusted})
        port = free_port()
        config = uvicorn.Config(
            create_app(chosen),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            **proxy_options(chosen),
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=30)


def failed_logins(url: str, tries: int) -> list[int]:
    """Wrong passwords for one email, each claiming another client address."""
    statuses = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for number in range(tries):
            response = http.post(
                "/api/session",
                json={"email": "editor@example.com", "password": "wrong password!"},
                headers={"X-Forwarded-For": f"203.0.113.{number + 1}"},
            )
            statuses.append(response.status_code)
    return statuses


def test_a_rotating_x_forwarded_for_does_not_escape_the_login_throttle(served: callable) -> None:
    assert failed_logins(served(None), 7) == [401] * 5 + [429] * 2


def test_a_trusted_proxy_s_forwarded_addresses_are_believed(served: callable) -> None:
    # Behind a configured proxy each forwarded client has its own count.
    assert failed_logins(served("127.0.0.1"), 7) == [401] * 7
