"""A pipeline's owners (emailed when a run fails) are edited through the API like its name."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.locking import patch_latest

Headers = dict[str, str]


def _pipeline(client: TestClient, headers: Headers, name: str) -> dict:
    page = client.get("/api/pipelines", params={"q": name}, headers=headers).json()
    return next(item for item in page["items"] if item["name"] == name)


def test_owners_are_read_and_replaced_through_the_api(client: TestClient, editor: Headers) -> None:
    pipeline = _pipeline(client, editor, "bluepeak_orvida_sales")
    assert client.get(f"/api/pipelines/{pipeline['id']}", headers=editor).json()["owners"] == [
        "data-ops@example.com"
    ]
    owners = ["ana@example.com", "bo@example.com"]
    response = patch_latest(client, f"/api/pipelines/{pipeline['id']}", {"owners": owners}, editor)
    assert response.status_code == 200, response.text
    assert response.json()["owners"] == owners


def test_a_bad_owner_is_a_422_naming_the_field_and_the_address(
    client: TestClient, editor: Headers
) -> None:
    pipeline = _pipeline(client, editor, "bluepeak_orvida_sales")
    for owners, expected in (
        (["ana@example.com", "not an address"], "'not an address' is not a valid email"),
        (["a@example.com"] * 51, "at most 50"),
        ("ana@example.com", "valid list"),
    ):
        response = patch_latest(
            client, f"/api/pipelines/{pipeline['id']}", {"owners": owners}, editor
        )
        assert response.status_code == 422, response.text
        [problem] = response.json()["detail"]
        assert problem["loc"][:2] == ["body", "owners"] and expected in problem["msg"]
    kept = client.get(f"/api/pipelines/{pipeline['id']}", headers=editor).json()
    assert kept["owners"] == ["data-ops@example.com"]
