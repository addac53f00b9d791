"""Engine support: count fires that did not run; index running executions and unplanned rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 20:35:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SKIP_REASONS = "('misfire', 'coalesced', 'max_instances', 'workflow_inactive', 'invalid_config')"


def upgrade() -> None:
    """Add missed/skipped counters and the last reason to schedules."""
    op.add_column(
        "schedules",
        sa.Column("missed_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "schedules",
        sa.Column("skipped_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("schedules", sa.Column("last_skip_reason", sa.String(length=50), nullable=True))
    op.add_column(
        "schedules", sa.Column("last_skipped_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_schedules_missed_count_non_negative"), "schedules", "missed_count >= 0"
    )
    op.create_check_constraint(
        op.f("ck_schedules_skipped_count_non_negative"), "schedules", "skipped_count >= 0"
    )
    op.create_check_constraint(
        op.f("ck_schedules_last_skip_reason"), "schedules", f"last_skip_reason IN {SKIP_REASONS}"
    )
    op.create_index(
        "idx_schedules_unplanned",
        "schedules",
        ["id"],
        postgresql_where=sa.text("next_run_at IS NULL AND is_active AND deleted_at IS NULL"),
    )
    op.create_index(
        "ix_workflow_executions_schedule_id_running",
        "workflow_executions",
        ["schedule_id"],
        postgresql_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    """Drop the counters and the running-executions index."""
    op.drop_index("ix_workflow_executions_schedule_id_running", table_name="workflow_executions")
    op.drop_index("idx_schedules_unplanned", table_name="schedules")
    op.drop_constraint(op.f("ck_schedules_last_skip_reason"), "schedules", type_="check")
    op.drop_constraint(op.f("ck_schedules_skipped_count_non_negative"), "schedules", type_="check")
    op.drop_constraint(op.f("ck_schedules_missed_count_non_negative"), "schedules", type_="check")
    op.drop_column("schedules", "last_skipped_at")
    op.drop_column("schedules", "last_skip_reason")
    op.drop_column("schedules", "skipped_count")
    op.drop_column("schedules", "missed_count")
