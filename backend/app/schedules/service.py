"""Schedule rules for the API: ownership, can-it-ever-fire, pause/resume, trigger, preview."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.security import Principal
from app.models import Schedule, WorkflowExecution
from app.scheduler.manual import fire_now
from app.schedules import repository
from app.schedules.clock import get_zone, utc_now
from app.schedules.schemas import FireTime, Preview, ScheduleCreate, ScheduleUpdate
from app.workflows import repository as workflows

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


def never_fires_reason(schedule: Schedule, now: datetime) -> str | None:
    """Why an active schedule could never fire from `now` on, or None if it can."""
    if schedule.is_expired_at(now):
        if schedule.is_one_time:
            return "its run_date has passed beyond its misfire grace"
        return "its end_date has passed"
    if schedule.next_fire_from(now) is None:
        return "no fire time remains in its window"
    return None


async def create(session: AsyncSession, user: Principal, data: ScheduleCreate) -> Schedule:
    """A new schedule of one of the user's live workflows; 422 when it could never fire."""
    workflow = await workflows.get_owned(session, user.id, data.workflow_id, include_deleted=False)
    if workflow is None:
        raise InvalidInputError(
            "Unknown workflow", [("workflow_id", "no such workflow among yours")]
        )
    values: dict[str, Any] = data.model_dump(exclude={"metadata"})
    schedule = Schedule(user_id=user.id, metadata_=data.metadata, **values)
    if schedule.is_active and (reason := never_fires_reason(schedule, utc_now())):
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
    changes = data.model_dump(exclude_unset=True, exclude={"workflow_id", "schedule_type"})
    for key, value in changes.items():
        if value is None and key != "description":
            continue
        setattr(schedule, "metadata_" if key == "metadata" else key, value)
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
    workflow = await workflows.get_owned(
        session, user.id, schedule.workflow_id, include_deleted=False
    )
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
    if reason := never_fires_reason(schedule, utc_now()):
        raise ConflictError(f"Cannot resume: the schedule can never fire ({reason})")
    schedule.resume()
    await session.flush()
    return schedule


async def trigger(
    session: AsyncSession, user: Principal, schedule_id: uuid.UUID
) -> tuple[Schedule, WorkflowExecution]:
    """Run the schedule's workflow now, once (also while paused)."""
    schedule = await require(session, user, schedule_id)
    execution_id = await fire_now(await session.connection(), schedule, utc_now())
    execution = await session.get(WorkflowExecution, execution_id)
    assert execution is not None
    return schedule, execution


def preview(schedule: Schedule, count: int, now: datetime | None = None) -> Preview:
    """The next `count` fire times after now, from `next_run_after`."""
    tz = get_zone(schedule.timezone)
    moment = (now or utc_now()) - timedelta(microseconds=1)
    times: list[FireTime] = []
    while len(times) < count:
        next_time = schedule.next_run_after(moment)
        if next_time is None:
            break
        times.append(FireTime(at=next_time, local=next_time.astimezone(tz).isoformat()))
        moment = next_time
    return Preview(schedule_id=schedule.id, timezone=schedule.timezone, fire_times=times)
