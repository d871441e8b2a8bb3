"""Data quality checks as configuration: validated on save, evaluated on demand.

One validation path for the API, the UI and the CLI (through
``core.service.resources`` and :data:`DATASET_CHECKS`): the kind and its typed
arguments, the severity, that the transformation writes a dataset, that the columns
named exist in the dataset's last published schema (when it has been published),
and that a relationship's other dataset is written by the same pipeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.checks.evaluate import (
    CheckSpec,
    Outcome,
    check_severity,
    evaluate_checks,
    parse_arguments,
    validate_spec,
)
from core.checks.kinds import Args, RelationshipArgs
from core.errors import (
    ConfigurationError,
    ContractNotFoundError,
    CoreError,
    InvalidInputError,
    NotFoundError,
    did_you_mean,
)
from core.lake.dataset_contract import METADATA_COLUMNS, DatasetContract
from core.models import configuration as cfg
from core.service.datasets import output_dataset
from core.service.resources import Problem, Resource
from core.settings import Settings

logger = logging.getLogger("core.service.checks")
# How long checks tried on a published run may take ("Try it" runs in the web server).
TRY_TIME_LIMIT = 30.0


def check_dataset_check(
    session: Session, row: cfg.DatasetCheck, settings: Settings | None
) -> list[Problem]:
    """Every problem of a check about to be saved, each tied to a field."""
    problems: list[Problem] = []
    if row.severity is None:  # not sent: the column's default, before it is checked
        row.severity = "error"
    reason = check_severity(row.severity)
    if reason:
        problems.append(("severity", row.severity, reason))
    try:
        args = parse_arguments(row.kind, row.arguments)
    except InvalidInputError as exc:
        return problems + list(exc.problems)
    transformation = session.get(cfg.Transformation, row.transformation_id)
    if transformation is None:
        return problems  # the reference check names it
    if transformation.pipeline_state.pipeline_state_type.name == "raw":
        problems.append(
            (
                "transformation_id",
                row.transformation_id,
                "writes raw files, not a dataset: "
                "expected a transformation that publishes a dataset",
            )
        )
        return problems
    problems += _unknown_columns(session, row, args, settings)
    if isinstance(args, RelationshipArgs):
        problems += _other_dataset(session, transformation, args)
    return problems


def _unknown_columns(
    session: Session, row: cfg.DatasetCheck, args: Args, settings: Settings | None
) -> list[Problem]:
    columns = published_columns(session, row.transformation_id, settings)
    if columns is None:
        return []  # never published: the worker names a missing column when it runs
    missing = [c for c in args.columns() if c not in columns]
    return [
        (
            "arguments",
            name,
            f"dataset has no column {name!r} in its last published schema; expected one of "
            f"{', '.join(columns)}." + did_you_mean(name, columns),
        )
        for name in missing
    ]


def published_columns(
    session: Session, transformation_id: int, settings: Settings | None
) -> list[str] | None:
    """The data columns of a transformation's output as last published, or None."""
    from core.lake.contracts import contract_from_transformation_id

    try:
        contract = contract_from_transformation_id(transformation_id, session, settings)
        if not isinstance(contract, DatasetContract):
            return None
        schema = contract.schema_or_none()
    except CoreError as exc:  # an unreadable lake must not block saving configuration
        logger.warning("schema of transformation %s not read: %s", transformation_id, exc)
        return None
    if schema is None:
        return None
    return [name for name in schema.names if name not in METADATA_COLUMNS]


def _other_dataset(
    session: Session, transformation: cfg.Transformation, args: RelationshipArgs
) -> list[Problem]:
    from core.plan.queries import load_plans  # the plan's five queries, not one per task

    pipeline = transformation.pipeline_state.pipeline
    (plan,) = load_plans(session, only_active=False, ids=[pipeline.id])
    datasets = sorted({t.dataset or t.template for t in plan.tasks if t.state != "raw"})
    if args.dataset in datasets:
        return []
    return [
        (
            "arguments.to",
            args.to,
            f"pipeline {pipeline.name!r} writes no dataset {args.dataset!r}; expected one of "
            f"{', '.join(datasets)}." + did_you_mean(args.dataset, datasets),
        )
    ]


DATASET_CHECKS = Resource(
    noun="check",
    model=cfg.DatasetCheck,
    fields=("transformation_id", "kind", "arguments", "severity", "description"),
    references={"transformation_id": cfg.Transformation},
    sortable=("id", "transformation_id", "kind", "updated_at"),
    filters={"transformation_id": cfg.DatasetCheck.transformation_id},
    search=(cfg.DatasetCheck.kind, cfg.DatasetCheck.description),
    before_save=check_dataset_check,
)


@dataclass(frozen=True)
class TriedChecks:
    """What checks found on a run's published rows of a dataset."""

    dataset: str
    run_id: int
    rows: int
    outcomes: list[Outcome]


def try_checks(
    settings: Settings,
    session: Session,
    transformation_id: int,
    run_id: int,
    checks: list[CheckSpec] | None = None,
    time_limit: float = TRY_TIME_LIMIT,
) -> TriedChecks:
    """Evaluate checks on a run's already published rows of a transformation's output.

    Nothing is recorded: this is for trying a check on yesterday's data before saving
    it (``core checks run``, the UI's "Try it").

    Args:
        checks: the checks to try; the transformation's saved checks when None.
        time_limit: seconds the checks may take in all (they run in the caller's
            process, the web server's for "Try it"); what is cut off is ``error``.

    Raises:
        NotFoundError: no such transformation, or the run published no rows of it.
        InvalidInputError: a check's kind or arguments are not valid.
    """
    from core.checks.results import previous_rows
    from core.lake.contracts import contract_from_transformation_id, pipeline_contracts

    transformation = session.get(cfg.Transformation, transformation_id)
    if transformation is None:
        raise NotFoundError(f"no transformation with id {transformation_id}")
    if checks is None:
        checks = [CheckSpec.of(_spec(c)) for c in transformation.dataset_checks]
    for spec in checks:
        validate_spec(spec)
    contract = contract_from_transformation_id(transformation_id, session, settings)
    if not isinstance(contract, DatasetContract):
        raise NotFoundError(f"transformation {transformation_id} writes raw files, not a dataset")
    table = contract.fetch_arrow(run_id=run_id)
    if table.num_rows == 0 and contract.schema_or_none() is None:
        raise NotFoundError(f"dataset {contract.uri} has not been published")
    others = {c.dataset: c for c in pipeline_contracts(transformation_id, session, settings)}

    def other(name: str) -> Any:
        if name not in others or not isinstance(others[name], DatasetContract):
            raise ValueError(f"the pipeline writes no dataset {name!r}")
        return others[name].fetch_arrow(run_id=run_id)

    outcomes = evaluate_checks(
        checks,
        table,
        lambda: previous_rows(session, transformation_id, run_id),
        other,
        time_limit=time_limit,
    )
    return TriedChecks(contract.uri, run_id, table.num_rows, outcomes)


def dataset_transformation(session: Session, key: str, pipeline: str | None = None) -> int:
    """The id of the transformation that writes the dataset ``key`` (the plans' queries, once).

    Args:
        key: ``company/brand/state/dataset``, as the lineage names datasets.
        pipeline: the pipeline whose transformation is meant, when several write it.

    Raises:
        NotFoundError: no pipeline (or not ``pipeline``) writes that dataset, close keys
            suggested; or there is no such pipeline.
        ConfigurationError: several pipelines write it and ``pipeline`` names none.
    """
    from core.lineage.schedule import output_keys
    from core.plan import load_plan, load_plans

    plans = [load_plan(session, pipeline)] if pipeline else load_plans(session, only_active=False)
    writers: dict[str, dict[str, int]] = {}
    for plan in plans:
        for dataset, task in zip(output_keys(plan), plan.tasks, strict=True):
            writers.setdefault(dataset, {}).setdefault(plan.name, task.transformation_id)
    if key not in writers:
        who = f"pipeline {pipeline!r} writes no" if pipeline else "no pipeline writes"
        raise NotFoundError(
            f"{who} dataset {key!r}: expected company/brand/state/dataset of a "
            "transformation's output." + did_you_mean(key, writers)
        )
    if len(writers[key]) > 1:
        named = ", ".join(f"{name!r} (transformation {tid})" for name, tid in writers[key].items())
        raise ConfigurationError(
            f"dataset {key!r} is written by several pipelines: {named}; expected the one "
            "meant to be named too (core checks run --pipeline NAME)"
        )
    return next(iter(writers[key].values()))


def run_with_rows(
    settings: Settings, session: Session, transformation_id: int, run_id: int | None = None
) -> int:
    """The run whose published rows checks are tried on: ``run_id``, else the latest.

    Raises:
        NotFoundError: no such transformation; its dataset was never published; or
            ``run_id`` published no rows of it (the runs that did are named).
        ConfigurationError: the transformation writes raw files, not a dataset.
    """
    contract = output_dataset(settings, session, transformation_id)
    name = f"dataset {contract.dataset!r} of transformation {transformation_id}"
    try:
        runs = contract.run_ids()
    except ContractNotFoundError:
        runs = []
    if not runs:
        raise NotFoundError(
            f"{name} has never been published, so there are no rows to check: "
            "run its pipeline first"
        )
    if run_id is None:
        return runs[-1]
    if run_id not in runs:
        raise NotFoundError(
            f"{name} has no rows of run {run_id}: expected one of the runs that published it "
            f"({', '.join(map(str, runs))})"
        )
    return run_id


def _spec(check: cfg.DatasetCheck) -> dict[str, Any]:
    from core.plan.model import check_spec

    return check_spec(check)
