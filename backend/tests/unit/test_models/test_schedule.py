"""Schedule model behaviour without a database: construction, validation, properties."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.models import Schedule, ScheduleType, SoftDeleteMixin, TimestampMixin, UUIDMixin
from app.models.schedule import generate_job_id
from app.models.types import NaiveDatetimeError
from app.timing.errors import ScheduleValidationError

NOW = datetime.now(UTC)


def schedule(**overrides: Any) -> Schedule:
    values: dict[str, Any] = {
        "workflow_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "name": "open",
        "schedule_type": "cron",
        "schedule_config": {"cron_expression": "0 9 * * 1-5"},
        "timezone": "Asia/Seoul",
        **overrides,
    }
    return Schedule(**values)


def iso(moment: datetime) -> str:
    return moment.isoformat()


class TestScheduleType:
    def test_values(self) -> None:
        assert [member.value for member in ScheduleType] == ["cron", "interval", "date"]

    def test_str_is_the_value(self) -> None:
        assert str(ScheduleType.INTERVAL) == "interval"
        assert f"{ScheduleType.DATE}" == "date"

    def test_is_a_str(self) -> None:
        assert ScheduleType.CRON == "cron"


class TestConstruction:
    def test_defaults_are_visible_before_flush(self) -> None:
        s = schedule()
        assert isinstance(s.id, uuid.UUID)
        assert s.is_active is True
        assert s.run_count == 0
        assert s.metadata_ == {}
        assert s.next_run_at is None
        assert s.deleted_at is None

    def test_timezone_defaults_to_utc(self) -> None:
        s = Schedule(
            workflow_id=uuid.uuid4(),
            user_id=uuid.uuid4(),
            name="n",
            schedule_type="interval",
            schedule_config={"minutes": 5},
        )
        assert s.timezone == "UTC"

    def test_mixins(self) -> None:
        assert issubclass(Schedule, UUIDMixin)
        assert issubclass(Schedule, TimestampMixin)
        assert issubclass(Schedule, SoftDeleteMixin)

    def test_plain_string_type_is_coerced_to_the_enum(self) -> None:
        s = schedule(schedule_type="interval", schedule_config={"hours": 1})
        assert s.schedule_type is ScheduleType.INTERVAL

    def test_keyword_order_does_not_matter(self) -> None:
        s = Schedule(schedule_config={"hours": 1}, schedule_type="interval", name="n")
        assert s.schedule_type is ScheduleType.INTERVAL

    def test_config_of_the_wrong_type_is_refused_in_either_order(self) -> None:
        with pytest.raises(ScheduleValidationError, match=r"schedule_config\.hours"):
            Schedule(schedule_config={"hours": 1}, schedule_type="cron", name="n")
        with pytest.raises(ScheduleValidationError, match=r"schedule_config\.hours"):
            Schedule(schedule_type="cron", schedule_config={"hours": 1}, name="n")

    def test_generate_job_id(self) -> None:
        schedule_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
        assert generate_job_id(schedule_id) == "schedule_12345678-1234-5678-1234-567812345678"


class TestValidationOnAssignment:
    def test_unknown_type(self) -> None:
        s = schedule()
        with pytest.raises(ScheduleValidationError, match="schedule_type") as caught:
            s.schedule_type = "weekly"  # type: ignore[assignment]
        assert caught.value.field == "schedule_type"
        assert s.schedule_type is ScheduleType.CRON

    def test_changing_type_revalidates_the_config(self) -> None:
        s = schedule()
        with pytest.raises(ScheduleValidationError, match=r"schedule_config\.cron_expression"):
            s.schedule_type = ScheduleType.INTERVAL
        assert s.schedule_type is ScheduleType.CRON

    def test_bad_timezone(self) -> None:
        s = schedule()
        with pytest.raises(ScheduleValidationError, match="timezone"):
            s.timezone = "Asia/Atlantis"
        assert s.timezone == "Asia/Seoul"

    def test_bad_config(self) -> None:
        s = schedule()
        with pytest.raises(ScheduleValidationError, match=r"schedule_config\.cron_expression"):
            s.schedule_config = {"cron_expression": "61 * * * *"}
        assert s.schedule_config == {"cron_expression": "0 9 * * 1-5"}

    def test_config_must_be_an_object(self) -> None:
        with pytest.raises(ScheduleValidationError, match="schedule_config: must be a JSON object"):
            schedule(schedule_config=["0 9 * * *"])

    def test_bad_metadata(self) -> None:
        s = schedule()
        with pytest.raises(ScheduleValidationError, match=r"metadata\.max_instances"):
            s.metadata_ = {"max_instances": 0}
        assert s.metadata_ == {}

    def test_blank_name(self) -> None:
        with pytest.raises(ScheduleValidationError, match="name"):
            schedule(name="  ")

    def test_naive_datetime_refused(self) -> None:
        s = schedule()
        with pytest.raises(NaiveDatetimeError, match="last_run_at"):
            s.last_run_at = datetime(2026, 1, 1, 9, 0)  # noqa: DTZ001 - the point of the test
        assert s.last_run_at is None

    def test_aware_datetime_is_stored_in_utc(self) -> None:
        s = schedule()
        s.last_run_at = datetime.fromisoformat("2026-01-01T09:00:00+09:00")
        assert s.last_run_at == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
        assert s.last_run_at.utcoffset() == timedelta(0)

    def test_window_end_before_start(self) -> None:
        with pytest.raises(ScheduleValidationError, match=r"schedule_config\.end_date"):
            schedule(
                schedule_config={
                    "cron_expression": "0 9 * * *",
                    "start_date": "2026-02-01T00:00:00Z",
                    "end_date": "2026-01-01T00:00:00Z",
                }
            )


class TestInPlaceChanges:
    def test_valid_change_is_kept(self) -> None:
        s = schedule(schedule_type="cron", schedule_config={"hour": 9})
        s.schedule_config["hour"] = 10
        assert s.schedule_config == {"hour": 10}
        assert s.next_run_after(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(
            2026, 1, 1, 1, 0, tzinfo=UTC
        )

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            (lambda c: c.__setitem__("hours", 1), "schedule_config.hours"),
            (lambda c: c.update({"hour": 99}), "schedule_config.hour"),
            (lambda c: c.pop("hour"), "schedule_config"),
            (lambda c: c.clear(), "schedule_config"),
            (lambda c: c.setdefault("minute", "x"), "schedule_config.minute"),
        ],
    )
    def test_invalid_change_is_refused_and_undone(self, change: Any, field: str) -> None:
        s = schedule(schedule_type="cron", schedule_config={"hour": 9})
        with pytest.raises(ScheduleValidationError) as caught:
            change(s.schedule_config)
        assert caught.value.field == field
        assert s.schedule_config == {"hour": 9}

    def test_metadata_change_is_validated(self) -> None:
        s = schedule(metadata_={"priority": "high"})
        with pytest.raises(ScheduleValidationError, match=r"metadata\.priority"):
            s.metadata_["priority"] = "urgent"
        assert s.metadata_ == {"priority": "high"}
        with pytest.raises(ScheduleValidationError, match=r"metadata\.auth\.api_key"):
            s.metadata_["auth"] = {"api_key": "x"}
        assert "auth" not in s.metadata_
        s.metadata_["tags"] = ["daily"]
        assert s.metadata_ == {"priority": "high", "tags": ["daily"]}


class TestProperties:
    @pytest.mark.parametrize(
        ("kind", "config", "one_time", "recurring"),
        [
            ("cron", {"hour": 9}, False, True),
            ("interval", {"minutes": 15}, False, True),
            ("date", {"run_date": "2030-01-01T00:00:00Z"}, True, False),
        ],
    )
    def test_one_time_and_recurring(
        self, kind: str, config: dict[str, Any], one_time: bool, recurring: bool
    ) -> None:
        s = schedule(schedule_type=kind, schedule_config=config)
        assert s.is_one_time is one_time
        assert s.is_recurring is recurring

    def test_not_expired_without_end(self) -> None:
        assert schedule().is_expired is False

    def test_expired_after_end_date(self) -> None:
        config = {"cron_expression": "0 9 * * *", "end_date": iso(NOW - timedelta(minutes=1))}
        assert schedule(schedule_config=config).is_expired is True

    def test_not_expired_before_end_date(self) -> None:
        config = {"cron_expression": "0 9 * * *", "end_date": iso(NOW + timedelta(days=1))}
        assert schedule(schedule_config=config).is_expired is False

    def test_naive_end_date_is_read_in_the_schedule_zone(self) -> None:
        # 23:00 wall time in Seoul (UTC+9) on a date is 14:00 UTC that day.
        config = {"cron_expression": "0 9 * * *", "end_date": "2026-06-01T23:00:00"}
        s = schedule(schedule_config=config, timezone="Asia/Seoul")
        assert s.is_expired_at(datetime(2026, 6, 1, 13, 59, tzinfo=UTC)) is False
        assert s.is_expired_at(datetime(2026, 6, 1, 14, 1, tzinfo=UTC)) is True

    def test_date_schedule_expires_once_it_has_run(self) -> None:
        s = schedule(
            schedule_type="date", schedule_config={"run_date": iso(NOW + timedelta(days=1))}
        )
        assert s.is_expired is False
        s.record_execution()
        assert s.is_expired is True

    def test_date_schedule_expires_after_run_date_plus_grace(self) -> None:
        run_date = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
        s = schedule(
            schedule_type="date",
            schedule_config={"run_date": iso(run_date)},
            metadata_={"misfire_grace_time": 120},
        )
        assert s.is_expired_at(run_date + timedelta(seconds=120)) is False
        assert s.is_expired_at(run_date + timedelta(seconds=121)) is True

    def test_default_grace_is_sixty_seconds(self) -> None:
        run_date = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
        s = schedule(schedule_type="date", schedule_config={"run_date": iso(run_date)})
        assert s.is_expired_at(run_date + timedelta(seconds=60)) is False
        assert s.is_expired_at(run_date + timedelta(seconds=61)) is True


class TestStateChanges:
    def test_record_execution(self) -> None:
        s = schedule()
        before = datetime.now(UTC)
        s.record_execution()
        s.record_execution()
        assert s.run_count == 2
        assert s.last_run_at is not None
        assert s.last_run_at >= before

    def test_deactivate_clears_next_run(self) -> None:
        s = schedule()
        s.activate()
        assert s.next_run_at is not None
        s.deactivate()
        assert s.is_active is False
        assert s.next_run_at is None

    def test_activate_computes_next_run(self) -> None:
        s = schedule(is_active=False)
        s.activate()
        assert s.is_active is True
        assert s.next_run_at is not None
        assert s.next_run_at > datetime.now(UTC)

    def test_activate_refuses_an_expired_schedule(self) -> None:
        config = {"cron_expression": "0 9 * * *", "end_date": iso(NOW - timedelta(days=1))}
        s = schedule(schedule_config=config, is_active=False)
        with pytest.raises(ValueError, match="Cannot activate an expired schedule") as refused:
            s.activate()
        # The domain's field error, which every path (the API's included) maps to a 422.
        assert isinstance(refused.value, ScheduleValidationError)
        assert refused.value.field == "is_active"
        assert s.is_active is False

    def test_soft_delete_leaves_is_active_alone(self) -> None:
        s = schedule()
        s.activate()
        s.soft_delete()
        assert s.is_deleted is True
        assert s.is_active is True
        assert s.next_run_at is None

    def test_restore_paused_stays_paused(self) -> None:
        s = schedule(is_active=False)
        s.soft_delete()
        s.restore()
        assert s.is_deleted is False
        assert s.is_active is False
        assert s.next_run_at is None

    def test_restore_active_gets_next_run(self) -> None:
        s = schedule()
        s.soft_delete()
        s.restore()
        assert s.next_run_at is not None

    def test_next_run_after_requires_aware_moment(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            schedule().next_run_after(datetime(2026, 1, 1))  # noqa: DTZ001 - the point

    def test_next_run_after_honours_timezone(self) -> None:
        s = schedule(schedule_config={"cron_expression": "0 9 * * 1-5"}, timezone="Asia/Seoul")
        # Friday 2026-11-27 00:00 UTC is 09:00 KST: strictly after it comes Monday 09:00 KST.
        friday_open = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
        assert s.next_run_after(friday_open - timedelta(seconds=1)) == friday_open
        assert s.next_run_after(friday_open) == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
