"""The audit trail in chromium: edit a variable through the UI, then read that change as a
sentence on the pipeline's own audit page, at a desktop's and a phone's width.

Screenshots go to test-artifacts/screenshots/audit/ (1280 and 390 pixels wide); neither
page may be wider than its window, and each change's time stays on one line.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.integration.browser.conftest import EMAIL, PASSWORD, SCREENSHOTS, LiveServer

pytestmark = pytest.mark.integration
WIDTHS = (1280, 390)
SENTENCE = f"{EMAIL} set delimiter of initial_ingest #2 from | to ;"


def _log_in(page: Page) -> None:
    page.goto("/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/pipelines$"))


def _shots(page: Page, row: Locator, name: str) -> None:
    """Screenshots at each width; the page never wider than its window, the time on one line."""
    folder = SCREENSHOTS / "audit"
    folder.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name} is {overflow} px wide in a {width} px window"
        lines = row.locator("td.when time").evaluate("t => t.getClientRects().length")
        height = row.locator("td.when time").evaluate("t => t.getBoundingClientRect().height")
        assert lines == 1 and height < 30, f"the time wraps ({height} px high) at {width} px"
        path = folder / f"{name}-{width}.png"
        page.screenshot(path=str(path))
        assert path.stat().st_size > 5_000, path
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def test_a_variable_edited_in_the_ui_reads_as_a_sentence_on_the_pipelines_audit(
    page: Page, live_server: LiveServer
) -> None:
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    _log_in(page)
    page.goto("/pipelines/1")
    page.locator("#transformation-2").get_by_role("link", name="Edit variables").click()
    expect(page.locator("#var-delimiter")).to_have_value("|")
    page.fill("#var-delimiter", ";")
    page.click("#save-variables")
    expect(page.locator(".banner-ok")).to_contain_text("Variables of transformation 2 saved.")

    page.click("#pipeline-audit")
    expect(page).to_have_url(re.compile(r"/pipelines/1/audit$"))
    newest = page.locator("#audit-table tbody tr[data-table=transformation_variables]").filter(
        has_text="delimiter"
    )
    expect(newest).to_have_count(1)
    expect(newest.locator(".sentence")).to_have_text(SENTENCE)
    expect(newest.locator(".sentence code")).to_have_text(["|", ";"])
    link = newest.locator("a.object")
    expect(link).to_have_attribute("href", "/pipelines/1#transformation-2")

    _shots(page, newest, "pipeline-audit")

    # the whole trail, filtered by the person: the same sentence, with its pipeline
    page.click("text=The whole audit trail")
    page.fill("#filter-actor", EMAIL)
    page.click("#audit-filters button[type=submit]")
    row = page.locator("#audit-table tbody tr").filter(has_text="delimiter")
    expect(row.locator(".sentence")).to_have_text(SENTENCE)
    expect(row.locator("td.pipeline")).to_have_text("acme_zentrix_patient_status")
    _shots(page, row, "audit")

    page.goto("/pipelines/1/audit")
    link.click()  # the sentence's object leads to the transformation on its pipeline
    expect(page).to_have_url(re.compile(r"/pipelines/1#transformation-2$"))
    expect(page.locator("#transformation-2")).to_contain_text("delimiter")
