"""A real CORE server on a loopback port, and Debian's chromium driven by Playwright.

The server is uvicorn in a thread, on a private CORE_HOME holding the sample
configuration and an editor who can sign in. Runs started from the UI go
through the local runner, as they would on a workstation.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.helpers.session_helper import SessionHelper
from core.service.users import add_user
from core.settings import Settings, load_settings
from tests.conftest import missing_service

CHROMIUM = Path("/usr/bin/chromium")
EMAIL, PASSWORD = "editor@example.com", "a long enough password"
REPOSITORY = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPOSITORY / "test-artifacts" / "screenshots"
EXPECT_MS, ACTION_MS = 20_000, 60_000  # Playwright's defaults (5 s, 30 s) are for idle machines


@dataclass(frozen=True)
class LiveServer:
    """Where the server listens, and its settings."""

    url: str
    settings: Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_server(core_env: Path) -> Iterator[LiveServer]:
    """CORE served by uvicorn on 127.0.0.1 (plain http; chromium treats it as secure)."""
    import uvicorn

    from core.api.app import create_app

    core_env.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    app = create_app(settings)  # creates and seeds the embedded database
    with SessionHelper(settings, actor="test") as session:
        add_user(session, EMAIL, "editor", PASSWORD)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="core-ui-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the CORE server did not start", pytrace=False)
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", settings)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Debian's chromium, launched headless through Playwright.

    Module-scoped: while Playwright's sync API lives, its event loop counts as running in
    this thread, so a later test of the same (xdist) process could not call asyncio.run.
    """
    if not CHROMIUM.exists():
        missing_service("chromium", "Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server: LiveServer) -> Iterator[object]:
    """A fresh browser tab on the live server, failing the test on any page error."""
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1400, "height": 900}
    )
    # Headroom for two busy cores: an htmx answer or a page load may wait for a core.
    # Passing tests do not wait longer; only a failure takes this long to be reported.
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_MS)
    context.set_default_timeout(ACTION_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: _console_error(message, errors))
    yield tab
    context.close()
    assert not errors, f"the browser reported errors: {errors}"


def _console_error(message: object, errors: list[str]) -> None:
    # Refused forms answer 401/422 on purpose; anything else (a script error, a CSP
    # violation) is a bug.
    expected = "Failed to load resource: the server responded with a status of 4"
    if message.type == "error" and not message.text.startswith(expected):
        errors.append(message.text)


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path:
    """The folder this test's screenshots go to, one per test (kept by CI as artifacts)."""
    folder = SCREENSHOTS / request.node.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def log_in(page: object, email: str = EMAIL) -> None:
    """Sign in as the editor the server was started with (or another user, same password)."""
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/pipelines")


def shots_at_widths(page: object, folder: Path, name: str) -> None:
    """Screenshots of the page at 1,280 and 390 px wide; fails when the page is wider."""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} at {width} px is {overflow} px too wide"
    page.set_viewport_size({"width": 1280, "height": 900})
