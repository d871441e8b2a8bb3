"""Authoring notebook transforms: a new notebook from the template, registered as a template.

``core transforms new NAME --state STATE`` copies ``transforms/Template.ipynb`` to
``transforms/NAME.ipynb`` and registers a notebook template ``NAME`` whose variables
are the ones its ``parameters`` cell assigns, typed from their example values.

While writing a transform, :func:`development_context` gives an author (in a notebook
or any Python session) the context of a configured transformation in a real run: its
variables, the run's upstream datasets through ``ctx.input(...)``, and a ``publish``
that writes to a development branch of the lake (``dev-{user}`` by default), never to
the branch the run's own outputs are on.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import (
    ConfigurationError,
    ContractError,
    DuplicateError,
    NotFoundError,
    did_you_mean,
)
from core.models import configuration as cfg
from core.names import PATH_PART_MAX_LENGTH, validate_path_part
from core.settings import Settings
from core.transforms.notebook_validation import IPYTHON_PREFIXES, notebook_path, parameters_cell

if TYPE_CHECKING:
    from core.transforms.context import TransformContext

TEMPLATE_NOTEBOOK = "Template"
# Set by corebot in a cell of its own: never template variables.
INJECTED = ("transform_id", "run_id")
# The variable type of an example value (bool before int: True is an int too).
LITERAL_TYPES = (
    (bool, "bool"),
    (int, "int"),
    (float, "float"),
    (str, "string"),
    (list, "list"),
    (dict, "json"),
)
DEVELOPMENT_BRANCH_PREFIX = "dev-"


def new_notebook_template(
    settings: Settings, session: Session, name: str, state: str
) -> tuple[Path, cfg.TransformationTemplate]:
    """Create ``{transforms_dir}/{name}.ipynb`` from the template and register it (committed).

    Raises:
        InvalidNameError: the name is not a valid template name.
        NotFoundError: the state does not exist.
        DuplicateError: a template or a notebook of that name exists already.
        ConfigurationError: the template notebook is missing or its parameters cell is not
            Python.
    """
    validate_path_part(name, "transformation template name")
    state_type = _state_type(session, state)
    if (
        session.scalar(
            select(cfg.TransformationTemplate).where(cfg.TransformationTemplate.name == name)
        )
        is not None
    ):
        raise DuplicateError(
            f"a transformation template named {name!r} exists already; pick another name"
        )
    target, source = notebook_path(settings, name), notebook_path(settings, TEMPLATE_NOTEBOOK)
    if target.exists():
        raise DuplicateError(f"{target} exists already; pick another name or register it")
    variables = notebook_variables(source)
    shutil.copyfile(source, target)
    try:
        template = cfg.TransformationTemplate(
            name=name,
            kind="notebook",
            pipeline_state_type=state_type,
            description=f"Notebook transform {name} (transforms/{name}.ipynb).",
            variable_structures=variables,
        )
        session.add(template)
        session.commit()
    except BaseException:
        target.unlink(missing_ok=True)  # nothing half-made stays behind
        raise
    return target, template


def notebook_variables(path: Path) -> dict[str, dict[str, Any]]:
    """The variables a notebook's parameters cell assigns, typed from their example values.

    Raises:
        ConfigurationError: the notebook cannot be read, has no parameters cell, or the cell
            is not Python.
    """
    import nbformat

    try:
        cell = parameters_cell(nbformat.read(path, as_version=4))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the notebook {path}: {exc}") from exc
    if cell is None:
        raise ConfigurationError(f"{path} has no code cell tagged 'parameters'; tag one")
    lines = [
        "" if line.lstrip().startswith(IPYTHON_PREFIXES) else line
        for line in cell.source.splitlines()
    ]
    try:
        statements = ast.parse("\n".join(lines)).body
    except SyntaxError as exc:
        raise ConfigurationError(f"{path}: the parameters cell is not Python: {exc}") from exc
    return dict(_variable(s) for s in statements if _is_variable(s))


def _is_variable(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id not in INJECTED
    )


def _variable(statement: ast.Assign) -> tuple[str, dict[str, Any]]:
    name = statement.targets[0].id  # type: ignore[attr-defined]
    try:
        value = ast.literal_eval(statement.value)
    except ValueError:
        value = None  # an expression, not a literal: a required string
    kind = next((k for t, k in LITERAL_TYPES if isinstance(value, t)), "string")
    spec: dict[str, Any] = {"type": kind, "required": value is None}
    if value is not None:
        spec["default"] = value
    return name, spec


def _state_type(session: Session, state: str) -> cfg.PipelineStateType:
    known = {t.name: t for t in session.scalars(select(cfg.PipelineStateType))}
    if state not in known:
        raise NotFoundError(
            f"no pipeline state {state!r}; expected one of "
            f"{', '.join(sorted(known))}." + did_you_mean(state, known)
        )
    return known[state]


def development_branch(user: str | None = None) -> str:
    """The default development branch of a person: ``dev-{user}``, as a valid path part.

    Args:
        user: the person's name; the operating-system user when omitted.
    """
    from core.helpers.session_helper import default_actor

    name = re.sub(r"[^a-z0-9_-]+", "-", (user or default_actor()).lower()).strip("-_")
    return (DEVELOPMENT_BRANCH_PREFIX + (name or "author"))[:PATH_PART_MAX_LENGTH]


def development_context(
    transformation_id: int,
    run_id: int | None = None,
    branch: str | None = None,
    settings: Settings | None = None,
) -> TransformContext:
    """The context of a transformation in a run, publishing to a development branch.

    ``ctx.input(...)`` reads the run's upstream datasets where the run wrote them
    (``settings.branch``); ``ctx.output`` and ``ctx.publish(...)`` use ``branch``. No
    task run is recorded: the run's own records and outputs are left as they are. The
    dataset's checks are evaluated as in a run (a failing error check stops the
    publish) but their results are not recorded with the run.

    Args:
        transformation_id: the transformation's id (``core pipelines show PIPELINE``).
        run_id: a run of its pipeline (``core runs list``); its latest run when omitted.
        branch: the lake branch to publish to; ``dev-{user}`` when omitted.
        settings: CORE's settings; loaded from the environment when omitted.

    Returns:
        A TransformContext whose output contract is on the development branch.

    Raises:
        ContractError: the branch is protected, or is the branch the run reads from.
        NotFoundError: the transformation does not exist, or its pipeline never ran.
        ConfigurationError: the run belongs to another pipeline, or the variables are
            invalid.
    """
    from dataclasses import replace

    from core.helpers.session_helper import SessionHelper
    from core.settings import load_settings
    from core.transforms.runtime import build_context

    settings = settings or load_settings()
    branch = _development_branch(branch or development_branch(), settings)
    session = SessionHelper(settings, actor="notebook").session
    if run_id is None:
        run_id = latest_run_id(session, transformation_id)
    # The configuration being edited, over the run's data (not the run's snapshot).
    ctx = build_context(settings, session, int(transformation_id), int(run_id), current=True)
    output = _on_branch(ctx.output, branch)
    ctx.logger.info("publishing to the development branch: %s", output.uri)
    # the checks still stop a publish a run would refuse; their results are not the run's
    contracts = {**ctx.contracts, ctx.transform_id: output}
    return replace(ctx, output=output, contracts=contracts, record_checks=False)


def latest_run_id(session: Session, transformation_id: int) -> int:
    """The newest run of a transformation's pipeline.

    Raises:
        NotFoundError: the transformation does not exist, or its pipeline never ran.
    """
    from core.lake.contracts import load_transformation
    from core.models.runs import RunEvent

    pipeline = load_transformation(transformation_id, session).pipeline_state.pipeline
    query = select(RunEvent.id).where(RunEvent.pipeline_id == pipeline.id)
    found = session.scalar(query.order_by(RunEvent.id.desc()).limit(1))
    if found is None:
        raise NotFoundError(
            f"pipeline {pipeline.name!r} of transformation {transformation_id} has no run "
            f"yet, so there is no upstream data to develop against; run it first: "
            f"`core run {pipeline.name}`"
        )
    return found


def _on_branch(contract: Any, branch: str) -> Any:
    """The same contract (raw or dataset) on another branch."""
    parts = (contract.parent, contract.child, contract.state, contract.dataset)
    return type(contract)(*parts, branch=branch, settings=contract.settings)


def _development_branch(branch: str, settings: Settings) -> str:
    from core.lake.contract import PROTECTED_BRANCHES

    if branch in PROTECTED_BRANCHES or branch == settings.branch:
        raise ContractError(
            f"development branch {branch!r} is not allowed: it is "
            f"{'protected' if branch in PROTECTED_BRANCHES else 'the branch runs publish to'} "
            f"({settings.branch!r} here); expected a working branch of your own such as "
            f"{development_branch()!r}"
        )
    return branch
