"""Inlets and outlets: every TransformOperator declares its contracts as Airflow Assets."""

from __future__ import annotations

from airflow.sdk import Asset

from core.airflow.dagbuilder.dag_builder import DagBuilder
from core.airflow.plugins.transform_operator import TransformOperator
from core.settings import load_settings


def _transforms(dag) -> list[TransformOperator]:
    return [t for t in dag.tasks if isinstance(t, TransformOperator)]


def _uri(settings, company, brand, state, dataset) -> str:
    return f"file://{settings.home / 'lake'}/{settings.branch}/{company}/{brand}/{state}/{dataset}"


def test_every_task_of_the_sample_pipelines_declares_its_contracts(core_env) -> None:
    settings = load_settings()
    dags = DagBuilder(settings).do_build_dags()
    assert len(dags) >= 2
    for dag in dags.values():
        outputs = {}
        for task in _transforms(dag):
            assert len(task.outlets) == 1, task.task_id
            (outlet,) = task.outlets
            assert isinstance(outlet, Asset) and outlet.group == "core"
            assert outlet.uri == task.lineage.output.uri
            assert outlet.uri.startswith(f"file://{settings.home / 'lake'}/{settings.branch}/")
            outputs[outlet.uri] = task.task_id
        for task in _transforms(dag):
            for inlet in task.inlets:
                # every input is the output of a task upstream of it in the same DAG
                assert inlet.uri in outputs, (task.task_id, inlet.uri)
                assert outputs[inlet.uri] in task.get_flat_relative_ids(upstream=True)
            if task.transform.state not in ("raw",):
                assert task.inlets, f"{dag.dag_id}.{task.task_id} declares no input"


def test_the_inlets_are_the_datasets_the_variables_name(core_env) -> None:
    settings = load_settings()
    dag = DagBuilder(settings).do_build_dags()["acme_zentrix_patient_status"]
    by_output = {t.outlets[0].uri.rsplit("/", 2)[-2:][1]: t for t in _transforms(dag)}

    def uri(state, dataset):
        return _uri(settings, "acme_pharma", "zentrix", state, dataset)

    def inlets(dataset):
        return [a.uri for a in by_output[dataset].inlets]

    assert inlets("extract_from_landing") == []
    assert inlets("pharmacy_a_status") == [uri("raw", "extract_from_landing")]
    assert inlets("pharmacy_a_mapped") == [uri("ingest", "pharmacy_a_status")]
    assert inlets("status_union") == [
        uri("ingest", "pharmacy_a_mapped"),
        uri("ingest", "pharmacy_b_mapped"),
    ]
    assert inlets("patient_journeys") == [uri("master", "patient_status")]
    assert inlets("publish_to_s3") == [uri("metrics", "fill_metrics")]
    assert by_output["patient_journeys"].outlets == [
        Asset(
            name=uri("enrich", "patient_journeys"),
            uri=uri("enrich", "patient_journeys"),
            group="core",
        )
    ]


def test_an_s3_lake_gives_s3_asset_uris_airflow_accepts(core_env, monkeypatch) -> None:
    monkeypatch.setenv("CORE_LAKE_ROOT", "s3://core-lake/prefix/")
    settings = load_settings()
    dag = DagBuilder(settings).do_build_dags()["acme_zentrix_patient_status"]
    uris = {a.uri for t in _transforms(dag) for a in (*t.inlets, *t.outlets)}
    assert (
        f"s3://core-lake/prefix/{settings.branch}/acme_pharma/zentrix/master/patient_status" in uris
    )
    assert all(
        u.startswith(f"s3://core-lake/prefix/{settings.branch}/acme_pharma/zentrix/") for u in uris
    )
    # Airflow's own normalisation (the Amazon provider's s3 handler) leaves them as they are
    assert {Asset(uri=u).uri for u in uris} == uris


def test_a_dataset_scheduled_pipeline_is_scheduled_on_the_upstream_assets(core_env) -> None:
    from airflow.sdk import AssetAll, AssetAny

    from core.airflow.dagbuilder.shape import dag_shape
    from tests.support.lineage import CHAIN
    from tests.support.worlds import load_test_world

    settings = load_test_world(CHAIN)
    builder = DagBuilder(settings)
    dags = builder.do_build_dags()
    (numbers,) = _transforms(dags["upstream"])[0].outlets
    (noop,) = _transforms(dags["report"])[0].outlets
    assert isinstance(dags["report"].timetable.asset_condition, AssetAny)
    assert list(dags["report"].timetable.asset_condition.objects) == [numbers]
    assert isinstance(dags["summary"].timetable.asset_condition, AssetAll)
    assert list(dags["summary"].timetable.asset_condition.objects) == [numbers, noop]
    assert type(dags["unrelated"].timetable).__name__ == "NullTimetable"
    (report,) = [p for p in builder._get_pipelines() if p.name == "report"]
    assert dag_shape(report, settings).schedule == "any(acme/zentrix/ingest/numbers)"
