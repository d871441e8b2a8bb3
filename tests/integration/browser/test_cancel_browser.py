"""Cancel a long run from its page in chromium: its worker stops, the run reads cancelled.

The run is started with "Run now" and goes through the local runner in a detached
process, as on a workstation; its one task sleeps for two minutes. Screenshots at 1,280
and 390 pixels wide go to test-artifacts/screenshots/<this test>/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.settings import Settings
from tests.integration.browser.conftest import EMAIL, LiveServer, log_in, shots_at_widths
from tests.support.worlds import load_test_world

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

SAMPLES = "tests.unit.transforms.sample_transforms"
WORLD = f"""
segments: [{{name: S, pipeline_types: [t]}}]
companies: [{{name: acme, brands: [{{name: zentrix}}]}}]
templates:
  - {{name: lingering, entrypoint: "{SAMPLES}:lingering"}}
  - {{name: numbers, entrypoint: "{SAMPLES}:numbers", variables: {{count: {{type: int}}}}}}
pipelines:
  - name: slow_one
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{{template: lingering}}]
      - state: master
        transformations: [{{template: numbers, variables: {{count: 2}}}}]
"""
BOUND_MS = 60_000  # far above the seconds a stop takes: a busy machine cannot fail it


@pytest.fixture
def slow_world(core_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The world above, loaded before the server starts (so it is not seeded)."""
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    return load_test_world(WORLD)


def test_cancel_a_long_run_from_its_page(
    slow_world: Settings, live_server: LiveServer, page: Page, screenshots: Path, tmp_path: Path
) -> None:
    with SessionHelper(slow_world) as session:
        pipeline_id = session.scalar(select(cfg.Pipeline.id).where(cfg.Pipeline.name == "slow_one"))
    log_in(page)
    page.goto(f"/pipelines/{pipeline_id}")
    page.click("#run-now")
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    lingering = page.locator("#task-table tbody tr").first
    expect(lingering).to_have_attribute("data-state", "running", timeout=BOUND_MS)
    expect(page.locator("#run-banner")).to_contain_text(f"Run {run_id} is running")
    shots_at_widths(page, screenshots, "01-running")
    log_tab = page.context.new_page()  # its log, followed live in a second tab
    log_tab.goto(str(lingering.locator("a.log-link").get_attribute("href")))
    expect(log_tab.locator("#log-follow")).to_have_attribute("data-state", "running")

    page.click("#cancel-box summary")
    expect(page.locator("#cancel-form")).to_contain_text("stopped within seconds")
    page.click("#cancel-run")
    expect(page.locator("#run-state")).to_have_attribute("data-state", "cancelled")
    expect(lingering).to_have_attribute("data-state", "cancelled", timeout=BOUND_MS)
    banner = page.locator("#run-banner")
    expect(banner).to_contain_text(f"Run {run_id} was cancelled by {EMAIL}")
    expect(page.locator("#run-cancelled-by")).to_contain_text(EMAIL)
    expect(lingering.locator(".error-text")).to_contain_text(
        f"cancelled with run {run_id}: terminated by signal SIGTERM"
    )
    expect(page.locator("#resume-form")).to_be_visible()  # a cancelled run can be resumed
    follower = log_tab.locator("#log-follow")
    expect(follower).to_contain_text("The task ended cancelled", timeout=BOUND_MS)
    log_tab.close()
    shots_at_widths(page, screenshots, "02-cancelled")

    with SessionHelper(slow_world) as session:
        rows = session.scalars(select(cfg.TaskRun).where(cfg.TaskRun.run_event_id == run_id)).all()
        event = session.get(cfg.RunEvent, run_id)
        assert event.state == "cancelled" and event.cancelled_by == EMAIL and event.ended_at
        # the stopped task is recorded with its end; the one after it never started
        assert [(row.state, row.ended_at is not None) for row in rows] == [("cancelled", True)]
    page.goto(f"/runs?pipeline_id={pipeline_id}&state=cancelled")
    expect(page.locator(f'#run-table tr[data-run="{run_id}"]')).to_contain_text("cancelled")
    page.goto(f"/pipelines/{pipeline_id}/grid")
    square = page.locator(f'a.grid-square[href="/runs/{run_id}#task-1"]')
    expect(square).to_have_attribute("data-state", "cancelled")
    shots_at_widths(page, screenshots, "03-grid")
