"""Restores of a dataset to an earlier Delta version: who, which version, why."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, Tracked
from core.models.runs import PERSON_LENGTH

REASON_LENGTH = 500


class DatasetRestore(Tracked, Base):
    """One restore of the Delta table at ``path`` to its ``version``.

    ``new_version`` is the version the restore wrote (Delta keeps history: a restore is
    a new commit, so it can itself be undone). Audited: the trail says who did it.
    """

    __tablename__ = "dataset_restores"
    __table_args__ = (CheckConstraint("version >= 0", name="version_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    new_version: Mapped[int | None] = mapped_column(Integer)
    restored_by: Mapped[str | None] = mapped_column(String(PERSON_LENGTH))
    reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))
