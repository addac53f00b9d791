"""The firing engine against hostile rows and a wrong clock: one tenant's schedule cannot
stall the others, and an engine's own clock being minutes off changes nothing."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.scheduler import SchedulerEngine
from tests.integration.test_scheduler.helpers import create_schedule, fire_times, load

Sessions = async_sessionmaker[AsyncSession]
DEADLINE = 60.0


async def database_now(db: AsyncEngine) -> datetime:
    """The database server's clock."""
    async with db.connect() as connection:
        now: datetime = await connection.scalar(text("SELECT clock_timestamp()"))
        return now


@pytest.mark.parametrize(
    ("poison_sql", "why"),
    [
        ("""metadata = '{"misfire_grace_time": 100000000000}'""", "grace overflows now - grace"),
        ("""schedule_config = '{"seconds": 1000000000000000000}'""", "period overflows"),
        ("""schedule_config = '{"cron_expression": 42}'""", "not a string"),
        ("timezone = 'Mars/Olympus'", "no such zone"),
    ],
)
async def test_a_poison_schedule_is_quarantined_and_the_rest_of_the_batch_fires(
    db: AsyncEngine, sessions: Sessions, poison_sql: str, why: str
) -> None:
    healthy = await create_schedule(
        sessions, schedule_type="interval", schedule_config={"seconds": 10}, timezone="UTC"
    )
    poison = await create_schedule(
        sessions, schedule_type="interval", schedule_config={"seconds": 10}, timezone="UTC"
    )
    now = await database_now(db)
    async with db.begin() as connection:
        # Written behind the API's and the model's back, as a broken migration or a
        # hand-edited row would.
        await connection.execute(
            text(f"UPDATE schedules SET {poison_sql}, next_run_at = :due WHERE id = :id"),
            {"due": now - timedelta(seconds=1), "id": poison.schedule_id},
        )
        await connection.execute(
            text("UPDATE schedules SET next_run_at = :due WHERE id = :id"),
            {"due": now - timedelta(seconds=1), "id": healthy.schedule_id},
        )
    report = await SchedulerEngine(db).run_due(now)
    assert report.fired == 1, why
    assert len(await fire_times(db, healthy.schedule_id)) == 1
    assert await fire_times(db, poison.schedule_id) == []
    quarantined = await load(sessions, poison.schedule_id)
    assert quarantined.is_active is False
    assert quarantined.next_run_at is None
    assert quarantined.last_skip_reason == "invalid_config"
    # The engine keeps firing the healthy schedule on later passes.
    report = await SchedulerEngine(db).run_due(now + timedelta(seconds=10))
    assert report.fired == 1
    assert report.claimed == 1


async def test_a_failing_reconciliation_never_keeps_the_engine_from_firing(
    db: AsyncEngine, sessions: Sessions
) -> None:
    class BrokenRepairs(SchedulerEngine):
        async def reconcile(self, now: datetime | None = None) -> object:  # type: ignore[override]
            raise RuntimeError("repairs broken")

    created = await create_schedule(
        sessions, schedule_type="interval", schedule_config={"seconds": 1}, timezone="UTC"
    )
    scheduler = BrokenRepairs(db)
    scheduler.start()
    try:
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while len(await fire_times(db, created.schedule_id)) < 2:
            assert asyncio.get_running_loop().time() < deadline, "never fired"
            await asyncio.sleep(0.1)
        assert scheduler.state == "running"
    finally:
        await scheduler.shutdown()


SKEW = timedelta(minutes=10)

# Makes every clock Python code in the engine process reads run SKEW fast, as on a machine
# whose clock is wrong: datetime.now/utcnow and time.time.
SKEWED_CLOCK = textwrap.dedent(
    f"""
    import datetime as _datetime, time as _time

    _SKEW = _datetime.timedelta(seconds={SKEW.total_seconds()})
    _real_time = _time.time
    _real_datetime = _datetime.datetime
    _time.time = lambda: _real_time() + _SKEW.total_seconds()

    class _SkewedDatetime(_real_datetime):
        @classmethod
        def now(cls, tz=None):
            return _real_datetime.now(tz) + _SKEW

        @classmethod
        def utcnow(cls):
            return _real_datetime.utcnow() + _SKEW

    _datetime.datetime = _SkewedDatetime
    """
)


async def test_an_engine_whose_clock_runs_ten_minutes_fast_neither_fires_early_nor_misses(
    db: AsyncEngine, sessions: Sessions, engine_database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "sitecustomize.py").write_text(SKEWED_CLOCK)
    skewed_path = os.pathsep.join([str(tmp_path), *sys.path])
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-c",
        "import datetime; print(datetime.datetime.now(datetime.UTC).timestamp())",
        env={**os.environ, "PYTHONPATH": skewed_path}, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await probe.communicate()
    # A child's clock really is ten minutes fast.
    assert float(out) - datetime.now(UTC).timestamp() == pytest.approx(600, abs=30)
    created = await create_schedule(
        sessions, schedule_type="interval", schedule_config={"seconds": 2}, timezone="UTC"
    )
    env = {
        **os.environ,
        "PYTHONPATH": skewed_path,
        "DATABASE_URL": engine_database_url,
        "SCHEDULER_POLL_INTERVAL": "0.2",
    }
    engine = await asyncio.create_subprocess_exec(sys.executable, "-m", "app.scheduler", env=env)
    try:
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while len(await fire_times(db, created.schedule_id)) < 3:
            assert asyncio.get_running_loop().time() < deadline, "the skewed engine never fired"
            assert engine.returncode is None, "the engine died"
            await asyncio.sleep(0.2)
    finally:
        engine.terminate()
        assert await asyncio.wait_for(engine.wait(), DEADLINE) == 0
    async with db.connect() as connection:
        runs = (
            await connection.execute(
                text(
                    "SELECT scheduled_for, created_at FROM workflow_executions"
                    " WHERE schedule_id = :id ORDER BY scheduled_for"
                ),
                {"id": created.schedule_id},
            )
        ).all()
    # created_at is the database's clock at the insert: nothing was fired before its time.
    assert all(planned <= inserted for planned, inserted in runs), runs
    schedule = await load(sessions, created.schedule_id)
    assert schedule.missed_count == 0
    assert schedule.skipped_count == 0
    assert schedule.next_run_at is not None
    assert schedule.next_run_at <= await database_now(db) + timedelta(seconds=2)


async def test_catching_up_a_day_counts_every_missed_interval_fire_and_runs_one(
    db: AsyncEngine, sessions: Sessions
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    created = await create_schedule(
        sessions,
        schedule_type="interval",
        schedule_config={"seconds": 1, "start_date": start.isoformat()},
        timezone="UTC",
        next_run_at=start,
    )
    now = start + timedelta(days=1)
    report = await SchedulerEngine(db).run_due(now)
    # Grace 60 s: the fires in [now - 60 s, now] are runnable (61 of them, coalesced into
    # one); every earlier one is missed, counted by arithmetic rather than walked.
    assert report.fired == 1
    schedule = await load(sessions, created.schedule_id)
    assert schedule.missed_count == 86_400 - 60
    assert schedule.skipped_count == 60
    assert await fire_times(db, created.schedule_id) == [now]
    assert schedule.next_run_at == now + timedelta(seconds=1)


async def test_catching_up_a_day_of_a_per_second_cron_counts_at_least_the_bound(
    db: AsyncEngine, sessions: Sessions
) -> None:
    created = await create_schedule(
        sessions,
        schedule_type="cron",
        schedule_config={"cron_expression": "* * * * * *"},
        timezone="UTC",
    )
    now = await database_now(db)
    async with db.begin() as connection:
        await connection.execute(
            text("UPDATE schedules SET next_run_at = :at WHERE id = :id"),
            {"at": now.replace(microsecond=0) - timedelta(days=1), "id": created.schedule_id},
        )
    await SchedulerEngine(db).run_due(now)
    schedule = await load(sessions, created.schedule_id)
    # The planned fire, then at least MISSED_COUNT_LIMIT more: "at least", not all 86,340.
    assert schedule.missed_count == 101
    assert len(await fire_times(db, created.schedule_id)) == 1
    assert schedule.next_run_at is not None
    assert schedule.next_run_at > now
