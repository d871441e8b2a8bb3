"""Browser sessions kept on the server, and run history that configuration changes cannot rewrite

``web_sessions`` holds the SHA-256 of each browser session's id, with its user, when it
was last used, and a stamp of the user's password, role and active flag: logging out,
idling, expiring or a change of those ends it (audited like every configuration table).
``task_runs.transformation_id`` loses its foreign key: deleting a transformation set
it to NULL, so a finished run's record lost its task (shown as pending again). The id
now stays, as the run's configuration snapshot names it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK_RUNS_FK = "fk_task_runs_transformation_id_transformations"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("administrator_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("credentials", sa.String(length=64), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
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
            ["administrator_id"],
            ["administrators.id"],
            name=op.f("fk_web_sessions_administrator_id_administrators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    op.create_index(op.f("ix_web_sessions_administrator_id"), "web_sessions", ["administrator_id"])
    if _postgresql():
        # The functions come from revision 0001.
        op.execute(
            "CREATE TRIGGER web_sessions_updated_at BEFORE UPDATE ON web_sessions "
            "FOR EACH ROW EXECUTE FUNCTION core_set_updated_at()"
        )
        op.execute(
            "CREATE TRIGGER web_sessions_audit AFTER INSERT OR UPDATE OR DELETE ON web_sessions "
            "FOR EACH ROW EXECUTE FUNCTION auditing.record_event()"
        )
    # On SQLite, batch mode copies task_runs; no table refers to it, so nothing cascades.
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_constraint(TASK_RUNS_FK, type_="foreignkey")


def downgrade() -> None:
    if _postgresql():
        op.execute("DROP TRIGGER IF EXISTS web_sessions_audit ON web_sessions")
        op.execute("DROP TRIGGER IF EXISTS web_sessions_updated_at ON web_sessions")
    op.drop_index(op.f("ix_web_sessions_administrator_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.execute(
        "UPDATE task_runs SET transformation_id = NULL "
        "WHERE transformation_id NOT IN (SELECT id FROM transformations)"
    )
    with op.batch_alter_table("task_runs") as batch:
        batch.create_foreign_key(
            TASK_RUNS_FK, "transformations", ["transformation_id"], ["id"], ondelete="SET NULL"
        )
