"""Data quality checks end to end in chromium: add a failing error check from the pipeline
page, try it, run the pipeline, and read the failed check with its examples on the run.

The pipeline (sql ``numbers`` 0..4 -> sql ``doubled`` 0, 2, 4, 6, 8) is built through
the service, as the UI flow test builds one through the forms; the check is added,
refused, tried and read through the browser. Pages are photographed 1280 and 390
pixels wide under the test's tmp dir, and none may be wider than its window.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.service import catalog, resources
from tests.integration.browser.conftest import EMAIL, PASSWORD, LiveServer

pytestmark = pytest.mark.integration
RUN_TIMEOUT_MS = 180_000
WIDTHS = (1280, 390)
NAME = "acme_zentrix_checked"


def _pipeline(server: LiveServer) -> tuple[int, int]:
    """A pipeline of two sql transformations; its id and the id of the one writing doubled."""
    with SessionHelper(server.settings, actor="test") as session:

        def id_of(model: type, **names: str) -> int:
            return session.scalars(select(model.id).filter_by(**names)).one()

        pipeline = resources.create_row(
            session,
            catalog.PIPELINES,
            {
                "name": NAME,
                "pipeline_type_id": id_of(cfg.PipelineType, name="sales_data"),
                "brand_id": id_of(cfg.Brand, name="zentrix"),
                "is_active": False,
            },
        )
        sql = id_of(cfg.TransformationTemplate, name="sql")
        ids = []
        steps = (
            ("ingest", "[]", "numbers", "select n from (values (0), (1), (2), (3), (4)) as t(n)"),
            ("master", '["numbers"]', "doubled", "select n * 2 as n from numbers"),
        )
        for order, (state, inputs, dataset, query) in enumerate(steps):
            row = resources.create_row(
                session,
                catalog.PIPELINE_STATES,
                {
                    "pipeline_id": pipeline.id,
                    "pipeline_state_type_id": id_of(cfg.PipelineStateType, name=state),
                    "graph_order": order,
                },
            )
            variables = {"inputs": inputs, "dataset": dataset, "query": query}
            transformation = resources.create_row(
                session,
                catalog.TRANSFORMATIONS,
                {
                    "pipeline_state_id": row.id,
                    "transformation_template_id": sql,
                    "graph_order": 0,
                    "variables": variables,
                },
                server.settings,
            )
            ids.append(transformation.id)
        return pipeline.id, ids[1]


def _log_in(page: Page) -> None:
    page.goto("/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/pipelines$"))


def _shots(page: Page, folder: Path, name: str, section: str) -> list[Path]:
    """Full-page screenshots at each width, and one of ``section``; none may scroll sideways."""
    taken = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name} is {overflow} px wide in a {width} px window"
        path = folder / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        part = folder / f"{name}-{width}-section.png"
        page.locator(section).screenshot(path=str(part))
        taken += [path, part]
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    return taken


def test_a_failing_error_check_stops_the_run_and_shows_its_examples(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    pipeline_id, doubled = _pipeline(live_server)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    _log_in(page)
    page.goto(f"/pipelines/{pipeline_id}")
    section = page.locator(f"#checks-{doubled}")
    expect(section).to_contain_text("No checks: its rows are published unchecked.")

    # choosing a kind shows its summary and example (htmx), keeping what was typed
    section.locator("summary", has_text="Add check").click()
    fid = f"#check-{doubled}"
    page.select_option(f"{fid}-kind", "range")
    expect(page.locator(f"{fid}-kind-help")).to_contain_text("between min and max")
    arguments = page.locator(f"{fid}-arguments-input")
    expect(arguments).to_have_attribute("placeholder", re.compile(r'"min": 0'))

    # bad arguments are refused next to the box, nothing saved
    arguments.fill('{"column": "n", "max": "five"}')
    page.click(f"{fid}-save")
    expect(page.locator("#error-arguments")).to_contain_text("max")
    expect(page.locator(f"{fid}-arguments-input")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#checks-{doubled} .check-table")).to_have_count(0)

    # Try it before the dataset was ever published
    page.fill(f"{fid}-arguments-input", '{"column": "n", "max": 5}')
    page.fill(f"{fid}-description", "doubled numbers stay small")
    page.click(f"{fid}-try")
    expect(page.locator(f"{fid}-tried")).to_contain_text("has never been published")
    page.click(f"{fid}-save")
    expect(page.locator(".banner-ok")).to_contain_text("(range) added to dataset doubled")
    row = page.locator(f"#checks-{doubled} .check-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text('column="n", max=5')
    expect(row.locator(".severity-error")).to_have_text("error")

    # the run: doubled fails its check, publishes nothing (the pipeline is inactive:
    # Run now asks to confirm)
    page.click("#run-inactive summary")
    page.click("#run-now-confirm")
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    expect(page.locator("#run-state")).to_have_attribute(
        "data-state", "failed", timeout=RUN_TIMEOUT_MS
    )
    task = page.locator("#task-table tbody tr[data-state=failed]")
    expect(task.locator(".check-summary")).to_have_text("1 check: 1 fail")
    result = page.locator(f"#checks-{doubled} .check-result[data-status=fail]")
    expect(result).to_contain_text('range(column="n", max=5)')
    expect(result).to_contain_text("2 failing rows")
    expect(result).to_contain_text("doubled numbers stay small")
    expect(result.locator(".examples-table td")).to_have_text(["6", "8"])
    run_shots = _shots(page, shots, "run-with-failed-check", f"#checks-{doubled}")

    # numbers was published: Try it a check on it from the pipeline page
    page.goto(f"/pipelines/{pipeline_id}")
    numbers = page.locator("section.dataset-checks").first
    numbers.locator("summary", has_text="Add check").click()
    form = numbers.locator("form.check-form")
    form.locator("select[name=kind]").select_option("accepted_values")
    # the kind's arguments box is swapped in (htmx): fill it once it is there, not before
    expect(form.locator(".kind-help")).to_have_attribute("data-kind", "accepted_values")
    form.locator("textarea[name=arguments]").fill('{"column": "n", "values": [0, 1, 2]}')
    form.locator("button", has_text="Try it").click()
    tried = numbers.locator(".tried-result")
    expect(tried).to_have_attribute("data-tried", "fail")
    expect(tried).to_contain_text("2 failing rows")
    expect(tried.locator(".examples-table td")).to_have_text(["3", "4"])
    expect(numbers.locator(".check-table")).to_have_count(0)  # tried, not saved
    pipeline_shots = _shots(page, shots, "pipeline-checks-tried", "#checks")
    for path in run_shots + pipeline_shots:
        assert path.stat().st_size > 5_000, path
