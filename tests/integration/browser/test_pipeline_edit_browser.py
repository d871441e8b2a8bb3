"""Edit a pipeline's frequency and owners in chromium, then read the edit on its audit tab.

Screenshots at 1,280 and 390 pixels wide go to test-artifacts/screenshots/<this test>/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.browser.conftest import EMAIL, LiveServer, log_in, shots_at_widths

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

OWNERS = ["ana@example.com", "bo@example.com"]


def test_edit_a_pipeline_s_frequency_and_owners_and_read_the_audit(
    live_server: LiveServer, page: Page, screenshots: Path
) -> None:
    log_in(page)
    page.goto("/pipelines/1")
    read_the_dag(page, screenshots)
    page.click("#edit-pipeline")
    expect(page).to_have_url(re.compile(r"/pipelines/1/edit$"))
    expect(page.locator("#delete-impact")).to_contain_text("transformations")

    # the schedule is explained while it is typed: words and the next three runs
    page.fill("#run_frequency", "0 6 * * 1-5")
    expect(page.locator("#schedule-words")).to_have_text(
        "At 06:00 AM, Monday through Friday (UTC)."
    )
    expect(page.locator("#fire-times time")).to_have_count(3)
    page.fill("#run_frequency", "0 6 31 2 *")
    expect(page.locator("#schedule-problem")).to_contain_text("never fires")
    page.fill("#run_frequency", "0 6 * * 1-5")
    expect(page.locator("#fire-times time")).to_have_count(3)
    page.fill("#owners", "\n".join(OWNERS))
    shots_at_widths(page, screenshots, "01-edit")

    page.click("#save-pipeline")
    expect(page).to_have_url(re.compile(r"/pipelines/1$"))
    expect(page.locator(".banner-ok")).to_contain_text("saved.")
    expect(page.locator("#pipeline-frequency")).to_contain_text("Monday through Friday")
    expect(page.locator("#pipeline-owners a")).to_have_text(OWNERS)
    shots_at_widths(page, screenshots, "02-saved")

    page.click("#pipeline-audit")
    edit = page.locator("#audit-table tbody tr[data-table=pipelines]").first
    expect(edit.locator(".sentence")).to_contain_text(f"{EMAIL} changed pipeline")
    expect(edit.locator(".sentence")).to_contain_text("run_frequency")
    expect(edit.locator(".sentence")).to_contain_text("0 6 * * 1-5")
    expect(edit.locator(".sentence")).to_contain_text("ana@example.com")
    shots_at_widths(page, screenshots, "03-audit")


def read_the_dag(page: Page, screenshots: Path) -> None:
    """At 1,280 px the 12-task DAG fits its box at its own size, wrapped into rows; at 390 px
    it keeps its size (readable) and scrolls inside its box, never the page."""
    dag, picture = page.locator("#dag"), page.locator("#dag svg")
    expect(dag.locator("g.band")).to_have_count(6)  # raw, ingest, master, enrich, metrics, dim.
    expect(dag.locator("a.node-link")).to_have_count(12)
    page.set_viewport_size({"width": 1280, "height": 900})
    dag.screenshot(path=str(screenshots / "00-dag-1280.png"))
    natural = int(picture.get_attribute("width"))
    assert picture.bounding_box()["width"] == pytest.approx(natural, abs=1)  # not shrunk
    assert dag.evaluate("e => e.scrollWidth <= e.clientWidth"), "the DAG scrolls at 1,280 px"
    page.set_viewport_size({"width": 390, "height": 900})
    dag.screenshot(path=str(screenshots / "00-dag-390.png"))
    assert picture.bounding_box()["width"] == pytest.approx(natural, abs=1)  # readable
    assert dag.evaluate("e => e.scrollWidth > e.clientWidth")  # it scrolls in its box...
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # ...only
    dag.evaluate("e => { e.scrollLeft = e.scrollWidth }")
    dag.screenshot(path=str(screenshots / "00-dag-390-scrolled.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
