"""What the API accepts and returns: one pydantic model per shape, typed for OpenAPI.

Inputs forbid unknown fields and bound every string by its column's length, so a
request is refused with a 422 naming the field before anything reaches the
database. Names, cron expressions and graph orders are then checked by the
models' validators (see core.service.resources). Outputs never carry password
hashes or token hashes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import types
from typing import Annotated, Any, Generic, Literal, TypeVar, Union, get_args, get_origin

from fastapi import Response
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

from core.service.resources import MAX_ID, unstorable

T = TypeVar("T")

Name = Annotated[str, Field(min_length=1, max_length=100)]
Label = Annotated[str, Field(min_length=1, max_length=200)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Order = Annotated[int, Field(ge=0, le=1_000_000)]
Role = Literal["viewer", "editor", "admin"]
# Checked as addresses by the model (core.names.validate_email_list).
Owners = Annotated[list[Annotated[str, Field(min_length=3, max_length=254)]], Field(max_length=50)]


def storable(value: Any) -> Any:
    """Refuse what no database column can hold: NUL characters and non-finite numbers.

    Returns:
        The value, unchanged.

    Raises:
        ValueError: the value (or something inside it) holds one of them
            (see core.service.resources.unstorable).
    """
    problem = unstorable(value)
    if problem:
        raise ValueError(problem)
    return value


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; they were stored in UTC.
    return moment.replace(tzinfo=dt.UTC) if moment and moment.tzinfo is None else moment


Moment = Annotated[dt.datetime | None, AfterValidator(_utc)]


def _takes_bool(annotation: Any) -> bool:
    """Whether a field's type admits true/false (bool, a union with bool, or Any)."""
    if annotation is bool or annotation is Any:
        return True
    return get_origin(annotation) in (Union, types.UnionType) and any(
        _takes_bool(arg) for arg in get_args(annotation)
    )


def _takes_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    return get_origin(annotation) in (Union, types.UnionType) and any(
        _takes_int(arg) for arg in get_args(annotation)
    )


def json_response(content: Any, status_code: int = 200) -> Response:
    """A response body serialized by pydantic in the route itself.

    A sync route that returns a model leaves FastAPI to validate it again against the
    response_model, in a threadpool hop taken *after* the route while the request's
    database session still holds its pooled connection. Under load every worker thread
    can be waiting for a connection that only such a hop would give back: the server
    then hung until the pool's 30 s timeout (100 concurrent requests were enough). A
    Response is sent as it is; the response_model stays declared, for the OpenAPI spec.

    Args:
        content: a model, a service dataclass (declared as the response_model itself,
            when the API shows it field for field), or a list of models.
        status_code: the HTTP status.
    """
    if isinstance(content, list):
        body = b"[" + b",".join(_item_json(item) for item in content) + b"]"
    elif dataclasses.is_dataclass(content) and not isinstance(content, type):
        body = _adapter(type(content)).dump_json(content)
    else:
        body = content.model_dump_json().encode()
    return Response(body, status_code=status_code, media_type="application/json")


@functools.cache
def _adapter(kind: type) -> TypeAdapter[Any]:
    # Building an adapter costs far more than using one: one per dataclass.
    return TypeAdapter(kind)


class In(BaseModel):
    """An input: unknown fields are refused, and so are NUL characters and NaN anywhere."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1 for an int field: a graph order or an id given as true
        # is a mistake, not a number.
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if _takes_int(annotation) and not _takes_bool(annotation):
                raise ValueError(f"expected a whole number, not {str(value).lower()}")
        return value

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class Out(BaseModel):
    """An output read from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


class Stamped(Out):
    """Who changed a row last, and when (times in UTC, with their offset)."""

    created_at: Moment = None
    updated_at: Moment = None
    last_actor: str | None = None


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int
    limit: int
    offset: int


class CompanyIn(In):
    name: Name
    display_name: Label | None = None


class CompanyPatch(In):
    name: Name | None = None
    display_name: Label | None = None


class CompanyOut(Stamped):
    id: int
    name: str
    display_name: str | None


class BrandIn(In):
    name: Name
    display_name: Label | None = None
    pharmaceutical_company_id: Id


class BrandPatch(In):
    name: Name | None = None
    display_name: Label | None = None
    pharmaceutical_company_id: Id | None = None


class BrandOut(Stamped):
    id: int
    name: str
    display_name: str | None
    pharmaceutical_company_id: int


class SegmentIn(In):
    name: Label


class SegmentPatch(In):
    name: Label | None = None


class SegmentOut(Stamped):
    id: int
    name: str


class PipelineTypeIn(In):
    name: Label
    segment_id: Id


class PipelineTypePatch(In):
    name: Label | None = None
    segment_id: Id | None = None


class PipelineTypeOut(Stamped):
    id: int
    name: str
    segment_id: int


class StateTypeIn(In):
    name: Name
    graph_order: Order = 0


class StateTypePatch(In):
    name: Name | None = None
    graph_order: Order | None = None


class StateTypeOut(Stamped):
    id: int
    name: str
    graph_order: int


DatasetSchedule = dict[
    Annotated[str, Field(pattern="^(all|any)$")],
    Annotated[list[Annotated[str, Field(max_length=1000)]], Field(min_length=1, max_length=100)],
]


DATASET_SCHEDULE_HELP = (
    "Start when datasets of other pipelines are published: "
    '{"all": [keys]} or {"any": [keys]}, each key "company/brand/state/dataset"; '
    "null: run on run_frequency."
)


MAX_ACTIVE_RUNS_HELP = (
    "How many runs of the pipeline may go at once (at least 1); null is one: a second "
    "start is refused with 409 while a run is running."
)


class PipelineIn(In):
    name: Annotated[str, Field(min_length=1, max_length=250)]
    pipeline_type_id: Id
    brand_id: Id
    is_active: bool = True
    run_frequency: Annotated[str, Field(max_length=100)] = "none"
    description: Annotated[str, Field(max_length=10_000)] | None = None
    owners: Owners = Field(default_factory=list, description="Emailed when a run fails.")
    dataset_schedule: DatasetSchedule | None = Field(
        None,
        description=DATASET_SCHEDULE_HELP,
    )
    max_active_runs: int | None = Field(None, description=MAX_ACTIVE_RUNS_HELP)


class PipelinePatch(In):
    name: Annotated[str, Field(min_length=1, max_length=250)] | None = None
    pipeline_type_id: Id | None = None
    brand_id: Id | None = None
    is_active: bool | None = None
    run_frequency: Annotated[str, Field(max_length=100)] | None = None
    description: Annotated[str, Field(max_length=10_000)] | None = None
    owners: Owners | None = Field(None, description="Emailed when a run fails.")
    dataset_schedule: DatasetSchedule | None = Field(
        None,
        description=DATASET_SCHEDULE_HELP,
    )
    max_active_runs: int | None = Field(None, description=MAX_ACTIVE_RUNS_HELP)
    version: int | None = Field(
        None,
        description="Required: the version you read. Without it the update is refused "
        "(428); when the row has changed since, it is a conflict (409).",
    )


class PipelineOut(Stamped):
    id: int
    name: str
    pipeline_type_id: int
    brand_id: int
    is_active: bool
    run_frequency: str
    description: str | None
    owners: list[str] = []
    dataset_schedule: dict[str, list[str]] | None = None
    max_active_runs: int | None = None
    version: int


class PipelineStateIn(In):
    pipeline_id: Id
    pipeline_state_type_id: Id
    graph_order: Order = 0


class PipelineStatePatch(In):
    graph_order: Order | None = None


class PipelineStateOut(Stamped):
    id: int
    pipeline_id: int
    pipeline_state_type_id: int
    graph_order: int


class TagIn(In):
    name: Label


class TagOut(Stamped):
    id: int
    name: str


class TemplateIn(In):
    name: Name
    description: Annotated[str, Field(max_length=10_000)] | None = None
    variable_structures: dict[str, Any] = Field(default_factory=dict)
    pipeline_state_type_id: Id | None = None
    kind: Literal["python", "notebook"] = "python"
    entrypoint: Annotated[str, Field(max_length=300)] | None = None
    tags: list[Label] = Field(default_factory=list, max_length=50)


class TemplatePatch(In):
    name: Name | None = None
    description: Annotated[str, Field(max_length=10_000)] | None = None
    variable_structures: dict[str, Any] | None = None
    pipeline_state_type_id: Id | None = None
    kind: Literal["python", "notebook"] | None = None
    entrypoint: Annotated[str, Field(max_length=300)] | None = None
    tags: list[Label] | None = Field(None, max_length=50)


class TemplateOut(Stamped):
    id: int
    name: str
    description: str | None
    variable_structures: dict[str, Any]
    pipeline_state_type_id: int | None
    kind: str
    entrypoint: str | None
    tags: list[str] = Field(validation_alias=AliasChoices("tag_names", "tags"))


Variables = Annotated[dict[str, Any], Field(max_length=200)]


class TransformationIn(In):
    transformation_template_id: Id
    pipeline_state_id: Id
    graph_order: Order = 0
    retries: Annotated[int, Field(ge=0, le=100)] = 0
    retry_delay_seconds: Annotated[int, Field(ge=0, le=86_400)] = 300
    variables: Variables = Field(default_factory=dict)


class TransformationPatch(In):
    transformation_template_id: Id | None = None
    pipeline_state_id: Id | None = None
    graph_order: Order | None = None
    retries: Annotated[int, Field(ge=0, le=100)] | None = None
    retry_delay_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = None
    variables: Variables | None = None
    version: int | None = Field(
        None,
        description="Required: the version you read. Without it the update is refused "
        "(428); when the row has changed since, it is a conflict (409).",
    )


class TransformationOut(Stamped):
    id: int
    transformation_template_id: int
    pipeline_state_id: int
    graph_order: int
    retries: int
    retry_delay_seconds: int
    version: int
    variables: dict[str, Any] = Field(
        validation_alias=AliasChoices("variable_values", "variables"),
        description="Each value in its declared JSON type: booleans, numbers, lists and "
        "objects come back as they were sent.",
    )


CheckKind = Annotated[str, Field(min_length=1, max_length=40, description="see docs/checks.md")]
CheckArguments = Annotated[dict[str, Any], Field(max_length=50)]
Severity = Annotated[str, Field(description="error (stops the publish) or warn (records)")]
CheckDescription = Annotated[str, Field(max_length=500)]


class CheckIn(In):
    transformation_id: Id
    kind: CheckKind
    arguments: CheckArguments = Field(default_factory=dict)
    severity: Severity = "error"
    description: CheckDescription | None = None


class CheckPatch(In):
    kind: CheckKind | None = None
    arguments: CheckArguments | None = None
    severity: Severity | None = None
    description: CheckDescription | None = None
    version: int | None = Field(
        None,
        description="Required: the version you read. Without it the update is refused "
        "(428); when the row has changed since, it is a conflict (409).",
    )


class CheckOut(Stamped):
    id: int
    transformation_id: int
    kind: str
    arguments: dict[str, Any]
    severity: str
    description: str | None
    version: int


class CheckResultOut(Out):
    id: int
    transformation_id: int
    check_id: int | None
    kind: str
    severity: str
    description: str | None
    attempt: int
    status: str
    failing_rows: int
    examples: list[Any]
    note: str | None
    seconds: float
    checked_at: Moment = None


class UserIn(In):
    email_address: Annotated[str, Field(min_length=3, max_length=320)]
    role: Role = "viewer"
    password: Annotated[str, Field(max_length=1000)] | None = None
    first_name: Annotated[str, Field(max_length=100)] | None = None
    last_name: Annotated[str, Field(max_length=100)] | None = None


class UserPatch(In):
    email_address: Annotated[str, Field(min_length=3, max_length=320)] | None = None
    role: Role | None = None
    password: Annotated[str, Field(max_length=1000)] | None = None
    first_name: Annotated[str, Field(max_length=100)] | None = None
    last_name: Annotated[str, Field(max_length=100)] | None = None
    is_active: bool | None = None


class UserOut(Stamped):
    id: int
    email_address: str
    role: str
    first_name: str | None
    last_name: str | None
    is_active: bool


class TokenIn(In):
    name: Name
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class TokenOut(Out):
    id: int
    administrator_id: int
    name: str
    prefix: str
    created_at: Moment
    expires_at: Moment
    last_used_at: Moment
    revoked_at: Moment


class TokenIssued(TokenOut):
    token: str = Field(description="Shown once: store it now; only its hash is kept.")


def _item_json(item: Any) -> bytes:
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return bytes(_adapter(type(item)).dump_json(item))
    return bytes(item.model_dump_json().encode())
