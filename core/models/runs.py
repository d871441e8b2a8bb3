"""What happened: one run event per pipeline run, one task run per transformation."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
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

RUN_STATES = ("queued", "running", "success", "failed")
TASK_STATES = ("pending", "running", "success", "failed", "upstream_failed", "skipped")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_known")


class RunEvent(Tracked, Base):
    """One run of a pipeline; its id is the run id every task of the run shares.

    configuration_snapshot holds the pipeline's plan as it was when the run
    started, so a run can be explained after the configuration changed.
    """

    __tablename__ = "run_events"
    __table_args__ = (_one_of("state", RUN_STATES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(
        ForeignKey("pipelines.id", ondelete="RESTRICT"), index=True
    )
    state: Mapped[str] = mapped_column(String(20), default="queued", server_default="queued")
    triggered_by: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    configuration_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

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

    run_event: Mapped[RunEvent] = relationship(back_populates="task_runs")
    transformation: Mapped[Transformation | None] = relationship(
        primaryjoin="foreign(TaskRun.transformation_id) == Transformation.id", viewonly=True
    )
