"""Fix a failed run from the UI in chromium: read the log, edit the variable, resume, succeed.

The run goes through the local runner in a detached process, as on a workstation.
Screenshots at 1,280 and 390 pixels wide go to test-artifacts/screenshots/<this test>/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.settings import Settings
from tests.integration.browser.conftest import LiveServer, log_in, shots_at_widths
from tests.support.worlds import load_test_world

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

SAMPLES = "tests.unit.transforms.sample_transforms"
WORLD = f"""
segments: [{{name: S, pipeline_types: [t]}}]
companies: [{{name: acme, brands: [{{name: zentrix}}]}}]
templates:
  - {{name: numbers, state: ingest, entrypoint: "{SAMPLES}:picky_numbers",
     variables: {{count: {{type: int}}}}}}
  - {{name: doubled, entrypoint: "{SAMPLES}:doubled"}}
pipelines:
  - name: fixable
    company: acme
    brand: zentrix
    type: t
    active: true
    states:
      - state: ingest
        transformations: [{{template: numbers, variables: {{count: 0}}}}]
      - state: master
        transformations: [{{template: doubled}}]
"""
RUN_MS = 120_000  # far above the seconds the run takes: a busy machine cannot fail it


@pytest.fixture
def fixable(core_env: Path) -> Settings:
    """The world above, loaded before the server starts (so it is not seeded)."""
    return load_test_world(WORLD)


def test_fix_a_failed_run_from_its_log(
    fixable: Settings, live_server: LiveServer, page: Page, screenshots: Path
) -> None:
    with SessionHelper(fixable) as session:
        pipeline_id = session.scalar(select(cfg.Pipeline.id).where(cfg.Pipeline.name == "fixable"))
    log_in(page)
    page.goto(f"/pipelines/{pipeline_id}")
    page.click("#run-now")
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#run-state")).to_have_attribute("data-state", "failed", timeout=RUN_MS)
    numbers = page.locator("#task-table tbody tr").first
    expect(numbers).to_have_attribute("data-state", "failed")
    shots_at_widths(page, screenshots, "01-failed")

    # read the log
    numbers.locator("a.log-link").click()
    expect(page).to_have_url(re.compile(rf"/runs/{run_id}/tasks/\d+/log$"))
    expect(page.locator("#log-shown")).to_have_text("The whole log.")
    log = page.locator("#log-text")
    expect(log).to_contain_text("asked for 0 numbers")
    expect(log).to_contain_text("count must be at least 1, got 0")
    shots_at_widths(page, screenshots, "02-log")
    page.fill("#log-q", "COUNT MUST")
    page.click("#log-search button[type=submit]")
    expect(page.locator("#log-matches mark").first).to_have_text("count must")
    expect(page.locator("#log-matches-title")).to_contain_text("holding “COUNT MUST”")
    shots_at_widths(page, screenshots, "03-log-search")
    with page.expect_download() as download:
        page.click("#log-download")
    assert "count must be at least 1, got 0" in Path(download.value.path()).read_text()

    # edit the variable
    tid = int(page.url.split("/tasks/")[1].split("/")[0])
    page.goto(f"/transformations/{tid}")
    page.fill("#var-count", "3")
    page.click("#save-variables")
    expect(page.locator(".banner-ok")).to_be_visible()

    # resume with the current configuration: it succeeds, under the same run id
    page.goto(f"/runs/{run_id}")
    expect(page.locator("#resume-form input[value=current]")).to_be_checked()
    page.click("#resume")
    expect(page).to_have_url(re.compile(rf"/runs/{run_id}$"))
    expect(page.locator("#run-state")).to_have_attribute("data-state", "success", timeout=RUN_MS)
    expect(page.locator("#task-table tbody tr[data-state=success]")).to_have_count(2)
    expect(numbers.locator("td[data-label=try]")).to_have_text("2")
    shots_at_widths(page, screenshots, "04-resumed")
    numbers.locator("a.log-link").click()
    expect(page.locator("#log-text")).to_contain_text("asked for 3 numbers")
