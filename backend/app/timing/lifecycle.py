"""A schedule's lifecycle rules: has it run, is it expired, its next fire, its job id, why a
fire was skipped, why it can never fire (docs/schedules.md, "Expiry" and "Firing").

Each rule lives here once; the model, the firing engine's SQL and the API take it from here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from app.timing.definitions import CONFIG_FIELD, ScheduleDefinition
from app.timing.run_options import parse_run_options
from app.timing.triggers import DateTimes, ScheduleTrigger
from app.timing.zones import get_zone, parse_instant

JOB_ID_PREFIX = "schedule_"


def job_id_for(schedule_id: uuid.UUID) -> str:
    """The firing engine's job id for a schedule: `schedule_<uuid>`."""
    return f"{JOB_ID_PREFIX}{schedule_id}"


class SkipReason(StrEnum):
    """Why a fire did not run (stored in `schedules.last_skip_reason`, CHECKed by the table)."""

    MISFIRE = "misfire"
    COALESCED = "coalesced"
    MAX_INSTANCES = "max_instances"
    WORKFLOW_INACTIVE = "workflow_inactive"
    INVALID_CONFIG = "invalid_config"
    OWNER_INACTIVE = "owner_inactive"


def has_run(last_run_at: datetime | None, run_count: int | None) -> bool:
    """True once the firing engine has fired the schedule."""
    return last_run_at is not None or (run_count or 0) > 0


def one_time_is_spent(run_date: datetime, *, ran: bool, grace: timedelta, now: datetime) -> bool:
    """A one-time schedule is spent once it has run, or once `run_date` plus its misfire
    grace has passed; until then it is still due, even with `run_date` just past."""
    return ran or now > run_date + grace


def definition_is_expired(
    definition: ScheduleDefinition, *, ran: bool, grace: timedelta, now: datetime
) -> bool:
    """True once `end_date` has passed, or for a one-time schedule once it is spent."""
    if definition.end is not None and now > definition.end:
        return True
    if definition.run_date is None:
        return False
    return one_time_is_spent(definition.run_date, ran=ran, grace=grace, now=now)


def is_expired(
    schedule_type: str,
    config: Mapping[str, Any],
    timezone: str,
    metadata: Mapping[str, Any] | None,
    *,
    ran: bool,
    now: datetime,
) -> bool:
    """`definition_is_expired` for a stored row's values (naive dates read in `timezone`).

    Reads only the dates expiry depends on, not the whole definition: lists render this
    for every row they show.
    """
    zone = get_zone(timezone)
    end_date = config.get("end_date")
    if end_date is not None and now > parse_instant(end_date, zone, f"{CONFIG_FIELD}.end_date"):
        return True
    if str(schedule_type) != "date":
        return False
    run_date = parse_instant(config.get("run_date"), zone, f"{CONFIG_FIELD}.run_date")
    grace = parse_run_options(metadata or {}).misfire_grace
    return one_time_is_spent(run_date, ran=ran, grace=grace, now=now)


def upcoming_fire(
    trigger: ScheduleTrigger, now: datetime, *, ran: bool, grace: timedelta
) -> datetime | None:
    """What `next_run_at` of an active, live schedule should be at `now`.

    The next fire time after `now`; for a one-time schedule its `run_date` until spent.
    """
    if isinstance(trigger.times, DateTimes):
        run_date = trigger.times.run_date
        return None if one_time_is_spent(run_date, ran=ran, grace=grace, now=now) else run_date
    return trigger.next_after(now)


def never_fires_reason(
    definition: ScheduleDefinition,
    trigger: ScheduleTrigger,
    *,
    ran: bool,
    grace: timedelta,
    now: datetime,
) -> str | None:
    """Why a schedule could never fire from `now` on, or None if it can."""
    if definition_is_expired(definition, ran=ran, grace=grace, now=now):
        if definition.run_date is not None:
            return "its run_date has passed beyond its misfire grace"
        return "its end_date has passed"
    if upcoming_fire(trigger, now, ran=ran, grace=grace) is None:
        return "no fire time remains in its window"
    return None
