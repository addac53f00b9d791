"""The engine's firing rules, driven with an explicit clock (`run_due(now)`)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.models import Workflow
from app.scheduler import EngineConfig, SchedulerEngine
from tests.integration.test_scheduler.helpers import (
    Created,
    create_schedule,
    executions,
    fire_times,
    load,
    set_next_run,
)

Sessions = async_sessionmaker[AsyncSession]
HALF_SECOND = timedelta(milliseconds=500)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


async def every_minute(
    sessions: Sessions, start: datetime, metadata: dict[str, object] | None = None
) -> Created:
    """A UTC schedule firing every minute whose next fire time is `start`."""
    return await create_schedule(
        sessions,
        next_run_at=start,
        schedule_config={"cron_expression": "* * * * *"},
        timezone="UTC",
        metadata_=metadata or {},
    )


async def run_on_time(db: AsyncEngine, sessions: Sessions, schedule_id: object, fires: int) -> None:
    """Simulate an engine that wakes exactly when the schedule is due, `fires` times."""
    scheduler = SchedulerEngine(db)
    for _ in range(fires):
        schedule = await load(sessions, schedule_id)  # type: ignore[arg-type]
        assert schedule.next_run_at is not None
        await scheduler.run_due(now=schedule.next_run_at + HALF_SECOND)


async def test_a_fire_writes_the_execution_and_advances_the_schedule(
    db: AsyncEngine, sessions: Sessions
) -> None:
    created = await create_schedule(sessions, schedule_config={"cron_expression": "0 9 * * 1-5"})
    before = await load(sessions, created.schedule_id)
    assert before.job_id == f"schedule_{created.schedule_id}"
    assert before.next_run_at is not None
    planned = before.next_run_at
    now = planned + timedelta(seconds=2)

    report = await SchedulerEngine(db).run_due(now=now)

    assert (report.claimed, report.fired, report.missed, report.skipped) == (1, 1, 0, 0)
    [execution] = await executions(db, created.schedule_id)
    assert execution["trigger_type"] == "schedule"
    assert execution["status"] == "pending"
    assert execution["workflow_id"] == created.workflow_id
    assert execution["scheduled_for"] == planned
    assert execution["metadata"] == {"schedule_id": str(created.schedule_id)}
    after = await load(sessions, created.schedule_id)
    assert after.run_count == 1
    assert after.last_run_at == now
    assert after.next_run_at == after.next_run_after(now)


async def test_nothing_fires_before_it_is_due(db: AsyncEngine, sessions: Sessions) -> None:
    created = await create_schedule(sessions)
    schedule = await load(sessions, created.schedule_id)
    assert schedule.next_run_at is not None
    report = await SchedulerEngine(db).run_due(now=schedule.next_run_at - timedelta(seconds=1))
    assert report.claimed == 0
    assert await fire_times(db, created.schedule_id) == []


async def test_fixed_time_cron_across_spring_forward(db: AsyncEngine, sessions: Sessions) -> None:
    created = await create_schedule(
        sessions,
        next_run_at=utc(2027, 3, 12, 7, 30),
        schedule_config={"cron_expression": "30 2 * * *"},
        timezone="America/New_York",
    )
    await run_on_time(db, sessions, created.schedule_id, fires=4)
    assert await fire_times(db, created.schedule_id) == [
        utc(2027, 3, 12, 7, 30),  # 02:30 EST
        utc(2027, 3, 13, 7, 30),
        utc(2027, 3, 14, 7, 0),  # 02:30 does not exist: 03:00 EDT, once
        utc(2027, 3, 15, 6, 30),  # 02:30 EDT
    ]


async def test_fields_form_hourly_across_fall_back(db: AsyncEngine, sessions: Sessions) -> None:
    created = await create_schedule(
        sessions,
        next_run_at=utc(2027, 11, 7, 4, 0),
        schedule_config={"minute": 0},
        timezone="America/New_York",
    )
    await run_on_time(db, sessions, created.schedule_id, fires=4)
    assert await fire_times(db, created.schedule_id) == [
        utc(2027, 11, 7, 4, 0),  # 00:00 EDT
        utc(2027, 11, 7, 5, 0),  # 01:00 EDT
        utc(2027, 11, 7, 6, 0),  # 01:00 EST, the repeated hour fires again
        utc(2027, 11, 7, 7, 0),  # 02:00 EST
    ]


async def test_interval_is_elapsed_time_across_dst(db: AsyncEngine, sessions: Sessions) -> None:
    created = await create_schedule(
        sessions,
        schedule_type="interval",
        schedule_config={"hours": 1, "start_date": "2027-03-14T00:00:00"},
        timezone="America/New_York",
        next_run_at=utc(2027, 3, 14, 5, 0),
    )
    await run_on_time(db, sessions, created.schedule_id, fires=4)
    times = await fire_times(db, created.schedule_id)
    assert [b - a for a, b in itertools.pairwise(times)] == [timedelta(hours=1)] * 3


async def test_date_schedule_fires_once_and_goes_inactive(
    db: AsyncEngine, sessions: Sessions
) -> None:
    run_date = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    created = await create_schedule(
        sessions, schedule_type="date", schedule_config={"run_date": run_date.isoformat()}
    )
    scheduler = SchedulerEngine(db)
    await scheduler.run_due(now=run_date + timedelta(seconds=1))
    await scheduler.run_due(now=run_date + timedelta(days=1))
    assert await fire_times(db, created.schedule_id) == [run_date]
    after = await load(sessions, created.schedule_id)
    assert after.is_active is False
    assert after.next_run_at is None
    assert after.run_count == 1
    assert after.is_expired is True


class TestMisfires:
    async def test_restart_within_and_beyond_grace_with_coalesce(
        self, db: AsyncEngine, sessions: Sessions
    ) -> None:
        start = utc(2027, 1, 4, 9, 0)
        created = await every_minute(sessions, start)
        now = start + timedelta(minutes=10, seconds=5)  # down for ten minutes
        report = await SchedulerEngine(db).run_due(now=now)
        # 09:00..09:10 were due; grace 60 s keeps 09:10 only... and 09:09:05 is outside.
        assert await fire_times(db, created.schedule_id) == [start + timedelta(minutes=10)]
        after = await load(sessions, created.schedule_id)
        assert after.missed_count == 10
        assert after.skipped_count == 0
        assert after.last_skip_reason == "misfire"
        assert after.next_run_at == start + timedelta(minutes=11)
        assert report.missed == 10

    async def test_coalesce_folds_fires_inside_the_grace(
        self, db: AsyncEngine, sessions: Sessions
    ) -> None:
        start = utc(2027, 1, 4, 9, 0)
        created = await every_minute(sessions, start, {"misfire_grace_time": 3600})
        await SchedulerEngine(db).run_due(now=start + timedelta(minutes=4, seconds=1))
        assert await fire_times(db, created.schedule_id) == [start + timedelta(minutes=4)]
        after = await load(sessions, created.schedule_id)
        assert (after.missed_count, after.skipped_count) == (0, 4)
        assert after.last_skip_reason == "coalesced"
        assert after.run_count == 1

    async def test_without_coalesce_every_fire_inside_the_grace_runs(
        self, db: AsyncEngine, sessions: Sessions
    ) -> None:
        start = utc(2027, 1, 4, 9, 0)
        created = await every_minute(
            sessions, start, {"misfire_grace_time": 150, "coalesce": False}
        )
        await SchedulerEngine(db).run_due(now=start + timedelta(minutes=4, seconds=1))
        assert await fire_times(db, created.schedule_id) == [
            start + timedelta(minutes=2),
            start + timedelta(minutes=3),
            start + timedelta(minutes=4),
        ]
        after = await load(sessions, created.schedule_id)
        assert (after.missed_count, after.skipped_count, after.run_count) == (2, 0, 3)

    async def test_missed_date_schedule_is_done(self, db: AsyncEngine, sessions: Sessions) -> None:
        run_date = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        created = await create_schedule(
            sessions, schedule_type="date", schedule_config={"run_date": run_date.isoformat()}
        )
        await SchedulerEngine(db).run_due(now=run_date + timedelta(minutes=2))
        assert await fire_times(db, created.schedule_id) == []
        after = await load(sessions, created.schedule_id)
        assert (after.missed_count, after.is_active, after.next_run_at) == (1, False, None)


class TestSkips:
    async def test_max_instances_counts_running_executions_only(
        self, db: AsyncEngine, sessions: Sessions
    ) -> None:
        start = utc(2027, 1, 4, 9, 0)
        created = await every_minute(sessions, start)
        scheduler = SchedulerEngine(db)
        await scheduler.run_due(now=start + timedelta(seconds=1))
        # A pending execution does not count: the next minute fires too.
        await scheduler.run_due(now=start + timedelta(minutes=1, seconds=1))
        assert len(await fire_times(db, created.schedule_id)) == 2
        async with db.begin() as connection:
            await connection.execute(
                text("UPDATE workflow_executions SET status = 'running' WHERE schedule_id = :id"),
                {"id": created.schedule_id},
            )
        await scheduler.run_due(now=start + timedelta(minutes=2, seconds=1))
        assert len(await fire_times(db, created.schedule_id)) == 2
        after = await load(sessions, created.schedule_id)
        assert (after.skipped_count, after.last_skip_reason) == (1, "max_instances")
        assert after.next_run_at == start + timedelta(minutes=3)

    async def test_max_instances_allows_that_many_running(
        self, db: AsyncEngine, sessions: Sessions
    ) -> None:
        start = utc(2027, 1, 4, 9, 0)
        created = await every_minute(sessions, start, {"max_instances": 2})
        scheduler = SchedulerEngine(db)
        for minute in range(3):
            await scheduler.run_due(now=start + timedelta(minutes=minute, seconds=1))
            async with db.begin() as connection:
                await connection.execute(text("UPDATE workflow_executions SET status = 'running'"))
        # Two running: the third minute is held back.
        assert len(await fire_times(db, created.schedule_id)) == 2
        assert (await load(sessions, created.schedule_id)).skipped_count == 1

    async def test_inactive_workflow_does_not_fire(
        self, db: AsyncEngine, sessions: Sessions
    ) -> None:
        start = utc(2027, 1, 4, 9, 0)
        created = await create_schedule(
            sessions, next_run_at=start, schedule_config={"hour": 9}, timezone="UTC"
        )
        async with sessions() as session, session.begin():
            workflow = await session.get(Workflow, created.workflow_id)
            assert workflow is not None
            workflow.is_active = False
        await SchedulerEngine(db).run_due(now=start + timedelta(seconds=1))
        assert await fire_times(db, created.schedule_id) == []
        after = await load(sessions, created.schedule_id)
        assert (after.skipped_count, after.last_skip_reason) == (1, "workflow_inactive")
        assert after.next_run_at == utc(2027, 1, 5, 9, 0)

    async def test_paused_deleted_and_expired_schedules_are_not_claimed(
        self, db: AsyncEngine, sessions: Sessions
    ) -> None:
        start = utc(2027, 1, 4, 9, 0)
        paused = await create_schedule(sessions, is_active=False)
        deleted = await create_schedule(sessions)
        async with sessions() as session, session.begin():
            schedule = await load(sessions, deleted.schedule_id)
            session.add(schedule)
            schedule.soft_delete()
        for created in (paused, deleted):
            await set_next_run(sessions, created.schedule_id, start)  # as raw SQL might
        # Expired: a window that has ended, and a one-time schedule past its run date and
        # grace. Both are active and live; they have no fire time left.
        yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        ended = await create_schedule(
            sessions, schedule_config={"cron_expression": "* * * * *", "end_date": yesterday}
        )
        spent = await create_schedule(
            sessions, schedule_type="date", schedule_config={"run_date": yesterday}
        )
        expired = (ended, spent)
        for created in expired:
            schedule = await load(sessions, created.schedule_id)
            assert (schedule.is_active, schedule.is_deleted) == (True, False)
            assert schedule.is_expired is True
            assert schedule.next_run_at is None

        report = await SchedulerEngine(db).run_due(now=start + timedelta(days=1))

        assert report.claimed == 0
        for created in (paused, deleted, *expired):
            assert await fire_times(db, created.schedule_id) == []
            after = await load(sessions, created.schedule_id)
            counters = (after.run_count, after.missed_count, after.skipped_count)
            assert counters == (0, 0, 0)
            assert after.last_skip_reason is None
        for created in expired:
            assert (await load(sessions, created.schedule_id)).next_run_at is None

    async def test_an_invalid_row_is_deactivated_not_fatal(
        self, db: AsyncEngine, sessions: Sessions
    ) -> None:
        start = utc(2027, 1, 4, 9, 0)
        broken = await create_schedule(sessions, next_run_at=start)
        healthy = await create_schedule(sessions, next_run_at=start, schedule_config={"hour": 9})
        async with db.begin() as connection:
            await connection.execute(
                text("UPDATE schedules SET schedule_config = '{\"cron_expression\": \"x\"}'"
                     " WHERE id = :id"),
                {"id": broken.schedule_id},
            )  # fmt: skip
        await SchedulerEngine(db).run_due(now=start + timedelta(seconds=1))
        assert await fire_times(db, healthy.schedule_id) == [start]
        async with db.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT is_active, next_run_at, last_skip_reason FROM schedules"
                         " WHERE id = :id"),
                    {"id": broken.schedule_id},
                )
            ).one()  # fmt: skip
        assert tuple(row) == (False, None, "invalid_config")


class TestReconciliation:
    async def test_repairs_rows_written_by_raw_sql(
        self, db: AsyncEngine, sessions: Sessions
    ) -> None:
        created = await create_schedule(sessions)
        paused = await create_schedule(sessions, is_active=False)
        async with db.begin() as connection:
            raw_id = await connection.scalar(
                text(
                    "INSERT INTO schedules (workflow_id, user_id, name, schedule_type,"
                    " schedule_config) SELECT workflow_id, user_id, 'raw', 'interval',"
                    " '{\"minutes\": 5}' FROM schedules WHERE id = :id RETURNING id"
                ),
                {"id": created.schedule_id},
            )
            await connection.execute(
                text("UPDATE schedules SET next_run_at = now() - interval '1 minute'"
                     " WHERE id = :id"),
                {"id": paused.schedule_id},
            )  # fmt: skip
        now = datetime.now(UTC)
        report = await SchedulerEngine(db).reconcile(now=now)
        assert (report.planned, report.cleared) == (1, 1)
        raw = await load(sessions, raw_id)
        assert raw.job_id == f"schedule_{raw_id}"
        assert raw.next_run_at is not None
        assert now < raw.next_run_at <= now + timedelta(minutes=5)
        assert (await load(sessions, paused.schedule_id)).next_run_at is None
        again = await SchedulerEngine(db).reconcile(now=now)
        assert (again.planned, again.deactivated, again.cleared) == (0, 0, 0)

    async def test_expired_or_invalid_unplanned_rows_are_deactivated(
        self, db: AsyncEngine, sessions: Sessions
    ) -> None:
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        expired = await create_schedule(
            sessions, schedule_config={"cron_expression": "0 9 * * *", "end_date": past}
        )
        invalid = await create_schedule(sessions)
        async with db.begin() as connection:
            await connection.execute(
                text("UPDATE schedules SET timezone = 'Mars/Olympus', next_run_at = NULL"
                     " WHERE id = :id"),
                {"id": invalid.schedule_id},
            )  # fmt: skip
        report = await SchedulerEngine(db).reconcile()
        assert report.deactivated == 2
        async with db.connect() as connection:
            rows = dict(
                (await connection.execute(text("SELECT id, is_active FROM schedules"))).all()
            )
        assert rows[expired.schedule_id] is False
        assert rows[invalid.schedule_id] is False


async def test_batches_cover_every_due_schedule(db: AsyncEngine, sessions: Sessions) -> None:
    start = utc(2027, 1, 4, 9, 0)
    created = [
        await create_schedule(
            sessions, next_run_at=start, schedule_config={"hour": 9}, timezone="UTC"
        )
        for _ in range(7)
    ]
    report = await SchedulerEngine(db, EngineConfig(batch_size=3)).run_due(
        now=start + timedelta(seconds=1)
    )
    assert (report.claimed, report.fired) == (7, 7)
    for item in created:
        assert await fire_times(db, item.schedule_id) == [start]
