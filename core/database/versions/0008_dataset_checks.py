"""Data quality checks on output datasets, and their results per run

``dataset_checks``: a check of a transformation's output dataset (kind, arguments,
severity, description), configuration like the rest: audited, stamped, versioned.
``check_results``: what each check found in a run (status, failing rows, examples,
seconds), one row per check per transformation per run; stamped, not audited (a run's
record, like task_runs).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


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
    op.create_table(
        "dataset_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transformation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("arguments", JSON, nullable=False),
        sa.Column("severity", sa.String(length=10), server_default="error", nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        *_tracked(),
        sa.CheckConstraint(
            "severity IN ('error', 'warn')", name=op.f("ck_dataset_checks_severity_known")
        ),
        sa.ForeignKeyConstraint(
            ["transformation_id"],
            ["transformations.id"],
            name=op.f("fk_dataset_checks_transformation_id_transformations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_checks")),
    )
    op.create_index(
        op.f("ix_dataset_checks_transformation_id"),
        "dataset_checks",
        ["transformation_id"],
        unique=False,
    )
    op.create_table(
        "check_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_event_id", sa.Integer(), nullable=False),
        sa.Column("transformation_id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("failing_rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("examples", JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), server_default="0", nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        *_tracked(),
        sa.CheckConstraint(
            "status IN ('pass', 'warn', 'fail', 'error')",
            name=op.f("ck_check_results_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["run_event_id"],
            ["run_events.id"],
            name=op.f("fk_check_results_run_event_id_run_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_results")),
    )
    for column in ("run_event_id", "transformation_id"):
        op.create_index(op.f(f"ix_check_results_{column}"), "check_results", [column], unique=False)
    if _postgresql():
        # The functions come from revision 0001.
        for table in ("dataset_checks", "check_results"):
            op.execute(
                f"CREATE TRIGGER {table}_updated_at BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION core_set_updated_at()"
            )
        op.execute(
            "CREATE TRIGGER dataset_checks_audit AFTER INSERT OR UPDATE OR DELETE "
            "ON dataset_checks FOR EACH ROW EXECUTE FUNCTION auditing.record_event()"
        )


def downgrade() -> None:
    if _postgresql():
        op.execute("DROP TRIGGER IF EXISTS dataset_checks_audit ON dataset_checks")
        for table in ("dataset_checks", "check_results"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_updated_at ON {table}")
    for column in ("run_event_id", "transformation_id"):
        op.drop_index(op.f(f"ix_check_results_{column}"), table_name="check_results")
    op.drop_table("check_results")
    op.drop_index(op.f("ix_dataset_checks_transformation_id"), table_name="dataset_checks")
    op.drop_table("dataset_checks")
