"""What to do with one due schedule: which fire times run, which are missed or skipped.

Pure functions over a claimed row and the engine's clock; the rules are those of
docs/schedules.md ("Firing") with APScheduler 3's job options:

- a fire time more than `misfire_grace_time` in the past is missed (counted, not walked:
  the cost of planning does not grow with how long the engine was down);
- with `coalesce`, the runnable fire times fold into one run at the latest of them;
- while `max_instances` executions of the schedule are running, fires are skipped;
- a schedule whose owner is deactivated or deleted skips its fires (`owner_inactive`);
- a schedule whose workflow is inactive or deleted skips its fires;
- the next fire time is the first one after `now`; a schedule with none left (a DATE
  schedule that fired or was missed, a window that ended) is deactivated;
- any failure while planning one schedule quarantines that schedule alone: it is
  deactivated with reason `invalid_config` and the error is logged; the batch fires on.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from cachetools import LRUCache

from app.core.errors import FieldValidationError
from app.timing.lifecycle import SkipReason, has_run, upcoming_fire
from app.timing.run_options import RunOptions, parse_run_options
from app.timing.triggers import TICK, ScheduleTrigger, build_trigger

# Misses of a cron schedule are counted exactly up to this many per pass (then "at least").
MISSED_COUNT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class DueSchedule:
    """A claimed schedule row, as the engine reads it."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    schedule_type: str
    config_json: str
    timezone: str
    created_at: datetime
    next_run_at: datetime
    metadata_json: str
    workflow_runnable: bool
    owner_active: bool
    running: int


@dataclass(frozen=True, slots=True)
class UnplannedSchedule:
    """A live active schedule without a next fire time."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    schedule_type: str
    config_json: str
    timezone: str
    created_at: datetime
    metadata_json: str
    last_run_at: datetime | None
    run_count: int


@dataclass(slots=True)
class FirePlan:
    """The outcome for one due schedule."""

    schedule: DueSchedule
    fire_times: list[datetime] = field(default_factory=list)
    missed: int = 0
    skipped: int = 0
    reason: SkipReason | None = None
    next_run_at: datetime | None = None
    deactivate: bool = False
    error: str | None = None

    def _skip(self, count: int, reason: SkipReason) -> None:
        if count:
            self.skipped += count
            self.reason = reason


# Identical definitions share one parsed value (a storm of copies parses once). Bounded
# in bytes, by the JSON text each entry is keyed on, not only in entries: a row's JSON is
# at most 64 KiB (app.core.json_values), so no tenant can make these caches grow unbounded.
CACHE_BYTES = 16 * 1024 * 1024
_ENTRY_OVERHEAD = 1024  # what a parsed trigger or run options object costs, roughly
_triggers: LRUCache[tuple[object, ...], tuple[ScheduleTrigger, int]] = LRUCache(
    maxsize=CACHE_BYTES, getsizeof=lambda entry: entry[1]
)
_options: LRUCache[str, tuple[RunOptions, int]] = LRUCache(
    maxsize=CACHE_BYTES // 4, getsizeof=lambda entry: entry[1]
)


def cached_trigger(
    schedule_type: str, config_json: str, timezone: str, anchor: datetime | None
) -> ScheduleTrigger:
    """The schedule's trigger, parsed once per distinct definition."""
    key = (schedule_type, config_json, timezone, anchor)
    entry = _triggers.get(key)
    if entry is None:
        trigger = build_trigger(schedule_type, json.loads(config_json), timezone, anchor)
        entry = (trigger, len(config_json) + len(timezone) + _ENTRY_OVERHEAD)
        _triggers[key] = entry
    return entry[0]


def cached_options(metadata_json: str) -> RunOptions:
    """Parsed metadata (engine options), shared by schedules with the same metadata."""
    entry = _options.get(metadata_json)
    if entry is None:
        entry = (parse_run_options(json.loads(metadata_json)), len(metadata_json) + _ENTRY_OVERHEAD)
        _options[metadata_json] = entry
    return entry[0]


def cache_sizes() -> tuple[int, int]:
    """Bytes held by the trigger and run-option caches (for tests and /health)."""
    return int(_triggers.currsize), int(_options.currsize)


def row_trigger(row: DueSchedule | UnplannedSchedule) -> ScheduleTrigger:
    """The trigger of a schedule row (the interval anchor matters only for intervals)."""
    anchor = row.created_at if row.schedule_type == "interval" else None
    return cached_trigger(row.schedule_type, row.config_json, row.timezone, anchor)


def _due_fire_times(
    trigger: ScheduleTrigger, first: datetime, now: datetime, horizon: datetime
) -> tuple[list[datetime], int, datetime | None]:
    """The fire times from `first` (the planned `next_run_at`) up to `now`.

    Returns those at or after `horizon` (still runnable), the number before it (missed,
    counted by `ScheduleTrigger.count_between`, so a long outage costs no more than a
    short one), and the first fire time after `now`.
    """
    missed = 0
    moment: datetime | None = first
    if not trigger.in_window(first):
        # A stored time the definition does not give (written by raw SQL, or the window
        # moved): never fired; planning goes on from the definition's own next time.
        moment = trigger.next_after(first)
        if moment is None or moment > now:
            return [], 0, moment
        first = moment
    if first < horizon:
        # `first` was planned, so it counts even if the definition changed under it.
        later, _exact = trigger.count_between(first + TICK, horizon, MISSED_COUNT_LIMIT)
        missed = 1 + later
        moment = trigger.next_after(horizon - TICK)
    runnable: list[datetime] = []
    while moment is not None and moment <= now:
        runnable.append(moment)
        moment = trigger.next_after(moment)
    return runnable, missed, moment


def plan_fires(due: DueSchedule, now: datetime) -> FirePlan:
    """Decide what happens to `due` at `now` (see the module docstring); never raises."""
    try:
        return _plan(due, now)
    except Exception as exc:  # one schedule's failure must not stop the batch
        plan = FirePlan(due)
        reason = (
            str(exc) if isinstance(exc, FieldValidationError) else f"{type(exc).__name__}: {exc}"
        )
        plan.error = reason[:500]
        plan._skip(1, SkipReason.INVALID_CONFIG)
        plan.deactivate = True
        return plan


def _plan(due: DueSchedule, now: datetime) -> FirePlan:
    plan = FirePlan(due)
    trigger = row_trigger(due)
    options = cached_options(due.metadata_json)
    runnable, missed, plan.next_run_at = _due_fire_times(
        trigger, due.next_run_at, now, horizon=now - options.misfire_grace
    )
    if missed:
        plan.missed = missed
        plan.reason = SkipReason.MISFIRE
    if options.effective_coalesce and len(runnable) > 1:
        plan._skip(len(runnable) - 1, SkipReason.COALESCED)
        runnable = runnable[-1:]
    if runnable and not due.owner_active:
        plan._skip(len(runnable), SkipReason.OWNER_INACTIVE)
        runnable = []
    if runnable and not due.workflow_runnable:
        plan._skip(len(runnable), SkipReason.WORKFLOW_INACTIVE)
        runnable = []
    if runnable and due.running >= options.effective_max_instances:
        plan._skip(len(runnable), SkipReason.MAX_INSTANCES)
        runnable = []
    plan.fire_times = runnable
    plan.deactivate = plan.next_run_at is None
    return plan


def replan(
    row: UnplannedSchedule, now: datetime
) -> tuple[uuid.UUID, datetime | None, SkipReason | None]:
    """Next fire time for a schedule that lost it: (id, time or None when done, reason)."""
    try:
        trigger = row_trigger(row)
        options = cached_options(row.metadata_json)
        ran = has_run(row.last_run_at, row.run_count)
        return row.id, upcoming_fire(trigger, now, ran=ran, grace=options.misfire_grace), None
    except Exception:  # quarantined like a due row that cannot be planned
        return row.id, None, SkipReason.INVALID_CONFIG
