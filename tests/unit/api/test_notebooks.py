"""A task's executed notebook through the API: HTML, served under a sandbox CSP."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from fastapi.testclient import TestClient

from core.helpers.session_helper import SessionHelper
from core.lake.storage import normalise_root
from core.plan import load_plan
from core.runs import begin_task, end_task, start_run
from core.settings import Settings

Headers = dict[str, str]
PIPELINE = "acme_zentrix_patient_status"
SCRIPT = "<script>document.title = 'pwned'</script>"


def executed_notebook() -> str:
    """A small executed notebook whose output carries a script."""
    cell = nbformat.v4.new_code_cell(
        "display(HTML(report))",
        outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="rows: 42\n"),
            nbformat.v4.new_output("display_data", data={"text/html": SCRIPT}),
        ],
    )
    return nbformat.writes(nbformat.v4.new_notebook(cells=[cell]))


def record_task(settings: Settings, location: str | None) -> tuple[int, int]:
    """A run of the sample pipeline whose second task stored a notebook at ``location``."""
    with SessionHelper(settings, actor="test") as session:
        plan = load_plan(session, PIPELINE)
        run_id = start_run(session, plan, "test").id
        task = plan.tasks[1]
        row = begin_task(session, run_id, task.transformation_id)
        end_task(session, row, "success", notebook_location=location)
        return run_id, task.transformation_id


def lake_location(settings: Settings, name: str = "initial_ingest_2_attempt1.ipynb") -> str:
    root = normalise_root(settings.lake_root or "")
    return f"{root}/notebooks/master/acme_pharma/zentrix/ingest/pharmacy_a/run_id=1/{name}"


def write(location: str, text: str) -> None:
    Path(location).parent.mkdir(parents=True, exist_ok=True)
    Path(location).write_text(text)


def url(run_id: int, transformation_id: int) -> str:
    return f"/api/runs/{run_id}/tasks/{transformation_id}/notebook"


def test_the_notebook_is_html_under_a_sandbox_csp(
    settings: Settings, client: TestClient, viewer: Headers
) -> None:
    location = lake_location(settings)
    write(location, executed_notebook())
    run_id, tid = record_task(settings, location)
    response = client.get(url(run_id, tid), headers=viewer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "rows: 42" in response.text and ">report</span>" in response.text  # highlighted
    # The output's script is in the page, and the sandbox CSP keeps it from running.
    assert SCRIPT in response.text


def test_the_run_page_links_the_notebook(
    settings: Settings, client: TestClient, viewer: Headers
) -> None:
    location = lake_location(settings)
    write(location, executed_notebook())
    run_id, tid = record_task(settings, location)
    tasks = client.get(f"/api/runs/{run_id}", headers=viewer).json()["tasks"]
    linked = [t for t in tasks if t["notebook_url"]]
    assert [t["transformation_id"] for t in linked] == [tid]
    assert linked[0]["notebook_url"] == url(run_id, tid)
    assert linked[0]["notebook_location"] == location


def test_a_task_without_a_notebook_is_404(
    settings: Settings, client: TestClient, viewer: Headers
) -> None:
    run_id, tid = record_task(settings, None)
    response = client.get(url(run_id, tid), headers=viewer)
    assert response.status_code == 404
    assert "has no executed notebook" in response.json()["detail"]


def test_unknown_runs_and_tasks_are_404(
    settings: Settings, client: TestClient, viewer: Headers
) -> None:
    run_id, tid = record_task(settings, None)
    unknown_run = client.get(url(999, tid), headers=viewer)
    assert unknown_run.status_code == 404 and "no run with id 999" in unknown_run.json()["detail"]
    unknown_task = client.get(url(run_id, 888), headers=viewer)
    assert unknown_task.status_code == 404
    detail = unknown_task.json()["detail"]
    assert "no task of transformation 888" in detail and f"this run: {tid}" in detail


def test_a_notebook_gone_from_the_lake_is_404(
    settings: Settings, client: TestClient, viewer: Headers
) -> None:
    run_id, tid = record_task(settings, lake_location(settings, "deleted.ipynb"))
    response = client.get(url(run_id, tid), headers=viewer)
    assert response.status_code == 404
    assert "is no longer in the lake" in response.json()["detail"]


@pytest.mark.parametrize(
    ("where", "content", "message"),
    [
        ("outside", "{}", "is not inside the lake"),
        ("lake", "not json at all", "is not a Jupyter notebook"),
        ("lake", "[]", "is not a Jupyter notebook"),
        ("lake", '{"cells": 5, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "is not a"),
    ],
)
def test_a_bad_location_or_file_is_a_lake_error(
    settings: Settings,
    client: TestClient,
    viewer: Headers,
    tmp_path: Path,
    where: str,
    content: str,
    message: str,
) -> None:
    location = str(tmp_path / "x.ipynb") if where == "outside" else lake_location(settings)
    write(location, content)
    run_id, tid = record_task(settings, location)
    response = client.get(url(run_id, tid), headers=viewer)
    assert response.status_code == 502
    assert message in response.json()["detail"]


def test_notebooks_need_a_login(settings: Settings, client: TestClient) -> None:
    assert client.get(url(1, 1)).status_code == 401
