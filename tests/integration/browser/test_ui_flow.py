"""The UI end to end in chromium: log in, filter, build a pipeline, fix a variable, run it.

Every step leaves a screenshot in test-artifacts/screenshots/ (CI keeps them).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.integration.browser.conftest import EMAIL, PASSWORD, LiveServer

pytestmark = pytest.mark.integration
RUN_TIMEOUT_MS = 180_000


def _shot(page: Page, folder: Path, name: str, element: str | None = None) -> None:
    target = page.locator(element) if element else page
    target.screenshot(path=str(folder / f"{name}.png"), **({} if element else {"full_page": True}))


def _log_in(page: Page, shots: Path) -> None:
    page.goto("/pipelines")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fpipelines$"))
    page.fill("#email", EMAIL)
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("wrong email or password")
    page.fill("#password", PASSWORD)
    _shot(page, shots, "01-login")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/pipelines$"))
    expect(page.locator(".who .email")).to_have_text(EMAIL)


def _filter_the_list(page: Page, shots: Path) -> None:
    rows = page.locator("#pipeline-table tbody tr")
    expect(rows).to_have_count(3)
    page.fill("#q", "orvida")  # htmx searches as one types
    expect(rows).to_have_count(2)
    page.select_option("#filter-active", "false")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-pipeline", "bluepeak_orvida_sales")
    expect(page).to_have_url(re.compile(r"q=orvida.*active=false|active=false.*q=orvida"))
    _shot(page, shots, "02-filtered-list")


def _create_pipeline(page: Page, shots: Path) -> None:
    page.goto("/pipelines")
    page.click("text=New pipeline")
    page.fill("#name", "ui flow")  # not a valid DAG id
    page.select_option("#pipeline_type_id", label="sales_data (Commercial)")
    page.select_option("#brand_id", label="acme_pharma / zentrix")
    page.fill("#description", "Built by the browser test.")
    page.click("text=Create pipeline")
    expect(page.locator("#error-name")).to_be_visible()
    page.fill("#name", "acme_zentrix_ui_flow")
    page.check("input[name=is_active]")
    page.click("text=Create pipeline")
    expect(page.locator("#pipeline-name")).to_have_text("acme_zentrix_ui_flow")
    for state in ("ingest", "master"):
        page.select_option("#state-type", label=state)
        page.click("text=Add state")
        expect(page.locator(f"section[data-state={state}]")).to_be_visible()
    _shot(page, shots, "03-pipeline-with-states")


def _add_sql(page: Page, state: str, inputs: str, dataset: str, query: str) -> None:
    section = page.locator(f"section[data-state={state}]")
    section.locator("select[name=template_id]").select_option(label="sql")
    section.locator("text=Next: variables…").click()
    page.fill("#var-inputs", inputs)
    page.fill("#var-dataset", dataset)
    page.fill("#var-query", query)
    page.click("#save-variables")


def _add_transformations(page: Page, shots: Path) -> None:
    numbers = "select n from (values (0), (1), (2), (3), (4)) as t(n)"
    _add_sql(page, "ingest", "numbers", "numbers", numbers)
    error = page.locator('[id="error-variables.inputs"]')
    expect(error).to_contain_text("expected a JSON list")
    expect(page.locator("#var-inputs")).to_have_attribute("aria-invalid", "true")
    _shot(page, shots, "04-invalid-variable")
    page.fill("#var-inputs", "[]")
    page.click("#save-variables")
    expect(page.locator(".banner-ok")).to_contain_text("added")
    _add_sql(page, "master", '["numbers"]', "doubled", "select n * 2 as n from numbers")
    expect(page.locator("section[data-state=master] tbody tr")).to_have_count(1)
    expect(page.locator("#dag g.node")).to_have_count(6)  # RunEvent, 2 spacers, 2 tasks, EndRun
    _shot(page, shots, "05-pipeline-with-transformations")


def _preview_an_order_and_remove_a_spare(page: Page, shots: Path) -> None:
    """A third transformation is added in parallel, previewed later, then removed."""
    section = page.locator("section[data-state=master]")
    section.locator("select[name=template_id]").select_option(label="noop")
    section.locator("text=Next: variables…").click()
    page.click("#save-variables")
    page.click("text=Reorder transformations")
    spare = page.locator("#arrange-form tbody tr").nth(2)
    spare.locator("input[type=number]").fill("1")
    page.click("#preview-plan")  # htmx POST with the CSRF header
    expect(page.locator("#preview-dag g.node")).to_have_count(8)  # a third group, its spacer
    _shot(page, shots, "06-reorder-preview")
    page.click("text=← acme_zentrix_ui_flow")
    expect(page.locator("#dag g.node")).to_have_count(7)  # not saved: noop runs beside sql
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("section[data-state=master] tbody tr").nth(1).locator("text=Remove").click()
    expect(page.locator(".banner-ok")).to_contain_text("removed")
    expect(page.locator("#dag g.node")).to_have_count(6)


def _run_it(page: Page, shots: Path) -> None:
    page.click("#run-now")
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    expect(page.locator("#run-body")).to_have_attribute("data-refreshing", "true")
    _shot(page, shots, "07-run-started")
    expect(page.locator("#run-state")).to_have_attribute(
        "data-state", "success", timeout=RUN_TIMEOUT_MS
    )
    expect(page.locator("#run-body")).not_to_have_attribute("data-refreshing", "true")
    expect(page.locator("#task-table tbody tr[data-state=success]")).to_have_count(2)
    _shot(page, shots, "08-run-succeeded")


def _look_at_the_run(page: Page, shots: Path) -> None:
    dag = page.locator("#dag svg")
    expect(dag.locator("g.node.task[data-state=success]")).to_have_count(2)
    _shot(page, shots, "09-run-dag", "#dag")
    doubled = page.locator("#task-table tbody tr").nth(1)
    doubled.locator("text=Preview").click()
    panel = page.locator("#dataset-panel")
    expect(panel).to_contain_text("showing 5 of 5 rows")
    expect(panel.locator("td").nth(4)).to_have_text("8")
    _shot(page, shots, "10-output-preview")
    page.click("text=Runs")
    expect(page.locator("#run-table tbody tr").first).to_contain_text("acme_zentrix_ui_flow")
    _shot(page, shots, "11-runs-list")


def test_build_and_run_a_pipeline_in_the_browser(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    _log_in(page, screenshots)
    _filter_the_list(page, screenshots)
    _create_pipeline(page, screenshots)
    _add_transformations(page, screenshots)
    _preview_an_order_and_remove_a_spare(page, screenshots)
    _run_it(page, screenshots)
    _look_at_the_run(page, screenshots)
    assert len(list(screenshots.glob("*.png"))) == 11
