"""Shared steps of the engine tests: make schedules, read what the engine wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.models import Schedule
from tests.factories import make_schedule, make_user, make_workflow
from tests.waiting import until


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


async def create_schedules(
    sessions: async_sessionmaker[AsyncSession], count: int, **overrides: Any
) -> list[uuid.UUID]:
    """Commit `count` schedules of one workflow in one transaction; their ids."""
    async with sessions() as session, session.begin():
        user = make_user()
        session.add(user)
        workflow = make_workflow(user)
        session.add(workflow)
        schedules = [make_schedule(workflow, **overrides) for _ in range(count)]
        session.add_all(schedules)
    return [schedule.id for schedule in schedules]


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


async def wait_until_blocked_on_a_lock(db: AsyncEngine, statement: str) -> None:
    """Wait until another backend runs a statement containing `statement` and waits on a lock."""

    async def blocked() -> bool:
        async with db.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND pid <> pg_backend_pid() AND query ILIKE :statement"
                ),
                {"statement": f"%{statement}%"},
            )
        return bool(waiting)

    await until(blocked, f"a backend blocked on a lock in {statement!r}")


class EngineProcess:
    """`python -m app.scheduler` in a process of its own, its output in a file."""

    def __init__(self, database_url: str, log_path: Path, **settings: str) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SCHEDULER_POLL_INTERVAL": "0.1",
            "SCHEDULER_BATCH_SIZE": "25",
            "LOG_LEVEL": "INFO",
            **{f"SCHEDULER_{name.upper()}": value for name, value in settings.items()},
        }
        self.log_path = log_path
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.scheduler"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def output(self) -> str:
        """Everything the engine has logged so far."""
        return self.log_path.read_text()

    async def has_fired(self) -> bool:
        """True once the engine has logged a fire."""
        return "fire schedule=" in self.output()

    def send_signal(self, signum: int) -> None:
        """Send `signum` to the engine."""
        self.process.send_signal(signum)

    async def exit_code(self) -> int:
        """Wait for the engine to exit; its exit code."""

        async def exited() -> bool:
            return self.process.poll() is not None

        await until(exited, f"engine {self.process.pid} to exit")
        return self.process.returncode

    def reap(self) -> None:
        """Kill the engine if it still runs (a failed test must not leave it firing)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
