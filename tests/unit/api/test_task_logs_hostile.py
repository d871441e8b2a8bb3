"""A configuration that prints a secret into its task's log: every way out of CORE masks it.

An editor can configure a pipeline with a transformation that prints what it reads
(a careless template, or a variable that echoes). The worker's own log file is on the
server; what people read of it — the API (tail, download, follow), the UI's log page and
its search, ``core runs log`` — must not show the secret.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.api.app import create_app
from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from core.runner.report import task_log_path
from core.secret import set_secret
from core.settings import Settings
from tests.support.cli import core
from tests.support.worlds import load_test_world
from tests.unit.api.worlds import users_for

PASSWORD = "p@ss:w/rd-canary-4c1e"  # URL-escaped in the URL: p%40ss%3Aw%2Frd-canary-4c1e
WORLD = """
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: acme, brands: [{name: zentrix}]}]
templates:
  - {name: leaky, state: ingest, entrypoint: "tests.unit.transforms.sample_transforms:leaky"}
pipelines:
  - name: careless
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{template: leaky}]
"""


@pytest.fixture
def leaked(core_env: Path) -> tuple[Settings, int, int]:
    """The careless pipeline run once: its log file holds the password, twice over."""
    settings = load_test_world(WORLD)
    secret = {"user": "etl", "password": PASSWORD, "rdbms": "postgresql", "host": "db"}
    set_secret("dev/database/warehouse/read", secret | {"database": "dw"}, settings)
    assert core("run", "careless") == 0
    with SessionHelper(settings) as session:
        task = load_plan(session, "careless").tasks[0]
    on_disk = task_log_path(settings, 1, task.task_id).read_text()
    assert PASSWORD in on_disk and "p%40ss%3Aw%2Frd-canary-4c1e" in on_disk  # the worker's file
    return settings, 1, task.transformation_id


def _clean(text: str) -> None:
    assert "canary" not in text, text


def test_the_api_the_ui_and_the_cli_show_the_log_with_the_secret_masked(
    leaked: tuple[Settings, int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, run_id, tid = leaked
    url = f"/api/runs/{run_id}/tasks/{tid}/log"
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        viewer = users_for(settings)["viewer"]
        tail = client.get(url, headers=viewer).json()
        assert "connecting as etl with *** via postgresql" in tail["text"]
        _clean(tail["text"])
        _clean(client.get(url, params={"download": True}, headers=viewer).text)
        _clean(client.get(url, params={"follow": True}, headers=viewer).text)
        _clean(client.get(url, params={"offset": 0, "limit": 7}, headers=viewer).text)
    assert core("runs", "log", str(run_id), str(tid)) == 0
    printed = capsys.readouterr().out
    assert "connecting as etl with ***" in printed
    _clean(printed)


def test_searching_the_log_for_the_secret_finds_nothing(
    leaked: tuple[Settings, int, int],
) -> None:
    from tests.unit.web.conftest import log_in

    settings, run_id, tid = leaked
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        users_for(settings)
        log_in(client, "viewer@example.com")
        page = client.get(f"/runs/{run_id}/tasks/{tid}/log").text
        assert "connecting as etl with ***" in page
        _clean(page)
        found = client.get(f"/runs/{run_id}/tasks/{tid}/log", params={"q": "canary"}).text
        assert "No line holds it." in found
