"""PATCH as a client that follows the API's optimistic locking: read the version first."""

from __future__ import annotations

from typing import Any


def patch_latest(client: Any, path: str, body: Any, headers: dict[str, str]) -> Any:
    """PATCH ``path`` with ``body`` plus the row's current ``version`` (when it has one).

    Args:
        client: a TestClient.
        path: the row's API path (``/api/pipelines/3``).
        body: the change; a non-object body is sent as it is.
        headers: the caller's headers.
    """
    if isinstance(body, dict) and "version" not in body:
        row = client.get(path, headers=headers)
        if row.status_code == 200 and "version" in row.json():
            body = {**body, "version": row.json()["version"]}
    return client.patch(path, json=body, headers=headers)
