"""Workflow queries, always scoped to an owner; none commits."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.api.pagination import page_of, paginate
from app.db.repository import get_owned as get_owned_object
from app.db.repository import owned
from app.models import Workflow


async def get_owned(
    session: AsyncSession, owner_id: uuid.UUID, workflow_id: uuid.UUID, *, include_deleted: bool
) -> Workflow | None:
    """The owner's workflow, or None (also for someone else's)."""
    return await get_owned_object(
        session, Workflow, Workflow.owner_id, owner_id, workflow_id, include_deleted=include_deleted
    )


async def owns(connection: AsyncConnection, owner_id: uuid.UUID, workflow_id: uuid.UUID) -> bool:
    """True when the workflow exists (deleted or not) and belongs to `owner_id`."""
    statement = select(Workflow.id).where(Workflow.id == workflow_id, Workflow.owner_id == owner_id)
    return await connection.scalar(statement) is not None


async def list_owned(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    include_deleted: bool,
    is_active: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Workflow], str | None]:
    """A page of the owner's workflows, newest first."""
    statement = owned(Workflow, Workflow.owner_id, owner_id, include_deleted=include_deleted)
    if is_active is not None:
        statement = statement.where(Workflow.is_active.is_(is_active))
    statement = paginate(statement, Workflow.created_at, Workflow.id, cursor, limit)
    return page_of(list(await session.scalars(statement)), limit)
