"""``core users``, ``core serve --help`` and the demo's local admin."""

from __future__ import annotations

import io

import pytest

from core.helpers.session_helper import SessionHelper
from core.models.administrators import Administrator, ApiToken
from core.service.users import authenticate, local_admin, token_hash, user_for_token
from core.settings import load_settings
from tests.support.cli import core


def test_users_add_creates_a_user_who_can_log_in(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert core("users", "add", "Ada@Example.com", "--role", "admin", "--password-stdin") == 0
    assert "added ada@example.com (admin)" in capsys.readouterr().out
    with SessionHelper(load_settings()) as session:
        user = authenticate(session, "ada@example.com", "a long enough password")
        assert user.role == "admin" and user.hashed_password.startswith("$argon2id$")
    assert core("users", "list") == 0
    assert "ada@example.com" in capsys.readouterr().out


def test_users_add_refuses_a_bad_role_a_short_password_and_a_duplicate(monkeypatch, capsys) -> None:
    assert core("users", "add", "bo@example.com", "--role", "owner", "--generate") == 2
    err = capsys.readouterr().err
    assert err.startswith("FAILED:") and "'owner'" in err and "viewer, editor, admin" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert core("users", "add", "bo@example.com", "--password-stdin") == 2
    err = capsys.readouterr().err
    assert "at least 10 characters" in err and "short" not in err.replace("shorter", "")
    assert core("users", "add", "bo@example.com", "--generate") == 0
    assert core("users", "add", "BO@example.com", "--generate") == 2
    assert "already has this email_address" in capsys.readouterr().err
    with SessionHelper(load_settings()) as session:
        assert session.query(Administrator).filter_by(email_address="bo@example.com").count() == 1


def test_users_token_prints_a_token_that_is_stored_only_as_a_hash(capsys) -> None:
    assert core("users", "add", "ci@example.com", "--role", "editor", "--generate") == 0
    capsys.readouterr()
    assert core("users", "token", "ci@example.com", "--name", "ci", "--days", "30") == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("core_")
    with SessionHelper(load_settings()) as session:
        row = session.query(ApiToken).one()
        assert row.token_hash == token_hash(token) and token not in row.token_hash
        assert user_for_token(session, token).email_address == "ci@example.com"
    assert core("users", "token", "nobody@example.com", "--name", "x") == 2
    assert "core users add nobody@example.com" in capsys.readouterr().err


def test_the_local_admin_is_created_once_and_its_password_kept_private() -> None:
    settings = load_settings()
    with SessionHelper(settings) as session:
        email, password = local_admin(settings, session)
        assert local_admin(settings, session) == (email, password)
        assert authenticate(session, email, password).role == "admin"
    assert (settings.home / "admin_password").stat().st_mode & 0o077 == 0


def test_the_local_admin_is_refused_outside_dev(monkeypatch) -> None:
    monkeypatch.setenv("CORE_ENVIRONMENT", "test")
    settings = load_settings()
    with SessionHelper(settings) as session, pytest.raises(Exception, match="only in dev"):
        local_admin(settings, session)


def test_serve_help_describes_the_options(capsys) -> None:
    assert core("serve", "--help") == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--host" in out and "web UI" in out
