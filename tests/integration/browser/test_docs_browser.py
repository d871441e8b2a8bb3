"""The API's documentation in chromium without the internet: Swagger UI draws every operation.

Every request leaving the CORE server is refused, as on a machine without internet
access: the page must still render, from the assets the app serves itself.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.integration.browser.conftest import SCREENSHOTS, LiveServer

pytestmark = pytest.mark.integration


def test_swagger_ui_renders_its_operations_offline(page: Page, live_server: LiveServer) -> None:
    ours = urlsplit(live_server.url).netloc
    outside: list[str] = []

    def only_ours(route: Route) -> None:
        if urlsplit(route.request.url).netloc in (ours, ""):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_ours)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("CORE")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 20
    expect(page.locator(".opblock-tag", has_text="audit")).to_be_visible()
    assert outside == [], f"the docs asked for addresses outside the app: {outside}"
    folder = SCREENSHOTS / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "swagger-ui-offline-1280.png"))
