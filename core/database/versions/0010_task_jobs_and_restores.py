"""Tasks remember their worker's job; restores of a dataset are recorded

``task_runs.job_id``: the backend's id of the task's latest worker (an AWS Batch job
id, a Kubernetes pod's name; null for a local worker), which finds its log and links
out. ``task_runs.try_number``: Airflow's try of the task (null under the local runner).
``dataset_restores``: who restored which dataset to which Delta version, and why;
configuration-like (audited, stamped), since a restore changes what readers see.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _tracked() -> list[sa.Column]:
    now = sa.text("now()")
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("last_actor", sa.String(length=320), nullable=True),
    ]


def upgrade() -> None:
    op.add_column("task_runs", sa.Column("job_id", sa.String(length=300), nullable=True))
    op.add_column("task_runs", sa.Column("try_number", sa.Integer(), nullable=True))
    op.create_table(
        "dataset_restores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("new_version", sa.Integer(), nullable=True),
        sa.Column("restored_by", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        *_tracked(),
        sa.CheckConstraint("version >= 0", name=op.f("ck_dataset_restores_version_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_restores")),
    )
    if _postgresql():
        # The functions come from revision 0001.
        op.execute(
            "CREATE TRIGGER dataset_restores_updated_at BEFORE UPDATE ON dataset_restores "
            "FOR EACH ROW EXECUTE FUNCTION core_set_updated_at()"
        )
        op.execute(
            "CREATE TRIGGER dataset_restores_audit AFTER INSERT OR UPDATE OR DELETE "
            "ON dataset_restores FOR EACH ROW EXECUTE FUNCTION auditing.record_event()"
        )


def downgrade() -> None:
    if _postgresql():
        op.execute("DROP TRIGGER IF EXISTS dataset_restores_audit ON dataset_restores")
        op.execute("DROP TRIGGER IF EXISTS dataset_restores_updated_at ON dataset_restores")
    op.drop_table("dataset_restores")
    # Not batch mode: see revision 0002 (SQLite 3.35+ drops a column in place).
    op.execute("ALTER TABLE task_runs DROP COLUMN try_number")
    op.execute("ALTER TABLE task_runs DROP COLUMN job_id")
