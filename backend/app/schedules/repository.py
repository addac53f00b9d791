"""Schedule queries for the API, always scoped to the owning user; none commits."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Row, RowMapping, Select, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.api.pagination import after_position, decode_cursor, newest_first, page_of, paginate
from app.db.repository import get_owned as get_owned_object
from app.db.repository import hide_deleted
from app.models import Schedule, ScheduleType, WorkflowExecution
from app.models.types import UTCDateTime

# Reads for the API skip the ORM: rows straight into read models.
SCHEDULE_COLUMNS = tuple(Schedule.__table__.columns)


async def get_owned(
    session: AsyncSession, user_id: uuid.UUID, schedule_id: uuid.UUID, *, include_deleted: bool
) -> Schedule | None:
    """The user's schedule, or None (also for someone else's)."""
    return await get_owned_object(
        session, Schedule, Schedule.user_id, user_id, schedule_id, include_deleted=include_deleted
    )


async def get_owned_row(
    connection: AsyncConnection, user_id: uuid.UUID, schedule_id: uuid.UUID
) -> RowMapping | None:
    """The user's live schedule as a plain row (the read path: no ORM object)."""
    statement = select(*SCHEDULE_COLUMNS).where(
        Schedule.id == schedule_id, Schedule.user_id == user_id
    )
    result = await connection.execute(hide_deleted(statement, Schedule))
    row: RowMapping | None = result.mappings().first()
    return row


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
    params: dict[str, Any] = {"user_id": user_id, "limit": limit + 1}
    if workflow_id is not None:
        params["workflow_id"] = workflow_id
    if is_active is not None:
        params["is_active"] = is_active
    if schedule_type is not None:
        params["schedule_type"] = schedule_type
    if cursor is not None:
        params["after_created"], params["after_id"] = decode_cursor(cursor)
    statement = _list_statement(
        workflow_id is not None, is_active is not None, schedule_type is not None,
        include_deleted, cursor is not None,
    )  # fmt: skip
    return page_of(list(await connection.execute(statement, params)), limit)


@lru_cache(maxsize=64)
def _list_statement(
    by_workflow: bool, by_activity: bool, by_type: bool, include_deleted: bool, after: bool
) -> Select[Any]:
    """The list query for one combination of filters, built once: executing a statement
    object SQLAlchemy has seen before skips rebuilding and re-keying it."""
    statement = select(*SCHEDULE_COLUMNS).where(Schedule.user_id == bindparam("user_id"))
    if by_workflow:
        statement = statement.where(Schedule.workflow_id == bindparam("workflow_id"))
    if by_activity:
        statement = statement.where(Schedule.is_active == bindparam("is_active"))
    if by_type:
        statement = statement.where(Schedule.schedule_type == bindparam("schedule_type"))
    if not include_deleted:
        statement = hide_deleted(statement, Schedule)
    if after:
        statement = statement.where(
            after_position(
                Schedule.created_at,
                Schedule.id,
                bindparam("after_created", type_=UTCDateTime),
                bindparam("after_id"),
            )
        )
    order = newest_first(Schedule.created_at, Schedule.id)
    return statement.order_by(*order).limit(bindparam("limit", type_=Integer))


async def list_executions(
    session: AsyncSession, schedule_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[WorkflowExecution], str | None]:
    """A page of a schedule's executions, newest planned time first.

    Served by the UNIQUE (schedule_id, scheduled_for) index: no index of its own, so
    the firing engine's inserts stay as cheap as they can be.
    """
    statement = select(WorkflowExecution).where(WorkflowExecution.schedule_id == schedule_id)
    statement = paginate(
        statement, WorkflowExecution.scheduled_for, WorkflowExecution.id, cursor, limit
    )
    return page_of(list(await session.scalars(statement)), limit, order="scheduled_for")


_LAST_STATUSES = text(
    "SELECT DISTINCT ON (e.schedule_id) e.schedule_id, e.status FROM workflow_executions e "
    "JOIN schedules s ON s.id = e.schedule_id AND s.user_id = :user_id "
    "WHERE e.schedule_id = ANY(CAST(:ids AS uuid[])) ORDER BY e.schedule_id, e.created_at DESC"
)


async def last_statuses(
    connection: AsyncConnection, user_id: uuid.UUID, schedule_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The status of the newest execution of each of the user's schedules that has one."""
    if not schedule_ids:
        return {}
    rows = await connection.execute(_LAST_STATUSES, {"user_id": user_id, "ids": schedule_ids})
    return {row[0]: str(row[1]) for row in rows}
