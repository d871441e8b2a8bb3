"""Runs and tasks can be cancelled; a run remembers the local runner that drives it

``cancelled`` joins the states of ``run_events`` and ``task_runs``: a run an operator
cancelled, and the tasks its stop ended. ``run_events.cancelled_by`` names who
cancelled it; ``run_events.runner`` is ``host:pid`` of the local runner driving the
run (null under Airflow), which a cancel asks to stop. ``pipelines.max_active_runs``
says how many runs of a pipeline may go at once (null: one). Both tables are audited
already (revision 0001), so the new columns are too.

Widening a CHECK constraint on SQLite cannot go through batch mode (it copies the
table, and dropping the old copy with foreign keys on cascades to task_runs), so the
table's stored definition is rewritten in place, as SQLite's documentation describes
for changing a constraint that every existing row satisfies.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_OLD = "'queued', 'running', 'success', 'failed'"
TASK_OLD = "'pending', 'running', 'success', 'failed', 'upstream_failed', 'skipped'"
CHECKS = {"run_events": RUN_OLD, "task_runs": TASK_OLD}


def upgrade() -> None:
    for table, states in CHECKS.items():
        _replace_check(table, states, f"{states}, 'cancelled'")
    op.add_column("run_events", sa.Column("cancelled_by", sa.String(length=100), nullable=True))
    op.add_column("run_events", sa.Column("runner", sa.String(length=300), nullable=True))
    # The check is the column's own, so SQLite can add it (see 0004).
    positive = sa.CheckConstraint(
        "max_active_runs >= 1", name=op.f("ck_pipelines_max_active_runs_positive")
    )
    op.add_column("pipelines", sa.Column("max_active_runs", sa.Integer(), positive, nullable=True))


def downgrade() -> None:
    # Before the narrower check comes back, what it would refuse becomes what it was before.
    op.execute("UPDATE run_events SET state = 'failed' WHERE state = 'cancelled'")
    op.execute("UPDATE task_runs SET state = 'failed' WHERE state = 'cancelled'")
    for table, states in CHECKS.items():
        _replace_check(table, f"{states}, 'cancelled'", states)
    # Not batch mode: see revision 0002 (SQLite 3.35+ drops a column in place).
    if op.get_bind().dialect.name == "sqlite":  # SQLite drops no column that a check names
        _replace_sqlite(
            "pipelines",
            " CONSTRAINT ck_pipelines_max_active_runs_positive CHECK (max_active_runs >= 1)",
            "",
        )
    op.execute("ALTER TABLE pipelines DROP COLUMN max_active_runs")
    op.execute("ALTER TABLE run_events DROP COLUMN runner")
    op.execute("ALTER TABLE run_events DROP COLUMN cancelled_by")


def _replace_check(table: str, old: str, new: str) -> None:
    name = f"ck_{table}_state_known"
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_constraint(op.f(name), table, type_="check")
        op.create_check_constraint(op.f(name), table, f"state IN ({new})")
        return
    _replace_sqlite(table, f"state IN ({old})", f"state IN ({new})")


def _replace_sqlite(table: str, old: str, new: str) -> None:
    """Rewrite part of a table's stored CREATE TABLE text on SQLite.

    The schema version is bumped so that every connection reads the table again.
    """
    bind = op.get_bind()
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = replace(sql, :old, :new) "
            "WHERE type = 'table' AND name = :table"
        ),
        {"old": old, "new": new, "table": table},
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
