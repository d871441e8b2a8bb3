"""The data transforms' templates agree with the sample configuration, which runs end to end."""

from __future__ import annotations

import datetime as dt

from core.database import migrate
from core.database.seed import load_world, sample_world
from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract, RawContract
from core.models.variables import load_schema
from core.plan import load_plan
from core.runs import start_run
from core.settings import load_settings
from core.transforms.library import BUILTINS, catalogue
from core.transforms.runtime import run_transformation


def test_every_sample_transformation_fits_its_builtin_template() -> None:
    from core.helpers.configuration_mocker import ConfigurationMocker
    from core.models import configuration as cfg

    session = ConfigurationMocker().get_session()
    load_world(session, sample_world())
    session.commit()
    templates = {t.name for t in session.query(cfg.TransformationTemplate)}
    assert templates == set(BUILTINS)
    for transformation in session.query(cfg.Transformation):
        assert transformation.check() == [], transformation.label


def test_each_builtin_entrypoint_is_its_catalogue_entry() -> None:
    assert {t.name: t.entrypoint for t in catalogue()} == BUILTINS
    for template in catalogue():
        load_schema(template.variables, template.name)  # a valid schema


PHARMACY_A = b"""PatientID|StatusCode|StatusDate|Qty
A1|ACT|2024-01-03|1
A1|SHP|2024-01-10|30
A2|ACT|2024-01-15|1
"""
PHARMACY_B = b"""pt_id,status,status_dt,units
B1,PND,2024-02-01,"1,000"
B1,SHP,2024-02-11,2
"""


def test_the_sample_patient_status_pipeline_runs_from_ingest_to_metrics(monkeypatch) -> None:
    reads: list[bool] = []  # whether each read of an upstream dataset took the metadata columns
    fetch = DatasetContract.fetch_arrow

    def spied(self, *args, metadata=True, **kwargs):
        reads.append(metadata)
        return fetch(self, *args, metadata=metadata, **kwargs)

    monkeypatch.setattr(DatasetContract, "fetch_arrow", spied)
    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.embedded_database_url)
    raw = RawContract("acme_pharma", "zentrix", "raw", "extract_from_landing", settings=settings)
    raw.put_file(PHARMACY_A, "pharmacy_a_20240301.csv")
    raw.put_file(PHARMACY_B, "pharmacy_b_20240301.csv")
    with SessionHelper(settings) as session:
        load_world(session, sample_world())
        session.commit()
        plan = load_plan(session, "acme_zentrix_patient_status")
        run_id = start_run(session, plan, "test").id
        for task in plan.tasks:
            if task.state not in ("raw", "dimensional"):
                outcome = run_transformation(settings, session, task.transformation_id, run_id)
                assert outcome.succeeded, f"{task.template}: {outcome.message}"
    # The standard transforms read without the columns their publish writes anew.
    assert reads and not any(reads), reads
    status = DatasetContract(
        "acme_pharma", "zentrix", "master", "patient_status", settings=settings
    )
    rows = status.fetch_arrow(run_id=run_id).sort_by("status_date").to_pylist()
    assert [(r["pharmacy"], r["status_code"], r["quantity"]) for r in rows] == [
        ("pharmacy_a", "active", 1),
        ("pharmacy_a", "shipped", 30),
        ("pharmacy_a", "active", 1),
        ("pharmacy_b", "pending", 1000),
        ("pharmacy_b", "shipped", 2),
    ]
    assert rows[0]["__metadata_source_file"] == "pharmacy_a_20240301.csv"
    metrics = DatasetContract(
        "acme_pharma", "zentrix", "metrics", "fill_metrics", settings=settings
    )
    months = metrics.fetch_arrow(run_id=run_id).sort_by("month").to_pylist()
    assert [(m["fill_rate"], m["days_to_first_fill"]) for m in months] == [(0.5, 7.0), (1.0, 10.0)]
    assert [
        m["month"].date() if isinstance(m["month"], dt.datetime) else m["month"] for m in months
    ] == [
        dt.date(2024, 1, 1),
        dt.date(2024, 2, 1),
    ]
