"""The firing plan without a database: `plan_fires` and `replan` over rows built by hand.

The rules are docs/schedules.md, "Firing": fire times beyond the misfire grace are missed,
coalesce folds the runnable ones into one run, max_instances and an inactive workflow skip
them, a definition that no longer validates deactivates the schedule, and a schedule with
no fire time left is deactivated.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.scheduler.planning import DueSchedule, UnplannedSchedule, plan_fires, replan
from app.timing.lifecycle import SkipReason

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # a Monday
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
EVERY_MINUTE = {"cron_expression": "* * * * *"}


def due(
    config: dict[str, Any] | None = None,
    *,
    kind: str = "cron",
    next_run_at: datetime = T0,
    metadata: dict[str, Any] | None = None,
    runnable: bool = True,
    owner_active: bool = True,
    running: int = 0,
    timezone: str = "UTC",
    config_json: str | None = None,
) -> DueSchedule:
    """A claimed row as the engine reads it (config and metadata as JSON text)."""
    return DueSchedule(
        id=uuid.uuid4(),
        workflow_id=uuid.uuid4(),
        schedule_type=kind,
        config_json=config_json or json.dumps(config or EVERY_MINUTE),
        timezone=timezone,
        created_at=T0 - timedelta(days=1),
        next_run_at=next_run_at,
        metadata_json=json.dumps(metadata or {}),
        workflow_runnable=runnable,
        owner_active=owner_active,
        running=running,
    )


def outcome(plan: Any) -> tuple[Any, ...]:
    """(fire times, missed, skipped, reason, next_run_at, deactivate) of a plan."""
    return (
        plan.fire_times,
        plan.missed,
        plan.skipped,
        plan.reason,
        plan.next_run_at,
        plan.deactivate,
    )


def test_on_time_fire() -> None:
    plan = plan_fires(due(), T0 + SECOND)
    assert outcome(plan) == ([T0], 0, 0, None, T0 + MINUTE, False)
    assert plan.error is None


def test_an_inactive_or_deleted_owner_skips_the_fire_and_keeps_the_schedule() -> None:
    plan = plan_fires(due(owner_active=False), T0 + SECOND)
    assert outcome(plan) == ([], 0, 1, SkipReason.OWNER_INACTIVE, T0 + MINUTE, False)


def test_not_yet_due_fires_nothing_and_keeps_the_time() -> None:
    plan = plan_fires(due(), T0 - SECOND)
    assert outcome(plan) == ([], 0, 0, None, T0, False)


def test_fire_times_beyond_the_grace_are_missed() -> None:
    # Down ten minutes: 09:00..09:09 are more than 60 s (the default grace) late.
    now = T0 + 10 * MINUTE + 5 * SECOND
    plan = plan_fires(due(), now)
    assert outcome(plan) == ([T0 + 10 * MINUTE], 10, 0, SkipReason.MISFIRE, T0 + 11 * MINUTE, False)


def test_a_fire_exactly_at_the_grace_still_runs() -> None:
    plan = plan_fires(due(metadata={"misfire_grace_time": 30}), T0 + 30 * SECOND)
    assert outcome(plan) == ([T0], 0, 0, None, T0 + MINUTE, False)
    late = plan_fires(due(metadata={"misfire_grace_time": 30}), T0 + 31 * SECOND)
    assert outcome(late) == ([], 1, 0, SkipReason.MISFIRE, T0 + MINUTE, False)


def test_every_fire_missed() -> None:
    plan = plan_fires(due({"cron_expression": "0 9 * * *"}), T0 + timedelta(hours=2))
    assert outcome(plan) == ([], 1, 0, SkipReason.MISFIRE, T0 + timedelta(days=1), False)


def test_several_due_within_the_grace_coalesce_into_one_run() -> None:
    plan = plan_fires(due(metadata={"misfire_grace_time": 3600}), T0 + 4 * MINUTE + SECOND)
    assert outcome(plan) == (
        [T0 + 4 * MINUTE], 0, 4, SkipReason.COALESCED, T0 + 5 * MINUTE, False,
    )  # fmt: skip


def test_without_coalesce_every_fire_within_the_grace_runs() -> None:
    metadata = {"misfire_grace_time": 3600, "coalesce": False}
    plan = plan_fires(due(metadata=metadata), T0 + 4 * MINUTE + SECOND)
    assert outcome(plan) == (
        [T0 + k * MINUTE for k in range(5)], 0, 0, None, T0 + 5 * MINUTE, False,
    )  # fmt: skip


def test_missed_and_coalesced_together() -> None:
    # Grace 150 s at 09:04:01: 09:00 and 09:01 are missed, 09:02..09:04 fold into one run.
    plan = plan_fires(due(metadata={"misfire_grace_time": 150}), T0 + 4 * MINUTE + SECOND)
    assert (plan.fire_times, plan.missed, plan.skipped) == ([T0 + 4 * MINUTE], 2, 2)
    assert plan.next_run_at == T0 + 5 * MINUTE
    assert plan.reason is SkipReason.COALESCED  # one reason is kept: the last rule applied


@pytest.mark.parametrize(("max_instances", "running"), [(None, 1), (1, 3), (2, 2)])
def test_max_instances_reached_skips(max_instances: int | None, running: int) -> None:
    metadata = {} if max_instances is None else {"max_instances": max_instances}
    plan = plan_fires(due(metadata=metadata, running=running), T0 + SECOND)
    assert outcome(plan) == ([], 0, 1, SkipReason.MAX_INSTANCES, T0 + MINUTE, False)


def test_below_max_instances_fires() -> None:
    plan = plan_fires(due(metadata={"max_instances": 2}, running=1), T0 + SECOND)
    assert outcome(plan) == ([T0], 0, 0, None, T0 + MINUTE, False)


def test_inactive_workflow_skips() -> None:
    plan = plan_fires(due(runnable=False), T0 + SECOND)
    assert outcome(plan) == ([], 0, 1, SkipReason.WORKFLOW_INACTIVE, T0 + MINUTE, False)


def test_inactive_workflow_skips_every_fire_coalesce_left() -> None:
    metadata = {"misfire_grace_time": 3600, "coalesce": False}
    plan = plan_fires(due(metadata=metadata, runnable=False), T0 + 2 * MINUTE + SECOND)
    assert outcome(plan) == ([], 0, 3, SkipReason.WORKFLOW_INACTIVE, T0 + 3 * MINUTE, False)


@pytest.mark.parametrize(
    ("row", "named"),
    [
        (due(config_json='{"cron_expression": "x"}'), "schedule_config.cron_expression"),
        (due(config_json='{"hours": 1}'), "schedule_config.hours"),
        (due(config_json="[1]"), "schedule_config"),
        (due(timezone="Mars/Olympus"), "timezone"),
        (due(metadata={"max_instances": 0}), "metadata.max_instances"),
        (due(metadata={"api_key": "x"}), "metadata.api_key"),
        (due(kind="weekly"), "schedule_type"),
    ],
    ids=["cron syntax", "unknown key", "not an object", "timezone", "metadata", "secret", "type"],
)
def test_an_invalid_definition_deactivates(row: DueSchedule, named: str) -> None:
    plan = plan_fires(row, T0 + SECOND)
    assert outcome(plan) == ([], 0, 1, SkipReason.INVALID_CONFIG, None, True)
    assert plan.error is not None
    assert plan.error.startswith(f"{named}: ")


def test_a_date_schedule_that_fired_has_no_fire_left() -> None:
    row = due({"run_date": T0.isoformat()}, kind="date")
    plan = plan_fires(row, T0 + SECOND)
    assert outcome(plan) == ([T0], 0, 0, None, None, True)


def test_a_missed_date_schedule_is_done_too() -> None:
    row = due({"run_date": T0.isoformat()}, kind="date")
    plan = plan_fires(row, T0 + 2 * MINUTE)
    assert outcome(plan) == ([], 1, 0, SkipReason.MISFIRE, None, True)


def test_the_last_fire_of_a_window_deactivates() -> None:
    end = T0 + 2 * MINUTE
    row = due({**EVERY_MINUTE, "end_date": end.isoformat()}, next_run_at=end)
    plan = plan_fires(row, end + SECOND)
    assert outcome(plan) == ([end], 0, 0, None, None, True)


def test_interval_schedules_step_in_elapsed_time() -> None:
    row = due({"minutes": 5, "start_date": T0.isoformat()}, kind="interval")
    plan = plan_fires(row, T0 + SECOND)
    assert outcome(plan) == ([T0], 0, 0, None, T0 + 5 * MINUTE, False)


# -- replan: a live active schedule that lost its next fire time ---------------------------


def unplanned(
    config: dict[str, Any],
    *,
    kind: str = "interval",
    timezone: str = "UTC",
    metadata: dict[str, Any] | None = None,
    last_run_at: datetime | None = None,
    run_count: int = 0,
    config_json: str | None = None,
) -> UnplannedSchedule:
    return UnplannedSchedule(
        id=uuid.uuid4(),
        workflow_id=uuid.uuid4(),
        schedule_type=kind,
        config_json=config_json or json.dumps(config),
        timezone=timezone,
        created_at=T0 + timedelta(seconds=30, microseconds=500),
        metadata_json=json.dumps(metadata or {}),
        last_run_at=last_run_at,
        run_count=run_count,
    )


def test_replan_gives_the_next_fire_time() -> None:
    # Anchored on created_at to the second (09:00:30): 09:00:30, 09:05:30, 09:10:30, ...
    row = unplanned({"minutes": 5})
    assert replan(row, T0 + 7 * MINUTE) == (row.id, T0 + 10 * MINUTE + 30 * SECOND, None)


def test_replan_of_a_cron_schedule() -> None:
    row = unplanned({"cron_expression": "0 9 * * 1-5"}, kind="cron", timezone="Asia/Seoul")
    # Monday 09:00 UTC is 18:00 in Seoul; the next 09:00 KST is Tuesday 00:00 UTC.
    assert replan(row, T0) == (row.id, T0 + timedelta(hours=15), None)


def test_replan_keeps_a_due_one_time_schedule_until_its_grace_has_passed() -> None:
    row = unplanned({"run_date": T0.isoformat()}, kind="date")
    assert replan(row, T0 + 30 * SECOND) == (row.id, T0, None)
    assert replan(row, T0 + 61 * SECOND) == (row.id, None, None)


def test_replan_of_a_one_time_schedule_that_ran_is_done() -> None:
    row = unplanned({"run_date": (T0 + MINUTE).isoformat()}, kind="date", run_count=1)
    assert replan(row, T0) == (row.id, None, None)


def test_replan_of_an_ended_window_is_done() -> None:
    row = unplanned({"minutes": 5, "end_date": T0.isoformat()})
    assert replan(row, T0 + MINUTE) == (row.id, None, None)


@pytest.mark.parametrize(
    "row",
    [
        unplanned({}, config_json='{"minutes": -5}'),
        unplanned({"minutes": 5}, timezone="Nowhere"),
        unplanned({"minutes": 5}, metadata={"coalesce": "yes"}),
    ],
    ids=["config", "timezone", "metadata"],
)
def test_replan_of_an_invalid_row_is_invalid_config(row: UnplannedSchedule) -> None:
    assert replan(row, T0) == (row.id, None, SkipReason.INVALID_CONFIG)


def test_a_stored_time_after_the_window_is_never_fired() -> None:
    window_end = T0 - timedelta(hours=1)
    config = {**EVERY_MINUTE, "end_date": window_end.isoformat()}
    plan = plan_fires(due(config, next_run_at=T0), T0 + SECOND)
    assert plan.fire_times == []
    assert plan.next_run_at is None
    assert plan.deactivate is True
    assert plan.missed == 0


def test_a_stored_time_before_the_window_waits_for_its_start() -> None:
    start = T0 + timedelta(hours=1)
    config = {**EVERY_MINUTE, "start_date": start.isoformat()}
    plan = plan_fires(due(config, next_run_at=T0), T0 + SECOND)
    assert outcome(plan) == ([], 0, 0, None, start, False)
