"""Data quality checks in the UI: each dataset's checks on its pipeline's page (add, edit,
delete, try before saving) and a run's check results on the run's page.

Every test runs on the small world of tests/unit/conftest.py (``small``: ingest
``numbers`` 0..4 -> master ``doubled`` 0, 2, 4, 6, 8), whose transformations really
run and publish in a few seconds.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select

from core.helpers.session_helper import SessionHelper
from core.models.dataset_checks import CheckResult, DatasetCheck
from core.plan import load_plan
from core.runs import finish_run, start_run
from core.service import resources
from core.service.checks import DATASET_CHECKS
from core.settings import Settings
from core.transforms.runtime import run_transformation

TOO_BIG = '{"column": "n", "max": 5}'  # 6 and 8 of doubled fail it


@pytest.fixture
def settings(world: Settings) -> Settings:
    """The app, users and client of the web tests, on the small world."""
    return world


@pytest.fixture
def small(world: Settings) -> dict[str, int]:
    """The ids of pipeline small ("pipeline") and its transformations (by template)."""
    with SessionHelper(world) as session:
        plan = load_plan(session, "small")
        ids = {t.template: t.transformation_id for t in plan.tasks}
        return {"pipeline": plan.pipeline_id} | ids


def _checks(settings: Settings) -> list[DatasetCheck]:
    with SessionHelper(settings) as session:
        rows = list(session.scalars(select(DatasetCheck).order_by(DatasetCheck.id)))
        session.expunge_all()
        return rows


def _add(settings: Settings, transformation_id: int, kind: str, arguments: dict, **more) -> int:
    with SessionHelper(settings, actor="test") as session:
        values = {"transformation_id": transformation_id, "kind": kind, "arguments": arguments}
        values |= {"severity": "error"} | more
        return resources.create_row(session, DATASET_CHECKS, values).id


def _run(settings: Settings) -> int:
    """Run pipeline small's transformations in a new run, and end it; the run's id."""
    with SessionHelper(settings, actor="test") as session:
        plan = load_plan(session, "small")
        run_id = start_run(session, plan, "editor@example.com").id
        outcomes = [
            run_transformation(settings, session, t.transformation_id, run_id) for t in plan.tasks
        ]
        finish_run(session, run_id, failed=not all(o.succeeded for o in outcomes))
        return run_id


def _form(client: TestClient, url: str, csrf: str, **fields: str) -> object:
    data = {"csrf_token": csrf, "severity": "error", "description": ""} | fields
    return client.post(url, data=data, follow_redirects=False)


def _section(page: str, transformation_id: int) -> str:
    """The HTML of one dataset's (or task's) checks section."""
    start = page.index(f'id="checks-{transformation_id}"')
    return page[start : page.find("</section>", start)]


def test_the_pipeline_page_lists_each_datasets_checks_with_an_add_form(
    client: TestClient, as_editor: str, settings: Settings, small: dict[str, int]
) -> None:
    check = _add(settings, small["doubled"], "range", {"column": "n", "max": 5}, severity="warn")
    page = client.get(f"/pipelines/{small['pipeline']}").text
    doubled = _section(page, small["doubled"])
    assert 'href="/datasets/acme/zentrix/master/doubled">doubled</a>' in doubled
    assert f'<tr data-check="{check}" data-kind="range">' in doubled
    assert str(escape('column="n", max=5')) in doubled
    assert 'class="badge severity severity-warn"' in doubled
    assert f'href="/checks/{check}"' in doubled and f'action="/checks/{check}/delete"' in doubled
    assert f'hx-confirm="Delete check {check} (range) of dataset doubled?' in doubled
    numbers = _section(page, small["numbers"])
    assert "No checks: its rows are published unchecked." in numbers
    # the Add check form: every kind with its summary, a placeholder example, Try it
    form = numbers[numbers.index('<details class="add-check">') :]
    assert f'action="/transformations/{small["numbers"]}/checks"' in form
    assert '<option value="freshness" title="the column&#39;s newest value is at most' in form
    assert "<strong>not_null</strong>: the columns hold no null." in form
    assert 'placeholder="{&#34;columns&#34;: [&#34;patient_id&#34;]}"' in form
    assert f'hx-post="/transformations/{small["numbers"]}/checks/try"' in form


def test_adding_a_check_through_the_form(
    client: TestClient, as_editor: str, settings: Settings, small: dict[str, int]
) -> None:
    url = f"/transformations/{small['doubled']}/checks"
    response = _form(client, url, as_editor, kind="range", arguments=TOO_BIG, description="small")
    assert response.status_code == 303
    where = f"/pipelines/{small['pipeline']}#checks-{small['doubled']}"
    assert response.headers["location"] == where
    (check,) = _checks(settings)
    assert (check.transformation_id, check.kind, check.arguments) == (
        small["doubled"],
        "range",
        {"column": "n", "max": 5},
    )
    assert (check.severity, check.description) == ("error", "small")
    page = client.get(response.headers["location"]).text
    assert f"Check {check.id} (range) added to dataset doubled." in page


@pytest.mark.parametrize(
    ("kind", "arguments", "field", "message"),
    [
        ("range", '{"column": "n", "max": "lots"}', "arguments", "max = &#34;lots&#34;: range:"),
        ("range", '{"column": "n",', "arguments", "not JSON (Expecting property name"),
        ("not_null", "", "arguments", "columns: not_null: Field required"),
        ("not_nul", '{"columns": ["n"]}', "kind", "expected one of accepted_values"),
    ],
)
def test_bad_input_is_refused_by_its_field_and_nothing_is_saved(
    client: TestClient,
    as_editor: str,
    settings: Settings,
    small: dict[str, int],
    kind: str,
    arguments: str,
    field: str,
    message: str,
) -> None:
    url = f"/transformations/{small['doubled']}/checks"
    response = _form(client, url, as_editor, kind=kind, arguments=arguments)
    assert response.status_code == 422
    section = _section(response.text, small["doubled"])
    assert '<details class="add-check" open>' in section  # the refused form, open
    errors = re.findall(rf'id="error-{field}" role="alert">([^<]*)</p>', section)
    assert any(message in error for error in errors), errors
    assert str(escape(arguments)) in section  # kept
    assert _checks(settings) == []


def test_a_viewer_sees_the_checks_but_no_form_and_cannot_add_one(
    client: TestClient, as_viewer: str, settings: Settings, small: dict[str, int]
) -> None:
    check = _add(settings, small["doubled"], "not_null", {"columns": ["n"]})
    page = client.get(f"/pipelines/{small['pipeline']}").text
    assert f'<tr data-check="{check}" data-kind="not_null">' in page
    assert "add-check" not in page and "Try it" not in page
    assert f"/checks/{check}/delete" not in page
    url = f"/transformations/{small['doubled']}/checks"
    response = _form(client, url, as_viewer, kind="range", arguments=TOO_BIG)
    assert response.status_code == 403
    assert client.post(f"/checks/{check}/delete", data={"csrf_token": as_viewer}).status_code == 403
    assert [c.id for c in _checks(settings)] == [check]


def test_editing_a_check_names_the_version_it_was_read_at(
    client: TestClient, as_editor: str, settings: Settings, small: dict[str, int]
) -> None:
    check = _add(settings, small["doubled"], "range", {"column": "n", "max": 5})
    page = client.get(f"/checks/{check}").text
    assert "Check 1 of dataset doubled" in page and 'name="version" value="1"' in page
    assert re.search(r"<option value=\"range\" title=\"[^\"]*\" selected>", page)
    assert "&#34;max&#34;: 5" in page
    response = _form(
        client, f"/checks/{check}", as_editor, kind="range", version="1", severity="warn",
        arguments='{"column": "n", "max": 8}',
    )  # fmt: skip
    assert response.status_code == 303
    (saved,) = _checks(settings)
    assert (saved.arguments["max"], saved.severity, saved.version) == (8, "warn", 2)
    stale = _form(
        client, f"/checks/{check}", as_editor, kind="range", version="1", arguments=TOO_BIG
    )
    assert stale.status_code == 409 and 'id="conflict"' in stale.text
    assert "changed since you read it" in stale.text
    refused = _form(
        client, f"/checks/{check}", as_editor, kind="range", version="2", severity="fatal",
        arguments=TOO_BIG,
    )  # fmt: skip
    assert refused.status_code == 422
    assert re.search(r'id="error-severity" role="alert">expected one of error, warn', refused.text)
    assert _checks(settings)[0].severity == "warn"


def test_deleting_a_check(
    client: TestClient, as_editor: str, settings: Settings, small: dict[str, int]
) -> None:
    check = _add(settings, small["numbers"], "unique", {"columns": ["n"]})
    response = client.post(f"/checks/{check}/delete", data={"csrf_token": as_editor})
    assert response.url.path == f"/pipelines/{small['pipeline']}"
    assert f"Check {check} (unique) removed from dataset numbers." in response.text
    assert _checks(settings) == []


def test_try_it_shows_the_failing_rows_without_saving_anything(
    client: TestClient, as_editor: str, settings: Settings, small: dict[str, int]
) -> None:
    url = f"/transformations/{small['doubled']}/checks/try"
    never = _form(client, url, as_editor, kind="range", arguments=TOO_BIG)
    assert never.status_code == 200
    assert "dataset &#39;doubled&#39; of transformation" in never.text
    assert "has never been published" in never.text
    run_id = _run(settings)
    tried = _form(client, url, as_editor, kind="range", arguments=TOO_BIG).text
    assert f"Tried on run {run_id}" in tried and "5 rows of dataset doubled; not saved" in tried
    assert 'data-tried="fail"' in tried and "2 failing rows" in tried
    assert "<th>n</th>" in tried and "<td>6</td>" in tried and "<td>8</td>" in tried
    passing = _form(client, url, as_editor, kind="range", arguments='{"column": "n", "max": 9}')
    assert 'data-tried="pass"' in passing.text and "Every row passes." in passing.text
    other_run = _form(client, url, as_editor, kind="range", arguments=TOO_BIG, run_id="999")
    assert f"has no rows of run 999: expected one of the runs that published it ({run_id})" in (
        other_run.text
    )
    bad = _form(client, url, as_editor, kind="range", arguments='{"column": "n"}')
    assert bad.status_code == 422 and "expected min, max or both" in bad.text
    assert _checks(settings) == []
    with SessionHelper(settings) as session:
        assert session.scalar(select(func.count(CheckResult.id))) == 0


def test_choosing_a_kind_shows_its_summary_and_example_and_keeps_the_arguments(
    client: TestClient, as_editor: str
) -> None:
    query = {"kind": "freshness", "arguments": '{"column": "day"}', "form": "check-2"}
    fragment = client.get("/checks/arguments", params=query).text
    assert fragment.lstrip().startswith('<div class="kind-arguments" id="check-2-arguments">')
    assert "the column&#39;s newest value is at most max_age old" in fragment
    assert 'placeholder="{&#34;column&#34;: &#34;status_date&#34;, &#34;max_age&#34;' in fragment
    assert ">{&#34;column&#34;: &#34;day&#34;}</textarea>" in fragment


def test_the_run_page_shows_each_tasks_check_results(
    client: TestClient, as_viewer: str, settings: Settings, small: dict[str, int]
) -> None:
    _add(settings, small["numbers"], "not_null", {"columns": ["n"]}, severity="warn")
    _add(settings, small["doubled"], "range", {"column": "n", "max": 5}, description="≤ 5")
    _add(settings, small["doubled"], "unique", {"columns": ["n"]})
    run_id = _run(settings)
    page = client.get(f"/runs/{run_id}").text
    assert 'id="run-state" data-state="failed"' in page
    row = page[page.index('data-task="master_doubled_') :]
    row = row[: row.index("</tr>")]
    assert 'class="badge badge-fail" href="#checks-' in row
    assert "2 checks: 1 pass, 1 fail" in row
    assert "1 check: 1 pass" in page
    section = _section(page, small["doubled"])
    assert '<h3>doubled <span class="muted">· master · doubled #' in section
    failed = section[section.index('data-kind="range" data-status="fail"') :]
    assert "range(column=&#34;n&#34;, max=5)" in failed
    assert 'class="badge severity severity-error"' in failed and "2 failing rows" in failed
    assert "≤ 5" in failed
    assert "<th>n</th>" in failed and "<td>6</td>" in failed and "<td>8</td>" in failed
    assert 'data-kind="unique" data-status="pass"' in section


def test_a_run_without_checks_says_so(
    client: TestClient, as_viewer: str, settings: Settings
) -> None:
    page = client.get(f"/runs/{_run(settings)}").text
    assert 'id="no-check-results"' in page and "check-summary" not in page
