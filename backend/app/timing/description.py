"""Human-readable descriptions of schedules ("At 09:00 on Monday through Friday")."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from app.timing.definitions import CRON_FIELD_NAMES, WINDOW_KEYS
from app.timing.triggers import explain_cron

_UNITS = ("weeks", "days", "hours", "minutes", "seconds")
_CACHED_CONFIG_KEYS = 12
_CACHED_VALUE_CHARS = 256
# APScheduler numbers weekdays from Monday = 0; cron from Sunday = 0.
_APS_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _fields_as_expression(fields: Mapping[str, Any]) -> str | None:
    """The cron expression equal to APScheduler fields, when one exists."""
    if set(fields) - {"second", "minute", "hour", "day", "month", "day_of_week"}:
        return None  # year and ISO week have no cron field
    if "day" in fields and "day_of_week" in fields:
        return None  # APScheduler ANDs the day fields, cron ORs them
    # APScheduler's defaulting: fields more significant than the least significant one
    # given are `*`, less significant ones their minimum; weekday (and week) are `*`.
    significance = ("month", "day", "day_of_week", "hour", "minute", "second")
    least = max(significance.index(name) for name in fields) if fields else -1
    cron_order = ("second", "minute", "hour", "day", "month", "day_of_week")
    parts = []
    for name in cron_order:
        if name in fields:
            value = str(fields[name]).replace(" ", "")
        elif name == "day_of_week" or significance.index(name) < least:
            value = "*"
        else:
            value = "1" if name in ("day", "month") else "0"
        parts.append(value)
    day_of_week = parts[-1]
    if any(ch.isdigit() for ch in day_of_week):
        numbers = day_of_week.split(",")
        if not all(n.isdigit() and int(n) < 7 for n in numbers):
            return None
        parts[-1] = ",".join(_APS_WEEKDAY_NAMES[int(n)] for n in numbers)
    seconds = parts[0]
    expression = " ".join(parts if seconds != "0" else parts[1:])
    try:
        explain_cron(expression)
    except Exception:
        return None
    return expression


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit[:-1] if count == 1 else unit}"


def describe(schedule_type: str, config: Mapping[str, Any], timezone: str) -> str:
    """A sentence saying when the schedule fires, in its own time zone."""
    # Valid configs are small flat objects of scalars, so their sorted items make a cheap
    # key; anything large or unhashable (a row broken by raw SQL) is described uncached,
    # so the cache stays a few megabytes whatever is stored.
    items = tuple(sorted(config.items()))
    if len(items) > _CACHED_CONFIG_KEYS or any(
        not isinstance(value, int) and len(str(value)) > _CACHED_VALUE_CHARS for _, value in items
    ):
        return _describe.__wrapped__(str(schedule_type), items, timezone)
    try:
        return _describe(str(schedule_type), items, timezone)
    except TypeError:
        return _describe.__wrapped__(str(schedule_type), items, timezone)


@lru_cache(maxsize=4096)
def _describe(schedule_type: str, items: tuple[tuple[str, Any], ...], timezone: str) -> str:
    config = dict(items)
    if schedule_type == "date":
        return f"Once at {config.get('run_date')} ({timezone})"
    if schedule_type == "interval":
        parts = [_plural(int(config[unit]), unit) for unit in _UNITS if config.get(unit)]
        return "Every " + ", ".join(parts)
    expression = config.get("cron_expression")
    if expression is None:
        fields = {k: v for k, v in config.items() if v is not None and k not in WINDOW_KEYS}
        expression = _fields_as_expression(fields)
        if expression is None:
            shown = ", ".join(f"{key}={fields[key]}" for key in CRON_FIELD_NAMES if key in fields)
            return f"Cron fields {shown} ({timezone})"
    return f"{explain_cron(str(expression))} ({timezone})"
