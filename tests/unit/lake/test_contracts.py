"""Contracts built from the configuration (a ConfigurationMocker world)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event, select

from core.errors import NotFoundError
from core.helpers.configuration_mocker import ConfigurationMocker
from core.lake import (
    DatasetContract,
    RawContract,
    contract_from_transformation_id,
    pipeline_contracts,
    relative_contract,
)
from core.models import configuration as cfg
from core.settings import Settings

PIPELINE = "acme_zentrix_specialty_pharmacy"


@pytest.fixture
def world() -> Iterator[ConfigurationMocker]:
    mock = ConfigurationMocker()
    mock.generate_mocks()
    session = mock.get_session()
    template = cfg.TransformationTemplate(
        name="named_output",
        variable_structures={"dataset": {"type": "string", "required": False}},
    )
    ingest = session.scalars(
        select(cfg.PipelineState)
        .join(cfg.PipelineState.pipeline)
        .join(cfg.PipelineState.pipeline_state_type)
        .where(cfg.Pipeline.name == PIPELINE, cfg.PipelineStateType.name == "ingest")
    ).one()
    named = cfg.Transformation(transformation_template=template, graph_order=1)
    named.set_variables({"dataset": "pharmacy_status"})
    ingest.transformations.append(named)
    ingest.transformations.append(
        cfg.Transformation(transformation_template=template, graph_order=2)
    )
    session.commit()
    yield mock
    session.close()


def ids_by_template(mock: ConfigurationMocker, template: str) -> list[int]:
    T = cfg.Transformation
    query = (
        select(T.id)
        .join(T.transformation_template)
        .join(T.pipeline_state)
        .join(cfg.PipelineState.pipeline)
        .where(cfg.TransformationTemplate.name == template, cfg.Pipeline.name == PIPELINE)
        .order_by(T.id)
    )
    return list(mock.get_session().scalars(query))


def test_raw_transformation_gives_a_raw_contract(
    world: ConfigurationMocker, lake_settings: Settings
) -> None:
    (t_id,) = ids_by_template(world, "extract_from_landing")
    contract = contract_from_transformation_id(t_id, world.get_session(), lake_settings)
    assert isinstance(contract, RawContract)
    assert contract.key == "dev/acme_pharma/zentrix/raw/extract_from_landing"


def test_dataset_variable_names_the_dataset(
    world: ConfigurationMocker, lake_settings: Settings
) -> None:
    named, unnamed = ids_by_template(world, "named_output")
    session = world.get_session()
    contract = contract_from_transformation_id(named, session, lake_settings)
    assert isinstance(contract, DatasetContract)
    assert (contract.parent, contract.child, contract.state) == ("acme_pharma", "zentrix", "ingest")
    assert contract.dataset == "pharmacy_status"
    fallback = contract_from_transformation_id(unnamed, session, lake_settings)
    assert fallback.dataset == "named_output"


def test_template_name_when_no_dataset_variable(
    world: ConfigurationMocker, lake_settings: Settings
) -> None:
    t_id = ids_by_template(world, "initial_ingest")[0]
    contract = contract_from_transformation_id(t_id, world.get_session(), lake_settings)
    assert contract.dataset == "initial_ingest"


def test_contract_is_built_in_one_query(
    world: ConfigurationMocker, lake_settings: Settings
) -> None:
    named, _ = ids_by_template(world, "named_output")
    session = world.get_session()
    session.expunge_all()
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(world.engine, "before_cursor_execute", listener)
    try:
        contract_from_transformation_id(named, session, lake_settings)
    finally:
        event.remove(world.engine, "before_cursor_execute", listener)
    assert len(statements) == 1


def test_relative_contracts_in_the_same_pipeline(
    world: ConfigurationMocker, lake_settings: Settings
) -> None:
    named, _ = ids_by_template(world, "named_output")
    session = world.get_session()
    raw = relative_contract(named, "extract_from_landing", session, settings=lake_settings)
    assert isinstance(raw, RawContract)
    assert raw.state == "raw"
    same = relative_contract(named, "pharmacy_status", session, "ingest", lake_settings)
    assert same.key == "dev/acme_pharma/zentrix/ingest/pharmacy_status"
    states = [c.state for c in pipeline_contracts(named, session, lake_settings)]
    assert states == ["raw", "ingest", "ingest", "ingest", "ingest"]
    with pytest.raises(NotFoundError, match="no dataset 'pharmacy_statu'.*Did you mean"):
        relative_contract(named, "pharmacy_statu", session, settings=lake_settings)


def test_unknown_transformation(world: ConfigurationMocker, lake_settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="no transformation has id 9999"):
        contract_from_transformation_id(9999, world.get_session(), lake_settings)
