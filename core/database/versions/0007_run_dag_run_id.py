"""Runs remember the Airflow DAG run that recorded them

``run_events.dag_run_id``: Airflow's id of the DAG run whose RunEvent task created the
run (null for runs of the local runner). A resume through CORE's API re-pins the run
and clears that DAG run's failed tasks through Airflow's REST API. The run_events
table is audited already (revision 0001), so the new column is too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("run_events", sa.Column("dag_run_id", sa.String(length=250), nullable=True))


def downgrade() -> None:
    # Not batch mode: see revision 0002 (SQLite 3.35+ drops a column in place).
    op.execute("ALTER TABLE run_events DROP COLUMN dag_run_id")
