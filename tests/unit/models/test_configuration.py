import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import core.models.configuration as config
from core.errors import (
    ConfigurationError,
    ExtraTransformationVariableError,
    InvalidNameError,
    MissingTransformationVariableError,
    TransformationVariableTypeError,
    VariableSchemaError,
)
from core.helpers.configuration_mocker import ConfigurationMocker


@pytest.fixture
def session():
    mock = ConfigurationMocker(actor="tester@example.com")
    mock.generate_mocks()
    yield mock.get_session()
    mock.get_session().close()


def _pipeline(session, name: str) -> config.Pipeline:
    return session.scalars(select(config.Pipeline).where(config.Pipeline.name == name)).one()


def test_the_dev_guide_example_prints_2_then_the_name_then_3(capsys) -> None:
    # Verbatim from the dev guide's "Configurations" section.
    from core.helpers.configuration_mocker import ConfigurationMocker as CMock

    mock = CMock()
    session = mock.get_session()
    transform_template = config.TransformationTemplate
    mock.generate_mocks()
    total = session.query(transform_template).count()
    print(total)
    session.add(transform_template(name="great_new_transform_template"))
    session.commit()
    added = session.query(transform_template).order_by(transform_template.id.desc()).first()
    print(added.name)
    new_total = session.query(transform_template).count()
    print(new_total)
    assert capsys.readouterr().out.split() == ["2", "great_new_transform_template", "3"]


def test_mock_world_is_small_and_consistent(session) -> None:
    pipelines = session.scalars(select(config.Pipeline)).all()
    assert len(pipelines) == 3
    assert sorted(p.is_active for p in pipelines) == [False, True, True]
    names = [
        t.name
        for t in session.scalars(
            select(config.PipelineStateType).order_by(config.PipelineStateType.graph_order)
        )
    ]
    assert names == list(config.STATE_TYPE_ORDER)
    for transformation in session.scalars(select(config.Transformation)):
        assert transformation.check_variables() == []
    assert session.query(config.RunEvent).count() == 2


def test_each_mocker_has_its_own_database() -> None:
    first, second = ConfigurationMocker(), ConfigurationMocker()
    first.generate_mocks()
    assert second.get_session().query(config.Pipeline).count() == 0


def test_pipeline_names_are_unique(session) -> None:
    existing = _pipeline(session, "acme_lumora_sales")
    session.add(
        config.Pipeline(
            name="acme_lumora_sales", brand=existing.brand, pipeline_type=existing.pipeline_type
        )
    )
    with pytest.raises(IntegrityError, match="UNIQUE constraint failed: pipelines.name"):
        session.flush()


def test_brand_names_are_unique_within_a_company_only(session) -> None:
    acme, bluepeak = (
        session.scalars(
            select(config.PharmaceuticalCompany).where(config.PharmaceuticalCompany.name == name)
        ).one()
        for name in ("acme_pharma", "bluepeak_bio")
    )
    session.add(config.Brand(name="zentrix", pharmaceutical_company=bluepeak))
    session.flush()  # same name, other company: fine
    session.add(config.Brand(name="zentrix", pharmaceutical_company=acme))
    with pytest.raises(IntegrityError, match="UNIQUE constraint failed: brands"):
        session.flush()


def test_invalid_names_are_refused_when_set() -> None:
    with pytest.raises(InvalidNameError, match="pipeline name 'my pipeline'"):
        config.Pipeline(name="my pipeline")
    with pytest.raises(InvalidNameError, match="brand name 'Zentrix'"):
        config.Brand(name="Zentrix")
    with pytest.raises(InvalidNameError, match="run_frequency 'often'"):
        config.Pipeline(name="p", run_frequency="often")


def test_negative_graph_order_is_refused_by_the_model_and_the_database(session) -> None:
    with pytest.raises(ConfigurationError, match="graph_order -1 is not valid"):
        config.Transformation(graph_order=-1)
    state = session.scalars(select(config.PipelineState)).first()
    with pytest.raises(IntegrityError, match="CHECK constraint failed"):
        session.execute(
            config.PipelineState.__table__.update()
            .where(config.PipelineState.__table__.c.id == state.id)
            .values(graph_order=-5)
        )


def test_unknown_kind_and_bad_schema_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="kind 'shell' is not valid"):
        config.TransformationTemplate(name="x", kind="shell")
    with pytest.raises(VariableSchemaError, match="variable 'a' has an invalid spec"):
        config.TransformationTemplate(name="x", variable_structures={"a": {"type": "blob"}})


def test_deleting_a_company_with_brands_is_refused(session) -> None:
    company = session.scalars(select(config.PharmaceuticalCompany)).first()
    with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
        session.execute(
            config.PharmaceuticalCompany.__table__.delete().where(
                config.PharmaceuticalCompany.__table__.c.id == company.id
            )
        )


def test_deleting_a_pipeline_removes_its_states_transformations_and_variables(session) -> None:
    pipeline = _pipeline(session, "acme_lumora_sales")
    states, transformations = (
        session.query(m).count() for m in (config.PipelineState, config.Transformation)
    )
    session.delete(pipeline)
    session.commit()
    assert session.query(config.PipelineState).count() == states - 1
    assert session.query(config.Transformation).count() == transformations - 1
    assert (
        session.query(config.TransformationVariable).filter_by(value="/data/landing/lumora").count()
        == 0
    )


def test_variables_are_typed_with_defaults(session) -> None:
    transformation = session.scalars(
        select(config.Transformation)
        .join(config.Transformation.transformation_template)
        .where(config.TransformationTemplate.name == "initial_ingest")
        .order_by(config.Transformation.id)
    ).first()
    assert transformation.variables == {
        "prefix": "pharmacy_a",
        "delimiter": "|",
        "skip_rows": 0,
        "header": True,
    }


@pytest.mark.parametrize(
    ("values", "error", "fragment"),
    [
        ({"prefix": "x", "skip_rows": "two"}, TransformationVariableTypeError, "'skip_rows'='two'"),
        ({"prefix": "x", "colour": "red"}, ExtraTransformationVariableError, "'colour'='red'"),
    ],
)
def test_each_kind_of_variable_error(session, values, error, fragment) -> None:
    transformation = session.scalars(
        select(config.Transformation)
        .join(config.Transformation.transformation_template)
        .where(config.TransformationTemplate.name == "initial_ingest")
    ).first()
    transformation.set_variables(values)
    with pytest.raises(error) as caught:
        transformation.variables  # noqa: B018
    assert fragment in str(caught.value)
    assert f"transformation {transformation.id} (initial_ingest)" in str(caught.value)


def test_missing_required_variable(session) -> None:
    transformation = session.scalars(select(config.Transformation)).first()
    transformation.set_variables({})
    with pytest.raises(MissingTransformationVariableError, match="'source' \\(string\\)"):
        transformation.variables  # noqa: B018


def test_set_variables_stores_text_and_replaces(session) -> None:
    transformation = session.scalars(
        select(config.Transformation)
        .join(config.Transformation.transformation_template)
        .where(config.TransformationTemplate.name == "initial_ingest")
    ).first()
    transformation.set_variables({"skip_rows": 3, "header": False})
    session.commit()
    assert transformation.stored_variables == {"header": "false", "skip_rows": "3"}
    assert transformation.variables["skip_rows"] == 3


def test_every_table_has_created_updated_and_last_actor() -> None:
    for table in config.Base.metadata.sorted_tables:
        if table.name == "events":
            continue
        assert {"created_at", "updated_at", "last_actor"} <= set(table.c.keys()), table.name


def test_check_validates_an_unsaved_transformation_before_it_is_saved(session) -> None:
    ingest_template = session.scalars(
        select(config.TransformationTemplate).where(
            config.TransformationTemplate.name == "initial_ingest"
        )
    ).one()
    raw_state = session.scalars(
        select(config.PipelineState)
        .join(config.PipelineState.pipeline_state_type)
        .where(config.PipelineStateType.name == "raw")
    ).first()
    with session.no_autoflush:  # the API checks before it adds anything
        candidate = config.Transformation(
            transformation_template=ingest_template, pipeline_state=raw_state, graph_order=1
        )
        candidate.set_variables({"skip_rows": "many"})
        problems = [str(p) for p in candidate.check()]
    session.rollback()
    assert problems == [
        "new transformation (initial_ingest): template 'initial_ingest' belongs in the 'ingest' "
        "state, but the transformation is placed in 'raw'; move it or pick another template",
        "new transformation (initial_ingest): variable 'skip_rows'='many' is not a valid int: "
        "expected a whole number such as 3",
    ]
    assert (
        config.Transformation(graph_order=0).check()[0].args[0].endswith("has no template; set one")
    )


def test_check_accepts_a_valid_transformation(session) -> None:
    transformation = session.scalars(select(config.Transformation)).first()
    assert transformation.check() == []
