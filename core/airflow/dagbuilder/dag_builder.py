"""DagBuilder: one Airflow DAG per active pipeline, from the configuration database.

The plans of all pipelines come from the database in five queries at most (a
fingerprint and four flat loads, ``plans``), whatever their number. Each plan
becomes a DAG (``shape.dag_arguments``) whose tasks the TaskOrchestrator adds.
The last good plan of every pipeline is kept on disk (``cache``): a database
outage, or a pipeline that cannot be built, never makes the other DAGs go away.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from airflow.sdk import DAG
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.airflow.dagbuilder.cache import PlanCache
from core.airflow.dagbuilder.dag_cache import DagCache
from core.airflow.dagbuilder.shape import dag_arguments
from core.airflow.dagbuilder.task_orchestrator import TaskOrchestrator
from core.airflow.plugins.lineage import asset_schedule
from core.errors import DatabaseError
from core.helpers.session_helper import SessionHelper
from core.plan import PipelinePlan, configuration_fingerprint, load_plans
from core.settings import Settings, load_settings

log = logging.getLogger(__name__)


def build_dag(plan: PipelinePlan, settings: Settings) -> DAG:
    """The DAG of one pipeline.

    Args:
        plan: the pipeline's plan.
        settings: CORE's settings (start date, max active runs).

    Returns:
        The DAG, its tasks wired as an hourglass.
    """
    dag = DAG(**{**dag_arguments(plan, settings), **asset_schedule(plan, settings)})
    dag.timetable.validate()  # a bad cron fails here, not later in Airflow's DagBag
    return TaskOrchestrator(dag, plan, settings).build()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while DAGs are built.

    Building tens of thousands of operators allocates millions of objects that all
    live on; the collector would walk them again and again (a quarter of the
    build time at 35,000 tasks) to find nothing. Reference counting still frees
    what dies; the collector resumes afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class DagBuilder:
    """Builds the DAGs of the configured pipelines.

    Args:
        settings: CORE's settings; loaded from the environment when omitted.
        session: a configuration session to read from; one is opened when omitted.
    """

    def __init__(self, settings: Settings | None = None, session: Session | None = None) -> None:
        self.settings = settings or load_settings()
        self.session = session
        self.dags: dict[str, DAG] = {}
        self.problems: dict[str, str] = {}
        self.cache = PlanCache(self.settings.airflow_dag_cache)
        self.dag_cache = DagCache(self.settings.airflow_dag_cache, self.settings)
        self.fingerprint: str | None = None
        self.unchanged = False
        self.outage: Exception | None = None

    def _get_pipelines(
        self, only_active: bool = True, names: Sequence[str] | None = None
    ) -> list[PipelinePlan]:
        """The plans of the configured pipelines (the cached ones while unchanged).

        Args:
            only_active: leave out inactive pipelines.
            names: only these pipelines (all when None).

        Returns:
            The plans, ordered by name.
        """
        with self._session() as session:
            return self._read(session, only_active, names)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        if self.session is not None:
            yield self.session
            return
        if self.outage is not None:  # met once in this parse: do not wait for it again
            raise self.outage
        try:
            with SessionHelper(
                self.settings, actor="airflow", lock_timeout=self.settings.dag_database_timeout
            ) as session:
                yield session
        except (DatabaseError, DBAPIError) as exc:  # unreachable or locked: not a bad row
            self.outage = exc
            raise

    def _read(
        self, session: Session, only_active: bool, names: Sequence[str] | None
    ) -> list[PipelinePlan]:
        if not only_active or names is not None:
            return load_plans(session, only_active, names)
        self.fingerprint = self.fingerprint or configuration_fingerprint(session)
        cached = self.cache.plans_for(self.fingerprint)
        self.unchanged = cached is not None
        return load_plans(session) if cached is None else cached

    def do_build_dags(self, only: str | None = None) -> dict[str, DAG]:
        """Build the DAG of every active pipeline (or of one), falling back on last good plans.

        Args:
            only: build only this pipeline's DAG (a worker running one of its tasks).

        Returns:
            The DAGs by dag id (also kept in ``self.dags``).
        """
        with gc_paused():
            return self._build_dags(only)

    def _build_dags(self, only: str | None) -> dict[str, DAG]:
        if only is None and self._load_cached_dags():
            return self.dags
        plans = self._plans_or_last_good(only)
        good: dict[str, PipelinePlan] = {}
        for plan in plans:
            built = self._build_one(plan)
            if built is not None:
                self.dags[plan.name], good[plan.name] = built
        if only is None:
            self.cache.save_good(good, clean=not self.problems)
        if only is None and self.unchanged and not self.problems and self.fingerprint:
            self.dag_cache.save(self.fingerprint, self.dags)
        return self.dags

    def _load_cached_dags(self) -> bool:
        """Use the DAGs pickled for an unchanged configuration (one query), if any."""
        try:
            with self._session() as session:
                self.fingerprint = configuration_fingerprint(session)
        except Exception:  # the plan path meets the outage again, and logs it
            return False
        dags = self.dag_cache.load(self.fingerprint)
        if dags is None:
            return False
        self.dags = dags
        return True

    def _plans_or_last_good(self, only: str | None) -> list[PipelinePlan]:
        try:
            plans = self._get_pipelines(names=None if only is None else [only])
        except Exception as exc:  # a DB outage must not make the DAGs disappear
            self.problems["*"] = f"configuration database unavailable: {exc}"
            log.warning("CORE: %s; using the last good plans", self.problems["*"])
            return self.cache.last_good(only)
        return [plan for plan in plans if plan.is_active]

    def _build_one(self, plan: PipelinePlan) -> tuple[DAG, PipelinePlan] | None:
        try:
            return build_dag(plan, self.settings), plan
        except Exception as exc:  # one broken pipeline must not hide the others
            self.problems[plan.name] = (
                f"pipeline {plan.name!r} (run_frequency {plan.run_frequency!r}, "
                f"{len(plan.tasks)} transformations) cannot be built: {type(exc).__name__}: "
                f"{exc}; fix its configuration (until then its last good DAG is kept)"
            )
            log.warning("CORE: %s", self.problems[plan.name])
        fallback = self.cache.last_good_plan(plan.name)
        if fallback is None:
            log.warning("CORE: no last good plan of %r: its DAG is left out", plan.name)
            return None
        try:
            log.warning("CORE: using the last good plan of %r", plan.name)
            return build_dag(fallback, self.settings), fallback
        except Exception as exc:
            log.warning("CORE: the last good plan of %r fails too (%s)", plan.name, exc)
            return None
