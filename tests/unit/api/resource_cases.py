"""What the API tests share: the sample world's ids by name, row counts, one case per resource."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.database.engine import get_engine
from core.helpers.session_helper import make_session
from core.models import configuration as cfg
from tests.unit.api.conftest import PASSWORD

# A template whose variables the transformation tests check: two required, one default.
TYPED_VARIABLES = {
    "dataset": {"type": "string"},
    "rows": {"type": "int"},
    "ratio": {"type": "float", "required": False, "default": 0.5},
}


@contextmanager
def database(app: FastAPI, actor: str = "test") -> Iterator[Session]:
    """A session on the app's configuration database."""
    with make_session(get_engine(app.state.database_url), actor=actor) as session:
        yield session


def count(app: FastAPI, model: type) -> int:
    """How many rows a table holds."""
    with database(app) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@dataclass(frozen=True)
class World:
    """Ids of the sample configuration's rows, by name."""

    company: dict[str, int]
    brand: dict[str, int]
    segment: dict[str, int]
    pipeline_type: dict[str, int]
    state_type: dict[str, int]
    pipeline: dict[str, int]
    template: dict[str, int]
    state: dict[tuple[str, str], int]  # (pipeline, state type) -> pipeline state id
    transformations: dict[str, list[int]]  # pipeline -> its transformation ids


def load_world(app: FastAPI) -> World:
    """The sample configuration's ids, read from the database."""
    with database(app) as session:

        def names(model: type) -> dict[str, int]:
            return {row[0]: row[1] for row in session.execute(select(model.name, model.id))}

        states = select(cfg.Pipeline.name, cfg.PipelineStateType.name, cfg.PipelineState.id).join(
            cfg.PipelineState.pipeline
        )
        states = states.join(cfg.PipelineState.pipeline_state_type)
        transformations: dict[str, list[int]] = {}
        query = (
            select(cfg.Pipeline.name, cfg.Transformation.id)
            .join(cfg.Transformation.pipeline_state)
            .join(cfg.PipelineState.pipeline)
            .order_by(cfg.Transformation.id)
        )
        for pipeline, transformation in session.execute(query):
            transformations.setdefault(pipeline, []).append(transformation)
        return World(
            company=names(cfg.PharmaceuticalCompany),
            brand=names(cfg.Brand),
            segment=names(cfg.Segment),
            pipeline_type=names(cfg.PipelineType),
            state_type=names(cfg.PipelineStateType),
            pipeline=names(cfg.Pipeline),
            template=names(cfg.TransformationTemplate),
            state={(p, s): i for p, s, i in session.execute(states)},
            transformations=transformations,
        )


@dataclass(frozen=True)
class ResourceCase:
    """How the tests exercise one resource of the generic CRUD router.

    Attributes:
        path: the resource's path under /api.
        model: its mapped class.
        noun: how its messages name one row.
        create: a valid new row, from the world's ids.
        patch: a partial update and the field it changes.
        sort: a sortable field other than id.
        filter: a filter, its value from the world, and the field it matches.
        deactivates: DELETE clears is_active instead of deleting.
        role: the role that may write it.
    """

    path: str
    model: type
    noun: str
    create: Callable[[World], dict[str, Any]]
    patch: dict[str, Any]
    sort: str
    filter: tuple[str, Callable[[World], Any]] | None = None
    deactivates: bool = False
    role: str = "editor"
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.path


CASES = [
    ResourceCase(
        "companies",
        cfg.PharmaceuticalCompany,
        "pharmaceutical company",
        lambda w: {"name": "ceres_labs", "display_name": "Ceres Labs"},
        {"display_name": "Ceres Laboratories"},
        "name",
    ),
    ResourceCase(
        "brands",
        cfg.Brand,
        "brand",
        lambda w: {"name": "novex", "pharmaceutical_company_id": w.company["acme_pharma"]},
        {"display_name": "Novex"},
        "name",
        ("pharmaceutical_company_id", lambda w: w.company["bluepeak_bio"]),
    ),
    ResourceCase(
        "segments",
        cfg.Segment,
        "segment",
        lambda w: {"name": "Oncology"},
        {"name": "Oncology EU"},
        "name",
    ),
    ResourceCase(
        "pipeline-types",
        cfg.PipelineType,
        "pipeline type",
        lambda w: {"name": "claims", "segment_id": w.segment["Commercial"]},
        {"name": "claims_v2"},
        "name",
        ("segment_id", lambda w: w.segment["Specialty"]),
    ),
    ResourceCase(
        "state-types",
        cfg.PipelineStateType,
        "pipeline state type",
        lambda w: {"name": "archive", "graph_order": 7},
        {"graph_order": 8},
        "graph_order",
    ),
    ResourceCase(
        "pipelines",
        cfg.Pipeline,
        "pipeline",
        lambda w: {
            "name": "acme_zentrix_claims",
            "pipeline_type_id": w.pipeline_type["sales_data"],
            "brand_id": w.brand["zentrix"],
            "run_frequency": "0 6 * * 1-5",
        },
        {"description": "Claims for Zentrix"},
        "name",
        deactivates=True,
    ),
    ResourceCase(
        "pipeline-states",
        cfg.PipelineState,
        "pipeline state",
        lambda w: {
            "pipeline_id": w.pipeline["acme_zentrix_patient_status"],
            "pipeline_state_type_id": w.state_type["enhance"],
            "graph_order": 3,
        },
        {"graph_order": 9},
        "graph_order",
        ("pipeline_id", lambda w: w.pipeline["bluepeak_orvida_hub_services"]),
    ),
    ResourceCase(
        "tags",
        cfg.Tag,
        "tag",
        lambda w: {"name": "finance"},
        {"name": "finance-eu"},
        "name",
    ),
    ResourceCase(
        "templates",
        cfg.TransformationTemplate,
        "transformation template",
        lambda w: {
            "name": "typed",
            "variable_structures": TYPED_VARIABLES,
            "pipeline_state_type_id": w.state_type["ingest"],
            "tags": ["api-test", "csv"],
        },
        {"description": "reads typed variables"},
        "name",
        ("pipeline_state_type_id", lambda w: w.state_type["raw"]),
        role="admin",  # a template chooses the code that runs: admins write them
    ),
    ResourceCase(
        "transformations",
        cfg.Transformation,
        "transformation",
        lambda w: {
            "transformation_template_id": w.template["noop"],
            "pipeline_state_id": w.state[("acme_zentrix_patient_status", "ingest")],
            "graph_order": 5,
        },
        {"retries": 3},
        "graph_order",
        ("pipeline_state_id", lambda w: w.state[("acme_zentrix_patient_status", "ingest")]),
    ),
    ResourceCase(
        "users",
        cfg.Administrator,
        "user",
        lambda w: {"email_address": "new.user@example.com", "role": "editor", "password": PASSWORD},
        {"role": "admin"},
        "email_address",
        ("role", lambda w: "editor"),
        deactivates=True,
        role="admin",
    ),
]
CASE_IDS = [case.path for case in CASES]


def typo(name: str) -> str:
    """The name with two letters swapped: close enough for a did-you-mean."""
    return name[0] + name[2] + name[1] + name[3:]
