"""Helpers for API tests over the small ``world`` of python sample transforms.

The ``world`` fixture (tests/unit/conftest.py) holds pipelines that need no landing
files (``small``: ingest numbers -> master doubled), so a run started through the API
really completes in a few seconds.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.helpers.session_helper import SessionHelper
from core.models.administrators import Administrator
from core.plan import load_plan
from core.service.users import hash_password, issue_token
from core.settings import Settings

PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "editor", "admin")
FINISHED = ("success", "failed", "cancelled")


def users_for(settings: Settings) -> dict[str, dict[str, str]]:
    """role -> the Authorization header of a new user ROLE@example.com with that role."""
    with SessionHelper(settings, actor="test") as session:
        return add_role_users(session)


def add_role_users(session: Session) -> dict[str, dict[str, str]]:
    """Add a viewer, an editor and an admin (ROLE@example.com, PASSWORD) with API tokens.

    Returns:
        role -> the Authorization header of that user's token.
    """
    headers = {}
    for role in ROLES:
        email = f"{role}@example.com"
        user = Administrator(email_address=email, role=role, hashed_password=hashed_password())
        session.add(user)
        session.commit()
        headers[role] = {"Authorization": f"Bearer {issue_token(session, user.id, 't').token}"}
    return headers


@cache
def hashed_password() -> str:
    """PASSWORD's argon2 hash, once per process: hashing is slow on purpose (0.4 s a user)."""
    return hash_password(PASSWORD)


def transformation_ids(settings: Settings, pipeline: str) -> dict[str, int]:
    """template name -> transformation id, for a pipeline of the world."""
    with SessionHelper(settings) as session:
        return {t.template: t.transformation_id for t in load_plan(session, pipeline).tasks}


def pipeline_id(settings: Settings, pipeline: str) -> int:
    """The id of a pipeline of the world."""
    with SessionHelper(settings) as session:
        return load_plan(session, pipeline).pipeline_id


def wait_for_run(
    client: TestClient, headers: dict[str, str], run_id: int, timeout: float = 120
) -> dict[str, Any]:
    """Poll GET /api/runs/{id} until the run has finished; its last body."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/runs/{run_id}", headers=headers).json()
        if body["state"] in FINISHED:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} did not finish in {timeout}s: {body}")
        time.sleep(0.25)
