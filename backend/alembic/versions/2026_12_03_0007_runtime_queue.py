"""The runtime: pgqueuer's job queue, and the columns a worker keeps on executions.

The queue's schema is pgqueuer's own, built by pgqueuer's installer so it always matches
the installed pgqueuer (`alembic check` ignores its tables; see alembic/env.py).
`workflow_executions.attempt` counts the workers that took the execution up (more than
one after a worker was lost); `run_token` names the worker run that holds it, so a
worker that lost it can no longer write. `node_executions.attempt` is the execution
attempt a node run belongs to.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment
from sqlalchemy.dialects import postgresql
from sqlalchemy.util import await_

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run_script(script: str) -> None:
    """Run a multi-statement script in the migration's transaction (asyncpg prepares what
    SQLAlchemy sends, and a prepared statement holds one command)."""
    driver_connection = op.get_bind().connection.driver_connection
    await_(driver_connection.execute(script))  # type: ignore[union-attr]


def upgrade() -> None:
    """Install the queue and add the runtime's columns."""
    _run_script(QueryBuilderEnvironment().build_install_query(create_schema=False))
    op.add_column(
        "workflow_executions",
        sa.Column("attempt", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("workflow_executions", sa.Column("run_token", postgresql.UUID(as_uuid=True)))
    op.create_check_constraint(
        op.f("ck_workflow_executions_attempt_non_negative"), "workflow_executions", "attempt >= 0"
    )
    op.add_column(
        "node_executions",
        sa.Column("attempt", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_node_executions_attempt_positive"), "node_executions", "attempt >= 1"
    )
    # A workflow's executions, newest first (GET /executions?workflow_id=).
    op.create_index(
        "ix_workflow_executions_workflow_id_created_at",
        "workflow_executions",
        ["workflow_id", "created_at", "id"],
    )


def downgrade() -> None:
    """Drop the runtime's columns and the queue."""
    op.drop_index("ix_workflow_executions_workflow_id_created_at", "workflow_executions")
    op.drop_constraint(op.f("ck_node_executions_attempt_positive"), "node_executions")
    op.drop_column("node_executions", "attempt")
    op.drop_constraint(op.f("ck_workflow_executions_attempt_non_negative"), "workflow_executions")
    op.drop_column("workflow_executions", "run_token")
    op.drop_column("workflow_executions", "attempt")
    _run_script(QueryBuilderEnvironment().build_uninstall_query())
