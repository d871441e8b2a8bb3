"""The worker of a running task: ``task_runs.worker`` (host:pid)

A task whose worker died without a word (SIGKILL, out of memory) stays ``running``;
knowing which process ran it lets the next look (the runner's start, the run page,
``core runs reap``) find the process gone and end the task and its run failed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("task_runs", sa.Column("worker", sa.String(length=300), nullable=True))


def downgrade() -> None:
    # Not batch mode: on SQLite it copies the table (see 0002); 3.35+ drops in place.
    op.execute("ALTER TABLE task_runs DROP COLUMN worker")
