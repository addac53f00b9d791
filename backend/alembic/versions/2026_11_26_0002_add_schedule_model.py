"""Add schedule model (SPEC-006): the schedules table and scheduled runs of workflows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 21:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create schedules with its idx_schedules_* indexes; link executions to schedules."""
    op.create_table(
        "schedules",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "schedule_type",
            sa.Enum(
                "cron",
                "interval",
                "date",
                name="schedule_type",
                native_enum=False,
                create_constraint=True,
                length=50,
            ),
            nullable=False,
        ),
        sa.Column("schedule_config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("timezone", sa.String(length=50), server_default="UTC", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("job_id", sa.String(length=255), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
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
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("run_count >= 0", name=op.f("ck_schedules_run_count_non_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_schedules_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_schedules_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("job_id", name=op.f("uq_schedules_job_id")),
    )
    op.create_index(
        "idx_schedules_active",
        "schedules",
        ["is_active"],
        unique=False,
        postgresql_where=sa.text("is_active"),
    )
    op.create_index(
        "idx_schedules_job_id",
        "schedules",
        ["job_id"],
        unique=False,
        postgresql_where=sa.text("job_id IS NOT NULL"),
    )
    op.create_index(
        "idx_schedules_next_run",
        "schedules",
        ["next_run_at"],
        unique=False,
        postgresql_where=sa.text("next_run_at IS NOT NULL"),
    )
    op.create_index(
        "idx_schedules_not_deleted",
        "schedules",
        ["id"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index("idx_schedules_type", "schedules", ["schedule_type"], unique=False)
    op.create_index(
        "idx_schedules_user", "schedules", ["user_id", "created_at", "id"], unique=False
    )
    op.create_index("idx_schedules_workflow", "schedules", ["workflow_id"], unique=False)
    op.create_index(
        "idx_schedules_workflow_active", "schedules", ["workflow_id", "is_active"], unique=False
    )
    op.add_column("workflow_executions", sa.Column("schedule_id", sa.Uuid(), nullable=True))
    op.add_column(
        "workflow_executions",
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_foreign_key(
        op.f("fk_workflow_executions_schedule_id_schedules"),
        "workflow_executions",
        "schedules",
        ["schedule_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_unique_constraint(
        "uq_workflow_executions_schedule_id_scheduled_for",
        "workflow_executions",
        ["schedule_id", "scheduled_for"],
    )


def downgrade() -> None:
    """Drop the schedule links from executions, then the schedules table."""
    op.drop_constraint(
        "uq_workflow_executions_schedule_id_scheduled_for", "workflow_executions", type_="unique"
    )
    op.drop_constraint(
        op.f("fk_workflow_executions_schedule_id_schedules"),
        "workflow_executions",
        type_="foreignkey",
    )
    op.drop_column("workflow_executions", "scheduled_for")
    op.drop_column("workflow_executions", "schedule_id")
    op.drop_index("idx_schedules_workflow_active", table_name="schedules")
    op.drop_index("idx_schedules_workflow", table_name="schedules")
    op.drop_index("idx_schedules_user", table_name="schedules")
    op.drop_index("idx_schedules_type", table_name="schedules")
    op.drop_index(
        "idx_schedules_not_deleted",
        table_name="schedules",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index(
        "idx_schedules_next_run",
        table_name="schedules",
        postgresql_where=sa.text("next_run_at IS NOT NULL"),
    )
    op.drop_index(
        "idx_schedules_job_id",
        table_name="schedules",
        postgresql_where=sa.text("job_id IS NOT NULL"),
    )
    op.drop_index(
        "idx_schedules_active", table_name="schedules", postgresql_where=sa.text("is_active")
    )
    op.drop_table("schedules")
