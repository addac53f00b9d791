"""Helpers shared by the time-math tests: instants, fire-time sequences, wall readings."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app.timing.triggers import ScheduleTrigger

NEW_YORK = "America/New_York"
NY = ZoneInfo(NEW_YORK)


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def fire_times(trigger: ScheduleTrigger, after: datetime, count: int) -> list[datetime]:
    """The `count` fire times following `after`, each found from the previous one."""
    times: list[datetime] = []
    moment = after
    for _ in range(count):
        following = trigger.next_after(moment)
        assert following is not None, f"no fire time after {moment.isoformat()}"
        times.append(following)
        moment = following
    return times


def walls(times: list[datetime], tz: ZoneInfo = NY) -> list[str]:
    """Fire times as wall-clock readings with their offset, for readable comparisons."""
    return [time.astimezone(tz).isoformat() for time in times]
