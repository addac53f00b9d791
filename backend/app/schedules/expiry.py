"""When a schedule can never fire again (schedule-semantics.md, "expiry")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from app.schedules.clock import get_zone, parse_instant
from app.schedules.config import CONFIG_FIELD
from app.schedules.metadata import parse_metadata


def is_expired(
    schedule_type: str,
    config: Mapping[str, Any],
    timezone: str,
    metadata: Mapping[str, Any] | None,
    *,
    has_run: bool,
    now: datetime,
) -> bool:
    """True once `end_date` has passed, or for a one-time schedule once it has run or its
    `run_date` plus the misfire grace has passed. Naive dates are read in `timezone`."""
    tz = get_zone(timezone)
    end_date = config.get("end_date")
    if end_date is not None and now > parse_instant(end_date, tz, f"{CONFIG_FIELD}.end_date"):
        return True
    if schedule_type != "date":
        return False
    if has_run:
        return True
    run_date = parse_instant(config.get("run_date"), tz, f"{CONFIG_FIELD}.run_date")
    grace = parse_metadata(metadata or {}).effective_misfire_grace_time
    return now > run_date + timedelta(seconds=grace)
