"""The engine running for real: changes while it runs, several instances, crashes, signals.

Nothing here sleeps a fixed time: each step waits for what it needs (rows in the database,
a line in an engine's log, a pass of the engine) with a generous deadline, so a loaded
machine makes the tests slower, never wrong.
"""

from __future__ import annotations

import itertools
import signal
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.clock import utc_now
from app.models import Schedule
from app.scheduler import EngineConfig, SchedulerEngine
from tests.integration.test_scheduler.helpers import (
    EngineProcess,
    create_schedule,
    create_schedules,
    fire_times,
    load,
    wait_until_blocked_on_a_lock,
)
from tests.waiting import until

Sessions = async_sessionmaker[AsyncSession]
Engines = Callable[..., EngineProcess]
# A misfire grace far longer than any stall of a loaded machine: a late engine fires late,
# it never misses, so "a fire was lost" can only mean the engine lost it.
LONG_GRACE = {"misfire_grace_time": 3600}


async def count(db: AsyncEngine, schedule_id: uuid.UUID) -> int:
    return len(await fire_times(db, schedule_id))


async def fired_at_least(db: AsyncEngine, schedule_id: uuid.UUID, n: int) -> None:
    async def enough() -> bool:
        return await count(db, schedule_id) >= n

    await until(enough, f"{n} executions of schedule {schedule_id}")


async def change(sessions: Sessions, schedule_id: uuid.UUID, action: str) -> None:
    """Apply a Schedule method (deactivate, activate, soft_delete, restore) and commit."""
    async with sessions() as session, session.begin():
        schedule = await session.get(Schedule, schedule_id)
        assert schedule is not None
        getattr(schedule, action)()


async def a_pass_begun_after(scheduler: SchedulerEngine, moment: datetime) -> None:
    """Wait until the engine has made a whole pass that began after `moment`.

    `last_pass_at` is taken when a pass ends; the pass that ends after a first such end
    began after it, so after `moment`.
    """

    async def ended_after(when: datetime) -> datetime | None:
        last = scheduler.last_pass_at
        return last if last is not None and last > when else None

    first = await until(lambda: ended_after(moment), f"a pass ending after {moment}")
    await until(lambda: ended_after(first), f"a pass beginning after {moment}")


async def test_pause_resume_delete_restore_while_running(
    db: AsyncEngine, sessions: Sessions
) -> None:
    scheduler = SchedulerEngine(db, EngineConfig(poll_interval=0.1))
    scheduler.start()
    try:
        created = await create_schedule(
            sessions, schedule_type="interval", schedule_config={"seconds": 1}, timezone="UTC"
        )
        sid = created.schedule_id
        await fired_at_least(db, sid, 2)

        for stop, resume in (("deactivate", "activate"), ("soft_delete", "restore")):
            await change(sessions, sid, stop)
            stopped_at = await count(db, sid)
            stopped = await load(sessions, sid)
            assert stopped.next_run_at is None
            # Wait until the engine has passed over the time it would have fired at.
            would_fire_at = stopped.next_fire_from(utc_now())
            assert would_fire_at is not None
            await a_pass_begun_after(scheduler, would_fire_at)
            assert await count(db, sid) == stopped_at, f"fired after {stop}"
            await change(sessions, sid, resume)
            await fired_at_least(db, sid, stopped_at + 1)
    finally:
        await scheduler.shutdown()
    assert scheduler.state == "stopped"
    # Compared once the engine is stopped, so no fire lands between the two reads.
    after = await load(sessions, sid)
    assert after.run_count == await count(db, sid)


async def test_a_new_schedule_due_sooner_is_picked_up_without_restart(
    db: AsyncEngine, sessions: Sessions
) -> None:
    await create_schedule(sessions)  # due days from now: the engine has nothing to do
    scheduler = SchedulerEngine(db)  # default poll interval
    scheduler.start()
    try:

        async def idle() -> bool:
            return scheduler.last_pass_at is not None

        await until(idle, "the engine's first pass")
        run_date = datetime.now(UTC) + timedelta(seconds=1)
        created = await create_schedule(
            sessions,
            schedule_type="date",
            schedule_config={"run_date": run_date.isoformat()},
            metadata_=LONG_GRACE,
        )
        await fired_at_least(db, created.schedule_id, 1)
        assert await fire_times(db, created.schedule_id) == [run_date]
    finally:
        await scheduler.shutdown()


async def test_exactly_once_with_two_engines_and_a_crash(
    db: AsyncEngine, sessions: Sessions, engines: Engines
) -> None:
    # Created first with a start a day away; the real start is set once all rows exist.
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = await create_schedules(
        sessions,
        60,
        schedule_type="interval",
        schedule_config={"seconds": 1, "start_date": later},
        timezone="UTC",
        metadata_={"coalesce": False, **LONG_GRACE},
    )
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    async with sessions() as session, session.begin():
        for schedule in await session.scalars(select(Schedule)):
            schedule.schedule_config = {"seconds": 1, "start_date": start.isoformat()}

    first, second = engines(), engines()
    await until(first.has_fired, "the first engine to fire")
    await until(second.has_fired, "the second engine to fire")
    second.send_signal(signal.SIGKILL)  # dies wherever it is, possibly inside a pass
    third = engines()
    await until(third.has_fired, "the third engine to fire")

    async def six_each() -> bool:
        return all([await count(db, schedule_id) >= 6 for schedule_id in created])

    await until(six_each, "six fires of every schedule")
    for process in (first, third):
        process.send_signal(signal.SIGTERM)
    assert await first.exit_code() == 0
    assert await third.exit_code() == 0
    assert await second.exit_code() == -signal.SIGKILL
    outputs = [process.output() for process in (first, second, third)]
    assert all("fire schedule=" in output for output in outputs), "every engine fired"
    assert "stopped" in outputs[0]

    async with db.connect() as connection:
        counts = dict((await connection.execute(text("SELECT id, run_count FROM schedules"))).all())
    for schedule_id in created:
        times = await fire_times(db, schedule_id)
        assert times[0] == start
        assert len(times) >= 6
        steps = {later - earlier for earlier, later in itertools.pairwise(times)}
        assert steps == {timedelta(seconds=1)}, "a fire was lost or doubled"
        assert counts[schedule_id] == len(times), "run_count lost an increment"


async def test_sigterm_during_a_pass_lets_it_commit_and_exits_cleanly(
    db: AsyncEngine, sessions: Sessions, engines: Engines
) -> None:
    # A storm: 300 one-time schedules of one workflow, all due at once, claimed 10 at a time.
    run_date = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
    created = await create_schedules(
        sessions,
        300,
        schedule_type="date",
        schedule_config={"run_date": run_date.isoformat()},
        timezone="UTC",
        metadata_=LONG_GRACE,
    )
    async with db.connect() as rival:
        transaction = await rival.begin()
        # The engine's insert of an execution checks its workflow row (FOR KEY SHARE); while
        # this lock is held, the pass waits there with its batches claimed: caught in flight.
        await rival.execute(text("SELECT id FROM workflows FOR UPDATE"))
        process = engines(batch_size="10")
        await wait_until_blocked_on_a_lock(db, "INSERT INTO workflow_executions")
        claimed = await locked_schedules(db)
        assert claimed, "no schedule claimed by the pass in flight"
        process.send_signal(signal.SIGTERM)
        await transaction.rollback()  # the pass goes on and commits
    assert await process.exit_code() == 0
    assert "stopped" in process.output()

    async with db.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT s.id, s.run_count, s.is_active, s.next_run_at,"
                    " s.last_run_at IS NOT NULL AS ran, count(e.id) AS executions,"
                    " min(e.scheduled_for) AS planned"
                    " FROM schedules s LEFT JOIN workflow_executions e ON e.schedule_id = s.id"
                    " GROUP BY s.id"
                )
            )
        ).all()
    assert {row.id for row in rows} == set(created)
    fired = {row.id for row in rows if row.executions}
    assert claimed <= fired, "the pass in flight when SIGTERM came was not committed"
    for row in rows:
        if row.id in fired:  # wholly written: its one execution, counted, the schedule spent
            state = (row.executions, row.planned, row.run_count, row.ran, row.is_active)
            assert state == (1, run_date, 1, True, False), row
            assert row.next_run_at is None
        else:  # wholly untouched: still due at its run date
            state = (row.run_count, row.ran, row.is_active, row.next_run_at)
            assert state == (0, False, True, run_date), row


async def locked_schedules(db: AsyncEngine) -> set[uuid.UUID]:
    """Ids of the schedules another transaction holds locked (the rows an engine claimed)."""
    async with db.connect() as connection, connection.begin() as probe:
        every = set((await connection.scalars(text("SELECT id FROM schedules"))).all())
        free = await connection.scalars(text("SELECT id FROM schedules FOR UPDATE SKIP LOCKED"))
        claimed = every - set(free.all())
        await probe.rollback()
    return claimed
