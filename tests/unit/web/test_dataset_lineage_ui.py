"""The dataset page: upstream and downstream datasets across pipelines, and who consumes them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.service.catalog import PIPELINES
from core.service.resources import update_row

KEY = "acme_pharma/zentrix/master/patient_status"


def _items(html: str, list_id: str) -> list[str]:
    block = re.search(rf'id="{list_id}">(.*?)</(ul|p)>', html, re.S).group(1)
    return re.findall(r"<li>(?:<a [^>]*>)?([^<]+)", block)


def test_the_dataset_page_shows_its_lineage_across_pipelines(
    client: TestClient, settings, as_viewer: str
) -> None:
    with SessionHelper(settings) as session:  # bluepeak's pipeline waits on patient_status
        other = session.scalar(
            select(cfg.Pipeline).where(cfg.Pipeline.name != "acme_zentrix_patient_status")
        )
        update_row(
            session,
            PIPELINES,
            other.id,
            {"run_frequency": "none", "dataset_schedule": {"any": [KEY]}},
            other.version,
        )
        other_name = other.name
    page = client.get(f"/datasets/{KEY}")
    assert page.status_code == 200, page.text
    html = page.text
    assert _items(html, "writers") == ["acme_zentrix_patient_status"]
    assert _items(html, "readers") == ["acme_zentrix_patient_status"]
    assert _items(html, "scheduled") == [other_name]
    upstream = _items(html, "upstream")
    assert upstream[0] == "acme_pharma/zentrix/master/status_clean"  # nearest first
    assert "acme_pharma/zentrix/raw/extract_from_landing" in upstream
    assert "acme_pharma/zentrix/ingest/pharmacy_b_status" in upstream
    downstream = _items(html, "downstream")
    assert downstream[0] == "acme_pharma/zentrix/enrich/patient_journeys"
    assert "acme_pharma/zentrix/metrics/fill_metrics" in downstream
    # across pipelines: the datasets of the pipeline that starts when it is published
    assert any(key.startswith("bluepeak_bio/") for key in downstream), downstream
    assert f'href="/datasets/{upstream[0]}"' in html


def test_an_unknown_dataset_is_a_404_naming_close_ones(client: TestClient, as_viewer: str) -> None:
    page = client.get("/datasets/acme_pharma/zentrix/master/patient_statu")
    assert page.status_code == 404
    assert KEY in page.text


def test_the_pipeline_page_sets_a_dataset_schedule_and_shows_a_refusal(
    client: TestClient, as_editor: str, settings
) -> None:
    with SessionHelper(settings) as session:
        acme = session.scalar(
            select(cfg.Pipeline).where(cfg.Pipeline.name == "acme_zentrix_patient_status")
        )
        other = session.scalar(select(cfg.Pipeline).where(cfg.Pipeline.id != acme.id))
        other = update_row(session, PIPELINES, other.id, {"run_frequency": "none"}, other.version)
        acme_id, acme_version = acme.id, acme.version
        other_id, other_version = other.id, other.version
    saved = client.post(
        f"/pipelines/{other_id}/schedule",
        data={
            "csrf_token": as_editor,
            "condition": "all",
            "datasets": f"{KEY}\n",
            "version": other_version,
        },
    )
    assert saved.status_code == 200, saved.text  # redirected to the pipeline page
    assert f'<a href="/datasets/{KEY}">{KEY}</a>' in saved.text
    refused = client.post(  # acme runs daily: a cron and datasets together are refused
        f"/pipelines/{acme_id}/schedule",
        data={
            "csrf_token": as_editor,
            "condition": "any",
            "datasets": "nobody/x/master/y",
            "version": acme_version,
        },
    )
    assert refused.status_code == 422
    assert "set run_frequency to none" in refused.text
    with SessionHelper(settings) as session:
        assert session.get(cfg.Pipeline, acme_id).dataset_schedule is None
