"""Pipelines that start when datasets of other pipelines are published

``dataset_schedule`` on pipelines: null (the pipeline runs on its run_frequency) or
a condition on datasets of other pipelines, ``{"all": [keys]}`` or ``{"any": [keys]}``,
each key ``company/brand/state/dataset`` (core/lineage/schedule.py). The pipelines
table is audited already (revision 0001), so changes to it are too.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "pipelines",
        sa.Column(
            "dataset_schedule",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    # Not batch mode: see revision 0002 (SQLite 3.35+ drops a column in place).
    op.execute("ALTER TABLE pipelines DROP COLUMN dataset_schedule")
