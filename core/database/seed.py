"""Load a configuration "world" (companies to pipelines) from a YAML file.

The sample configuration of dev and the demo (``worlds/sample.yaml``) and the
ConfigurationMocker's small world (``worlds/mock.yaml``) are such files, and
``core db seed --file`` loads any other. Loading is idempotent: objects are
matched by name, and a pipeline that already exists is left as it is (its
transformations' data quality checks, ``checks:``, are added with the pipeline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ConfigurationError, InvalidInputError, did_you_mean
from core.models import configuration as cfg
from core.models.dataset_checks import DESCRIPTION_LENGTH
from core.models.variables import to_text

WORLDS = Path(__file__).resolve().parent / "worlds"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SegmentSpec(_Model):
    name: str
    pipeline_types: list[str] = []


class BrandSpec(_Model):
    name: str
    display_name: str | None = None


class CompanySpec(_Model):
    name: str
    display_name: str | None = None
    brands: list[BrandSpec] = []


class TemplateSpec(_Model):
    name: str
    state: str | None = None
    kind: str = "python"
    entrypoint: str | None = None
    description: str | None = None
    tags: list[str] = []
    variables: dict[str, dict[str, Any]] = {}


class DatasetCheckSpec(_Model):
    """A data quality check of the transformation's output (core.checks.kinds)."""

    kind: str
    arguments: dict[str, Any] = {}
    severity: Literal["error", "warn"] = "error"
    description: str | None = Field(default=None, max_length=DESCRIPTION_LENGTH)

    @model_validator(mode="after")
    def _known(self) -> DatasetCheckSpec:
        from core.checks.evaluate import parse_arguments  # only worlds with checks pay for it

        try:
            parse_arguments(self.kind, self.arguments)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None
        return self


class TransformationSpec(_Model):
    template: str
    graph_order: int = Field(default=0, ge=0)
    retries: int = Field(default=0, ge=0)
    retry_delay_seconds: int = Field(default=300, ge=0)
    variables: dict[str, Any] = {}
    checks: list[DatasetCheckSpec] = []


class StateSpec(_Model):
    state: str
    graph_order: int | None = Field(default=None, ge=0)
    transformations: list[TransformationSpec] = []


class RunSpec(_Model):
    state: str = "success"
    triggered_by: str = "mock"


class PipelineSpec(_Model):
    name: str
    company: str
    brand: str
    type: str
    active: bool = True
    run_frequency: str = "none"
    description: str | None = None
    owners: list[str] = []
    dataset_schedule: dict[str, list[str]] | None = None
    states: list[StateSpec] = []
    runs: list[RunSpec] = []


class World(_Model):
    """A whole configuration, as written in a world file."""

    state_types: list[str] = list(cfg.STATE_TYPE_ORDER)
    builtins: bool = False
    segments: list[SegmentSpec] = []
    companies: list[CompanySpec] = []
    templates: list[TemplateSpec] = []
    pipelines: list[PipelineSpec] = []


def read_world(path: Path) -> World:
    """Parse and validate a world file.

    Raises:
        ConfigurationError: the file is missing, not YAML, or not a valid world
            (the message names the file and the path of the bad entry).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read world file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return World.model_validate(data or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ConfigurationError(
            f"{path}: {where}: {error['msg']} (got {error.get('input')!r})"
        ) from None


def sample_world() -> World:
    """The sample configuration of dev and the demo."""
    return read_world(WORLDS / "sample.yaml")


def mock_world() -> World:
    """The ConfigurationMocker's small world."""
    return read_world(WORLDS / "mock.yaml")


def load_world(session: Session, world: World) -> dict[str, int]:
    """Add a world's objects that the database does not have yet (not committed).

    Args:
        session: the configuration session; the caller commits.
        world: the validated world.

    Returns:
        How many objects of each kind were added.

    Raises:
        ConfigurationError: the world names something it does not define.
    """
    loader = _Loader(session)
    loader.state_types(world.state_types)
    loader.segments(world.segments)
    loader.companies(world.companies)
    if world.builtins:
        loader.builtins()
    loader.templates(world.templates)
    loader.pipelines(world.pipelines)
    session.flush()
    return loader.added


def _refresh_needed(template: cfg.TransformationTemplate, builtin: Any) -> bool:
    state = template.pipeline_state_type.name if template.pipeline_state_type else None
    return (template.description, template.variable_structures, state, template.entrypoint) != (
        builtin.description,
        builtin.variables,
        builtin.state,
        None,
    )


class _Loader:
    """Get-or-create by name, one query per kind of object (never one per row)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.added: dict[str, int] = {}

    def _existing(self, model: type, key: str = "name") -> dict[Any, Any]:
        return {getattr(row, key): row for row in self.session.scalars(select(model))}

    def _add(self, kind: str, obj: Any) -> Any:
        self.session.add(obj)
        self.added[kind] = self.added.get(kind, 0) + 1
        return obj

    def state_types(self, names: list[str]) -> None:
        existing = self._existing(cfg.PipelineStateType)
        for order, name in enumerate(names):
            if name not in existing:
                obj = cfg.PipelineStateType(name=name, graph_order=order)
                existing[name] = self._add("pipeline state types", obj)
        self.state_type = existing

    def segments(self, specs: list[SegmentSpec]) -> None:
        segments, types = self._existing(cfg.Segment), self._existing(cfg.PipelineType)
        for spec in specs:
            segment = segments.get(spec.name) or self._add("segments", cfg.Segment(name=spec.name))
            segments[spec.name] = segment
            for type_name in spec.pipeline_types:
                if type_name not in types:
                    obj = cfg.PipelineType(name=type_name, segment=segment)
                    types[type_name] = self._add("pipeline types", obj)
        self.pipeline_type = types

    def companies(self, specs: list[CompanySpec]) -> None:
        companies = self._existing(cfg.PharmaceuticalCompany)
        query = select(cfg.PharmaceuticalCompany.name, cfg.Brand).join(
            cfg.Brand.pharmaceutical_company
        )
        brands = {(company, brand.name): brand for company, brand in self.session.execute(query)}
        for spec in specs:
            company = companies.get(spec.name) or self._add(
                "companies",
                cfg.PharmaceuticalCompany(name=spec.name, display_name=spec.display_name),
            )
            companies[spec.name] = company
            for brand in spec.brands:
                if (spec.name, brand.name) not in brands:
                    obj = cfg.Brand(
                        name=brand.name,
                        display_name=brand.display_name,
                        pharmaceutical_company=company,
                    )
                    brands[(spec.name, brand.name)] = self._add("brands", obj)
        self.brand = brands

    def builtins(self) -> None:
        """Register (or refresh) the standard transforms' templates from the library."""
        from core.transforms.library import catalogue

        templates, tags = self._existing(cfg.TransformationTemplate), self._existing(cfg.Tag)
        for builtin in catalogue():
            template = templates.get(builtin.name)
            if template is None:
                template = self._add(
                    "transformation templates", cfg.TransformationTemplate(name=builtin.name)
                )
                templates[builtin.name] = template
            elif _refresh_needed(template, builtin):
                self.added["built-in templates refreshed"] = (
                    self.added.get("built-in templates refreshed", 0) + 1
                )
            template.kind, template.entrypoint = "python", None
            template.description, template.variable_structures = (
                builtin.description,
                builtin.variables,
            )
            template.pipeline_state_type = (
                self._lookup(self.state_type, builtin.state, "state") if builtin.state else None
            )
            for tag in builtin.tags:
                tags[tag] = tags.get(tag) or self._add("tags", cfg.Tag(name=tag))
                if tags[tag] not in template.tags:
                    template.tags.append(tags[tag])

    def templates(self, specs: list[TemplateSpec]) -> None:
        templates, tags = self._existing(cfg.TransformationTemplate), self._existing(cfg.Tag)
        for spec in specs:
            if spec.name in templates:
                continue
            template = cfg.TransformationTemplate(
                name=spec.name,
                kind=spec.kind,
                entrypoint=spec.entrypoint,
                description=spec.description,
                variable_structures=spec.variables,
                pipeline_state_type=self._lookup(self.state_type, spec.state, "state")
                if spec.state
                else None,
            )
            for tag in spec.tags:
                tags[tag] = tags.get(tag) or self._add("tags", cfg.Tag(name=tag))
                template.tags.append(tags[tag])
            templates[spec.name] = self._add("transformation templates", template)
        self.template = templates

    def pipelines(self, specs: list[PipelineSpec]) -> None:
        existing = self._existing(cfg.Pipeline)
        for spec in specs:
            if spec.name not in existing:
                existing[spec.name] = self._pipeline(spec)

    def _pipeline(self, spec: PipelineSpec) -> cfg.Pipeline:
        pipeline = cfg.Pipeline(
            name=spec.name,
            is_active=spec.active,
            run_frequency=spec.run_frequency,
            description=spec.description,
            owners=spec.owners,
            dataset_schedule=spec.dataset_schedule,
            brand=self._lookup(self.brand, (spec.company, spec.brand), "company and brand"),
            pipeline_type=self._lookup(self.pipeline_type, spec.type, "pipeline type"),
        )
        for order, state in enumerate(spec.states):
            pipeline.pipeline_states.append(self._state(pipeline, state, order))
        for run in spec.runs:
            pipeline.run_events.append(cfg.RunEvent(state=run.state, triggered_by=run.triggered_by))
        return self._add("pipelines", pipeline)

    def _state(self, pipeline: cfg.Pipeline, spec: StateSpec, order: int) -> cfg.PipelineState:
        state = cfg.PipelineState(
            pipeline_state_type=self._lookup(self.state_type, spec.state, "state"),
            graph_order=order if spec.graph_order is None else spec.graph_order,
        )
        for item in spec.transformations:
            transformation = cfg.Transformation(
                transformation_template=self._lookup(self.template, item.template, "template"),
                graph_order=item.graph_order,
                retries=item.retries,
                retry_delay_seconds=item.retry_delay_seconds,
            )
            for name, value in item.variables.items():
                transformation.transformation_variables.append(
                    cfg.TransformationVariable(name=name, value=to_text(value))
                )
            for check in item.checks:
                transformation.dataset_checks.append(cfg.DatasetCheck(**check.model_dump()))
                self.added["dataset checks"] = self.added.get("dataset checks", 0) + 1
            state.transformations.append(transformation)
        return state

    @staticmethod
    def _lookup(known: dict[Any, Any], key: Any, what: str) -> Any:
        if key not in known:
            names = [k if isinstance(k, str) else "/".join(k) for k in known]
            shown = key if isinstance(key, str) else "/".join(key)
            raise ConfigurationError(
                f"unknown {what} {shown!r}; known: {', '.join(sorted(names)) or 'none'}."
                + did_you_mean(shown, names)
            )
        return known[key]
