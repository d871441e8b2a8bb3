"""The API's documentation pages work without the internet: every asset is served locally."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

ASSET = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"')
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg"}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_name_no_address_outside_the_app(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"https?://", html), re.findall(r"https?://[^\"' ]+", html)
    assets = ASSET.findall(html)
    assert any(url.endswith(".js") for url in assets), assets
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        served = client.get(url)
        assert served.status_code == 200, url
        wanted = next(kind for end, kind in CONTENT_TYPES.items() if url.endswith(end))
        assert wanted in served.headers["content-type"], (url, served.headers["content-type"])
        assert served.content, url


def test_swagger_ui_loads_its_own_script_and_styles(client: TestClient) -> None:
    html = client.get("/docs").text
    assets = ASSET.findall(html)
    bundle = next(url for url in assets if url.endswith("swagger-ui-bundle.js"))
    assert any(url.endswith("swagger-ui.css") for url in assets)
    assert len(client.get(bundle).content) > 100_000  # the real bundle, not a stub
    assert "/openapi.json" in html
    assert client.get("/openapi.json").json()["info"]["title"] == "CORE"


def test_the_docs_carry_no_policy_of_the_ui_that_would_block_their_script(
    client: TestClient,
) -> None:
    """Swagger UI starts from an inline script: the UI's script-src 'self' must not apply."""
    policy = client.get("/docs").headers.get("Content-Security-Policy", "")
    assert "script-src 'self';" not in policy


def test_a_missing_docs_asset_is_a_plain_404(client: TestClient) -> None:
    response = client.get("/static-offline-docs/nope.js", follow_redirects=False)
    assert response.status_code == 404
    assert "text/html" not in response.headers.get("content-type", "")
