"""The test database is real PostgreSQL, migrated to head."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_schedule, persisted_workflow


async def test_database_is_postgresql_at_head(session: AsyncSession) -> None:
    version = await session.scalar(text("SELECT version()"))
    assert str(version).startswith("PostgreSQL")
    head = await session.scalar(text("SELECT version_num FROM alembic_version"))
    assert head == "0005"


async def test_schedule_round_trip(session: AsyncSession) -> None:
    workflow = await persisted_workflow(session)
    schedule = make_schedule(workflow)
    session.add(schedule)
    await session.commit()
    assert schedule.next_run_at is not None
    assert schedule.job_id == f"schedule_{schedule.id}"
