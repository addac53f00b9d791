"""Shared steps of the engine tests: make schedules, read what the engine wrote."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.models import Schedule
from tests.factories import make_schedule, make_user, make_workflow


@dataclass(frozen=True)
class Created:
    """Ids of a committed schedule and its workflow."""

    schedule_id: uuid.UUID
    workflow_id: uuid.UUID


async def create_schedule(
    sessions: async_sessionmaker[AsyncSession],
    next_run_at: datetime | None = None,
    **overrides: Any,
) -> Created:
    """Commit a user, a workflow and a schedule; optionally force its next_run_at."""
    async with sessions() as session, session.begin():
        user = make_user()
        session.add(user)
        workflow = make_workflow(user)
        session.add(workflow)
        schedule = make_schedule(workflow, **overrides)
        session.add(schedule)
    created = Created(schedule.id, workflow.id)
    if next_run_at is not None:
        await set_next_run(sessions, created.schedule_id, next_run_at)
    return created


async def set_next_run(
    sessions: async_sessionmaker[AsyncSession], schedule_id: uuid.UUID, at: datetime
) -> None:
    """Put a schedule's next fire time where a test needs it (as after a restart)."""
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE schedules SET next_run_at = :at WHERE id = :id"),
            {"at": at, "id": schedule_id},
        )


async def load(sessions: async_sessionmaker[AsyncSession], schedule_id: uuid.UUID) -> Schedule:
    """A fresh copy of the schedule."""
    async with sessions() as session:
        schedule = await session.get(Schedule, schedule_id)
        assert schedule is not None
        return schedule


async def fire_times(db: AsyncEngine, schedule_id: uuid.UUID) -> list[datetime]:
    """The planned times of the schedule's executions, in order."""
    async with db.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT scheduled_for FROM workflow_executions WHERE schedule_id = :id"
                " ORDER BY scheduled_for"
            ),
            {"id": schedule_id},
        )
        return [row[0] for row in result]


async def executions(db: AsyncEngine, schedule_id: uuid.UUID) -> list[dict[str, Any]]:
    """The schedule's executions as dicts."""
    async with db.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT workflow_id, trigger_type, status, schedule_id, scheduled_for, metadata"
                " FROM workflow_executions WHERE schedule_id = :id ORDER BY scheduled_for"
            ),
            {"id": schedule_id},
        )
        return [dict(row._mapping) for row in result]
