"""What happened: one run event per pipeline run, one task run per transformation."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, JsonType, Tracked

if TYPE_CHECKING:
    from core.models.configuration import Pipeline, Transformation

RUN_STATES = ("queued", "running", "success", "failed", "cancelled")
TASK_STATES = (
    "pending",
    "running",
    "success",
    "failed",
    "upstream_failed",
    "skipped",
    "cancelled",
)
# Which configuration a run's remaining tasks use: "current" (the configuration when the
# run started, or when a resume re-pinned it) or "pinned" (resumed with its snapshot as
# it was).
RUN_CONFIGURATIONS = ("current", "pinned")
# Who started, resumed or re-pinned a run (a person, an account, "schedule"): at most this long.
PERSON_LENGTH = 100
# Airflow's DAG run ids are at most 250 characters (its dag_run.run_id column).
DAG_RUN_ID_LENGTH = 250


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_known")


class RunEvent(Tracked, Base):
    """One run of a pipeline; its id is the run id every task of the run shares.

    configuration_snapshot holds the pipeline's plan as it was when the run
    started (or when a resume re-pinned it to the current configuration): its
    workers read their configuration from it, never from the live rows. The
    snapshots a re-pinned run used before are kept in run_snapshots.
    idle_seconds is the time spent failed before resumes, which its duration leaves out.
    dag_run_id is Airflow's id of the DAG run that recorded it (null for local runs).
    A cancelled run keeps state ``cancelled`` whatever its stopped tasks report.
    """

    __tablename__ = "run_events"
    __table_args__ = (
        _one_of("state", RUN_STATES),
        _one_of("configuration", RUN_CONFIGURATIONS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(
        ForeignKey("pipelines.id", ondelete="RESTRICT"), index=True
    )
    state: Mapped[str] = mapped_column(String(20), default="queued", server_default="queued")
    triggered_by: Mapped[str | None] = mapped_column(String(PERSON_LENGTH))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    configuration_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    configuration: Mapped[str] = mapped_column(
        String(10), default="current", server_default="current"
    )
    resumed_by: Mapped[str | None] = mapped_column(String(PERSON_LENGTH))
    resumed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    idle_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # Airflow's id of the DAG run that recorded this run (null for local runs): a resume
    # clears that DAG run's failed tasks through Airflow's REST API.
    dag_run_id: Mapped[str | None] = mapped_column(String(DAG_RUN_ID_LENGTH))
    # Who cancelled the run (null unless it was cancelled).
    cancelled_by: Mapped[str | None] = mapped_column(String(PERSON_LENGTH))
    # host:pid of the local runner driving the run (null under Airflow): a cancel stops it.
    runner: Mapped[str | None] = mapped_column(String(300))

    pipeline: Mapped[Pipeline] = relationship(back_populates="run_events")
    task_runs: Mapped[list[TaskRun]] = relationship(
        back_populates="run_event", cascade="all, delete-orphan", order_by="TaskRun.id"
    )


class TaskRun(Tracked, Base):
    """The outcome of one transformation in one run (the latest attempt)."""

    __tablename__ = "task_runs"
    __table_args__ = (
        UniqueConstraint("run_event_id", "transformation_id"),
        _one_of("state", TASK_STATES),
        CheckConstraint("attempt >= 0", name="attempt_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_event_id: Mapped[int] = mapped_column(
        ForeignKey("run_events.id", ondelete="CASCADE"), index=True
    )
    # No foreign key: the id stays when the transformation is later deleted, since the
    # run's configuration snapshot names it (a finished run's record never changes).
    transformation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rows_in: Mapped[int | None] = mapped_column(Integer)
    rows_out: Mapped[int | None] = mapped_column(Integer)
    output_references: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    notebook_location: Mapped[str | None] = mapped_column(Text)
    error_summary: Mapped[str | None] = mapped_column(Text)
    # host:pid of the worker while it runs: a dead one is found and its task ended (reap).
    worker: Mapped[str | None] = mapped_column(String(300))
    # The backend's id of the latest worker (a Batch job id, a pod's name; null locally)
    # and Airflow's try of the task (null under the local runner): its log, its links.
    job_id: Mapped[str | None] = mapped_column(String(300))
    try_number: Mapped[int | None] = mapped_column(Integer)

    run_event: Mapped[RunEvent] = relationship(back_populates="task_runs")
    transformation: Mapped[Transformation | None] = relationship(
        primaryjoin="foreign(TaskRun.transformation_id) == Transformation.id", viewonly=True
    )


class RunSnapshot(Tracked, Base):
    """A configuration snapshot a run was pinned to, kept once the run is re-pinned.

    A run that is never re-pinned has none (its snapshot is on the run). The first
    re-pin keeps the snapshot the run started with (number 1) and the new one
    (number 2); each later re-pin adds one. The table is audited: the trail says
    who re-pinned a run and when.
    """

    __tablename__ = "run_snapshots"
    __table_args__ = (UniqueConstraint("run_event_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_event_id: Mapped[int] = mapped_column(
        ForeignKey("run_events.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    pinned_by: Mapped[str | None] = mapped_column(String(PERSON_LENGTH))
    pinned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JsonType)
