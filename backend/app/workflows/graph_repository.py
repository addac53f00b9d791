"""Graph queries: a workflow locked for a graph change, its nodes and edges; none commits."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repository import owned
from app.models import Edge, Node, Workflow


async def lock_owned(
    session: AsyncSession, owner_id: uuid.UUID, workflow_id: uuid.UUID
) -> Workflow | None:
    """The owner's live workflow, its row locked until the transaction ends: graph changes
    of one workflow happen one after another, each seeing the version the last one left."""
    statement = (
        owned(Workflow, Workflow.owner_id, owner_id, include_deleted=False)
        .where(Workflow.id == workflow_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found: Workflow | None = await session.scalar(statement)
    return found


async def nodes_of(session: AsyncSession, workflow_id: uuid.UUID) -> list[Node]:
    """The workflow's nodes, by name."""
    statement = select(Node).where(Node.workflow_id == workflow_id).order_by(Node.name)
    return list(await session.scalars(statement))


async def edges_of(session: AsyncSession, workflow_id: uuid.UUID) -> list[Edge]:
    """The workflow's edges, oldest first."""
    statement = (
        select(Edge).where(Edge.workflow_id == workflow_id).order_by(Edge.created_at, Edge.id)
    )
    return list(await session.scalars(statement))
