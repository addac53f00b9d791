"""Workflow rules: ownership, soft delete that takes the schedules along, restore.

Other features reach workflows through this service only (e.g. schedules check that a
workflow is the caller's).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.api.errors import ConflictError, NotFoundError
from app.core.security import Principal
from app.models import Workflow
from app.workflows import repository
from app.workflows.schemas import WorkflowCreate, WorkflowUpdate


async def find(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID, *, include_deleted: bool = False
) -> Workflow | None:
    """The user's workflow, or None when unknown, someone else's, or deleted."""
    return await repository.get_owned(
        session, user.id, workflow_id, include_deleted=include_deleted
    )


async def require(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID, *, include_deleted: bool = False
) -> Workflow:
    """The user's workflow; 404 when unknown, someone else's, or deleted."""
    workflow = await find(session, user, workflow_id, include_deleted=include_deleted)
    if workflow is None:
        raise NotFoundError("Workflow not found")
    return workflow


async def require_known(
    connection: AsyncConnection, user: Principal, workflow_id: uuid.UUID
) -> None:
    """404 unless the workflow is the user's (deleted ones included): for list filters."""
    if not await repository.owns(connection, user.id, workflow_id):
        raise NotFoundError("Workflow not found")


async def list_page(
    session: AsyncSession,
    user: Principal,
    *,
    include_deleted: bool,
    is_active: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Workflow], str | None]:
    """A page of the user's workflows, newest first."""
    return await repository.list_owned(
        session, user.id, include_deleted=include_deleted, is_active=is_active,
        cursor=cursor, limit=limit,
    )  # fmt: skip


async def create(session: AsyncSession, user: Principal, data: WorkflowCreate) -> Workflow:
    """A new workflow owned by `user`."""
    workflow = Workflow(owner_id=user.id, **data.model_dump())
    session.add(workflow)
    await session.flush()
    return workflow


async def update(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID, data: WorkflowUpdate
) -> Workflow:
    """Change the given fields."""
    workflow = await require(session, user, workflow_id)
    for key, value in data.changes().items():
        setattr(workflow, key, value)
    await session.flush()
    return workflow


async def delete(session: AsyncSession, user: Principal, workflow_id: uuid.UUID) -> None:
    """Soft-delete the workflow; its live schedules are soft-deleted in the same flush."""
    workflow = await require(session, user, workflow_id)
    workflow.soft_delete()
    await session.flush()


async def restore(session: AsyncSession, user: Principal, workflow_id: uuid.UUID) -> Workflow:
    """Bring back a deleted workflow and the schedules its deletion took."""
    workflow = await require(session, user, workflow_id, include_deleted=True)
    if not workflow.is_deleted:
        raise ConflictError("Workflow is not deleted")
    workflow.restore()
    await session.flush()
    return workflow
