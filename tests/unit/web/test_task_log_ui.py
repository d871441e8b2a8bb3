"""A task's log in the UI: linked from the run, shown whole and masked, searched, followed live."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.helpers.session_helper import SessionHelper
from core.runner.report import task_log_path
from core.runs import begin_task, end_task, finish_run, start_run, task_runs
from core.secret import set_secret
from core.service.pipelines import pipeline_plan
from core.settings import Settings

SECRET = "pa55-w0rd-xyz"


@pytest.fixture
def run(settings: Settings) -> tuple[int, int, str]:
    """A failed run of pipeline 1 whose first task logged three lines, one with a password."""
    set_secret("dev/SFTP/acme/read", {"host": "h", "user": "u", "password": SECRET}, settings)
    with SessionHelper(settings, actor="test") as session:
        plan = pipeline_plan(session, 1)
        run_id = start_run(session, plan, "alice").id
        task = plan.tasks[0]
        end_task(session, begin_task(session, run_id, task.transformation_id), "failed")
        finish_run(session, run_id, failed=True)
    path = task_log_path(settings, run_id, task.task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"reading in.csv\nlogin u / {SECRET}\nValueError: bad row 7\n")
    return run_id, task.transformation_id, task.task_id


def test_the_run_page_links_each_started_task_to_its_log(
    client: TestClient, as_viewer: str, run: tuple[int, int, str]
) -> None:
    run_id, tid, _ = run
    page = client.get(f"/runs/{run_id}").text
    assert page.count('class="button log-link"') == 1  # only the task that started
    assert f'href="/runs/{run_id}/tasks/{tid}/log"' in page


def test_a_finished_task_s_log_is_shown_whole_with_its_secret_masked(
    client: TestClient, as_viewer: str, run: tuple[int, int, str]
) -> None:
    run_id, tid, task_id = run
    page = client.get(f"/runs/{run_id}/tasks/{tid}/log")
    assert page.status_code == 200
    assert f"Log of {task_id}" in page.text and "The whole log." in page.text
    assert "login u / ***" in page.text and SECRET not in page.text
    assert 'id="log-follow"' not in page.text  # ended: nothing to follow
    assert f"/api/runs/{run_id}/tasks/{tid}/log?download=true" in page.text


def test_searching_shows_the_numbered_lines_that_hold_the_text(
    client: TestClient, as_viewer: str, run: tuple[int, int, str]
) -> None:
    run_id, tid, _ = run
    page = client.get(f"/runs/{run_id}/tasks/{tid}/log", params={"q": "BAD ROW"}).text
    assert "1 line holding" in page
    assert '<td class="num muted">3</td>' in page and "<mark>bad row</mark> 7" in page
    nothing = client.get(f"/runs/{run_id}/tasks/{tid}/log", params={"q": SECRET}).text
    assert "No line holds it." in nothing  # the secret is masked before it is searched


def test_a_running_task_is_followed_until_it_ends(
    settings: Settings, client: TestClient, as_viewer: str, run: tuple[int, int, str]
) -> None:
    run_id, tid, _ = run
    with SessionHelper(settings, actor="test") as session:
        begin_task(session, run_id, tid)  # a resume: running again
    page = client.get(f"/runs/{run_id}/tasks/{tid}/log").text
    assert "new lines appear as the task writes them" in page
    size = task_log_path(settings, run_id, run[2]).stat().st_size
    assert f"/log/follow?offset={size}" in page
    with task_log_path(settings, run_id, run[2]).open("a") as log:
        log.write("retrying row 7 <ok>\n")
    more = client.get(f"/runs/{run_id}/tasks/{tid}/log/follow", params={"offset": size}).text
    assert 'hx-swap-oob="beforeend:#log-text">retrying row 7 &lt;ok&gt;\n</pre>' in more
    assert 'hx-trigger="every 2s"' in more  # still running: it asks again
    with SessionHelper(settings, actor="test") as session:
        end_task(session, task_runs(session, run_id)[tid], "success")
    done = client.get(f"/runs/{run_id}/tasks/{tid}/log/follow", params={"offset": size + 20}).text
    assert "The task ended success" in done and "hx-trigger" not in done


def test_a_log_needs_a_signed_in_user_and_an_existing_task(
    client: TestClient, run: tuple[int, int, str], as_viewer: str
) -> None:
    run_id, tid, _ = run
    missing = client.get(f"/runs/{run_id}/tasks/99999/log")
    assert missing.status_code == 404 and "has no task of transformation 99999" in missing.text
    client.cookies.clear()
    anonymous = client.get(f"/runs/{run_id}/tasks/{tid}/log", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 401)
