"""Schedule on real PostgreSQL: the whole flow, relationships, soft delete, next_run_at."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from app.models import (
    ExecutionStatus,
    Schedule,
    ScheduleType,
    TriggerType,
    User,
    Workflow,
    WorkflowExecution,
)
from app.timing.errors import ScheduleValidationError
from tests.factories import make_schedule, make_user, make_workflow, persisted_workflow


async def count_schedules(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Schedule)) or 0)


async def stored_rows(connection: AsyncConnection) -> list[dict[str, object]]:
    """Every `schedules` row as the database holds it (Core, on the test's connection)."""
    table = Schedule.__table__
    result = await connection.execute(select(table).order_by(table.c.id))
    return [dict(row._mapping) for row in result]


# Values no validator was shown: (attribute, invalid value, the field the error names).
BYPASSED = [
    ("schedule_config", {"cron_expression": "61 * * * *"}, "schedule_config.cron_expression"),
    ("schedule_config", {"cron_expression": "0 9 * * *", "hours": 1}, "schedule_config.hours"),
    ("schedule_config", {}, "schedule_config"),
    ("schedule_config", {"cron_expression": "0 9 * * *", "hour": 10}, "schedule_config"),
    ("metadata_", {"max_instances": 0}, "metadata.max_instances"),
    ("metadata_", {"tags": [""]}, "metadata.tags[0]"),
    ("metadata_", {"notification": {"email": True}}, "metadata.notification.email"),
    ("metadata_", {"broker": {"api_key": "x"}}, "metadata.broker.api_key"),
]


async def reload(session: AsyncSession, schedule_id: uuid.UUID) -> Schedule:
    session.expunge_all()
    loaded = await session.get(Schedule, schedule_id)
    assert loaded is not None
    return loaded


class TestCreationFlow:
    async def test_each_type_round_trips(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        configs = {
            "cron": {"cron_expression": "0 9 * * 1-5"},
            "interval": {"minutes": 15},
            "date": {"run_date": (datetime.now(UTC) + timedelta(days=2)).isoformat()},
        }
        ids = {}
        for kind, config in configs.items():
            schedule = make_schedule(workflow, schedule_type=kind, schedule_config=config)
            session.add(schedule)
            ids[kind] = schedule.id
        await session.commit()
        for kind, config in configs.items():
            loaded = await reload(session, ids[kind])
            assert loaded.schedule_type is ScheduleType(kind)
            assert loaded.schedule_config == config
            assert loaded.job_id == f"schedule_{loaded.id}"
            assert loaded.next_run_at is not None
            assert loaded.next_run_at.tzinfo is not None
            assert loaded.next_run_at.utcoffset() == timedelta(0)
            assert loaded.created_at.tzinfo is not None
            assert loaded.run_count == 0
            assert loaded.metadata_ == {}

    async def test_next_run_at_matches_next_run_after(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        schedule = make_schedule(workflow)
        session.add(schedule)
        before = datetime.now(UTC)
        await session.flush()
        assert schedule.next_run_at == schedule.next_run_after(before)

    async def test_raw_insert_gets_the_orm_defaults(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        row = (
            await session.execute(
                text(
                    "INSERT INTO schedules (workflow_id, user_id, name, schedule_type,"
                    " schedule_config) VALUES (:w, :u, 'raw', 'interval', '{\"hours\": 1}')"
                    " RETURNING id, timezone, is_active, run_count, metadata, created_at,"
                    " updated_at, deleted_at"
                ),
                {"w": workflow.id, "u": workflow.owner_id},
            )
        ).one()
        assert isinstance(row.id, uuid.UUID)
        assert row.timezone == "UTC"
        assert row.is_active is True
        assert row.run_count == 0
        assert row.metadata == {}
        assert row.created_at is not None
        assert row.updated_at is not None
        assert row.deleted_at is None

    async def test_interval_is_anchored_on_created_at(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        schedule = make_schedule(
            workflow, schedule_type="interval", schedule_config={"seconds": 7}, timezone="UTC"
        )
        session.add(schedule)
        await session.flush()
        anchor = schedule.created_at.replace(microsecond=0)
        assert schedule.next_run_at is not None
        assert (schedule.next_run_at - anchor) % timedelta(seconds=7) == timedelta(0)
        assert schedule.next_run_at - anchor <= timedelta(seconds=14)


class TestRelationships:
    async def test_both_directions(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        first = make_schedule(workflow, name="first")
        second = make_schedule(workflow, name="second")
        session.add_all([first, second])
        await session.commit()
        session.expunge_all()
        loaded_workflow = await session.scalar(
            select(Workflow)
            .where(Workflow.id == workflow.id)
            .options(selectinload(Workflow.schedules))
        )
        assert loaded_workflow is not None
        assert {s.name for s in loaded_workflow.schedules} == {"first", "second"}
        user = await session.scalar(
            select(User).where(User.id == workflow.owner_id).options(selectinload(User.schedules))
        )
        assert user is not None
        assert len(user.schedules) == 2
        schedule = await session.scalar(
            select(Schedule)
            .where(Schedule.id == first.id)
            .options(selectinload(Schedule.workflow), selectinload(Schedule.user))
        )
        assert schedule is not None
        assert schedule.workflow.id == workflow.id
        assert schedule.user.id == workflow.owner_id

    async def test_unloaded_relationship_raises(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        session.add(make_schedule(workflow))
        await session.commit()
        session.expunge_all()
        schedule = await session.scalar(select(Schedule))
        assert schedule is not None
        with pytest.raises(InvalidRequestError, match="lazy='raise'"):
            _ = schedule.workflow

    async def test_hard_delete_of_workflow_removes_schedules(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        session.add(make_schedule(workflow))
        await session.commit()
        await session.delete(workflow)
        await session.commit()
        assert await count_schedules(session) == 0


class TestWorkflowSoftDeleteCascade:
    async def test_cascade_and_restore(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        active = make_schedule(workflow, name="active")
        paused = make_schedule(workflow, name="paused", is_active=False)
        deleted_earlier = make_schedule(workflow, name="deleted earlier")
        session.add_all([active, paused, deleted_earlier])
        await session.flush()
        deleted_earlier.soft_delete(at=datetime.now(UTC) - timedelta(days=1))
        await session.commit()

        workflow.soft_delete()
        await session.commit()
        for schedule in (active, paused):
            loaded = await reload(session, schedule.id)
            assert loaded.deleted_at == workflow.deleted_at
            assert loaded.next_run_at is None
        assert (await reload(session, active.id)).is_active is True

        loaded_workflow = await session.get(Workflow, workflow.id)
        assert loaded_workflow is not None
        loaded_workflow.restore()
        await session.commit()
        restored_active = await reload(session, active.id)
        assert restored_active.deleted_at is None
        assert restored_active.is_active is True
        assert restored_active.next_run_at is not None
        restored_paused = await reload(session, paused.id)
        assert restored_paused.deleted_at is None
        assert restored_paused.is_active is False
        assert restored_paused.next_run_at is None
        still_deleted = await reload(session, deleted_earlier.id)
        assert still_deleted.deleted_at is not None

    async def test_cascade_reaches_schedules_added_in_the_same_flush(
        self, session: AsyncSession
    ) -> None:
        workflow = await persisted_workflow(session)
        pending = make_schedule(workflow)
        session.add(pending)
        workflow.soft_delete()
        await session.flush()
        assert pending.deleted_at == workflow.deleted_at
        assert pending.next_run_at is None

    async def test_cascade_leaves_other_workflows_alone(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        other = await persisted_workflow(session)
        mine, theirs = make_schedule(workflow), make_schedule(other)
        session.add_all([mine, theirs])
        await session.flush()
        workflow.soft_delete()
        await session.flush()
        assert theirs.deleted_at is None
        assert theirs.next_run_at is not None


class TestNextRunAtNeverStale:
    async def test_config_change_recomputes(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        schedule = make_schedule(workflow, schedule_config={"hour": 9}, timezone="UTC")
        session.add(schedule)
        await session.flush()
        schedule.schedule_config = {"hour": 10}
        await session.flush()
        assert schedule.next_run_at is not None
        assert schedule.next_run_at.hour == 10

    async def test_in_place_config_change_recomputes_and_is_written(
        self, session: AsyncSession
    ) -> None:
        workflow = await persisted_workflow(session)
        schedule = make_schedule(workflow, schedule_config={"hour": 9}, timezone="UTC")
        session.add(schedule)
        await session.commit()
        schedule.schedule_config["hour"] = 11
        await session.commit()
        loaded = await reload(session, schedule.id)
        assert loaded.schedule_config == {"hour": 11}
        assert loaded.next_run_at is not None
        assert loaded.next_run_at.hour == 11

    async def test_timezone_change_recomputes(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        schedule = make_schedule(workflow, schedule_config={"hour": 9}, timezone="UTC")
        session.add(schedule)
        await session.flush()
        schedule.timezone = "Asia/Seoul"
        await session.flush()
        assert schedule.next_run_at is not None
        assert schedule.next_run_at.hour == 0

    async def test_deactivation_by_attribute_clears(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        schedule = make_schedule(workflow)
        session.add(schedule)
        await session.flush()
        schedule.is_active = False
        await session.flush()
        assert schedule.next_run_at is None
        schedule.is_active = True
        await session.flush()
        assert schedule.next_run_at is not None

    async def test_expired_schedule_has_no_next_run(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        schedule = make_schedule(
            workflow, schedule_config={"cron_expression": "0 9 * * *", "end_date": past}
        )
        session.add(schedule)
        await session.flush()
        assert schedule.next_run_at is None

    async def test_recent_date_schedule_within_grace_is_due(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        run_date = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
        schedule = make_schedule(
            workflow, schedule_type="date", schedule_config={"run_date": run_date.isoformat()}
        )
        session.add(schedule)
        await session.flush()
        assert schedule.next_run_at == run_date


class TestNothingWrittenOnBadInput:
    async def test_validation_at_flush_catches_bypassed_validators(
        self, session: AsyncSession
    ) -> None:
        workflow = await persisted_workflow(session)
        schedule = make_schedule(workflow)
        session.add(schedule)
        await session.commit()
        schedule_id = schedule.id
        before = await count_schedules(session)
        set_committed_value(schedule, "timezone", "Nowhere/Void")
        schedule.name = "renamed"
        with pytest.raises(ScheduleValidationError, match="timezone"):
            await session.flush()
        await session.rollback()
        assert await count_schedules(session) == before
        stored = await session.scalar(
            text("SELECT name FROM schedules WHERE id = :i"), {"i": schedule_id}
        )
        assert stored == "KOSPI open"

    async def test_bypassed_invalid_config_or_metadata_of_a_new_row_is_refused_at_flush(
        self, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        workflow = await persisted_workflow(session)
        await session.commit()
        for attribute, value, field in BYPASSED:
            await session.refresh(workflow)  # a rollback expired it
            schedule = make_schedule(workflow)
            set_committed_value(schedule, attribute, value)  # no validator sees it
            session.add(schedule)
            with pytest.raises(ScheduleValidationError) as refused:
                await session.flush()
            assert refused.value.field == field
            # Nothing reached the database, not even inside the open transaction.
            assert await stored_rows(connection) == []
            await session.rollback()
            assert await stored_rows(connection) == []

    async def test_bypassed_in_place_change_of_a_stored_row_is_refused_at_flush(
        self, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        workflow = await persisted_workflow(session)
        schedule = make_schedule(workflow, metadata_={"priority": "low"})
        session.add(schedule)
        await session.commit()
        before = await stored_rows(connection)
        assert len(before) == 1
        for attribute, value, field in BYPASSED:
            loaded = await reload(session, schedule.id)
            raw = getattr(loaded, attribute)
            dict.clear(raw)  # the dict's own methods: no in-place validation runs
            dict.update(raw, value)
            flag_modified(loaded, attribute)
            with pytest.raises(ScheduleValidationError) as refused:
                await session.flush()
            assert refused.value.field == field
            assert await stored_rows(connection) == before
            await session.rollback()
            assert await stored_rows(connection) == before

    async def test_missing_type_is_refused_at_flush(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        await session.commit()
        schedule = make_schedule(workflow)
        set_committed_value(schedule, "schedule_type", None)
        session.add(schedule)
        with pytest.raises(ScheduleValidationError, match="schedule_type"):
            await session.flush()
        await session.rollback()
        assert await count_schedules(session) == 0

    @pytest.mark.parametrize(
        ("sql", "constraint"),
        [
            ("UPDATE schedules SET run_count = -1", "ck_schedules_run_count_non_negative"),
            ("UPDATE schedules SET schedule_type = 'weekly'", "ck_schedules_schedule_type"),
        ],
    )
    async def test_check_constraints(
        self, session: AsyncSession, sql: str, constraint: str
    ) -> None:
        workflow = await persisted_workflow(session)
        session.add(make_schedule(workflow))
        await session.commit()
        with pytest.raises(IntegrityError, match=constraint):
            await session.execute(text(sql))

    async def test_job_id_is_unique(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        session.add_all(
            [make_schedule(workflow, job_id="same"), make_schedule(workflow, job_id="same")]
        )
        with pytest.raises(IntegrityError, match="uq_schedules_job_id"):
            await session.flush()


class TestExecutionsOfSchedules:
    async def test_one_execution_per_planned_time(self, session: AsyncSession) -> None:
        workflow = await persisted_workflow(session)
        schedule = make_schedule(workflow)
        session.add(schedule)
        await session.commit()
        planned = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)

        def execution() -> WorkflowExecution:
            return WorkflowExecution(
                workflow_id=workflow.id,
                trigger_type=TriggerType.SCHEDULE,
                schedule_id=schedule.id,
                scheduled_for=planned,
                metadata_={"schedule_id": str(schedule.id)},
            )

        first = execution()
        session.add(first)
        await session.commit()
        assert first.status is ExecutionStatus.PENDING
        session.add(execution())
        with pytest.raises(
            IntegrityError, match="uq_workflow_executions_schedule_id_scheduled_for"
        ):
            await session.flush()

    async def test_hard_deleting_a_schedule_keeps_its_executions(
        self, session: AsyncSession
    ) -> None:
        workflow = await persisted_workflow(session)
        schedule = make_schedule(workflow)
        session.add(schedule)
        await session.flush()
        execution = WorkflowExecution(
            workflow_id=workflow.id,
            trigger_type="schedule",
            schedule_id=schedule.id,
            scheduled_for=datetime.now(UTC),
        )
        session.add(execution)
        await session.commit()
        await session.execute(text("DELETE FROM schedules WHERE id = :i"), {"i": schedule.id})
        kept = await session.scalar(
            text("SELECT schedule_id IS NULL FROM workflow_executions WHERE id = :i"),
            {"i": execution.id},
        )
        assert kept is True


async def test_updated_at_moves_forward(session: AsyncSession) -> None:
    workflow = await persisted_workflow(session)
    schedule = make_schedule(workflow)
    session.add(schedule)
    await session.commit()
    first = schedule.updated_at
    schedule.description = "changed"
    await session.commit()
    assert schedule.updated_at > first


async def test_owner_must_exist(session: AsyncSession) -> None:
    user = make_user()
    session.add(user)
    await session.flush()
    workflow = make_workflow(user)
    session.add(workflow)
    schedule = make_schedule(workflow, user_id=uuid.uuid4())
    session.add(schedule)
    with pytest.raises(IntegrityError, match="fk_schedules_user_id_users"):
        await session.flush()
