"""The key that signs session cookies: from a secret, or a private file in dev."""

from __future__ import annotations

import pytest

from core.api.auth import session_key
from core.errors import SettingsError
from core.secret import set_secret
from core.settings import load_settings

UAT = {"CORE_ENVIRONMENT": "uat", "CORE_LAKE_ROOT": "s3://lake", "CORE_SECRETS_BACKEND": "local"}


def test_dev_keeps_a_random_key_in_a_private_file(core_env) -> None:
    settings = load_settings()
    key = session_key(settings)
    assert len(key) == 64 and session_key(settings) == key
    assert (core_env / "web_session.key").stat().st_mode & 0o077 == 0


def test_uat_without_a_web_secret_is_refused(core_env) -> None:
    settings = load_settings({"CORE_HOME": str(core_env), **UAT})
    with pytest.raises(
        SettingsError, match="CORE_WEB_SECRET is required when CORE_ENVIRONMENT=uat"
    ):
        session_key(settings)


def test_the_key_comes_from_the_named_secret(core_env) -> None:
    settings = load_settings({"CORE_HOME": str(core_env), "CORE_WEB_SECRET": "web", **UAT})
    set_secret("uat/web/web/read", {"session_key": "k" * 64}, settings)
    assert session_key(settings) == "k" * 64
    assert not (core_env / "web_session.key").exists()
