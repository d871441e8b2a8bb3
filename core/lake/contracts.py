"""Contracts built from the configuration: the output of a transformation and its neighbours.

A transformation's output contract is its pipeline's company and brand, its
state, and a dataset named by the transformation's ``dataset`` variable when its
template declares one, else by the template's name. Everything comes from one
query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from core.errors import NotFoundError, did_you_mean
from core.lake.contract import RAW_STATE, Contract
from core.models import configuration as cfg
from core.plan.model import output_dataset
from core.settings import Settings, load_settings


def contract_class(state: str) -> type[Contract]:
    """RawContract for the raw state, DatasetContract for every other state."""
    from core.lake.dataset_contract import DatasetContract
    from core.lake.raw_contract import RawContract

    return RawContract if state == RAW_STATE else DatasetContract


def contract_from_transformation_id(
    t_id: int, session: Session, settings: Settings | None = None
) -> Any:
    """The output contract of one transformation.

    Args:
        t_id: the transformation's id.
        session: a configuration session.
        settings: CORE's settings; load_settings() when omitted.

    Returns:
        A RawContract (raw state) or a DatasetContract.

    Raises:
        NotFoundError: no transformation has that id.
        ContractError: a name from the configuration is not a valid contract part.
    """
    transformation = load_transformation(t_id, session)
    return _contract_of(transformation, settings or load_settings())


def pipeline_contracts(t_id: int, session: Session, settings: Settings | None = None) -> list[Any]:
    """The output contracts of every transformation in the pipeline of ``t_id``, in order."""
    transformation = load_transformation(t_id, session)
    return list(contracts_by_transformation(transformation, settings).values())


def contracts_by_transformation(
    transformation: cfg.Transformation, settings: Settings | None = None
) -> dict[int, Any]:
    """The output contract of every transformation in a loaded transformation's pipeline.

    Args:
        transformation: one returned by :func:`load_transformation` (its pipeline loaded).
        settings: CORE's settings; load_settings() when omitted.

    Returns:
        Transformation id -> contract, in run order (states, then graph_order).
    """
    settings = settings or load_settings()
    pipeline = transformation.pipeline_state.pipeline
    return {
        sibling.id: _contract_of(sibling, settings)
        for state in sorted(pipeline.pipeline_states, key=lambda s: (s.graph_order, s.id))
        for sibling in sorted(state.transformations, key=lambda t: (t.graph_order, t.id))
    }


def relative_contract(
    t_id: int,
    name: str,
    session: Session,
    state: str | None = None,
    settings: Settings | None = None,
) -> Any:
    """The output contract of another transformation of the same pipeline, by dataset name.

    Args:
        t_id: the transformation asking (e.g. an ingest step looking for its raw files).
        name: the dataset name (a ``dataset`` variable, else a template name).
        session: a configuration session.
        state: only look in this state.
        settings: CORE's settings; load_settings() when omitted.

    Returns:
        The matching contract.

    Raises:
        NotFoundError: no transformation of the pipeline outputs that dataset.
    """
    contracts = pipeline_contracts(t_id, session, settings)
    matches = [c for c in contracts if c.dataset == name and state in (None, c.state)]
    if matches:
        return matches[0]
    known = sorted({f"{c.state}/{c.dataset}" for c in contracts})
    raise NotFoundError(
        f"transformation {t_id}'s pipeline has no dataset {name!r}"
        f"{f' in state {state!r}' if state else ''}: expected one of {', '.join(known)}."
        + did_you_mean(name, [c.dataset for c in contracts if c.dataset])
    )


def dataset_name(transformation: cfg.Transformation) -> str:
    """The transformation's ``dataset`` variable when its template declares one, else its name.

    Only that variable is read, so a sibling whose other variables are invalid does not
    stop this transformation from finding its contracts (the pipeline check reports it).
    """
    template = transformation.transformation_template
    return output_dataset(
        template.name, template.variable_structures, transformation.stored_variables
    )


def _contract_of(transformation: cfg.Transformation, settings: Settings) -> Any:
    state = transformation.pipeline_state
    brand = state.pipeline.brand
    state_name = state.pipeline_state_type.name
    return contract_class(state_name)(
        brand.pharmaceutical_company.name,
        brand.name,
        state_name,
        dataset_name(transformation),
        settings=settings,
    )


def load_transformation(t_id: int, session: Session) -> cfg.Transformation:
    """A transformation with its pipeline, states, siblings, templates and variables loaded.

    Args:
        t_id: the transformation's id.
        session: a configuration session.

    Returns:
        The Transformation, loaded in one query.

    Raises:
        NotFoundError: no transformation has that id.
    """
    # One statement: the transformation, its pipeline (company, brand) and every state and
    # transformation of that pipeline with templates and variables, joined eagerly.
    T, S, P = cfg.Transformation, cfg.PipelineState, cfg.Pipeline
    siblings = joinedload(T.pipeline_state).joinedload(S.pipeline)
    query = (
        select(T)
        .where(T.id == t_id)
        .options(
            joinedload(T.transformation_template),
            joinedload(T.transformation_variables),
            siblings.joinedload(P.brand).joinedload(cfg.Brand.pharmaceutical_company),
            siblings.joinedload(P.pipeline_states).joinedload(S.pipeline_state_type),
            siblings.joinedload(P.pipeline_states)
            .joinedload(S.transformations)
            .options(joinedload(T.transformation_template), joinedload(T.transformation_variables)),
            joinedload(T.pipeline_state).joinedload(S.pipeline_state_type),
        )
    )
    found = session.scalars(query).unique().first()
    if found is None:
        raise NotFoundError(
            f"no transformation has id {t_id!r}; `core pipelines show PIPELINE` lists the ids "
            "(the number at the end of each task id)"
        )
    return found
