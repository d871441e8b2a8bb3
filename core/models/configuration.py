"""The configuration application: what pipelines exist and how they run.

Pharmaceutical companies have brands; a pipeline belongs to a brand and a
pipeline type (within a segment); it has states (raw, ingest, ...) ordered by
graph_order, and each state holds transformations, instances of templates,
also ordered by graph_order, with their variables. Run events and task runs
record what happened. Names are validated as they are set, so nothing invalid
reaches the database through the ORM.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.sql.expression import text, true

from core.errors import ConfigurationError, InvalidInputError
from core.models.administrators import ROLES, Administrator, ApiToken, WebSession
from core.models.audit import AuditEvent
from core.models.base import Base, JsonType, Tracked
from core.models.dataset_checks import CheckResult, DatasetCheck
from core.models.dataset_restores import DatasetRestore
from core.models.runs import RUN_STATES, TASK_STATES, RunEvent, TaskRun
from core.models.variables import (
    check_variables,
    load_schema,
    parse_variables,
    to_text,
    typed_values,
)
from core.names import (
    validate_dag_id,
    validate_email_list,
    validate_label,
    validate_path_part,
    validate_run_frequency,
)

__all__ = [
    "ROLES",
    "RUN_STATES",
    "STATE_TYPE_ORDER",
    "TASK_STATES",
    "TRANSFORMATION_KINDS",
    "Administrator",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Brand",
    "CheckResult",
    "DatasetCheck",
    "DatasetRestore",
    "PharmaceuticalCompany",
    "Pipeline",
    "PipelineState",
    "PipelineStateType",
    "PipelineType",
    "RunEvent",
    "Segment",
    "Tag",
    "TaskRun",
    "Transformation",
    "TransformationTemplate",
    "TransformationTemplateTag",
    "TransformationVariable",
    "WebSession",
]

STATE_TYPE_ORDER = ("raw", "ingest", "master", "enhance", "enrich", "metrics", "dimensional")
TRANSFORMATION_KINDS = ("python", "notebook")


def transformation_label(transformation_id: int | None, template: str) -> str:
    """How messages name a transformation: ``transformation 12 (sql)``, or
    ``new transformation (sql)`` before it has an id."""
    if transformation_id is None:
        return f"new transformation ({template})"
    return f"transformation {transformation_id} ({template})"


def _non_negative(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} >= 0", name=f"{column}_non_negative")


def _check_order(value: Any, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(
            f"{owner} graph_order {value!r} is not valid: expected a whole number >= 0"
        )
    return value


class PharmaceuticalCompany(Tracked, Base):
    """A client: the parent part of every lake path (alias: customer)."""

    __tablename__ = "pharmaceutical_companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))

    brands: Mapped[list[Brand]] = relationship(back_populates="pharmaceutical_company")

    @validates("name")
    def _name(self, _key: str, value: str) -> str:
        return validate_path_part(value, "pharmaceutical company name")


class Brand(Tracked, Base):
    """A brand of a company: the child part of every lake path."""

    __tablename__ = "brands"
    __table_args__ = (UniqueConstraint("pharmaceutical_company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str | None] = mapped_column(String(200))
    pharmaceutical_company_id: Mapped[int] = mapped_column(
        ForeignKey("pharmaceutical_companies.id", ondelete="RESTRICT"), index=True
    )

    pharmaceutical_company: Mapped[PharmaceuticalCompany] = relationship(back_populates="brands")
    pipelines: Mapped[list[Pipeline]] = relationship(back_populates="brand")

    @validates("name")
    def _name(self, _key: str, value: str) -> str:
        return validate_path_part(value, "brand name")


class Segment(Tracked, Base):
    """A line of business; pipeline types belong to one."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)

    pipeline_types: Mapped[list[PipelineType]] = relationship(back_populates="segment")

    @validates("name")
    def _name(self, _key: str, value: str) -> str:
        return validate_label(value, "segment name")


class PipelineType(Tracked, Base):
    """A kind of pipeline (e.g. specialty pharmacy data) within a segment."""

    __tablename__ = "pipeline_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segments.id", ondelete="RESTRICT"), index=True
    )

    segment: Mapped[Segment] = relationship(back_populates="pipeline_types")
    pipelines: Mapped[list[Pipeline]] = relationship(back_populates="pipeline_type")

    @validates("name")
    def _name(self, _key: str, value: str) -> str:
        return validate_label(value, "pipeline type name")


class Pipeline(Tracked, Base):
    """A pipeline: one Airflow DAG whose dag_id is its name."""

    __tablename__ = "pipelines"
    __table_args__ = (CheckConstraint("max_active_runs >= 1", name="max_active_runs_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(250), unique=True)
    pipeline_type_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_types.id", ondelete="RESTRICT"), index=True
    )
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="RESTRICT"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    run_frequency: Mapped[str] = mapped_column(String(100), default="none", server_default="none")
    description: Mapped[str | None] = mapped_column(Text)
    # Email addresses told when a run fails (core.alerts).
    owners: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default=text("'[]'"))
    # None, or start when datasets of other pipelines are published (core.lineage.schedule).
    dataset_schedule: Mapped[dict[str, list[str]] | None] = mapped_column(JsonType)
    # How many runs may go at once; None is one (a second start is refused, 409).
    max_active_runs: Mapped[int | None] = mapped_column(Integer)
    # Optimistic concurrency: SQLAlchemy bumps it on every UPDATE and refuses a stale one.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    pipeline_type: Mapped[PipelineType] = relationship(back_populates="pipelines")
    brand: Mapped[Brand] = relationship(back_populates="pipelines")
    pipeline_states: Mapped[list[PipelineState]] = relationship(
        back_populates="pipeline",
        cascade="all, delete-orphan",
        order_by="PipelineState.graph_order",
    )
    run_events: Mapped[list[RunEvent]] = relationship(back_populates="pipeline")

    @validates("name")
    def _name(self, _key: str, value: str) -> str:
        return validate_dag_id(value, "pipeline name")

    @validates("run_frequency")
    def _frequency(self, _key: str, value: str) -> str:
        return validate_run_frequency(value, f"pipeline {self.name!r} run_frequency")

    @validates("owners")
    def _owners(self, _key: str, value: list[str]) -> list[str]:
        return validate_email_list(value, f"pipeline {self.name!r} owners")

    @validates("max_active_runs")
    def _max_active_runs(self, _key: str, value: Any) -> int | None:
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        message = (
            f"pipeline {self.name!r} max_active_runs: expected a whole number of at least 1 "
            f"(how many runs may go at once), or null for one; got {value!r}"
        )
        raise InvalidInputError([("max_active_runs", value, message)])

    @validates("dataset_schedule")
    def _dataset_schedule(self, _key: str, value: Any) -> dict[str, list[str]] | None:
        from core.lineage.schedule import check_shape

        return check_shape(value, f"pipeline {self.name!r}")


class PipelineStateType(Tracked, Base):
    """raw, ingest, master, enhance, enrich, metrics, dimensional: the lake's states."""

    __tablename__ = "pipeline_state_types"
    __table_args__ = (_non_negative("graph_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    graph_order: Mapped[int] = mapped_column(Integer, default=0)

    @validates("name")
    def _name(self, _key: str, value: str) -> str:
        return validate_path_part(value, "pipeline state type name")


class PipelineState(Tracked, Base):
    """One state of one pipeline, placed by graph_order."""

    __tablename__ = "pipeline_states"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "pipeline_state_type_id"),
        _non_negative("graph_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    pipeline_state_type_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_state_types.id", ondelete="RESTRICT"), index=True
    )
    graph_order: Mapped[int] = mapped_column(Integer, default=0)

    pipeline: Mapped[Pipeline] = relationship(back_populates="pipeline_states")
    pipeline_state_type: Mapped[PipelineStateType] = relationship()
    transformations: Mapped[list[Transformation]] = relationship(
        back_populates="pipeline_state",
        cascade="all, delete-orphan",
        order_by="Transformation.graph_order",
    )

    @validates("graph_order")
    def _order(self, _key: str, value: int) -> int:
        return _check_order(value, "pipeline state")


class Tag(Tracked, Base):
    """A label for templates."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)

    @validates("name")
    def _name(self, _key: str, value: str) -> str:
        return validate_label(value, "tag name")


class TransformationTemplateTag(Tracked, Base):
    """Which tags a template carries."""

    __tablename__ = "transformation_template_tags"

    transformation_template_id: Mapped[int] = mapped_column(
        ForeignKey("transformation_templates.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)


class TransformationTemplate(Tracked, Base):
    """What a transformation does: a Python function or a notebook, and its variables."""

    __tablename__ = "transformation_templates"
    __table_args__ = (CheckConstraint("kind IN ('python', 'notebook')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    variable_structures: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    pipeline_state_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_state_types.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default="python", server_default="python")
    entrypoint: Mapped[str | None] = mapped_column(String(300))

    pipeline_state_type: Mapped[PipelineStateType | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(
        secondary="transformation_template_tags", order_by="Tag.name"
    )

    @validates("name")
    def _name(self, _key: str, value: str) -> str:
        return validate_path_part(value, "transformation template name")

    @validates("kind")
    def _kind(self, _key: str, value: str) -> str:
        if value not in TRANSFORMATION_KINDS:
            raise ConfigurationError(
                f"transformation template {self.name!r} kind {value!r} is not valid: "
                f"expected one of {', '.join(TRANSFORMATION_KINDS)}"
            )
        return value

    @property
    def tag_names(self) -> list[str]:
        """The names of the template's tags."""
        return [tag.name for tag in self.tags]

    @validates("variable_structures")
    def _structures(self, _key: str, value: dict[str, Any] | None) -> dict[str, Any]:
        load_schema(value, self.name or "(unnamed)")
        return value or {}


class Transformation(Tracked, Base):
    """One task of a pipeline: a template placed in a state with its variables."""

    __tablename__ = "transformations"
    __table_args__ = (
        _non_negative("graph_order"),
        _non_negative("retries"),
        _non_negative("retry_delay_seconds"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transformation_template_id: Mapped[int] = mapped_column(
        ForeignKey("transformation_templates.id", ondelete="RESTRICT"), index=True
    )
    pipeline_state_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_states.id", ondelete="CASCADE"), index=True
    )
    graph_order: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_delay_seconds: Mapped[int] = mapped_column(Integer, default=300, server_default="300")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    transformation_template: Mapped[TransformationTemplate] = relationship()
    pipeline_state: Mapped[PipelineState] = relationship(back_populates="transformations")
    transformation_variables: Mapped[list[TransformationVariable]] = relationship(
        back_populates="transformation",
        cascade="all, delete-orphan",
        order_by="TransformationVariable.name",
    )
    dataset_checks: Mapped[list[DatasetCheck]] = relationship(
        back_populates="transformation", cascade="all, delete-orphan", order_by="DatasetCheck.id"
    )

    @validates("graph_order")
    def _order(self, _key: str, value: int) -> int:
        return _check_order(value, self.label)

    @property
    def label(self) -> str:
        """How messages name this transformation."""
        template = self.transformation_template.name if self.transformation_template else "?"
        return transformation_label(self.id, template)

    @property
    def stored_variables(self) -> dict[str, str | None]:
        """The variable values as stored (text)."""
        return {v.name: v.value for v in self.transformation_variables}

    @property
    def variable_values(self) -> dict[str, Any]:
        """The stored values read back as their declared JSON types (booleans, numbers,
        lists, objects), as the API shows them; see core.models.variables.typed_values."""
        try:
            schema = self._schema()
        except ConfigurationError:  # a template whose schema is broken: show the text
            schema = {}
        return typed_values(schema, self.stored_variables)

    @property
    def variables(self) -> dict[str, Any]:
        """The typed variables per the template's schema, with defaults filled in.

        Raises:
            MissingTransformationVariableError, ExtraTransformationVariableError,
            TransformationVariableTypeError: the stored values do not fit the schema.
        """
        return parse_variables(self._schema(), self.stored_variables, self.label)

    def check_variables(self) -> list[ConfigurationError]:
        """Every problem of this transformation's variables (empty when valid)."""
        return list(check_variables(self._schema(), self.stored_variables, self.label))

    def check(self) -> list[ConfigurationError]:
        """Every problem of this transformation, saved or not: what the API runs before saving.

        Returns:
            The template/state mismatch, if any, and every variable problem.
        """
        problems: list[ConfigurationError] = []
        template, state = self.transformation_template, self.pipeline_state
        if template is None or state is None:
            missing = "template" if template is None else "pipeline state"
            return [ConfigurationError(f"{self.label}: has no {missing}; set one")]
        wanted, placed = template.pipeline_state_type, state.pipeline_state_type
        if wanted is not None and placed is not None and wanted.name != placed.name:
            problems.append(
                ConfigurationError(
                    f"{self.label}: template {template.name!r} belongs in the {wanted.name!r} "
                    f"state, but the transformation is placed in {placed.name!r}; move it or "
                    "pick another template"
                )
            )
        return problems + self.check_variables()

    def set_variables(self, values: dict[str, Any]) -> None:
        """Replace the variables with these values (typed values are stored as text).

        None is stored as no value (the template's default then applies), not as "None".
        """
        rows = {v.name: v for v in self.transformation_variables}
        for name in set(rows) - set(values):
            self.transformation_variables.remove(rows[name])
        for name, value in values.items():
            text = None if value is None else to_text(value)
            if name in rows:
                rows[name].value = text
            else:
                self.transformation_variables.append(TransformationVariable(name=name, value=text))

    def _schema(self) -> dict[str, Any]:
        template = self.transformation_template
        return load_schema(template.variable_structures, template.name)


class TransformationVariable(Tracked, Base):
    """One variable value of a transformation, stored as text."""

    __tablename__ = "transformation_variables"
    __table_args__ = (UniqueConstraint("transformation_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transformation_id: Mapped[int] = mapped_column(
        ForeignKey("transformations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[str | None] = mapped_column(Text)

    transformation: Mapped[Transformation] = relationship(back_populates="transformation_variables")

    @validates("value")
    def _value(self, _key: str, value: Any) -> str | None:
        return None if value is None else to_text(value)
