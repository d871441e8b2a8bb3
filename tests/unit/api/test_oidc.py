"""Single sign-on through a real OpenID Connect exchange with a provider on loopback.

The provider here is a few handlers (discovery, JWKS, token) that sign real RS256
ID tokens; Google or Okta cannot run on this machine, the exchange with them is
the same protocol. authlib does the client side exactly as in production.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from core.api.app import create_app
from core.errors import SettingsError
from core.helpers.session_helper import SessionHelper
from core.secret import set_secret
from core.service.users import add_user
from core.settings import Settings, load_settings
from tests.support.json_http import JsonHandler, serve

CLIENT_ID = "core-test-client"


class Provider:
    """What the fake provider hands out: one signing key, and the claims of the next login."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.claims: dict[str, Any] = {}
        self.nonce = ""
        self.url = ""

    def id_token(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": CLIENT_ID,
            "sub": "user-1",
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce,
            **self.claims,
        }
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)


def _handler(provider: Provider) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/.well-known/openid-configuration"):
                self.send_json(
                    {
                        "issuer": provider.url,
                        "authorization_endpoint": f"{provider.url}/authorize",
                        "token_endpoint": f"{provider.url}/token",
                        "jwks_uri": f"{provider.url}/jwks",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                )
            elif self.path == "/jwks":
                self.send_json({"keys": [provider.key.as_dict(private=False)]})
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            if form.get("code") != ["the-code"]:
                self.send_json({"error": "invalid_grant"}, status=400)
                return
            self.send_json(
                {"access_token": "at", "token_type": "Bearer", "id_token": provider.id_token()}
            )

    return Handler


@pytest.fixture
def provider() -> Iterator[Provider]:
    """An OpenID provider on a loopback port."""
    provider = Provider()
    with serve(_handler(provider)) as url:
        provider.url = url
        yield provider


@pytest.fixture
def sso_settings(settings: Settings, provider: Provider, monkeypatch) -> Settings:
    """Settings that offer single sign-on with the loopback provider."""
    set_secret("dev/oidc/sso/read", {"client_id": CLIENT_ID, "client_secret": "s3cr3t"}, settings)
    monkeypatch.setenv("CORE_OIDC_PROVIDER", "okta")
    monkeypatch.setenv("CORE_OIDC_METADATA_URL", f"{provider.url}/.well-known/openid-configuration")
    monkeypatch.setenv("CORE_OIDC_SECRET", "sso")
    return load_settings()


def _sign_in(client: TestClient, provider: Provider, claims: dict[str, Any]) -> Any:
    start = client.get("/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302
    query = parse_qs(urlparse(start.headers["location"]).query)
    assert query["client_id"] == [CLIENT_ID] and "openid" in query["scope"][0]
    provider.nonce, provider.claims = query["nonce"][0], claims
    return client.get(
        "/auth/oidc/callback",
        params={"code": "the-code", "state": query["state"][0]},
        follow_redirects=False,
    )


def test_a_known_user_signs_in_with_the_provider(sso_settings: Settings, provider) -> None:
    with SessionHelper(sso_settings) as session:
        add_user(session, "grace@example.com", "editor", "a long enough password")
    client = TestClient(create_app(sso_settings), base_url="https://testserver")
    answer = _sign_in(client, provider, {"email": "Grace@example.com", "email_verified": True})
    assert answer.status_code == 303 and answer.headers["location"] == "/pipelines"
    me = client.get("/api/session").json()
    assert me["user"]["email_address"] == "grace@example.com" and me["csrf_token"]


def test_an_unknown_email_is_refused(sso_settings: Settings, provider) -> None:
    client = TestClient(create_app(sso_settings), base_url="https://testserver")
    answer = _sign_in(client, provider, {"email": "mallory@example.com"})
    assert answer.status_code == 401
    assert "mallory@example.com is not a user of CORE" in answer.json()["detail"]
    assert client.get("/api/session").status_code == 401


def test_an_unverified_email_is_refused(sso_settings: Settings, provider) -> None:
    with SessionHelper(sso_settings) as session:
        add_user(session, "grace@example.com", "editor", "a long enough password")
    client = TestClient(create_app(sso_settings), base_url="https://testserver")
    answer = _sign_in(client, provider, {"email": "grace@example.com", "email_verified": False})
    assert answer.status_code == 401 and "verified" in answer.json()["detail"]


def test_a_forged_state_is_refused(sso_settings: Settings, provider) -> None:
    client = TestClient(create_app(sso_settings), base_url="https://testserver")
    client.get("/auth/oidc/login", follow_redirects=False)
    answer = client.get("/auth/oidc/callback", params={"code": "the-code", "state": "forged"})
    assert answer.status_code == 401 and "single sign-on failed" in answer.json()["detail"]


def test_sso_without_its_secret_is_a_settings_error(settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv("CORE_OIDC_PROVIDER", "google")
    with pytest.raises(SettingsError, match="CORE_OIDC_SECRET is required"):
        create_app(load_settings())


def test_without_sso_the_routes_do_not_exist(client: TestClient) -> None:
    assert client.get("/auth/oidc/login").status_code == 404
