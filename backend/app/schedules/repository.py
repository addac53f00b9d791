"""Schedule queries for the API, always scoped to the owning user."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, RowMapping, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.api.pagination import page_of, paginate
from app.models import Schedule, ScheduleType, WorkflowExecution

# Reads for the API skip the ORM: rows straight into read models.
SCHEDULE_COLUMNS = tuple(Schedule.__table__.columns)


async def get_owned(
    session: AsyncSession, user_id: uuid.UUID, schedule_id: uuid.UUID, *, include_deleted: bool
) -> Schedule | None:
    """The user's schedule, or None (also for someone else's)."""
    statement = select(Schedule).where(Schedule.id == schedule_id, Schedule.user_id == user_id)
    if not include_deleted:
        statement = statement.where(Schedule.deleted_at.is_(None))
    return (await session.scalars(statement)).first()


async def get_owned_row(
    connection: AsyncConnection, user_id: uuid.UUID, schedule_id: uuid.UUID
) -> RowMapping | None:
    """The user's live schedule as a plain row (the read path: no ORM object)."""
    statement = select(*SCHEDULE_COLUMNS).where(
        Schedule.id == schedule_id, Schedule.user_id == user_id, Schedule.deleted_at.is_(None)
    )
    return (await connection.execute(statement)).mappings().first()


async def list_owned(
    connection: AsyncConnection,
    user_id: uuid.UUID,
    *,
    workflow_id: uuid.UUID | None,
    is_active: bool | None,
    schedule_type: ScheduleType | None,
    include_deleted: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[Row[Any]], str | None]:
    """A page of the user's schedules as plain rows, newest first, filtered."""
    statement = select(*SCHEDULE_COLUMNS).where(Schedule.user_id == user_id)
    if workflow_id is not None:
        statement = statement.where(Schedule.workflow_id == workflow_id)
    if is_active is not None:
        statement = statement.where(Schedule.is_active.is_(is_active))
    if schedule_type is not None:
        statement = statement.where(Schedule.schedule_type == schedule_type)
    if not include_deleted:
        statement = statement.where(Schedule.deleted_at.is_(None))
    statement = paginate(statement, Schedule.created_at, Schedule.id, cursor, limit)
    return page_of(list(await connection.execute(statement)), limit)


async def list_executions(
    session: AsyncSession, schedule_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[WorkflowExecution], str | None]:
    """A page of a schedule's executions, newest planned time first.

    Served by the UNIQUE (schedule_id, scheduled_for) index: no index of its own, so
    the engine's inserts stay as cheap as they can be.
    """
    statement = select(WorkflowExecution).where(WorkflowExecution.schedule_id == schedule_id)
    statement = paginate(
        statement, WorkflowExecution.scheduled_for, WorkflowExecution.id, cursor, limit
    )
    return page_of(list(await session.scalars(statement)), limit, order="scheduled_for")
