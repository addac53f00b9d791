"""Fire-time math for schedules, as APScheduler triggers (schedule-semantics.md).

Every fire time the project computes (the model's `next_run_after`, `next_run_at`,
the engine, the API's preview) comes from `ScheduleTrigger.next_after`.

- cron expressions: cronsim, which evaluates them as Debian's cron does (day-of-month /
  day-of-week OR rule, 0 and 7 = Sunday, the DST rule for fixed-time jobs);
- cron fields: APScheduler's `CronTrigger` picks the wall-clock times, and the same
  Debian DST rule maps them to instants;
- interval: `anchor + k * period` in elapsed time;
- date: one instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from app.schedules.clock import (
    MAX_DST_SHIFT,
    first_instant_at_or_after,
    get_zone,
    instants_of,
    near_dst_change,
    to_wall,
)
from app.schedules.config import (
    CronConfig,
    IntervalConfig,
    cron_fields_trigger,
    cron_sim,
    parse_config,
)

_TICK = timedelta(microseconds=1)


class FireTimes(Protocol):
    """An unbounded series of fire times."""

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after the aware instant `moment`, in UTC."""


class CronExpressionTimes:
    """Fire times of a standard cron expression in a zone, evaluated by cronsim."""

    def __init__(self, expression: str, tz: ZoneInfo) -> None:
        cron_sim(expression, datetime(2000, 1, 1, tzinfo=tz))
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
        fire_time = self.times.next_after(moment)
        if fire_time is None or (self.end is not None and fire_time > self.end):
            return None
        return fire_time

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """APScheduler's API: the next fire time after the previous one, or from `now` on."""
        if previous_fire_time is not None:
            return self.next_after(previous_fire_time)
        return self.next_after(now.astimezone(UTC) - _TICK)

    def __str__(self) -> str:
        return f"schedule[{type(self.times).__name__}, {self.timezone.key}]"


def build_trigger(
    schedule_type: str,
    config: Mapping[str, Any],
    timezone: str,
    created_at: datetime | None = None,
) -> ScheduleTrigger:
    """Validate a schedule definition and return its trigger.

    `created_at` anchors an interval schedule that has no `start_date` (truncated to the
    second); it defaults to now. Raises ScheduleValidationError on invalid input.
    """
    tz = get_zone(timezone)
    parsed = parse_config(schedule_type, config, tz)
    model = parsed.model
    times: FireTimes
    if parsed.run_date is not None:
        times = DateTimes(parsed.run_date)
    elif isinstance(model, IntervalConfig):
        anchor = parsed.start or (created_at or datetime.now(UTC)).replace(microsecond=0)
        times = IntervalTimes(anchor.astimezone(UTC), model.period())
    else:
        assert isinstance(model, CronConfig)
        if model.cron_expression is not None:
            times = CronExpressionTimes(model.cron_expression, tz)
        else:
            times = CronFieldsTimes(model.fields(), tz)
    return ScheduleTrigger(times, tz, parsed.start, parsed.end)


def upcoming_fire(
    trigger: ScheduleTrigger, now: datetime, *, has_run: bool, grace: timedelta
) -> datetime | None:
    """What `next_run_at` of an active, live schedule should be at `now`.

    The next fire time after `now`; for a one-time schedule its `run_date`, even just
    past (it is still due within its misfire grace), unless it has run or the grace is over.
    """
    if isinstance(trigger.times, DateTimes):
        run_date = trigger.times.run_date
        return None if has_run or now > run_date + grace else run_date
    return trigger.next_after(now)
