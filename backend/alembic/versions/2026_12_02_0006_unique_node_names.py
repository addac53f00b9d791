"""Node names are unique within a workflow: they key node outputs and expressions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 22:40:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Rename the later of any two same-named nodes (suffix: its id), then add the unique
    constraint, checked at commit so that a saved graph may swap two names."""
    op.execute(
        """
        UPDATE nodes SET name = left(nodes.name, 200) || '-' || nodes.id::text
        FROM (
            SELECT id, row_number() OVER (PARTITION BY workflow_id, name ORDER BY created_at, id)
                AS place
            FROM nodes
        ) AS ranked
        WHERE ranked.id = nodes.id AND ranked.place > 1
        """
    )
    op.create_unique_constraint(
        op.f("uq_nodes_workflow_id_name"),
        "nodes",
        ["workflow_id", "name"],
        deferrable=True,
        initially="DEFERRED",
    )


def downgrade() -> None:
    """Names may repeat again."""
    op.drop_constraint(op.f("uq_nodes_workflow_id_name"), "nodes", type_="unique")
