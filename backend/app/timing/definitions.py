"""Schedule definitions: `schedule_config` parsed into a typed value (docs/schedules.md).

Parsing checks the shape (unknown keys, strict types) with pydantic and resolves the
dates to UTC instants in the schedule's zone. What a cron expression or cron fields mean
is the trigger module's business (`app.timing.triggers`), which builds on this value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.errors import error_path
from app.timing.errors import ScheduleValidationError
from app.timing.zones import parse_instant

CONFIG_FIELD = "schedule_config"
# Longer expressions are not cron: each accepted one is parsed on every fire.
CRON_EXPRESSION_MAX_LENGTH = 200
CRON_FIELD_MAX_LENGTH = 100
# The longest interval: longer is not a schedule, and bigger numbers overflow date math.
MAX_INTERVAL = timedelta(days=3660)
_MAX_SECONDS = int(MAX_INTERVAL.total_seconds())
CRON_FIELD_NAMES = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
WINDOW_KEYS = ("start_date", "end_date")


CronField = Annotated[str, Field(max_length=CRON_FIELD_MAX_LENGTH)]


class _StrictConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _WindowConfig(_StrictConfig):
    start_date: str | None = None
    end_date: str | None = None


class CronConfig(_WindowConfig):
    """A cron schedule: a standard cron expression, APScheduler-style fields, or both."""

    cron_expression: str | None = Field(default=None, max_length=CRON_EXPRESSION_MAX_LENGTH)
    year: int | CronField | None = None
    month: int | CronField | None = None
    day: int | CronField | None = None
    week: int | CronField | None = None
    day_of_week: int | CronField | None = None
    hour: int | CronField | None = None
    minute: int | CronField | None = None
    second: int | CronField | None = None

    def fields(self) -> dict[str, int | str]:
        """The APScheduler-style fields that were given."""
        return {
            name: value for name in CRON_FIELD_NAMES if (value := getattr(self, name)) is not None
        }


class IntervalConfig(_WindowConfig):
    """An interval schedule: elapsed time between fires."""

    weeks: int | None = Field(default=None, ge=0, le=_MAX_SECONDS // 604_800)
    days: int | None = Field(default=None, ge=0, le=_MAX_SECONDS // 86_400)
    hours: int | None = Field(default=None, ge=0, le=_MAX_SECONDS // 3_600)
    minutes: int | None = Field(default=None, ge=0, le=_MAX_SECONDS // 60)
    seconds: int | None = Field(default=None, ge=0, le=_MAX_SECONDS)

    def period(self) -> timedelta:
        """The interval as a timedelta."""
        return timedelta(
            weeks=self.weeks or 0,
            days=self.days or 0,
            hours=self.hours or 0,
            minutes=self.minutes or 0,
            seconds=self.seconds or 0,
        )


class DateConfig(_StrictConfig):
    """A one-time schedule."""

    run_date: str


# Keyed by the ScheduleType values; this module stays free of ORM imports.
CONFIG_MODELS: dict[str, type[_StrictConfig]] = {
    "cron": CronConfig,
    "interval": IntervalConfig,
    "date": DateConfig,
}


@dataclass(frozen=True)
class ScheduleDefinition:
    """A valid `schedule_config` in its zone: the typed config and its dates as UTC instants."""

    schedule_type: str
    config: _StrictConfig
    zone: ZoneInfo
    start: datetime | None
    end: datetime | None
    run_date: datetime | None


def _reason(error: Mapping[str, Any], schedule_type: str) -> str:
    if error["type"] == "extra_forbidden":
        return f"unknown key for a {schedule_type} schedule"
    if error["type"] == "missing":
        return f"required for a {schedule_type} schedule"
    return str(error["msg"])


def _shape(schedule_type: str, raw: object) -> _StrictConfig:
    if not isinstance(raw, Mapping):
        raise ScheduleValidationError(CONFIG_FIELD, "must be a JSON object")
    model = CONFIG_MODELS.get(str(schedule_type))
    if model is None:
        raise ScheduleValidationError(
            "schedule_type", f"{schedule_type!r} is not one of {', '.join(CONFIG_MODELS)}"
        )
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        errors = [
            (error_path(CONFIG_FIELD, error["loc"]), _reason(error, schedule_type))
            for error in exc.errors()
        ]
        raise ScheduleValidationError(errors[0][0], errors[0][1], errors=errors) from None


def _window(model: _WindowConfig, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    start = end = None
    if model.start_date is not None:
        start = parse_instant(model.start_date, tz, f"{CONFIG_FIELD}.start_date")
    if model.end_date is not None:
        end = parse_instant(model.end_date, tz, f"{CONFIG_FIELD}.end_date")
    if start is not None and end is not None and end <= start:
        raise ScheduleValidationError(f"{CONFIG_FIELD}.end_date", "must be after start_date")
    return start, end


def parse_definition(schedule_type: str, raw: object, tz: ZoneInfo) -> ScheduleDefinition:
    """Validate `raw` as the config of a `schedule_type` schedule in zone `tz`.

    Raises ScheduleValidationError naming the offending key and the reason. Cron syntax
    is checked when the trigger is built (`app.timing.triggers.build_trigger`).
    """
    kind = str(schedule_type)
    model = _shape(kind, raw)
    if isinstance(model, DateConfig):
        run_date = parse_instant(model.run_date, tz, f"{CONFIG_FIELD}.run_date")
        return ScheduleDefinition(kind, model, tz, None, None, run_date)
    assert isinstance(model, _WindowConfig)
    if isinstance(model, IntervalConfig) and model.period() <= timedelta(0):
        raise ScheduleValidationError(
            CONFIG_FIELD, "an interval needs weeks, days, hours, minutes or seconds above zero"
        )
    if isinstance(model, IntervalConfig) and model.period() > MAX_INTERVAL:
        raise ScheduleValidationError(
            CONFIG_FIELD, f"an interval can be at most {MAX_INTERVAL.days} days"
        )
    if isinstance(model, CronConfig) and model.cron_expression is None and not model.fields():
        raise ScheduleValidationError(
            CONFIG_FIELD, "a cron schedule needs cron_expression or cron fields (hour, minute, ...)"
        )
    start, end = _window(model, tz)
    return ScheduleDefinition(kind, model, tz, start, end, None)
