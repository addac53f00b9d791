"""Fires of schedules whose owner is deactivated or deleted are skipped: reason owner_inactive.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:15:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here as they were at this revision (the model renders its CHECK from SkipReason).
BEFORE = "('misfire', 'coalesced', 'max_instances', 'workflow_inactive', 'invalid_config')"
AFTER = (
    "('misfire', 'coalesced', 'max_instances', 'workflow_inactive', 'invalid_config',"
    " 'owner_inactive')"
)


def upgrade() -> None:
    """Allow last_skip_reason = 'owner_inactive'."""
    op.drop_constraint(op.f("ck_schedules_last_skip_reason"), "schedules", type_="check")
    op.create_check_constraint(
        op.f("ck_schedules_last_skip_reason"), "schedules", f"last_skip_reason IN {AFTER}"
    )


def downgrade() -> None:
    """Back to the earlier reasons (rows that carry owner_inactive lose the reason)."""
    op.execute(
        "UPDATE schedules SET last_skip_reason = NULL WHERE last_skip_reason = 'owner_inactive'"
    )
    op.drop_constraint(op.f("ck_schedules_last_skip_reason"), "schedules", type_="check")
    op.create_check_constraint(
        op.f("ck_schedules_last_skip_reason"), "schedules", f"last_skip_reason IN {BEFORE}"
    )
