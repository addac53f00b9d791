"""Schedule rules for the API: ownership, can-it-ever-fire, pause/resume, trigger, preview.

Every route goes through here, reads included; ownership is decided here, never in a route.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.api.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.clock import utc_now
from app.core.security import Principal
from app.models import Schedule, ScheduleType, User, WorkflowExecution
from app.scheduler.manual import fire_now
from app.schedules import repository
from app.schedules.schemas import (
    DefinitionPreview,
    DefinitionPreviewRequest,
    FireTime,
    Preview,
    ScheduleCreate,
    ScheduleUpdate,
)
from app.timing.description import describe
from app.timing.zones import get_zone
from app.workflows import service as workflows

MAX_PREVIEW = 100


async def require(
    session: AsyncSession, user: Principal, schedule_id: uuid.UUID, *, include_deleted: bool = False
) -> Schedule:
    """The user's schedule; 404 when unknown, someone else's, or deleted."""
    schedule = await repository.get_owned(
        session, user.id, schedule_id, include_deleted=include_deleted
    )
    if schedule is None:
        raise NotFoundError("Schedule not found")
    return schedule


async def get_row(
    connection: AsyncConnection, user: Principal, schedule_id: uuid.UUID
) -> RowMapping:
    """The user's live schedule as a plain row (the fast read path); 404 otherwise."""
    row = await repository.get_owned_row(connection, user.id, schedule_id)
    if row is None:
        raise NotFoundError("Schedule not found")
    return row


async def list_page(
    connection: AsyncConnection,
    user: Principal,
    *,
    workflow_id: uuid.UUID | None,
    is_active: bool | None,
    schedule_type: ScheduleType | None,
    include_deleted: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[Row[Any]], str | None]:
    """A page of the user's schedules as plain rows; 404 for a workflow filter not theirs."""
    if workflow_id is not None:
        await workflows.require_known(connection, user, workflow_id)
    return await repository.list_owned(
        connection, user.id, workflow_id=workflow_id, is_active=is_active,
        schedule_type=schedule_type, include_deleted=include_deleted, cursor=cursor, limit=limit,
    )  # fmt: skip


async def last_statuses(
    connection: AsyncConnection, user: Principal, schedule_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The status of the newest run of each of these schedules of the user's."""
    return await repository.last_statuses(connection, user.id, schedule_ids)


async def list_executions(
    session: AsyncSession,
    user: Principal,
    schedule_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[WorkflowExecution], str | None]:
    """A page of the runs of one of the user's schedules (deleted ones too), newest first."""
    await require(session, user, schedule_id, include_deleted=True)
    return await repository.list_executions(session, schedule_id, cursor=cursor, limit=limit)


async def create(session: AsyncSession, user: Principal, data: ScheduleCreate) -> Schedule:
    """A new schedule of one of the user's live workflows; 422 when it could never fire."""
    workflow = await workflows.find(session, user, data.workflow_id)
    if workflow is None:
        raise InvalidInputError(
            "Unknown workflow", [("workflow_id", "no such workflow among yours")]
        )
    values: dict[str, Any] = data.model_dump(exclude={"metadata"})
    schedule = Schedule(user_id=user.id, metadata_=data.metadata, **values)
    if schedule.is_active and (reason := schedule.never_fires_reason(utc_now())):
        raise InvalidInputError(
            "This schedule can never fire", [("schedule_config", f"it can never fire: {reason}")]
        )
    session.add(schedule)
    await session.flush()
    return schedule


async def update(
    session: AsyncSession, user: Principal, schedule_id: uuid.UUID, data: ScheduleUpdate
) -> Schedule:
    """Change name, description, config, timezone or metadata (validated by the model)."""
    schedule = await require(session, user, schedule_id)
    for key, value in data.changes().items():
        setattr(schedule, "metadata_" if key == "metadata" else key, value)
    if schedule.is_active and (reason := schedule.never_fires_reason(utc_now())):
        # Refused like a new schedule that could never fire; the request's rollback
        # undoes the changes above.
        raise InvalidInputError(
            "This schedule could never fire", [("schedule_config", f"it can never fire: {reason}")]
        )
    await session.flush()
    return schedule


async def delete(session: AsyncSession, user: Principal, schedule_id: uuid.UUID) -> None:
    """Soft-delete: it never fires again until restored."""
    schedule = await require(session, user, schedule_id)
    schedule.soft_delete()
    await session.flush()


async def restore(session: AsyncSession, user: Principal, schedule_id: uuid.UUID) -> Schedule:
    """Undelete; a paused schedule stays paused. 409 when not deleted or its workflow is."""
    schedule = await require(session, user, schedule_id, include_deleted=True)
    if not schedule.is_deleted:
        raise ConflictError("Schedule is not deleted")
    workflow = await workflows.find(session, user, schedule.workflow_id)
    if workflow is None:
        raise ConflictError("Its workflow is deleted; restore the workflow first")
    schedule.restore()
    await session.flush()
    return schedule


async def pause(
    session: AsyncSession, user: Principal, schedule_id: uuid.UUID, note: str | None
) -> Schedule:
    """Stop firing, keeping the note."""
    schedule = await require(session, user, schedule_id)
    schedule.pause(note)
    await session.flush()
    return schedule


async def resume(session: AsyncSession, user: Principal, schedule_id: uuid.UUID) -> Schedule:
    """Fire again; 409 when it could never fire."""
    schedule = await require(session, user, schedule_id)
    if reason := schedule.never_fires_reason(utc_now()):
        raise ConflictError(f"Cannot resume: the schedule can never fire ({reason})")
    schedule.resume()
    await session.flush()
    return schedule


async def trigger(
    session: AsyncSession, user: Principal, schedule_id: uuid.UUID
) -> tuple[Schedule, WorkflowExecution]:
    """Run the schedule's workflow now, once (also while paused); 409 when the workflow or
    its owner is inactive or deleted (the firing engine would skip such a fire too)."""
    schedule = await require(session, user, schedule_id)
    workflow = await workflows.find(session, user, schedule.workflow_id)
    if workflow is None or not workflow.is_active:
        raise ConflictError("Cannot trigger: its workflow is inactive or deleted")
    owner = await session.get(User, schedule.user_id)
    if owner is None or not owner.is_active or owner.is_deleted:
        raise ConflictError("Cannot trigger: its owner is inactive or deleted")
    execution_id = await fire_now(await session.connection(), schedule, utc_now())
    execution = await session.get(WorkflowExecution, execution_id)
    assert execution is not None
    return schedule, execution


async def preview(
    session: AsyncSession, user: Principal, schedule_id: uuid.UUID, count: int
) -> Preview:
    """The next `count` fire times of one of the user's schedules."""
    return preview_of(await require(session, user, schedule_id), count)


def preview_definition(data: DefinitionPreviewRequest) -> DefinitionPreview:
    """What an unsaved definition means, by the same validation and time math as a saved
    schedule (a transient Schedule: nothing is written)."""
    schedule = Schedule(
        user_id=None, workflow_id=None, name="preview", schedule_type=data.schedule_type,
        schedule_config=data.schedule_config, timezone=data.timezone, metadata_=data.metadata,
    )  # fmt: skip
    now = utc_now()
    return DefinitionPreview(
        schedule_description=describe(schedule.schedule_type, schedule.schedule_config,
                                      schedule.timezone),
        timezone=schedule.timezone,
        fire_times=_fire_times(schedule, data.count, now),
        never_fires_reason=schedule.never_fires_reason(now),
    )  # fmt: skip


def preview_of(schedule: Schedule, count: int, now: datetime | None = None) -> Preview:
    """The next `count` fire times after now, from `next_run_after`."""
    return Preview(
        schedule_id=schedule.id,
        timezone=schedule.timezone,
        fire_times=_fire_times(schedule, count, now or utc_now()),
    )


def _fire_times(schedule: Schedule, count: int, now: datetime) -> list[FireTime]:
    tz = get_zone(schedule.timezone)
    moment = now - timedelta(microseconds=1)
    times: list[FireTime] = []
    while len(times) < count:
        next_time = schedule.next_run_after(moment)
        if next_time is None:
            break
        times.append(FireTime(at=next_time, local=next_time.astimezone(tz).isoformat()))
        moment = next_time
    return times
