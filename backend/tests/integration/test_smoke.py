"""The test database is real PostgreSQL, migrated to head."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Schedule
from tests.factories import make_schedule, persisted_workflow


async def test_database_is_postgresql_at_head(session: AsyncSession) -> None:
    version = await session.scalar(text("SELECT version()"))
    assert str(version).startswith("PostgreSQL")
    head = await session.scalar(text("SELECT version_num FROM alembic_version"))
    assert head == "0007"


async def test_schedule_round_trip(session: AsyncSession) -> None:
    workflow = await persisted_workflow(session)
    schedule = make_schedule(workflow)
    session.add(schedule)
    await session.commit()
    assert schedule.next_run_at is not None
    assert schedule.job_id == f"schedule_{schedule.id}"
    written = schedule.column_values()

    # What the database holds, read with Core: every column as the object had it.
    table = Schedule.__table__
    row = (await session.execute(select(table).where(table.c.id == schedule.id))).one()
    assert dict(row._mapping) == written
    # And loaded afresh as an object.
    session.expunge_all()
    loaded = await session.get(Schedule, schedule.id)
    assert loaded is not None
    assert loaded is not schedule
    assert loaded.column_values() == written
    assert loaded.schedule_config == {"cron_expression": "0 9 * * 1-5"}
    assert loaded.next_run_at == loaded.next_run_after(loaded.created_at)
