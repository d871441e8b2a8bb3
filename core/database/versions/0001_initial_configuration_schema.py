"""initial configuration schema

The configuration application's tables and, on PostgreSQL, the schema
``auditing`` with ``auditing.events`` filled by triggers on every configuration
table, and a trigger that stamps updated_at (and last_actor, from the
transaction setting ``core.actor``) on every update. SQLite gets the same audit
rows from ORM events (core.database.audit).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Frozen here on purpose: a later table gets its triggers in its own migration.
AUDITED_TABLES = (
    "administrators",
    "brands",
    "pharmaceutical_companies",
    "pipeline_state_types",
    "pipeline_states",
    "pipeline_types",
    "pipelines",
    "segments",
    "tags",
    "transformation_template_tags",
    "transformation_templates",
    "transformation_variables",
    "transformations",
)
STAMPED_TABLES = (*AUDITED_TABLES, "run_events", "task_runs")

SET_UPDATED_AT = """
CREATE OR REPLACE FUNCTION core_set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who text := nullif(current_setting('core.actor', true), '');
BEGIN
    NEW.updated_at := now();
    IF NEW.last_actor IS NOT DISTINCT FROM OLD.last_actor AND who IS NOT NULL THEN
        NEW.last_actor := who;
    END IF;
    RETURN NEW;
END
$$;
"""

RECORD_EVENT = """
CREATE OR REPLACE FUNCTION auditing.record_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who text := nullif(current_setting('core.actor', true), '');
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO auditing.events (table_name, action, actor, before, after)
        VALUES (TG_TABLE_NAME, TG_OP, coalesce(who, session_user::text), to_jsonb(OLD), NULL);
        RETURN OLD;
    END IF;
    INSERT INTO auditing.events (table_name, action, actor, before, after)
    VALUES (
        TG_TABLE_NAME, TG_OP, coalesce(NEW.last_actor, who, session_user::text),
        CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END, to_jsonb(NEW)
    );
    RETURN NEW;
END
$$;
"""


def _create_triggers() -> None:
    op.execute(SET_UPDATED_AT)
    op.execute(RECORD_EVENT)
    for table in STAMPED_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION core_set_updated_at()"
        )
    for table in AUDITED_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_audit AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION auditing.record_event()"
        )


def _drop_triggers() -> None:
    for table in AUDITED_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_audit ON {table}")
    for table in STAMPED_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_updated_at ON {table}")
    op.execute("DROP FUNCTION IF EXISTS auditing.record_event()")
    op.execute("DROP FUNCTION IF EXISTS core_set_updated_at()")


def _tracked() -> list[sa.Column]:
    """created_at, updated_at and last_actor, which every configuration table has."""
    return [
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
    ]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        op.execute("CREATE SCHEMA IF NOT EXISTS auditing")
    op.create_table(
        "administrators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_address", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("role", sa.String(length=20), server_default="viewer", nullable=False),
        sa.Column("hashed_password", sa.String(length=300), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *_tracked(),
        sa.CheckConstraint(
            "role IN ('viewer', 'editor', 'admin')", name=op.f("ck_administrators_role_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_administrators")),
        sa.UniqueConstraint("email_address", name=op.f("uq_administrators_email_address")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=True),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "after",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "action IN ('INSERT', 'UPDATE', 'DELETE')", name=op.f("ck_events_action_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        schema="auditing",
    )
    op.create_index(
        "ix_events_table_name_occurred_at",
        "events",
        ["table_name", "occurred_at"],
        unique=False,
        schema="auditing",
    )
    op.create_table(
        "pharmaceutical_companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        *_tracked(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pharmaceutical_companies")),
        sa.UniqueConstraint("name", name=op.f("uq_pharmaceutical_companies_name")),
    )
    op.create_table(
        "pipeline_state_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("graph_order", sa.Integer(), nullable=False),
        *_tracked(),
        sa.CheckConstraint(
            "graph_order >= 0", name=op.f("ck_pipeline_state_types_graph_order_non_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_state_types")),
        sa.UniqueConstraint("name", name=op.f("uq_pipeline_state_types_name")),
    )
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        *_tracked(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        *_tracked(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "brands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("pharmaceutical_company_id", sa.Integer(), nullable=False),
        *_tracked(),
        sa.ForeignKeyConstraint(
            ["pharmaceutical_company_id"],
            ["pharmaceutical_companies.id"],
            name=op.f("fk_brands_pharmaceutical_company_id_pharmaceutical_companies"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brands")),
        sa.UniqueConstraint(
            "pharmaceutical_company_id",
            "name",
            name=op.f("uq_brands_pharmaceutical_company_id_name"),
        ),
    )
    op.create_index(
        op.f("ix_brands_pharmaceutical_company_id"),
        "brands",
        ["pharmaceutical_company_id"],
        unique=False,
    )
    op.create_table(
        "pipeline_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        *_tracked(),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_pipeline_types_segment_id_segments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_types")),
        sa.UniqueConstraint("name", name=op.f("uq_pipeline_types_name")),
    )
    op.create_index(
        op.f("ix_pipeline_types_segment_id"), "pipeline_types", ["segment_id"], unique=False
    )
    op.create_table(
        "transformation_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "variable_structures",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("pipeline_state_type_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), server_default="python", nullable=False),
        sa.Column("entrypoint", sa.String(length=300), nullable=True),
        *_tracked(),
        sa.CheckConstraint(
            "kind IN ('python', 'notebook')", name=op.f("ck_transformation_templates_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_state_type_id"],
            ["pipeline_state_types.id"],
            name=op.f("fk_transformation_templates_pipeline_state_type_id_pipeline_state_types"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transformation_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_transformation_templates_name")),
    )
    op.create_index(
        op.f("ix_transformation_templates_pipeline_state_type_id"),
        "transformation_templates",
        ["pipeline_state_type_id"],
        unique=False,
    )
    op.create_table(
        "pipelines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("pipeline_type_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("run_frequency", sa.String(length=100), server_default="none", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        *_tracked(),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brands.id"],
            name=op.f("fk_pipelines_brand_id_brands"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_type_id"],
            ["pipeline_types.id"],
            name=op.f("fk_pipelines_pipeline_type_id_pipeline_types"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipelines")),
        sa.UniqueConstraint("name", name=op.f("uq_pipelines_name")),
    )
    op.create_index(op.f("ix_pipelines_brand_id"), "pipelines", ["brand_id"], unique=False)
    op.create_index(
        op.f("ix_pipelines_pipeline_type_id"), "pipelines", ["pipeline_type_id"], unique=False
    )
    op.create_table(
        "transformation_template_tags",
        sa.Column("transformation_template_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        *_tracked(),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["tags.id"],
            name=op.f("fk_transformation_template_tags_tag_id_tags"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["transformation_template_id"],
            ["transformation_templates.id"],
            name=op.f(
                "fk_transformation_template_tags_transformation_template_id_transformation_templates"
            ),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "transformation_template_id", "tag_id", name=op.f("pk_transformation_template_tags")
        ),
    )
    op.create_table(
        "pipeline_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("pipeline_state_type_id", sa.Integer(), nullable=False),
        sa.Column("graph_order", sa.Integer(), nullable=False),
        *_tracked(),
        sa.CheckConstraint(
            "graph_order >= 0", name=op.f("ck_pipeline_states_graph_order_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name=op.f("fk_pipeline_states_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_state_type_id"],
            ["pipeline_state_types.id"],
            name=op.f("fk_pipeline_states_pipeline_state_type_id_pipeline_state_types"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_states")),
        sa.UniqueConstraint(
            "pipeline_id",
            "pipeline_state_type_id",
            name=op.f("uq_pipeline_states_pipeline_id_pipeline_state_type_id"),
        ),
    )
    op.create_index(
        op.f("ix_pipeline_states_pipeline_id"), "pipeline_states", ["pipeline_id"], unique=False
    )
    op.create_index(
        op.f("ix_pipeline_states_pipeline_state_type_id"),
        "pipeline_states",
        ["pipeline_state_type_id"],
        unique=False,
    )
    op.create_table(
        "run_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), server_default="queued", nullable=False),
        sa.Column("triggered_by", sa.String(length=100), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "configuration_snapshot",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        *_tracked(),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'success', 'failed')",
            name=op.f("ck_run_events_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name=op.f("fk_run_events_pipeline_id_pipelines"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_events")),
    )
    op.create_index(op.f("ix_run_events_pipeline_id"), "run_events", ["pipeline_id"], unique=False)
    op.create_table(
        "transformations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transformation_template_id", sa.Integer(), nullable=False),
        sa.Column("pipeline_state_id", sa.Integer(), nullable=False),
        sa.Column("graph_order", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_delay_seconds", sa.Integer(), server_default="300", nullable=False),
        *_tracked(),
        sa.CheckConstraint(
            "graph_order >= 0", name=op.f("ck_transformations_graph_order_non_negative")
        ),
        sa.CheckConstraint("retries >= 0", name=op.f("ck_transformations_retries_non_negative")),
        sa.CheckConstraint(
            "retry_delay_seconds >= 0",
            name=op.f("ck_transformations_retry_delay_seconds_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_state_id"],
            ["pipeline_states.id"],
            name=op.f("fk_transformations_pipeline_state_id_pipeline_states"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["transformation_template_id"],
            ["transformation_templates.id"],
            name=op.f("fk_transformations_transformation_template_id_transformation_templates"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transformations")),
    )
    op.create_index(
        op.f("ix_transformations_pipeline_state_id"),
        "transformations",
        ["pipeline_state_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_transformations_transformation_template_id"),
        "transformations",
        ["transformation_template_id"],
        unique=False,
    )
    op.create_table(
        "task_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_event_id", sa.Integer(), nullable=False),
        sa.Column("transformation_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_in", sa.Integer(), nullable=True),
        sa.Column("rows_out", sa.Integer(), nullable=True),
        sa.Column(
            "output_references",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("notebook_location", sa.Text(), nullable=True),
        sa.Column("error_summary", sa.Text(), nullable=True),
        *_tracked(),
        sa.CheckConstraint(
            "state IN ('pending', 'running', 'success', 'failed', 'upstream_failed', 'skipped')",
            name=op.f("ck_task_runs_state_known"),
        ),
        sa.CheckConstraint("attempt >= 0", name=op.f("ck_task_runs_attempt_non_negative")),
        sa.ForeignKeyConstraint(
            ["run_event_id"],
            ["run_events.id"],
            name=op.f("fk_task_runs_run_event_id_run_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["transformation_id"],
            ["transformations.id"],
            name=op.f("fk_task_runs_transformation_id_transformations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_runs")),
        sa.UniqueConstraint(
            "run_event_id",
            "transformation_id",
            name=op.f("uq_task_runs_run_event_id_transformation_id"),
        ),
    )
    op.create_index(op.f("ix_task_runs_run_event_id"), "task_runs", ["run_event_id"], unique=False)
    op.create_index(
        op.f("ix_task_runs_transformation_id"), "task_runs", ["transformation_id"], unique=False
    )
    op.create_table(
        "transformation_variables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transformation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        *_tracked(),
        sa.ForeignKeyConstraint(
            ["transformation_id"],
            ["transformations.id"],
            name=op.f("fk_transformation_variables_transformation_id_transformations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transformation_variables")),
        sa.UniqueConstraint(
            "transformation_id",
            "name",
            name=op.f("uq_transformation_variables_transformation_id_name"),
        ),
    )
    op.create_index(
        op.f("ix_transformation_variables_transformation_id"),
        "transformation_variables",
        ["transformation_id"],
        unique=False,
    )
    if _postgresql():
        _create_triggers()


def downgrade() -> None:
    if _postgresql():
        _drop_triggers()
    op.drop_index(
        op.f("ix_transformation_variables_transformation_id"), table_name="transformation_variables"
    )
    op.drop_table("transformation_variables")
    op.drop_index(op.f("ix_task_runs_transformation_id"), table_name="task_runs")
    op.drop_index(op.f("ix_task_runs_run_event_id"), table_name="task_runs")
    op.drop_table("task_runs")
    op.drop_index(
        op.f("ix_transformations_transformation_template_id"), table_name="transformations"
    )
    op.drop_index(op.f("ix_transformations_pipeline_state_id"), table_name="transformations")
    op.drop_table("transformations")
    op.drop_index(op.f("ix_run_events_pipeline_id"), table_name="run_events")
    op.drop_table("run_events")
    op.drop_index(op.f("ix_pipeline_states_pipeline_state_type_id"), table_name="pipeline_states")
    op.drop_index(op.f("ix_pipeline_states_pipeline_id"), table_name="pipeline_states")
    op.drop_table("pipeline_states")
    op.drop_table("transformation_template_tags")
    op.drop_index(op.f("ix_pipelines_pipeline_type_id"), table_name="pipelines")
    op.drop_index(op.f("ix_pipelines_brand_id"), table_name="pipelines")
    op.drop_table("pipelines")
    op.drop_index(
        op.f("ix_transformation_templates_pipeline_state_type_id"),
        table_name="transformation_templates",
    )
    op.drop_table("transformation_templates")
    op.drop_index(op.f("ix_pipeline_types_segment_id"), table_name="pipeline_types")
    op.drop_table("pipeline_types")
    op.drop_index(op.f("ix_brands_pharmaceutical_company_id"), table_name="brands")
    op.drop_table("brands")
    op.drop_table("tags")
    op.drop_table("segments")
    op.drop_table("pipeline_state_types")
    op.drop_table("pharmaceutical_companies")
    op.drop_index("ix_events_table_name_occurred_at", table_name="events", schema="auditing")
    op.drop_table("events", schema="auditing")
    op.drop_table("administrators")
    if _postgresql():
        op.execute("DROP SCHEMA IF EXISTS auditing")
