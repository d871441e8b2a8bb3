"""Browse a pipeline's datasets in chromium: versions, rows page by page, two runs
compared, and an admin restoring a version (then read on the audit trail).

Screenshots at 1,280 and 390 pixels wide go to test-artifacts/screenshots/<this test>/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.service.users import add_user
from core.settings import Settings
from tests.integration.browser.conftest import PASSWORD, LiveServer, log_in, shots_at_widths
from tests.support.cli import core
from tests.support.worlds import load_test_world

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

SAMPLES = "tests.unit.transforms.sample_transforms"
WORLD = f"""
segments: [{{name: S, pipeline_types: [t]}}]
companies: [{{name: acme, brands: [{{name: zentrix}}]}}]
templates:
  - {{name: numbers, state: ingest, entrypoint: "{SAMPLES}:numbers",
     variables: {{count: {{type: int}}}}}}
  - {{name: doubled, entrypoint: "{SAMPLES}:doubled"}}
pipelines:
  - name: counted
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{{template: numbers, variables: {{count: 30}}}}]
      - state: master
        transformations: [{{template: doubled}}]
"""
ADMIN = "admin@example.com"
DOUBLED = "acme/zentrix/master/doubled"


@pytest.fixture
def published(core_env: Path) -> Settings:
    """The world above, run twice: doubled holds 60 rows of runs 1 and 2 (versions 0, 1)."""
    settings = load_test_world(WORLD)
    assert core("run", "counted") == 0
    assert core("run", "counted") == 0
    return settings


def test_browse_a_dataset_s_versions_and_restore_one(
    published: Settings, live_server: LiveServer, page: Page, screenshots: Path
) -> None:
    with SessionHelper(published, actor="test") as session:
        add_user(session, ADMIN, "admin", PASSWORD)
        pipeline_id = session.scalar(select(cfg.Pipeline.id).where(cfg.Pipeline.name == "counted"))
    log_in(page, ADMIN)
    page.goto(f"/pipelines/{pipeline_id}")
    page.click("#pipeline-datasets")
    doubled = page.locator(f'#dataset-table tr[data-key="{DOUBLED}"]')
    expect(doubled.locator("td[data-label=version]")).to_have_text("1")
    expect(doubled.locator("td[data-label=rows]")).to_have_text("60")
    shots_at_widths(page, screenshots, "01-datasets")

    doubled.get_by_role("link", name="doubled").click()
    expect(page).to_have_url(re.compile(rf"/datasets/{DOUBLED}$"))
    expect(page.locator("#schema-table")).to_contain_text("int64")
    expect(page.locator("#rows-table thead")).to_contain_text("int64")  # types by the names
    expect(page.locator("#rows-range")).to_have_text("Rows 1 to 25 of 60.")
    page.click("#rows-next")
    expect(page.locator("#rows-range")).to_have_text("Rows 26 to 50 of 60.")
    expect(page.locator("#versions-table tbody tr")).to_have_count(2)
    expect(page.locator('#versions-table tr[data-version="1"]')).to_contain_text("run 2")
    page.click("#diff-form button[type=submit]")
    expect(page.locator("#diff-panel")).to_contain_text("run 2 against run 1")
    shots_at_widths(page, screenshots, "02-dataset")

    # version 0 held only run 1: restore it
    old = page.locator('#versions-table tr[data-version="0"]')
    old.get_by_role("link", name="Rows").click()
    expect(page.locator("#rows-range")).to_have_text("Rows 1 to 25 of 30.")
    old = page.locator('#versions-table tr[data-version="0"]')
    old.locator("summary", has_text="Restore").click()
    old.locator("textarea[name=reason]").fill("run 2 was published by mistake")
    old.get_by_role("button", name="Restore version 0").click()
    expect(page.locator(".banner-ok")).to_contain_text(
        f"Restored {DOUBLED} to version 0: it is now version 2"
    )
    newest = page.locator("#versions-table tbody tr").first
    expect(newest).to_contain_text("RESTORE")
    expect(newest).to_contain_text("current")
    expect(page.locator("#dataset-rows")).to_contain_text("30")
    expect(page.locator("#restores")).to_contain_text("run 2 was published by mistake")
    shots_at_widths(page, screenshots, "03-restored")

    page.goto("/audit")
    restore = page.locator("#audit-table tbody tr[data-table=dataset_restores]").first
    expect(restore.locator(".sentence")).to_have_text(
        f"{ADMIN} restored {DOUBLED} to version 0 (as version 2): run 2 was published by mistake"
    )
