"""List, get, create, update and delete for every configuration resource.

One factory builds the five routes of a resource from its description
(core.service.catalog) and its schemas, so every resource pages, sorts,
validates and reports errors the same way.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import Boolean, Integer

from core.api.deps import SessionDep, SettingsDep, requires
from core.api.schemas import Page, json_response
from core.models.administrators import Administrator
from core.service import catalog, checks, listing, resources
from core.service.listing import MAX_LIMIT, MAX_OFFSET
from core.service.resources import MAX_ID, Resource

RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="the row's id")]


@dataclass(frozen=True)
class Routes:
    """What the API shows of one resource."""

    path: str
    resource: Resource
    create: type[BaseModel]
    patch: type[BaseModel]
    out: type[BaseModel]
    write_role: str = "editor"
    read_role: str = "viewer"
    filters: tuple[str, ...] = ()
    custom_reads: bool = False  # list and get are served by a module of their own


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    sort: Annotated[str, Query(max_length=100, description="a field; prefix - to reverse")] = "id",
    q: Annotated[str | None, Query(max_length=200, description="text search")] = None,
) -> dict[str, Any]:
    """Paging, sorting and search parameters shared by every list."""
    return {"limit": limit, "offset": offset, "sort": sort, "q": q}


PageParams = Annotated[dict[str, Any], Depends(page_params)]


def build_router(spec: Routes) -> APIRouter:
    """The five routes of one resource."""
    router = APIRouter(prefix=f"/api/{spec.path}", tags=[spec.path])
    writer = Annotated[Administrator, Depends(requires(spec.write_role))]
    out, noun = spec.out, spec.resource.noun
    if not spec.custom_reads:
        _add_reads(router, spec)

    @router.post("", response_model=out, status_code=201, summary=f"Create a {noun}")
    def create(body: spec.create, session: SessionDep, settings: SettingsDep, _: writer) -> Any:
        row = resources.create_row(session, spec.resource, body.model_dump(), settings)
        return json_response(out.model_validate(row), status_code=201)

    versioned = "version" in spec.resource.model.__table__.columns
    locking = {
        409: {"description": "The row changed since the version you read (who, when)."},
        428: {"description": "The update did not name the version it was made from."},
    }

    @router.patch(
        "/{row_id}",
        response_model=out,
        summary=f"Update a {noun}",
        responses=locking if versioned else None,
    )
    def update(
        row_id: RowId,
        body: spec.patch,
        session: SessionDep,
        settings: SettingsDep,
        _: writer,
    ) -> Any:
        values = body.model_dump(exclude_unset=True)
        version = values.pop("version", None)
        row = resources.update_row(session, spec.resource, row_id, values, version, settings)
        return json_response(out.model_validate(row))

    summary = f"Deactivate a {noun}" if spec.resource.deactivate else f"Delete a {noun}"

    @router.delete("/{row_id}", status_code=204, summary=summary)
    def delete(row_id: RowId, session: SessionDep, _: writer) -> None:
        resources.delete_row(session, spec.resource, row_id)

    return router


def _add_reads(router: APIRouter, spec: Routes) -> None:
    reader = Annotated[Administrator, Depends(requires(spec.read_role))]
    out = spec.out

    @router.get(
        "",
        response_model=Page[out],
        summary=f"List {spec.path}",
        openapi_extra={"parameters": _filter_parameters(spec)},
    )
    def list_(request: Request, session: SessionDep, _: reader, paging: PageParams) -> Any:
        # Filters are read here (their number varies by resource) and typed by the
        # service from their columns; the OpenAPI spec declares them all the same.
        filters = {k: request.query_params.get(k) for k in spec.filters}
        page = listing.list_rows(session, spec.resource, filters=filters, **paging)
        return json_response(
            Page[out](
                items=[out.model_validate(row) for row in page.items],
                total=page.total,
                limit=page.limit,
                offset=page.offset,
            )
        )

    @router.get("/{row_id}", response_model=out, summary=f"Get a {spec.resource.noun}")
    def get(row_id: RowId, session: SessionDep, _: reader) -> Any:
        return json_response(out.model_validate(resources.get_row(session, spec.resource, row_id)))


def _filter_parameters(spec: Routes) -> list[dict[str, Any]]:
    """The OpenAPI description of a list's equality filters, typed by their columns."""
    parameters = []
    for name in spec.filters:
        kind = spec.resource.filters[name].type
        if isinstance(kind, Boolean):
            schema: dict[str, Any] = {"type": "boolean"}
        elif isinstance(kind, Integer):
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        else:
            schema = {"type": "string", "maxLength": 200}
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": schema,
                "description": f"only rows whose {name} equals this",
            }
        )
    return parameters


def resource_routes() -> list[Routes]:
    """Every resource the API serves with plain CRUD."""
    from core.api import schemas as s

    return [
        Routes("companies", catalog.COMPANIES, s.CompanyIn, s.CompanyPatch, s.CompanyOut),
        Routes(
            "brands",
            catalog.BRANDS,
            s.BrandIn,
            s.BrandPatch,
            s.BrandOut,
            filters=("pharmaceutical_company_id",),
        ),
        Routes(
            "pipelines",
            catalog.PIPELINES,
            s.PipelineIn,
            s.PipelinePatch,
            s.PipelineOut,
            custom_reads=True,
        ),
        Routes("segments", catalog.SEGMENTS, s.SegmentIn, s.SegmentPatch, s.SegmentOut),
        Routes(
            "pipeline-types",
            catalog.PIPELINE_TYPES,
            s.PipelineTypeIn,
            s.PipelineTypePatch,
            s.PipelineTypeOut,
            filters=("segment_id",),
        ),
        Routes("state-types", catalog.STATE_TYPES, s.StateTypeIn, s.StateTypePatch, s.StateTypeOut),
        Routes(
            "pipeline-states",
            catalog.PIPELINE_STATES,
            s.PipelineStateIn,
            s.PipelineStatePatch,
            s.PipelineStateOut,
            filters=("pipeline_id",),
        ),
        Routes("tags", catalog.TAGS, s.TagIn, s.TagIn, s.TagOut),
        Routes(
            "templates",
            catalog.TEMPLATES,
            s.TemplateIn,
            s.TemplatePatch,
            s.TemplateOut,
            # A template names the code a transformation runs (kind, entrypoint) and the
            # checks its variables get: an administrator's decision, not an editor's.
            write_role="admin",
            filters=("kind", "pipeline_state_type_id"),
        ),
        Routes(
            "transformations",
            catalog.TRANSFORMATIONS,
            s.TransformationIn,
            s.TransformationPatch,
            s.TransformationOut,
            filters=("pipeline_state_id",),
        ),
        Routes(
            "checks",
            checks.DATASET_CHECKS,
            s.CheckIn,
            s.CheckPatch,
            s.CheckOut,
            filters=("transformation_id",),
        ),
        Routes(
            "users",
            catalog.ADMINISTRATORS,
            s.UserIn,
            s.UserPatch,
            s.UserOut,
            write_role="admin",
            read_role="admin",
            filters=("role", "is_active"),
        ),
    ]
