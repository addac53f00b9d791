"""The firing engine's SQL: claim due schedules, write executions, advance schedules, in bulk.

All statements run inside the caller's transaction; none commits. The rules they need
(the live-and-active predicate, the job id prefix) come from their one home.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import TriggerType
from app.models.base import live_and_active_sql
from app.runtime.handoff import enqueue_executions
from app.scheduler.planning import DueSchedule, FirePlan, UnplannedSchedule
from app.timing.lifecycle import JOB_ID_PREFIX, SkipReason

# Due rows, oldest first, locked for this transaction; rows another engine holds are
# skipped rather than waited for. The partial index idx_schedules_next_run serves it.
_CLAIM_DUE = text(
    f"""
    SELECT s.id, s.workflow_id, s.schedule_type, s.schedule_config::text AS config_json,
           s.timezone, s.created_at, s.next_run_at, s.metadata::text AS metadata_json,
           ({live_and_active_sql("w")}) AS workflow_runnable,
           ({live_and_active_sql("u")}) AS owner_active,
           (SELECT count(*) FROM workflow_executions e
             WHERE e.schedule_id = s.id AND e.status = 'running') AS running
      FROM schedules s
      JOIN workflows w ON w.id = s.workflow_id
      JOIN users u ON u.id = s.user_id
     WHERE s.next_run_at <= :now AND {live_and_active_sql("s")}
     ORDER BY s.next_run_at
     LIMIT :limit
       FOR UPDATE OF s SKIP LOCKED
    """
)

# One row per fire; a planned time that already has its execution is left alone.
_INSERT_EXECUTIONS = text(
    """
    INSERT INTO workflow_executions
           (workflow_id, trigger_type, status, schedule_id, scheduled_for, metadata)
    SELECT f.workflow_id, :trigger_type, 'pending', f.schedule_id, f.scheduled_for,
           jsonb_build_object('schedule_id', f.schedule_id::text)
      FROM unnest(CAST(:workflow_ids AS uuid[]), CAST(:schedule_ids AS uuid[]),
                  CAST(:fire_times AS timestamptz[]))
           AS f(workflow_id, schedule_id, scheduled_for)
    ON CONFLICT (schedule_id, scheduled_for) DO NOTHING
    RETURNING id, schedule_id
    """
)

# Counters are incremented in SQL on locked rows, so no increment is ever lost.
_ADVANCE_SCHEDULES = text(
    """
    UPDATE schedules AS s
       SET next_run_at = u.next_run_at,
           is_active = s.is_active AND NOT u.deactivate,
           last_run_at = CASE WHEN u.fired > 0 THEN CAST(:now AS timestamptz)
                              ELSE s.last_run_at END,
           run_count = s.run_count + u.fired,
           missed_count = s.missed_count + u.missed,
           skipped_count = s.skipped_count + u.skipped,
           last_skip_reason = COALESCE(u.reason, s.last_skip_reason),
           last_skipped_at = CASE WHEN u.reason IS NULL THEN s.last_skipped_at
                                  ELSE CAST(:now AS timestamptz) END,
           job_id = COALESCE(s.job_id, CAST(:job_id_prefix AS text) || s.id::text),
           updated_at = CAST(:now AS timestamptz)
      FROM unnest(CAST(:ids AS uuid[]), CAST(:next_run_ats AS timestamptz[]),
                  CAST(:deactivate AS boolean[]), CAST(:fired AS integer[]),
                  CAST(:missed AS integer[]), CAST(:skipped AS integer[]),
                  CAST(:reasons AS text[]))
           AS u(id, next_run_at, deactivate, fired, missed, skipped, reason)
     WHERE s.id = u.id
    """
)

_EARLIEST_DUE = text(
    f"""
    SELECT min(next_run_at), clock_timestamp() FROM schedules
     WHERE next_run_at IS NOT NULL AND {live_and_active_sql()}
    """
)


async def claim_due(connection: AsyncConnection, now: datetime, limit: int) -> list[DueSchedule]:
    """Lock and return up to `limit` schedules due at `now`."""
    result = await connection.execute(_CLAIM_DUE, {"now": now, "limit": limit})
    return [DueSchedule(*row) for row in result]


@dataclass(frozen=True, slots=True)
class Fire:
    """One planned fire of one schedule."""

    workflow_id: uuid.UUID
    schedule_id: uuid.UUID
    scheduled_for: datetime


async def insert_executions(
    connection: AsyncConnection,
    fires: Sequence[Fire],
    trigger_type: TriggerType = TriggerType.SCHEDULE,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Insert one pending execution per fire, skipping planned times that have one, and
    hand each new one to the queue in the same transaction.

    Returns (execution id, schedule id) of the rows inserted.
    """
    if not fires:
        return []
    result = await connection.execute(
        _INSERT_EXECUTIONS,
        {
            "trigger_type": trigger_type.value,
            "workflow_ids": [fire.workflow_id for fire in fires],
            "schedule_ids": [fire.schedule_id for fire in fires],
            "fire_times": [fire.scheduled_for for fire in fires],
        },
    )
    inserted = [(row[0], row[1]) for row in result]
    await enqueue_executions(connection, [execution_id for execution_id, _ in inserted])
    return inserted


def fires_of(plans: Sequence[FirePlan]) -> list[Fire]:
    """The fires the plans decided on."""
    return [
        Fire(plan.schedule.workflow_id, plan.schedule.id, fire_time)
        for plan in plans
        for fire_time in plan.fire_times
    ]


async def advance_schedules(
    connection: AsyncConnection,
    plans: Sequence[FirePlan],
    fired: Mapping[uuid.UUID, int],
    now: datetime,
) -> None:
    """Write each schedule's next fire time, run and skip counters, in one statement."""
    if not plans:
        return
    await connection.execute(
        _ADVANCE_SCHEDULES,
        {
            "now": now,
            "job_id_prefix": JOB_ID_PREFIX,
            "ids": [plan.schedule.id for plan in plans],
            "next_run_ats": [plan.next_run_at for plan in plans],
            "deactivate": [plan.deactivate for plan in plans],
            "fired": [fired.get(plan.schedule.id, 0) for plan in plans],
            "missed": [plan.missed for plan in plans],
            "skipped": [plan.skipped for plan in plans],
            "reasons": [plan.reason for plan in plans],
        },
    )


async def earliest_due(connection: AsyncConnection) -> tuple[datetime | None, datetime]:
    """The earliest `next_run_at` of any live active schedule (index-only lookup), and the
    database's clock."""
    row = (await connection.execute(_EARLIEST_DUE)).one()
    return row[0], row[1]


async def database_now(connection: AsyncConnection) -> datetime:
    """The database server's clock: the one time every engine agrees on.

    Engines decide what is due by it, never by their own clocks, so an engine whose
    machine runs minutes fast or slow neither fires early nor counts fires as missed.
    """
    now: datetime = await connection.scalar(_DATABASE_NOW)
    return now


_DATABASE_NOW = text("SELECT clock_timestamp()")


# -- reconciliation -------------------------------------------------------------------

_UNPLANNED = text(
    f"""
    SELECT id, workflow_id, schedule_type, schedule_config::text AS config_json, timezone,
           created_at, metadata::text AS metadata_json, last_run_at, run_count
      FROM schedules
     WHERE next_run_at IS NULL AND {live_and_active_sql()}
     LIMIT :limit
       FOR UPDATE SKIP LOCKED
    """
)

_PLAN = text(
    """
    UPDATE schedules AS s
       SET next_run_at = u.next_run_at,
           is_active = u.next_run_at IS NOT NULL,
           job_id = COALESCE(s.job_id, CAST(:job_id_prefix AS text) || s.id::text),
           last_skip_reason = COALESCE(u.reason, s.last_skip_reason),
           updated_at = now()
      FROM unnest(CAST(:ids AS uuid[]), CAST(:next_run_ats AS timestamptz[]),
                  CAST(:reasons AS text[])) AS u(id, next_run_at, reason)
     WHERE s.id = u.id
    """
)

# Paused or deleted schedules that still carry a due next_run_at (written by raw SQL).
_CLEAR_STALE = text(
    f"""
    UPDATE schedules SET next_run_at = NULL, updated_at = now()
     WHERE next_run_at <= :now AND NOT ({live_and_active_sql()})
    RETURNING id
    """
)


async def claim_unplanned(connection: AsyncConnection, limit: int) -> list[UnplannedSchedule]:
    """Lock and return live active schedules that have no next fire time."""
    result = await connection.execute(_UNPLANNED, {"limit": limit})
    return [UnplannedSchedule(*row) for row in result]


async def write_plans(
    connection: AsyncConnection,
    planned: Sequence[tuple[uuid.UUID, datetime | None, SkipReason | None]],
) -> None:
    """Set (schedule id, next fire time or None to deactivate, reason) in one statement."""
    if planned:
        ids, next_run_ats, reasons = zip(*planned, strict=True)
        await connection.execute(
            _PLAN,
            {
                "ids": list(ids),
                "next_run_ats": list(next_run_ats),
                "reasons": list(reasons),
                "job_id_prefix": JOB_ID_PREFIX,
            },
        )


async def clear_stale(connection: AsyncConnection, now: datetime) -> list[uuid.UUID]:
    """Clear the due `next_run_at` of paused or deleted schedules; return their ids."""
    result = await connection.execute(_CLEAR_STALE, {"now": now})
    return [row[0] for row in result]
