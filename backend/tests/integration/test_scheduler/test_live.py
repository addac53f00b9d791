"""The engine running for real: changes while it runs, several instances, crashes, signals."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.models import Schedule
from app.scheduler import EngineConfig, SchedulerEngine
from tests.integration.test_scheduler.helpers import create_schedule, fire_times, load

Sessions = async_sessionmaker[AsyncSession]


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait until `check()` holds; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)


async def count(db: AsyncEngine, schedule_id: uuid.UUID) -> int:
    return len(await fire_times(db, schedule_id))


async def change(sessions: Sessions, schedule_id: uuid.UUID, action: str) -> None:
    """Apply a Schedule method (deactivate, activate, soft_delete, restore) and commit."""
    async with sessions() as session, session.begin():
        schedule = await session.get(Schedule, schedule_id)
        assert schedule is not None
        getattr(schedule, action)()


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
        await eventually(lambda: _at_least(db, sid, 2))

        for stop, resume in (("deactivate", "activate"), ("soft_delete", "restore")):
            await change(sessions, sid, stop)
            stopped_at = await count(db, sid)
            assert (await load(sessions, sid)).next_run_at is None
            await asyncio.sleep(1.5)
            assert await count(db, sid) == stopped_at, f"fired after {stop}"
            await change(sessions, sid, resume)
            await eventually(lambda n=stopped_at: _at_least(db, sid, n + 1))
        after = await load(sessions, sid)
        assert after.run_count == await count(db, sid)
    finally:
        await scheduler.shutdown()
    assert scheduler.state == "stopped"


async def _at_least(db: AsyncEngine, schedule_id: uuid.UUID, n: int) -> bool:
    return await count(db, schedule_id) >= n


async def test_a_new_schedule_due_sooner_is_picked_up_without_restart(
    db: AsyncEngine, sessions: Sessions
) -> None:
    await create_schedule(sessions)  # due days from now: the engine has nothing to do
    scheduler = SchedulerEngine(db)  # default poll interval
    scheduler.start()
    try:
        await asyncio.sleep(0.3)
        run_date = datetime.now(UTC) + timedelta(milliseconds=300)
        created = await create_schedule(
            sessions, schedule_type="date", schedule_config={"run_date": run_date.isoformat()}
        )
        await eventually(lambda: _at_least(db, created.schedule_id, 1), within=5)
        assert await fire_times(db, created.schedule_id) == [run_date]
    finally:
        await scheduler.shutdown()


def spawn_engine(database_url: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SCHEDULER_POLL_INTERVAL": "0.1",
        "SCHEDULER_BATCH_SIZE": "25",
        "LOG_LEVEL": "INFO",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def test_exactly_once_with_two_engines_and_a_crash(
    db: AsyncEngine, sessions: Sessions, engine_database_url: str
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    created = [
        await create_schedule(
            sessions,
            schedule_type="interval",
            schedule_config={"seconds": 1, "start_date": start.isoformat()},
            timezone="UTC",
            metadata_={"coalesce": False},
        )
        for _ in range(60)
    ]
    first, second = spawn_engine(engine_database_url), spawn_engine(engine_database_url)
    await asyncio.sleep(4.5)
    second.send_signal(signal.SIGKILL)  # dies wherever it is, possibly inside a pass
    third = spawn_engine(engine_database_url)
    await asyncio.sleep(3)
    for process in (first, third):
        process.send_signal(signal.SIGTERM)
    outputs = [process.communicate(timeout=30)[0] for process in (first, second, third)]
    assert first.returncode == 0
    assert third.returncode == 0
    assert second.returncode == -signal.SIGKILL
    assert all("fire schedule=" in output for output in outputs[:2]), "both engines fired"
    assert "stopped" in outputs[0]

    async with db.connect() as connection:
        counts = dict((await connection.execute(text("SELECT id, run_count FROM schedules"))).all())
    for item in created:
        times = await fire_times(db, item.schedule_id)
        assert times[0] == start
        assert len(times) >= 6
        steps = {later - earlier for earlier, later in itertools.pairwise(times)}
        assert steps == {timedelta(seconds=1)}, "a fire was lost or doubled"
        assert counts[item.schedule_id] == len(times), "run_count lost an increment"


async def test_sigterm_finishes_the_pass_and_exits_cleanly(
    db: AsyncEngine, sessions: Sessions, engine_database_url: str
) -> None:
    created = await create_schedule(
        sessions, schedule_type="interval", schedule_config={"seconds": 1}, timezone="UTC"
    )
    process = spawn_engine(engine_database_url)
    await eventually(lambda: _at_least(db, created.schedule_id, 1))
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 0
    assert "stopped" in output
    fired = await count(db, created.schedule_id)
    assert (await load(sessions, created.schedule_id)).run_count == fired
