"""What the API accepts and returns: one pydantic model per shape, typed for OpenAPI.

Inputs forbid unknown fields and bound every string by its column's length, so a
request is refused with a 422 naming the field before anything reaches the
database. Names, cron expressions and graph orders are then checked by the
models' validators (see core.service.resources). Outputs never carry password
hashes or token hashes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

T = TypeVar("T")

Name = Annotated[str, Field(min_length=1, max_length=100)]
Label = Annotated[str, Field(min_length=1, max_length=200)]
Id = Annotated[int, Field(ge=1)]
Order = Annotated[int, Field(ge=0, le=1_000_000)]
Role = Literal["viewer", "editor", "admin"]


class In(BaseModel):
    """An input: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """An output read from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


class Stamped(Out):
    """Who changed a row last, and when."""

    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
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


class PipelineIn(In):
    name: Annotated[str, Field(min_length=1, max_length=250)]
    pipeline_type_id: Id
    brand_id: Id
    is_active: bool = True
    run_frequency: Annotated[str, Field(max_length=100)] = "none"
    description: Annotated[str, Field(max_length=10_000)] | None = None


class PipelinePatch(In):
    name: Annotated[str, Field(min_length=1, max_length=250)] | None = None
    pipeline_type_id: Id | None = None
    brand_id: Id | None = None
    is_active: bool | None = None
    run_frequency: Annotated[str, Field(max_length=100)] | None = None
    description: Annotated[str, Field(max_length=10_000)] | None = None
    version: int | None = Field(None, description="The version you read; a newer one is a 409.")


class PipelineOut(Stamped):
    id: int
    name: str
    pipeline_type_id: int
    brand_id: int
    is_active: bool
    run_frequency: str
    description: str | None
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
    version: int | None = Field(None, description="The version you read; a newer one is a 409.")


class TransformationOut(Stamped):
    id: int
    transformation_template_id: int
    pipeline_state_id: int
    graph_order: int
    retries: int
    retry_delay_seconds: int
    version: int
    variables: dict[str, str | None] = Field(
        validation_alias=AliasChoices("stored_variables", "variables")
    )


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
    created_at: dt.datetime | None
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenIssued(TokenOut):
    token: str = Field(description="Shown once: store it now; only its hash is kept.")
