"""Typed, strict models of `schedule_config` for each schedule type (schedule-semantics.md).

Parsing a config checks its shape (unknown keys, strict types) with pydantic; the
meaning of its values (cron syntax, dates, window) is checked by `parse_config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from cronsim import CronSim, CronSimError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.schedules.clock import parse_instant
from app.schedules.errors import ScheduleValidationError, error_path

CONFIG_FIELD = "schedule_config"
CRON_FIELD_NAMES = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")

# 28 years hold every pairing of calendar date and weekday, leap days included.
_EQUIVALENCE_FIRST_DAY = date(2000, 1, 1)
_EQUIVALENCE_DAYS = (date(2028, 1, 1) - _EQUIVALENCE_FIRST_DAY).days


class _StrictConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _WindowConfig(_StrictConfig):
    start_date: str | None = None
    end_date: str | None = None


class CronConfig(_WindowConfig):
    """A cron schedule: a standard cron expression, APScheduler-style fields, or both."""

    cron_expression: str | None = None
    year: int | str | None = None
    month: int | str | None = None
    day: int | str | None = None
    week: int | str | None = None
    day_of_week: int | str | None = None
    hour: int | str | None = None
    minute: int | str | None = None
    second: int | str | None = None

    def fields(self) -> dict[str, int | str]:
        """The APScheduler-style fields that were given."""
        return {
            name: value for name in CRON_FIELD_NAMES if (value := getattr(self, name)) is not None
        }


class IntervalConfig(_WindowConfig):
    """An interval schedule: elapsed time between fires."""

    weeks: int | None = Field(default=None, ge=0)
    days: int | None = Field(default=None, ge=0)
    hours: int | None = Field(default=None, ge=0)
    minutes: int | None = Field(default=None, ge=0)
    seconds: int | None = Field(default=None, ge=0)

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
class ParsedConfig:
    """A validated config with its dates resolved to UTC instants."""

    model: _StrictConfig
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


def cron_sim(expression: str, start: datetime) -> CronSim:
    """A cronsim iterator for `expression`; raises ScheduleValidationError if it is not valid."""
    field = f"{CONFIG_FIELD}.cron_expression"
    if len(expression.split()) not in (5, 6):
        raise ScheduleValidationError(field, "expected 5 fields, or 6 with leading seconds")
    try:
        return CronSim(expression, start)
    except (CronSimError, ValueError, IndexError) as exc:
        raise ScheduleValidationError(field, f"{expression!r}: {exc or 'invalid'}") from None


def cron_fields_trigger(fields: Mapping[str, int | str]) -> CronTrigger:
    """An APScheduler CronTrigger over wall-clock time (UTC stands for 'no DST')."""
    for name, value in fields.items():
        try:
            CronTrigger(**{name: value}, timezone=UTC)
        except ValueError as exc:
            raise ScheduleValidationError(f"{CONFIG_FIELD}.{name}", str(exc)) from None
    try:
        return CronTrigger(**fields, timezone=UTC)
    except ValueError as exc:  # pragma: no cover - each field alone was valid
        raise ScheduleValidationError(CONFIG_FIELD, str(exc)) from None


def _field_matches(trigger: CronTrigger, names: tuple[str, ...], moment: datetime) -> bool:
    return all(
        field.get_next_value(moment) == field.get_value(moment)
        for field in trigger.fields
        if field.name in names
    )


def _wall_clock_with(field: str, value: int) -> datetime:
    hour = value if field == "hour" else 0
    minute = value if field == "minute" else 0
    second = value if field == "second" else 0
    return datetime(2000, 1, 1, hour, minute, second)  # noqa: DTZ001 - wall-clock only


@lru_cache(maxsize=256)
def _same_schedule(expression: str, fields: tuple[tuple[str, int | str], ...]) -> bool:
    """True when a cron expression and APScheduler fields pick the same wall-clock times."""
    sim = cron_sim(expression, datetime(2000, 1, 1))  # noqa: DTZ001 - wall-clock only
    trigger = cron_fields_trigger(dict(fields))
    time_fields: tuple[tuple[str, set[int], int], ...] = (
        ("second", sim.seconds, 60),
        ("minute", sim.minutes, 60),
        ("hour", sim.hours, 24),
    )
    for name, values, upper in time_fields:
        matching = {
            value
            for value in range(upper)
            if _field_matches(trigger, (name,), _wall_clock_with(name, value))
        }
        if matching != values:
            return False
    day_fields = ("year", "month", "day", "week", "day_of_week")
    for offset in range(_EQUIVALENCE_DAYS):
        day = _EQUIVALENCE_FIRST_DAY + timedelta(days=offset)
        cron_match = day.month in sim.months and sim.match_day(day)
        moment = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - wall-clock only
        if cron_match != _field_matches(trigger, day_fields, moment):
            return False
    return True


def _window(model: _WindowConfig, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    start = end = None
    if model.start_date is not None:
        start = parse_instant(model.start_date, tz, f"{CONFIG_FIELD}.start_date")
    if model.end_date is not None:
        end = parse_instant(model.end_date, tz, f"{CONFIG_FIELD}.end_date")
    if start is not None and end is not None and end <= start:
        raise ScheduleValidationError(f"{CONFIG_FIELD}.end_date", "must be after start_date")
    return start, end


def parse_config(schedule_type: str, raw: object, tz: ZoneInfo) -> ParsedConfig:
    """Validate `raw` as the config of a `schedule_type` schedule in zone `tz`.

    Raises ScheduleValidationError naming the offending key and the reason.
    """
    model = _shape(schedule_type, raw)
    if isinstance(model, DateConfig):
        run_date = parse_instant(model.run_date, tz, f"{CONFIG_FIELD}.run_date")
        return ParsedConfig(model, None, None, run_date)
    assert isinstance(model, _WindowConfig)
    if isinstance(model, IntervalConfig) and model.period() <= timedelta(0):
        raise ScheduleValidationError(
            CONFIG_FIELD, "an interval needs weeks, days, hours, minutes or seconds above zero"
        )
    if isinstance(model, CronConfig):
        _check_cron(model)
    start, end = _window(model, tz)
    return ParsedConfig(model, start, end, None)


def _check_cron(model: CronConfig) -> None:
    fields = model.fields()
    if model.cron_expression is None and not fields:
        raise ScheduleValidationError(
            CONFIG_FIELD, "a cron schedule needs cron_expression or cron fields (hour, minute, ...)"
        )
    if model.cron_expression is not None:
        cron_sim(model.cron_expression, datetime(2000, 1, 1))  # noqa: DTZ001 - syntax check
    if fields:
        cron_fields_trigger(fields)
    both = model.cron_expression is not None and fields
    if both and not _same_schedule(model.cron_expression, tuple(sorted(fields.items()))):
        raise ScheduleValidationError(
            CONFIG_FIELD,
            f"cron_expression {model.cron_expression!r} and the cron fields "
            f"{sorted(fields)} describe different schedules",
        )
