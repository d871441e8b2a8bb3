"""Mask secrets in text shown to people: task logs in the UI, the API and the CLI.

Two nets, as Airflow's secrets masker casts them: the values of the secrets the
configured backend holds (every field whose name says it is secret — ``password``,
``token``, ``private_key`` … — and a secret stored as one opaque string), and the
shapes credentials have wherever they come from (a URL's password, a bearer token, a
CORE API token, ``password=…``). A worker may print a secret it built itself; the
second net catches the common shapes of that, not every possible one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from core.settings import Settings

MASK = "***"
# Shorter values (a port, "yes") would mask half a log and protect nothing.
MIN_SECRET_LENGTH = 4
SENSITIVE_NAME = re.compile(
    r"pass|secret|token|private|credential|api_?key|access_?key|auth|pkey|signature", re.I
)
PATTERNS = (
    # scheme://user:PASSWORD@host
    (re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(?=@)", re.I), r"\g<keep>"),
    # Authorization: Bearer TOKEN / Basic B64
    (re.compile(r"(?P<keep>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.I), r"\g<keep>"),
    # CORE API tokens
    (re.compile(r"\bcore_[A-Za-z0-9_-]{20,}"), ""),
    # password=VALUE, "api_key": "VALUE", token: VALUE
    (
        re.compile(
            r"(?P<keep>\b[\w-]*(?:password|passwd|secret|token|api_?key|private_?key)[\w-]*"
            r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]{3,}",
            re.I,
        ),
        r"\g<keep>",
    ),
)


class Masker:
    """Replaces known secret values and credential shapes in text with ``***``.

    Args:
        values: the secret values to mask wherever they appear.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        known = sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, known))) if known else None

    def __call__(self, text: str) -> str:
        """``text`` with every secret in it masked."""
        if self._values is not None:
            text = self._values.sub(MASK, text)
        for pattern, keep in PATTERNS:
            text = pattern.sub(keep + MASK, text)
        return text


def masker_for(settings: Settings) -> Masker:
    """A masker knowing the secrets of the configured backend.

    A backend that cannot be read still gives a masker (of the credential shapes): the
    log is shown, and a secret the shapes miss is the backend's outage to fix.
    """
    from core.errors import CoreError
    from core.secrets.registry import get_backend

    try:
        backend = get_backend(settings)
        payloads = [backend.read(identifier) for identifier in backend.identifiers()]
    except CoreError:
        return Masker()
    return Masker(value for payload in payloads for value in secret_values(payload))


def secret_values(payload: Any) -> list[str]:
    """The values of a stored secret that must never be shown.

    A table's fields whose names say they are secret; a string holding a JSON object
    is read as one; any other string (or bytes) is secret whole.
    """
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", "replace")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return [payload]
        if not isinstance(payload, dict):
            return [str(payload)]
    if not isinstance(payload, dict):
        return []
    return [
        str(value)
        for name, value in payload.items()
        if SENSITIVE_NAME.search(str(name)) and isinstance(value, str | int)
    ]
