"""Secrets are masked in text shown to people: stored values and credential shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.secret import set_secret
from core.secrets.masking import MASK, Masker, masker_for, secret_values
from core.settings import Settings, load_settings


@pytest.fixture
def settings(core_env: Path) -> Settings:
    return load_settings()


def test_stored_secret_fields_are_masked_but_not_their_host_or_user(settings: Settings) -> None:
    set_secret(
        "dev/FTP/acme/read",
        {"host": "ftp.acme.test", "user": "acme", "password": "p4ss-w0rd!", "port": 22},
        settings,
    )
    mask = masker_for(settings)
    shown = mask("login acme@ftp.acme.test:22 with p4ss-w0rd! (retry p4ss-w0rd!)")
    assert shown == f"login acme@ftp.acme.test:22 with {MASK} (retry {MASK})"


def test_which_values_of_a_secret_are_secret() -> None:
    assert secret_values({"user": "u", "password": "pw12", "api_key": "k123", "port": 1}) == [
        "pw12",
        "k123",
    ]
    assert secret_values("an opaque string") == ["an opaque string"]
    assert secret_values('{"token": "abcd", "host": "h"}') == ["abcd"]  # JSON pasted from AWS
    assert secret_values(b"raw-bytes") == ["raw-bytes"]


def test_credential_shapes_are_masked_whoever_printed_them() -> None:
    mask = Masker()
    assert mask("postgresql://core:s3cret@db:5432/core") == f"postgresql://core:{MASK}@db:5432/core"
    assert mask("Authorization: Bearer abcdefgh12345") == f"Authorization: Bearer {MASK}"
    assert mask("token core_hMYKh1ibgDg6a_66vNXm3fhoVxzm7GzgiK") == f"token {MASK}"
    assert mask('{"password": "x9y8z7", "user": "u"}') == f'{{"password": "{MASK}", "user": "u"}}'
    assert mask("aws_secret_access_key=AbCdEf123") == f"aws_secret_access_key={MASK}"
    assert mask("read 12 rows from s3://bucket/key.csv") == "read 12 rows from s3://bucket/key.csv"


def test_short_values_are_not_masked_everywhere() -> None:
    assert Masker(["ab", "abcd"])("ab abcd") == f"ab {MASK}"


def test_an_unreadable_backend_still_masks_the_shapes(settings: Settings) -> None:
    broken = settings.model_copy(update={"secrets_file": str(settings.home)})  # a directory
    assert masker_for(broken)("https://u:pw1234@h") == f"https://u:{MASK}@h"
