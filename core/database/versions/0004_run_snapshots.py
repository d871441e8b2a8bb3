"""Runs pinned to their configuration: which one a run used, who resumed it, its history

``run_events.configuration`` says whether a run's remaining tasks use the
configuration it was pinned to at its start or last re-pin ("current") or its
snapshot as it was ("pinned", a resume that kept it). ``resumed_by`` and
``resumed_at`` name the last resume; ``idle_seconds`` is the time the run spent
failed before its resumes, which its duration leaves out. ``run_snapshots``
keeps the snapshots of a re-pinned run (audited: the trail says who re-pinned it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    # Not batch mode (see 0002): on SQLite it copies run_events, and dropping the old copy
    # would cascade to task_runs. The check is the column's own, so SQLite can add it.
    known = sa.CheckConstraint(
        "configuration IN ('current', 'pinned')", name=op.f("ck_run_events_configuration_known")
    )
    op.add_column(
        "run_events",
        sa.Column(
            "configuration", sa.String(length=10), known, server_default="current", nullable=False
        ),
    )
    op.add_column("run_events", sa.Column("resumed_by", sa.String(length=100), nullable=True))
    op.add_column("run_events", sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "run_events", sa.Column("idle_seconds", sa.Float(), server_default="0", nullable=False)
    )
    op.create_table(
        "run_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_event_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("pinned_by", sa.String(length=100), nullable=True),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "snapshot",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_actor", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_event_id"],
            ["run_events.id"],
            name=op.f("fk_run_snapshots_run_event_id_run_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_snapshots")),
        sa.UniqueConstraint(
            "run_event_id", "number", name=op.f("uq_run_snapshots_run_event_id_number")
        ),
    )
    op.create_index(
        op.f("ix_run_snapshots_run_event_id"), "run_snapshots", ["run_event_id"], unique=False
    )
    if _postgresql():
        # The functions come from revision 0001.
        op.execute(
            "CREATE TRIGGER run_snapshots_updated_at BEFORE UPDATE ON run_snapshots "
            "FOR EACH ROW EXECUTE FUNCTION core_set_updated_at()"
        )
        op.execute(
            "CREATE TRIGGER run_snapshots_audit AFTER INSERT OR UPDATE OR DELETE ON run_snapshots "
            "FOR EACH ROW EXECUTE FUNCTION auditing.record_event()"
        )


def downgrade() -> None:
    if _postgresql():
        op.execute("DROP TRIGGER IF EXISTS run_snapshots_audit ON run_snapshots")
        op.execute("DROP TRIGGER IF EXISTS run_snapshots_updated_at ON run_snapshots")
    op.drop_index(op.f("ix_run_snapshots_run_event_id"), table_name="run_snapshots")
    op.drop_table("run_snapshots")
    for column in ("idle_seconds", "resumed_at", "resumed_by", "configuration"):
        # SQLite 3.35+ drops a column in place (its own check goes with it).
        op.execute(f"ALTER TABLE run_events DROP COLUMN {column}")
