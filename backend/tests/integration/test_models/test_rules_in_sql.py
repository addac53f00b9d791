"""Rules that SQL needs agree with their one home: the database accepts exactly the skip
reasons the domain defines, and a row the database made gets the domain's job id."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.timing.lifecycle import SkipReason, job_id_for
from tests.factories import make_schedule, persisted_workflow


@pytest.mark.parametrize("reason", list(SkipReason))
async def test_every_skip_reason_is_accepted_by_the_check_constraint(
    session: AsyncSession, connection: AsyncConnection, reason: SkipReason
) -> None:
    schedule = make_schedule(await persisted_workflow(session))
    session.add(schedule)
    await session.flush()
    await connection.execute(
        text("UPDATE schedules SET last_skip_reason = :reason WHERE id = :id"),
        {"reason": reason.value, "id": schedule.id},
    )
    stored = await connection.scalar(
        text("SELECT last_skip_reason FROM schedules WHERE id = :id"), {"id": schedule.id}
    )
    assert stored == reason.value


async def test_a_reason_the_domain_does_not_define_is_refused(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    schedule = make_schedule(await persisted_workflow(session))
    session.add(schedule)
    await session.flush()
    savepoint = await connection.begin_nested()
    with pytest.raises(IntegrityError, match="ck_schedules_last_skip_reason"):
        await connection.execute(
            text("UPDATE schedules SET last_skip_reason = 'bored' WHERE id = :id"),
            {"id": schedule.id},
        )
    await savepoint.rollback()


async def test_the_check_constraint_lists_exactly_the_domains_reasons(
    connection: AsyncConnection,
) -> None:
    definition = await connection.scalar(
        text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conname = 'ck_schedules_last_skip_reason'"
        )
    )
    assert definition is not None
    # e.g. CHECK (last_skip_reason::text = ANY (ARRAY['misfire'::character varying, ...]))
    assert set(re.findall(r"'([a-z_]+)'", definition)) == {reason.value for reason in SkipReason}


async def test_the_orm_gives_the_domains_job_id(session: AsyncSession) -> None:
    schedule = make_schedule(await persisted_workflow(session))
    session.add(schedule)
    await session.flush()
    assert schedule.job_id == job_id_for(schedule.id) == f"schedule_{schedule.id}"
