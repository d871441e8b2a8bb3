"""The demo end to end, its metrics checked against an independent computation."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from core.demo.run import run_demo
from core.lake import DatasetContract
from core.settings import load_settings

pytestmark = pytest.mark.integration
STATUS = {"ACT": "active", "SHP": "shipped", "CAN": "cancelled", "PND": "pending"}


def _expected_metrics(files: dict) -> pd.DataFrame:
    """Fill rate and days to first fill per month, straight from the generated files."""
    a = pd.read_csv(files["pharmacy_a"], sep="|", dtype=str).set_axis(
        ["patient_id", "status_code", "status_date", "quantity"], axis=1
    )
    b = pd.read_csv(files["pharmacy_b"], dtype=str).set_axis(
        ["patient_id", "status_code", "status_date", "quantity"], axis=1
    )
    rows = pd.concat([a, b])
    rows["status_date"] = pd.to_datetime(rows["status_date"], format="%Y-%m-%d", errors="coerce")
    rows["status"] = rows["status_code"].map(STATUS)
    rows = rows.dropna(subset=["status"])  # unknown codes go to the rejects dataset
    shipped = rows[rows["status"] == "shipped"].groupby("patient_id")["status_date"].min()
    journeys = pd.DataFrame(
        {"first": rows.groupby("patient_id")["status_date"].min(), "fill": shipped}
    ).reset_index()
    journeys["month"] = journeys["first"].dt.to_period("M").dt.start_time.dt.date
    journeys["filled"] = journeys["fill"].notna().astype(float)
    journeys["days"] = (journeys["fill"] - journeys["first"]).dt.days
    metrics = (
        journeys.groupby("month", dropna=False)
        .agg(fill_rate=("filled", "mean"), days_to_first_fill=("days", "mean"))
        .reset_index()
    )
    return metrics.sort_values("month", na_position="last").reset_index(drop=True)


def test_the_demo_computes_the_same_metrics_as_an_independent_computation(core_env) -> None:
    settings = load_settings()
    result = run_demo(settings, rows=6_000, workers=2, day=dt.date(2026, 11, 25))
    assert result.report.state == "success", [(t.task_id, t.error) for t in result.report.tasks]
    metrics = DatasetContract(
        "acme_pharma", "zentrix", "metrics", "fill_metrics", settings=settings
    )
    got = metrics.fetch(run_id=result.report.run_id).drop(
        columns=[
            c
            for c in metrics.fetch(run_id=result.report.run_id).columns
            if c.startswith("__metadata_")
        ]
    )
    got = got.sort_values("month", na_position="last").reset_index(drop=True)
    expected = _expected_metrics(result.source.files)
    months = [[None if pd.isna(m) else m for m in frame["month"]] for frame in (got, expected)]
    assert months[0] == months[1]
    assert months[0][-1] is None  # patients whose every date was malformed
    pd.testing.assert_series_equal(got["fill_rate"], expected["fill_rate"], check_names=False)
    pd.testing.assert_series_equal(
        got["days_to_first_fill"].astype(float), expected["days_to_first_fill"], check_names=False
    )
    outbox = result.outbox_files()
    assert len(outbox) == 1 and outbox[0].read_text().startswith('"month","fill_rate"')
    # the sample world's checks ran before each publish, and every one passed
    checked = {c.task_id.rsplit("_", 1)[0]: c.counts for c in result.checks}
    assert checked == {
        "master_value_mapping": {"pass": 3},
        "enrich_sql": {"pass": 2},
        "metrics_sql": {"pass": 2},
    }
    assert not any(c.problems for c in result.checks)


def test_a_second_demo_run_gives_the_same_outputs_and_duplicates_nothing(core_env) -> None:
    settings = load_settings()
    day = dt.date(2026, 11, 25)
    first = run_demo(settings, rows=2_000, day=day)
    second = run_demo(settings, rows=2_000, day=day)
    assert (first.report.state, second.report.state) == ("success", "success")
    status = DatasetContract(
        "acme_pharma", "zentrix", "master", "patient_status", settings=settings
    )
    one, two = (status.fetch(run_id=r.report.run_id) for r in (first, second))
    assert len(one) == len(two) > 0
    assert len(status.fetch()) == len(one) + len(two)  # each run once, nothing duplicated
    assert first.outbox_files()[0].read_text() == second.outbox_files()[0].read_text()
