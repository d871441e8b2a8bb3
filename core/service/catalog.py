"""The configuration resources the API and the UI edit, each described once."""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from core.errors import ConfigurationError, TransformationVariableError
from core.models import configuration as cfg
from core.models.base import utcnow
from core.models.variables import load_schema
from core.plan.check import (
    DATASET_VARIABLE,
    CheckedTask,
    cross_problems,
    load_schemas,
    output_name,
    tasks_of_plan,
)
from core.plan.queries import load_plans
from core.roots import transformation_problems
from core.service import guards
from core.service.resources import Problem, Resource
from core.settings import Settings
from core.transforms.notebook_validation import check_notebook_parameters

# The variables of a transformation as the client sent them, until it is checked: once
# stored as text, a list sent for a string variable would pass as its JSON.
_SENT_VARIABLES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _set_tags(session: Session, template: cfg.TransformationTemplate, names: list[str]) -> None:
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ConfigurationError(f"expected a list of tag names, got {names!r}")
    wanted = sorted(set(names))
    known = {t.name: t for t in session.scalars(select(cfg.Tag).where(cfg.Tag.name.in_(wanted)))}
    template.tags = [known.get(name) or cfg.Tag(name=name) for name in wanted]


def _set_variables(_session: Session, row: cfg.Transformation, values: dict[str, Any]) -> None:
    if not isinstance(values, dict):
        raise ConfigurationError(f"expected an object of variable names to values, got {values!r}")
    column = cfg.TransformationVariable.__table__.columns["name"]
    bad = [n for n in values if not n or len(n) > column.type.length]
    if bad:
        raise ConfigurationError(
            f"variable names {bad!r} are not valid: expected 1 to {column.type.length} characters"
        )
    row.set_variables(values)
    _SENT_VARIABLES[row] = dict(values)  # for check_transformation (stored as text)
    if row.id is not None:
        row.updated_at = utcnow()  # a change of variables is a change of the row (its version)


def _set_password(_session: Session, row: cfg.Administrator, password: str | None) -> None:
    from core.service.users import hash_password  # argon2: only where passwords are set

    row.hashed_password = None if password is None else hash_password(password)


def check_transformation(
    session: Session, row: cfg.Transformation, settings: Settings | None
) -> list[Problem]:
    """Every problem of a transformation about to be saved, each tied to a field.

    The template's variable schema, its state, and (for notebook templates) the
    notebook's parameters cell are checked with the same functions the worker uses.
    """
    row.transformation_template = session.get(
        cfg.TransformationTemplate, row.transformation_template_id
    )
    row.pipeline_state = session.get(cfg.PipelineState, row.pipeline_state_id)
    problems = [_field_of(row, problem) for problem in row.check()]
    problems += [_field_of(row, problem) for problem in transformation_problems(row, settings)]
    template = row.transformation_template
    problems += _containers_for_text(row, _SENT_VARIABLES.pop(row, {}))
    problems += breaks(session, row)
    if template.kind == "notebook" and settings is not None:
        names = list(template.variable_structures or {})
        for message in check_notebook_parameters(template.name, names, settings):
            problems.append(("transformation_template_id", template.id, message))
    return problems


def breaks(session: Session, row: cfg.Transformation) -> list[Problem]:
    """The problems a transformation about to be saved makes across its pipeline.

    Its own: an input no earlier group writes, a SQL table not in its inputs, an output
    another transformation writes. Others': a problem of another transformation that
    this change creates (renaming an output a later SQL reads), named and refused here.
    """
    if row.pipeline_state is None or row.transformation_template is None:
        return []  # row.check() reports the missing template or state
    pipeline_id = row.pipeline_state.pipeline_id
    plans = load_plans(session, only_active=False, ids=[pipeline_id])
    if not plans:
        return []
    orders = _state_orders(session, pipeline_id)
    before = tasks_of_plan(plans[0], orders)
    state = row.pipeline_state.pipeline_state_type.name
    order = row.graph_order if isinstance(row.graph_order, int) else 0  # a refused one is None
    mine = CheckedTask(
        row.id,
        row.transformation_template.name,
        state,
        order,
        (*orders.get(state, (0,)), order),
        row.stored_variables,
    )
    after = [t for t in before if t.transformation_id != row.id] + [mine]
    schemas = load_schemas(session, {t.template for t in after})
    known = {(p.transformation_id, p.field, p.message) for p in cross_problems(before, schemas)}
    problems: list[Problem] = []
    for problem in cross_problems(after, schemas):
        if problem.transformation_id == row.id:
            problems.append((problem.field, problem.value, problem.message))
        elif (problem.transformation_id, problem.field, problem.message) not in known:
            problems.append(
                (
                    _cause(row, before, mine, schemas),
                    problem.value,
                    f"{row.label}: this change would break {problem.transformation}: "
                    f"{problem.message}",
                )
            )
    return problems


def _cause(
    row: cfg.Transformation, before: list[CheckedTask], mine: CheckedTask, schemas: Any
) -> str:
    """The field of a change that breaks another transformation: its output, else its place."""
    old = next((t for t in before if t.transformation_id == row.id), None)
    schema = schemas.get(mine.template)
    schema = schema if isinstance(schema, dict) else {}
    if old is None or output_name(old, schema) != output_name(mine, schema):
        declared = DATASET_VARIABLE in schema
        return f"variables.{DATASET_VARIABLE}" if declared else "transformation_template_id"
    if old is not None and old.state != mine.state:
        return "pipeline_state_id"
    return "graph_order"


def _state_orders(session: Session, pipeline_id: int) -> dict[str, tuple[int, ...]]:
    """Each state's sort key in the plan's order (core.plan.model.ordered_states), one query."""
    S, ST = cfg.PipelineState, cfg.PipelineStateType
    query = (
        select(ST.name, S.graph_order, ST.graph_order, S.id)
        .join(ST, S.pipeline_state_type_id == ST.id)
        .where(S.pipeline_id == pipeline_id)
    )
    return {
        name: (order, type_order, sid) for name, order, type_order, sid in session.execute(query)
    }


def check_template(
    _session: Session, row: cfg.TransformationTemplate, settings: Settings | None
) -> list[Problem]:
    """Every problem of a template about to be saved that needs more than its fields.

    A notebook template's notebook must exist and its parameters cell must assign every
    variable the template declares (core.transforms.notebook_validation); each missing
    variable is tied to ``variable_structures.NAME``, a missing or unreadable notebook
    to ``name``.
    """
    if row.kind != "notebook" or settings is None:
        return []
    general = check_notebook_parameters(row.name, [], settings)
    if general:
        return [("name", row.name, message) for message in general]
    structures = row.variable_structures or {}
    return [
        (f"variable_structures.{name}", structures[name], message)
        for name in structures
        for message in check_notebook_parameters(row.name, [name], settings)
    ]


def _containers_for_text(row: cfg.Transformation, sent: dict[str, Any]) -> list[Problem]:
    """A JSON object or list sent for a variable the template declares as a string."""
    try:
        schema = load_schema(row.transformation_template.variable_structures, "")
    except ConfigurationError:
        return []  # row.check() reports the broken schema
    return [
        (
            f"variables.{name}",
            value,
            f"{row.label}: variable {name!r} is a string, but a JSON "
            f"{'object' if isinstance(value, dict) else 'list'} was sent; expected text",
        )
        for name, value in sent.items()
        if name in schema and schema[name].type == "string" and isinstance(value, dict | list)
    ]


def _field_of(row: cfg.Transformation, problem: ConfigurationError) -> Problem:
    if isinstance(problem, TransformationVariableError) and problem.variable:
        name = problem.variable
        return f"variables.{name}", row.stored_variables.get(name), str(problem)
    return "pipeline_state_id", row.pipeline_state_id, str(problem)


COMPANIES = Resource(
    noun="pharmaceutical company",
    model=cfg.PharmaceuticalCompany,
    fields=("name", "display_name"),
    unique=(("name",),),
    sortable=("id", "name", "display_name", "updated_at"),
    search=(cfg.PharmaceuticalCompany.name, cfg.PharmaceuticalCompany.display_name),
)
BRANDS = Resource(
    noun="brand",
    model=cfg.Brand,
    fields=("name", "display_name", "pharmaceutical_company_id"),
    references={"pharmaceutical_company_id": cfg.PharmaceuticalCompany},
    unique=(("pharmaceutical_company_id", "name"),),
    sortable=("id", "name", "display_name", "updated_at"),
    filters={"pharmaceutical_company_id": cfg.Brand.pharmaceutical_company_id},
    search=(cfg.Brand.name, cfg.Brand.display_name),
)
SEGMENTS = Resource(
    noun="segment",
    model=cfg.Segment,
    fields=("name",),
    unique=(("name",),),
    sortable=("id", "name", "updated_at"),
    search=(cfg.Segment.name,),
)
PIPELINE_TYPES = Resource(
    noun="pipeline type",
    model=cfg.PipelineType,
    fields=("name", "segment_id"),
    references={"segment_id": cfg.Segment},
    unique=(("name",),),
    sortable=("id", "name", "updated_at"),
    filters={"segment_id": cfg.PipelineType.segment_id},
    search=(cfg.PipelineType.name,),
)
STATE_TYPES = Resource(
    noun="pipeline state type",
    model=cfg.PipelineStateType,
    fields=("name", "graph_order"),
    unique=(("name",),),
    sortable=("id", "name", "graph_order"),
    guard=guards.guard_state_type,
)


def check_pipeline(
    session: Session, pipeline: cfg.Pipeline, _settings: Settings | None
) -> list[Problem]:
    """A pipeline's dataset_schedule: datasets other pipelines write, and no cycle."""
    from core.lineage.schedule import check_schedule
    from core.plan import load_plans

    if not pipeline.dataset_schedule:
        return []
    if pipeline.run_frequency != "none":
        return [
            (
                "dataset_schedule",
                pipeline.dataset_schedule,
                f"cannot be combined with run_frequency {pipeline.run_frequency!r}: a pipeline "
                "starts on a schedule or when datasets are published; set run_frequency to none",
            )
        ]
    try:
        check_schedule(
            load_plans(session, only_active=False), pipeline.name, pipeline.dataset_schedule
        )
    except ConfigurationError as exc:
        return [("dataset_schedule", pipeline.dataset_schedule, str(exc))]
    return []


def schedules_of_all(session: Session) -> set[str]:
    """What is wrong with every pipeline's dataset schedule (the resources' invariant)."""
    from core.lineage.schedule import broken_schedules

    return broken_schedules(load_plans(session, only_active=False))


PIPELINES = Resource(
    noun="pipeline",
    model=cfg.Pipeline,
    fields=(
        "name",
        "pipeline_type_id",
        "brand_id",
        "is_active",
        "run_frequency",
        "description",
        "owners",
        "dataset_schedule",
        "max_active_runs",
    ),
    references={"pipeline_type_id": cfg.PipelineType, "brand_id": cfg.Brand},
    unique=(("name",),),
    sortable=("id", "name", "is_active", "run_frequency", "updated_at"),
    filters={
        "brand_id": cfg.Pipeline.brand_id,
        "pipeline_type_id": cfg.Pipeline.pipeline_type_id,
        "is_active": cfg.Pipeline.is_active,
    },
    search=(cfg.Pipeline.name, cfg.Pipeline.description),
    deactivate="is_active",
    before_save=check_pipeline,
    invariant=schedules_of_all,
    invariant_fields=("brand_id", "dataset_schedule"),
)
PIPELINE_STATES = Resource(
    noun="pipeline state",
    model=cfg.PipelineState,
    fields=("pipeline_id", "pipeline_state_type_id", "graph_order"),
    references={"pipeline_id": cfg.Pipeline, "pipeline_state_type_id": cfg.PipelineStateType},
    unique=(("pipeline_id", "pipeline_state_type_id"),),
    sortable=("id", "graph_order"),
    filters={"pipeline_id": cfg.PipelineState.pipeline_id},
    options=(joinedload(cfg.PipelineState.pipeline_state_type),),
    guard=guards.guard_pipeline_state,
    before_delete=guards.guard_pipeline_state_delete,
    invariant=schedules_of_all,
    invariant_fields=("pipeline_state_type_id", "pipeline_id"),
)
TAGS = Resource(
    noun="tag",
    model=cfg.Tag,
    fields=("name",),
    unique=(("name",),),
    sortable=("id", "name"),
    search=(cfg.Tag.name,),
)
TEMPLATES = Resource(
    noun="transformation template",
    model=cfg.TransformationTemplate,
    fields=(
        "name",
        "description",
        "variable_structures",
        "pipeline_state_type_id",
        "kind",
        "entrypoint",
    ),
    references={"pipeline_state_type_id": cfg.PipelineStateType},
    unique=(("name",),),
    sortable=("id", "name", "kind", "updated_at"),
    filters={
        "kind": cfg.TransformationTemplate.kind,
        "pipeline_state_type_id": cfg.TransformationTemplate.pipeline_state_type_id,
    },
    search=(cfg.TransformationTemplate.name, cfg.TransformationTemplate.description),
    options=(selectinload(cfg.TransformationTemplate.tags),),
    setters={"tags": _set_tags},
    before_save=check_template,
    guard=guards.guard_template,
)
TRANSFORMATIONS = Resource(
    noun="transformation",
    model=cfg.Transformation,
    fields=(
        "transformation_template_id",
        "pipeline_state_id",
        "graph_order",
        "retries",
        "retry_delay_seconds",
    ),
    references={
        "transformation_template_id": cfg.TransformationTemplate,
        "pipeline_state_id": cfg.PipelineState,
    },
    sortable=("id", "graph_order", "updated_at"),
    filters={"pipeline_state_id": cfg.Transformation.pipeline_state_id},
    options=(
        selectinload(cfg.Transformation.transformation_variables),
        joinedload(cfg.Transformation.transformation_template),
    ),
    setters={"variables": _set_variables},
    before_save=check_transformation,
    guard=guards.guard_transformation,
    invariant=schedules_of_all,
    invariant_fields=("variables", "pipeline_state_id", "transformation_template_id"),
)
ADMINISTRATORS = Resource(
    noun="user",
    model=cfg.Administrator,
    fields=("email_address", "first_name", "last_name", "role", "is_active"),
    unique=(("email_address",),),
    sortable=("id", "email_address", "role", "updated_at"),
    filters={"role": cfg.Administrator.role, "is_active": cfg.Administrator.is_active},
    search=(cfg.Administrator.email_address, cfg.Administrator.last_name),
    deactivate="is_active",
    setters={"password": _set_password},
    redacted=("password",),
)
