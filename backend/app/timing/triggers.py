"""Fire-time math: a schedule definition becomes an APScheduler trigger (docs/schedules.md).

The only module that knows cronsim and APScheduler. Every fire time the project computes
(the model's `next_run_after`, `next_run_at`, the firing engine, the API's preview) comes
from `ScheduleTrigger.next_after`.

- cron expressions: cronsim, which evaluates them as Debian's cron does (day-of-month /
  day-of-week OR rule, 0 and 7 = Sunday, the DST rule for fixed-time jobs);
- cron fields: APScheduler's `CronTrigger` picks the wall-clock times, and the same
  Debian DST rule maps them to instants;
- interval: `anchor + k * period` in elapsed time;
- date: one instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from cronsim import CronSim, CronSimError

from app.timing.definitions import (
    CONFIG_FIELD,
    CronConfig,
    IntervalConfig,
    ScheduleDefinition,
    parse_definition,
)
from app.timing.errors import ScheduleValidationError
from app.timing.zones import (
    MAX_DST_SHIFT,
    first_instant_at_or_after,
    get_zone,
    instants_of,
    near_dst_change,
    to_wall,
)

_TICK = timedelta(microseconds=1)
TICK = _TICK


class FireTimes(Protocol):
    """An unbounded series of fire times."""

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after the aware instant `moment`, in UTC."""


# 28 years hold every pairing of calendar date and weekday, leap days included.
_EQUIVALENCE_FIRST_DAY = date(2000, 1, 1)
_EQUIVALENCE_DAYS = (date(2028, 1, 1) - _EQUIVALENCE_FIRST_DAY).days
_WALL_CLOCK_ORIGIN = datetime(2000, 1, 1)  # noqa: DTZ001 - wall-clock only


def cron_sim(expression: str, start: datetime) -> CronSim:
    """A cronsim iterator for `expression`; raises ScheduleValidationError if it is not valid."""
    field = f"{CONFIG_FIELD}.cron_expression"
    if len(expression.split()) not in (5, 6):
        raise ScheduleValidationError(field, "expected 5 fields, or 6 with leading seconds")
    try:
        return CronSim(expression, start)
    except (CronSimError, ValueError, IndexError) as exc:
        raise ScheduleValidationError(field, f"{expression!r}: {exc or 'invalid'}") from None


def explain_cron(expression: str) -> str:
    """cronsim's English rendering of a valid cron expression ("At 09:00 on Monday")."""
    return str(cron_sim(expression, _WALL_CLOCK_ORIGIN).explain())


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
    sim = cron_sim(expression, _WALL_CLOCK_ORIGIN)
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


def _cron_times(config: CronConfig, tz: ZoneInfo) -> FireTimes:
    """The fire times of a cron config; the expression governs when both forms are given."""
    fields = config.fields()
    expression = config.cron_expression
    if expression is not None and fields:
        cron_sim(expression, _WALL_CLOCK_ORIGIN)
        cron_fields_trigger(fields)
        if not _same_schedule(expression, tuple(sorted(fields.items()))):
            raise ScheduleValidationError(
                CONFIG_FIELD,
                f"cron_expression {expression!r} and the cron fields "
                f"{sorted(fields)} describe different schedules",
            )
    if expression is not None:
        return CronExpressionTimes(expression, tz)
    return CronFieldsTimes(fields, tz)


class CronExpressionTimes:
    """Fire times of a standard cron expression in a zone, evaluated by cronsim."""

    def __init__(self, expression: str, tz: ZoneInfo) -> None:
        cron_sim(expression, _WALL_CLOCK_ORIGIN.replace(tzinfo=tz))
        self._expression = expression
        self._tz = tz

    def next_after(self, moment: datetime) -> datetime | None:
        """See FireTimes."""
        moment = moment.astimezone(UTC)
        times = cron_sim(self._expression, moment.astimezone(self._tz))
        # For fixed-time jobs cronsim walks the wall clock, so from the second pass of a
        # repeated hour it can hand back the first pass; skip anything not after `moment`.
        for candidate in times:
            if candidate.astimezone(UTC) > moment:
                return candidate.astimezone(UTC)
        return None  # pragma: no cover - cronsim raises StopIteration after 50 empty years


class CronFieldsTimes:
    """Fire times of APScheduler-style cron fields in a zone, with Debian's DST rule."""

    def __init__(self, fields: Mapping[str, int | str], tz: ZoneInfo) -> None:
        self._wall_clock: CronTrigger = cron_fields_trigger(fields)
        self._tz = tz
        by_name = {field.name: str(field) for field in self._wall_clock.fields}
        self.fixed_time = not (by_name["minute"].startswith("*") or by_name["hour"].startswith("*"))

    def _next_wall(self, after: datetime) -> datetime | None:
        nxt = self._wall_clock.get_next_fire_time(None, (after + _TICK).replace(tzinfo=UTC))
        return None if nxt is None else nxt.replace(tzinfo=None)

    def _instants(self, wall: datetime) -> list[datetime]:
        if self.fixed_time:
            return [first_instant_at_or_after(wall, self._tz)]
        return instants_of(wall, self._tz)

    def next_after(self, moment: datetime) -> datetime | None:
        """See FireTimes."""
        wall = to_wall(moment, self._tz)
        # Near a DST change a wall time before `moment`'s reading can map after it.
        if near_dst_change(moment, self._tz):
            wall -= MAX_DST_SHIFT
        best: datetime | None = None
        limit: datetime | None = None
        candidate = self._next_wall(wall - _TICK)
        while candidate is not None and (limit is None or candidate <= limit):
            for instant in self._instants(candidate):
                if instant > moment and (best is None or instant < best):
                    best = instant
            if best is not None and limit is None:
                limit = candidate
                if near_dst_change(best, self._tz):
                    limit += MAX_DST_SHIFT
            candidate = self._next_wall(candidate)
        return best


class IntervalTimes:
    """Fire times `anchor + k * period` (k >= 0), in elapsed time."""

    def __init__(self, anchor: datetime, period: timedelta) -> None:
        self._anchor = anchor
        self._period = period

    def next_after(self, moment: datetime) -> datetime | None:
        """See FireTimes."""
        if moment < self._anchor:
            return self._anchor
        return self._anchor + ((moment - self._anchor) // self._period + 1) * self._period

    def count_in(self, start: datetime, stop: datetime) -> int:
        """How many fire times fall in [start, stop), by arithmetic."""
        return max(0, self._before(stop) - self._before(start))

    def _before(self, moment: datetime) -> int:
        """The number of fire times strictly before `moment`."""
        if moment <= self._anchor:
            return 0
        return -((self._anchor - moment) // self._period)  # ceil((moment - anchor) / period)


class DateTimes:
    """A single fire time."""

    def __init__(self, run_date: datetime) -> None:
        self.run_date = run_date

    def next_after(self, moment: datetime) -> datetime | None:
        """See FireTimes."""
        return self.run_date if self.run_date > moment else None


class ScheduleTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 ships no types
    """One schedule's fire times inside its start/end window, as an APScheduler trigger."""

    __slots__ = ("end", "start", "times", "timezone")

    def __init__(
        self,
        times: FireTimes,
        timezone: ZoneInfo,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        self.times = times
        self.timezone = timezone
        self.start = start
        self.end = end

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment` (aware), or None when none remains."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        # In UTC, so that comparisons and arithmetic never meet an ambiguous wall time.
        moment = moment.astimezone(UTC)
        if self.start is not None and moment < self.start:
            moment = self.start - _TICK  # the window's start is inclusive
        try:
            fire_time = self.times.next_after(moment)
        except OverflowError:  # the next fire would fall after year 9999: there is none
            return None
        if fire_time is None or (self.end is not None and fire_time > self.end):
            return None
        return fire_time

    def in_window(self, moment: datetime) -> bool:
        """True when `moment` lies inside the schedule's start/end window (both inclusive)."""
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment <= self.end
        )

    def count_between(self, start: datetime, stop: datetime, limit: int) -> tuple[int, bool]:
        """How many fire times fall in [start, stop) inside the window: (count, exact).

        Intervals are counted by arithmetic and one-time schedules have one fire time, so
        their counts are exact at constant cost. Cron fire times are walked, at most
        `limit` of them: past that the count is a lower bound and `exact` is False.
        """
        if self.start is not None:
            start = max(start, self.start)
        if self.end is not None:
            stop = min(stop, self.end + _TICK)  # the window's end is inclusive
        if stop <= start:
            return 0, True
        if isinstance(self.times, IntervalTimes):
            return self.times.count_in(start, stop), True
        count = 0
        moment = self.times.next_after(start - _TICK)
        while moment is not None and moment < stop:
            count += 1
            if count >= limit:
                return count, False
            moment = self.times.next_after(moment)
        return count, True

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """APScheduler's API: the next fire time after the previous one, or from `now` on."""
        if previous_fire_time is not None:
            return self.next_after(previous_fire_time)
        return self.next_after(now.astimezone(UTC) - _TICK)

    def __str__(self) -> str:
        return f"schedule[{type(self.times).__name__}, {self.timezone.key}]"


def trigger_of(definition: ScheduleDefinition, created_at: datetime | None) -> ScheduleTrigger:
    """The trigger of a parsed definition; raises ScheduleValidationError for bad cron syntax.

    `created_at` anchors an interval schedule that has no `start_date` (truncated to the
    second); it defaults to now.
    """
    model = definition.config
    times: FireTimes
    if definition.run_date is not None:
        times = DateTimes(definition.run_date)
    elif isinstance(model, IntervalConfig):
        anchor = definition.start or (created_at or datetime.now(UTC)).replace(microsecond=0)
        times = IntervalTimes(anchor.astimezone(UTC), model.period())
    else:
        assert isinstance(model, CronConfig)
        times = _cron_times(model, definition.zone)
    return ScheduleTrigger(times, definition.zone, definition.start, definition.end)


def build_trigger(
    schedule_type: str,
    config: Mapping[str, Any],
    timezone: str,
    created_at: datetime | None = None,
) -> ScheduleTrigger:
    """Validate a schedule definition and return its trigger (ScheduleValidationError if bad)."""
    return trigger_of(parse_definition(schedule_type, config, get_zone(timezone)), created_at)
