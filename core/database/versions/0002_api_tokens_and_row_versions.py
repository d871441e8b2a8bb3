"""API tokens, row versions on pipelines and transformations, and pipeline owners

``api_tokens`` holds the SHA-256 of each machine token (audited like every
configuration table). ``version`` on pipelines and transformations lets two
editors saving the same row find out: the second gets a conflict, not a lost
update. ``owners`` on pipelines lists the email addresses told when a run fails.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED_TABLES = ("pipelines", "transformations")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("administrator_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
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
            name=op.f("fk_api_tokens_administrator_id_administrators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_api_tokens_administrator_id"), "api_tokens", ["administrator_id"], unique=False
    )
    for table in VERSIONED_TABLES:
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column(
        "pipelines",
        sa.Column(
            "owners",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
    )
    if _postgresql():
        # The functions come from revision 0001.
        op.execute(
            "CREATE TRIGGER api_tokens_updated_at BEFORE UPDATE ON api_tokens "
            "FOR EACH ROW EXECUTE FUNCTION core_set_updated_at()"
        )
        op.execute(
            "CREATE TRIGGER api_tokens_audit AFTER INSERT OR UPDATE OR DELETE ON api_tokens "
            "FOR EACH ROW EXECUTE FUNCTION auditing.record_event()"
        )


def downgrade() -> None:
    if _postgresql():
        op.execute("DROP TRIGGER IF EXISTS api_tokens_audit ON api_tokens")
        op.execute("DROP TRIGGER IF EXISTS api_tokens_updated_at ON api_tokens")
    for table in VERSIONED_TABLES:
        # Not batch mode: on SQLite it copies the table, and with foreign keys on, dropping
        # the old copy cascades to every row that refers to it. SQLite 3.35+ drops a
        # column in place.
        op.execute(f"ALTER TABLE {table} DROP COLUMN version")
    op.execute("ALTER TABLE pipelines DROP COLUMN owners")
    op.drop_index(op.f("ix_api_tokens_administrator_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
