"""The users, tokens and templates pages in chromium, at 1,280 and 390 pixels wide.

Screenshots go to test-artifacts/screenshots/<this test>/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.helpers.session_helper import SessionHelper
from core.service.users import add_user
from tests.integration.browser.conftest import PASSWORD, LiveServer, log_in, shots_at_widths

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

ADMIN = "admin@example.com"


def test_an_admin_adds_a_user_issues_a_token_and_reads_the_templates(
    live_server: LiveServer, page: Page, screenshots: Path
) -> None:
    with SessionHelper(live_server.settings, actor="test") as session:
        add_user(session, ADMIN, "admin", PASSWORD)
    log_in(page, ADMIN)
    page.click("nav >> text=Users")
    page.fill("#email_address", "cleo@example.com")
    page.select_option("#role", "editor")
    page.fill("#password", "a long enough password")
    page.click("#add-user-button")
    expect(page.locator(".banner-ok")).to_contain_text("cleo@example.com added as editor")
    cleo = page.locator('#user-table tr[data-user="cleo@example.com"]')
    shots_at_widths(page, screenshots, "01-users")

    cleo.get_by_role("link", name="Tokens").click()
    page.fill("#name", "airflow")
    page.fill("#expires_in_days", "90")
    page.click("#issue-token-button")
    expect(page.locator("#issued-token")).to_contain_text("core_")
    expect(page.locator('#token-table tr[data-token="airflow"]')).to_contain_text("live")
    shots_at_widths(page, screenshots, "02-token")

    page.click("nav >> text=Templates")
    mapping = page.locator('#template-table tr[data-template="column_mapping"]')
    expect(mapping.locator("td[data-label='used by']")).to_have_text("2")
    shots_at_widths(page, screenshots, "03-templates")
    mapping.get_by_role("link", name="column_mapping").click()
    expect(page.locator("#template-uses li")).to_have_count(2)
    shots_at_widths(page, screenshots, "04-template")
