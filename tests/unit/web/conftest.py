"""The web UI on the sample configuration, with a browser-like client signed in by role.

The application, settings and users come from the API tests' fixtures, so both
suites start from the same seeded database and the same users.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.unit.api.conftest import *  # noqa: F403 - the API tests' fixtures, shared
from tests.unit.api.conftest import PASSWORD

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = CSRF_INPUT.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/pipelines").text)


@pytest.fixture
def sign_in(client: TestClient, users: dict) -> Callable[[str], str]:
    """sign_in(role) signs the client in as ROLE@example.com; returns the CSRF token."""

    def _sign_in(role: str) -> str:
        return log_in(client, f"{role}@example.com")

    return _sign_in


@pytest.fixture
def as_viewer(sign_in: Callable[[str], str]) -> str:
    """The client signed in as a viewer; the CSRF token."""
    return sign_in("viewer")


@pytest.fixture
def as_editor(sign_in: Callable[[str], str]) -> str:
    """The client signed in as an editor; the CSRF token."""
    return sign_in("editor")
