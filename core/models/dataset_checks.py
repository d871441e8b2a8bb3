"""Data quality checks on a transformation's output dataset, and what each run found.

A check is configuration (audited like the rest): it belongs to the transformation
whose output it checks, has a kind from ``core.checks.kinds`` with its arguments, a
severity (``error`` stops the publish, ``warn`` records) and a description. A check
result is a run's record, like a task run: one row per check per transformation per
run, replaced when the task runs again in the same run (a retry, a resume).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, JsonType, Tracked

if TYPE_CHECKING:
    from core.models.configuration import Transformation

SEVERITIES = ("error", "warn")
# pass: no failing row; warn: a warn check failed; fail: an error check failed (nothing
# was published); error: the check itself could not be evaluated (a bad query, a
# missing column): treated as a failure of its severity.
CHECK_STATUSES = ("pass", "warn", "fail", "error")
KIND_LENGTH = 40
DESCRIPTION_LENGTH = 500


class DatasetCheck(Tracked, Base):
    """One check of a transformation's output dataset."""

    __tablename__ = "dataset_checks"
    __table_args__ = (
        CheckConstraint(
            "severity IN ({})".format(", ".join(f"'{s}'" for s in SEVERITIES)),
            name="severity_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transformation_id: Mapped[int] = mapped_column(
        ForeignKey("transformations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    arguments: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    severity: Mapped[str] = mapped_column(String(10), default="error", server_default="error")
    description: Mapped[str | None] = mapped_column(String(DESCRIPTION_LENGTH))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    transformation: Mapped[Transformation] = relationship(back_populates="dataset_checks")

    @property
    def label(self) -> str:
        """How messages name this check: ``check 3 (not_null)``."""
        return f"check {self.id} ({self.kind})"


class CheckResult(Tracked, Base):
    """What one check found on one run's output of one transformation."""

    __tablename__ = "check_results"
    __table_args__ = (
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in CHECK_STATUSES)),
            name="status_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_event_id: Mapped[int] = mapped_column(
        ForeignKey("run_events.id", ondelete="CASCADE"), index=True
    )
    # No foreign keys: a result stays when its check or transformation is later deleted
    # (the run's snapshot names both).
    transformation_id: Mapped[int] = mapped_column(Integer, index=True)
    check_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    severity: Mapped[str] = mapped_column(String(10))
    description: Mapped[str | None] = mapped_column(String(DESCRIPTION_LENGTH))
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(10))
    failing_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    examples: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
