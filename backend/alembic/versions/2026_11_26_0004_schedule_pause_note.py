"""API support: remember when and why a schedule was paused.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 20:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add paused_at and pause_note to schedules."""
    op.add_column("schedules", sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("schedules", sa.Column("pause_note", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    op.drop_column("schedules", "pause_note")
    op.drop_column("schedules", "paused_at")
