"""Dataset previews and diffs through the API, over data published to the lake directly."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from core.api.app import create_app
from core.errors import InvalidInputError
from core.helpers.session_helper import SessionHelper
from core.lake.contracts import contract_from_transformation_id
from core.plan import load_plan
from core.runs import start_run
from core.service import datasets as service
from core.settings import Settings
from tests.unit.api.worlds import transformation_ids, users_for


@pytest.fixture
def wclient(world: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(world), base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def wviewer(world: Settings) -> dict[str, str]:
    return users_for(world)["viewer"]


@pytest.fixture
def numbers(world: Settings) -> int:
    """The id of the small pipeline's ingest transformation (dataset ingest/numbers)."""
    return transformation_ids(world, "small")["numbers"]


def publish(settings: Settings, transformation_id: int, table: pa.Table) -> int:
    """Publish ``table`` as a new run's output of the transformation; the run id."""
    with SessionHelper(settings, actor="test") as session:
        run_id = start_run(session, load_plan(session, "small"), "test").id
        contract = contract_from_transformation_id(transformation_id, session, settings)
        contract.publish(table, run_id)
    return run_id


def test_a_preview_shows_the_latest_runs_first_rows_json_safe(
    world: Settings, wclient: TestClient, wviewer: dict[str, str], numbers: int
) -> None:
    publish(world, numbers, pa.table({"n": [1]}))
    table = pa.table(
        {
            "n": [1, 2, 3],
            "day": [dt.date(2024, 1, 2), None, dt.date(2024, 3, 4)],
            "at": [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)] * 3,
            "price": pa.array([decimal.Decimal("1.50")] * 3, pa.decimal128(5, 2)),
            "ratio": [0.5, float("nan"), float("inf")],
            "tags": [["a"], [], None],
        }
    )
    latest = publish(world, numbers, table)
    response = wclient.get(f"/api/datasets/{numbers}/preview?limit=2", headers=wviewer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["run_id"] == latest and body["total_rows"] == 3
    assert body["columns"] == ["n", "day", "at", "price", "ratio", "tags"]  # no __metadata_*
    assert body["dataset"].endswith("/acme/zentrix/ingest/numbers")
    assert body["rows"] == [
        [1, "2024-01-02", "2024-01-02 03:04:05+00:00", "1.50", 0.5, ["a"]],
        [2, None, "2024-01-02 03:04:05+00:00", "1.50", "nan", []],
    ]


def test_a_preview_of_a_given_run(
    world: Settings, wclient: TestClient, wviewer: dict[str, str], numbers: int
) -> None:
    first = publish(world, numbers, pa.table({"n": [10, 11]}))
    publish(world, numbers, pa.table({"n": [20]}))
    body = wclient.get(f"/api/datasets/{numbers}/preview?run_id={first}", headers=wviewer).json()
    assert body["run_id"] == first and body["rows"] == [[10], [11]] and body["total_rows"] == 2


def test_a_run_without_data_is_404_naming_the_runs_that_have_some(
    world: Settings, wclient: TestClient, wviewer: dict[str, str], numbers: int
) -> None:
    first = publish(world, numbers, pa.table({"n": [1]}))
    response = wclient.get(f"/api/datasets/{numbers}/preview?run_id=77", headers=wviewer)
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "has no rows for run 77" in detail and f"runs with data: {first}" in detail


def test_a_dataset_never_published_is_404(
    world: Settings, wclient: TestClient, wviewer: dict[str, str]
) -> None:
    doubled = transformation_ids(world, "small")["doubled"]
    response = wclient.get(f"/api/datasets/{doubled}/preview", headers=wviewer)
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert f"transformation {doubled} has not published 'doubled' yet" in detail
    assert "run its pipeline first" in detail


def test_an_unknown_transformation_is_404(wclient: TestClient, wviewer: dict[str, str]) -> None:
    response = wclient.get("/api/datasets/999/preview", headers=wviewer)
    assert response.status_code == 404
    assert "no transformation has id 999" in response.json()["detail"]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "run_id=0", "run_id=x", "run_id=3000000000"]
)
def test_bad_parameters_are_422(
    wclient: TestClient, wviewer: dict[str, str], numbers: int, query: str
) -> None:
    for route in ("preview", "diff"):
        response = wclient.get(f"/api/datasets/{numbers}/{route}?{query}", headers=wviewer)
        assert response.status_code == 422, (route, query)


def test_the_service_bounds_the_limit_too(world: Settings, numbers: int) -> None:
    with SessionHelper(world) as session, pytest.raises(InvalidInputError, match="1 to 1000"):
        service.preview(world, session, numbers, limit=5000)


def test_previews_need_a_login(wclient: TestClient, numbers: int) -> None:
    assert wclient.get(f"/api/datasets/{numbers}/preview").status_code == 401


def test_a_diff_against_the_previous_run_with_data(
    world: Settings, wclient: TestClient, wviewer: dict[str, str], numbers: int
) -> None:
    old = publish(world, numbers, pa.table({"n": [1, 2, 3]}))
    publish(world, transformation_ids(world, "small")["doubled"], pa.table({"n": [0]}))
    new = publish(world, numbers, pa.table({"n": [2, 3, 4, 5]}))
    body = wclient.get(f"/api/datasets/{numbers}/diff?limit=1", headers=wviewer).json()
    assert (body["run_id"], body["against"]) == (new, old)  # the run in between has no data here
    assert (body["added_count"], body["removed_count"]) == (2, 1)
    assert body["added"]["total_rows"] == 2 and len(body["added"]["rows"]) == 1
    assert body["added"]["rows"][0][0] in (4, 5) and body["added"]["run_id"] == new
    assert body["removed"]["rows"] == [[1]] and body["removed"]["run_id"] == old
    reverse = f"/api/datasets/{numbers}/diff?run_id={old}&against={new}"
    swapped = wclient.get(reverse, headers=wviewer).json()
    assert (swapped["added_count"], swapped["removed_count"]) == (1, 2)


def test_a_diff_without_an_earlier_run_is_404(
    world: Settings, wclient: TestClient, wviewer: dict[str, str], numbers: int
) -> None:
    only = publish(world, numbers, pa.table({"n": [1]}))
    response = wclient.get(f"/api/datasets/{numbers}/diff?run_id={only}", headers=wviewer)
    assert response.status_code == 404
    assert f"has no rows for a run before run {only}" in response.json()["detail"]
    response = wclient.get(f"/api/datasets/{numbers}/diff?against=55", headers=wviewer)
    assert response.status_code == 404 and "has no rows for run 55" in response.json()["detail"]


def test_a_raw_transformation_has_no_dataset_to_preview(
    client: TestClient, viewer: dict[str, str]
) -> None:
    # The sample configuration: its first pipeline starts with extract_from_landing (raw).
    pipelines = client.get("/api/pipelines?q=acme_zentrix", headers=viewer).json()["items"]
    plan = client.get(f"/api/pipelines/{pipelines[0]['id']}/plan", headers=viewer).json()
    raw = plan["groups"][0]["tasks"][0]
    assert raw["state"] == "raw"
    response = client.get(f"/api/datasets/{raw['transformation_id']}/preview", headers=viewer)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "is in state 'raw'" in detail and "not a dataset" in detail
