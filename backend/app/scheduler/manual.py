"""Fire a schedule now, on request, through the engine's insert (exactly once per time)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import Schedule, TriggerType
from app.scheduler.queries import Fire, insert_executions


async def fire_now(connection: AsyncConnection, schedule: Schedule, now: datetime) -> uuid.UUID:
    """Insert a pending execution planned for `now`; its id.

    The row is `trigger_type = manual` and does not count as a scheduled run: `run_count`,
    `last_run_at` and `next_run_at` are the engine's. Two calls are two runs; a planned
    time can still never yield two executions.
    """
    inserted = await insert_executions(
        connection, [Fire(schedule.workflow_id, schedule.id, now)], TriggerType.MANUAL
    )
    if not inserted:  # the same microsecond twice: take the next one
        return await fire_now(connection, schedule, now + timedelta(microseconds=1))
    return inserted[0][0]
