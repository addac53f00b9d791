"""Time zones and DST: IANA names, wall-clock readings and instants, ISO 8601 dates."""

from __future__ import annotations

import math
import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from app.timing.errors import ScheduleValidationError

# Larger than any daylight-saving shift in the tz database (at most two hours).
MAX_DST_SHIFT = timedelta(hours=3)
# Dates a schedule may name: far enough from datetime's limits that no zone offset, DST
# shift or fire-time walk can overflow (docs/schedules.md, "Rules every schedule_config follows").
EARLIEST_YEAR = 1900
LATEST_YEAR = 8999
_GAP_SEARCH_SPAN = timedelta(days=2)


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name a schedule may use, sorted (what forms offer)."""
    return tuple(sorted(_known_zones()))


@lru_cache(maxsize=512)
def get_zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA zone `name`; raises ScheduleValidationError for anything not in the tz database."""
    if not isinstance(name, str) or name not in _known_zones():
        raise ScheduleValidationError(field, f"{name!r} is not an IANA time zone name")
    return ZoneInfo(name)


def is_imaginary(wall: datetime, tz: ZoneInfo) -> bool:
    """True when the naive wall-clock time `wall` does not exist in `tz` (a DST gap)."""
    aware = wall.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall


def to_wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock reading of `instant` in `tz`."""
    return instant.astimezone(tz).replace(tzinfo=None)


def first_instant_at_or_after(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of `wall` in `tz`: its first occurrence, or the end of a DST gap.

    How naive dates and fixed-time cron schedules are read (docs/schedules.md): a time
    inside a gap means the first instant after the gap; a repeated time means its first
    occurrence.
    """
    if not is_imaginary(wall, tz):
        return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    # Binary search for the first whole second whose wall-clock reading passes `wall`;
    # the tz database places every transition on a whole second.
    high = math.ceil(wall.replace(tzinfo=tz, fold=0).timestamp())
    low = high - int(_GAP_SEARCH_SPAN.total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if to_wall(datetime.fromtimestamp(middle, UTC), tz) > wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def instants_of(wall: datetime, tz: ZoneInfo) -> list[datetime]:
    """Every UTC instant whose wall-clock reading in `tz` is `wall`: none, one or two."""
    if is_imaginary(wall, tz):
        return []
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return [first] if first == second else sorted((first, second))


def near_dst_change(instant: datetime, tz: ZoneInfo) -> bool:
    """True when `tz` changes its UTC offset within MAX_DST_SHIFT of `instant`."""
    before = (instant - MAX_DST_SHIFT).astimezone(tz).utcoffset()
    after = (instant + MAX_DST_SHIFT).astimezone(tz).utcoffset()
    return before != after


def parse_instant(value: object, tz: ZoneInfo, field: str) -> datetime:
    """Parse an ISO 8601 string as a UTC instant; without an offset it is wall time in `tz`."""
    if not isinstance(value, str):
        raise ScheduleValidationError(field, "must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ScheduleValidationError(
            field, f"{value[:64]!r} is not an ISO 8601 date-time"
        ) from None
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise ScheduleValidationError(
            field, f"must be in the years {EARLIEST_YEAR} to {LATEST_YEAR}"
        )
    if parsed.tzinfo is None:
        return first_instant_at_or_after(parsed, tz)
    return parsed.astimezone(UTC)
