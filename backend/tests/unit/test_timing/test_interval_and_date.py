"""Interval and date schedules, and the start/end window.

The rules are those of docs/schedules.md ("interval", "date",
"window" and the reading of dates); expected fire times are worked out by hand.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.timing.errors import ScheduleValidationError
from app.timing.triggers import ScheduleTrigger, build_trigger
from tests.unit.test_timing.timeline import NEW_YORK, NY, fire_times, utc, walls

TICK = timedelta(microseconds=1)


def interval(
    config: dict[str, Any], timezone: str = "UTC", created_at: datetime | None = None
) -> ScheduleTrigger:
    return build_trigger("interval", config, timezone, created_at)


def date_schedule(config: dict[str, Any], timezone: str = "UTC") -> ScheduleTrigger:
    return build_trigger("date", config, timezone)


# -- interval: anchoring -----------------------------------------------------------------


def test_interval_is_anchored_on_start_date_not_created_at() -> None:
    # 09:07 New York (EST) is 14:07 UTC; created_at must play no part.
    trigger = interval(
        {"minutes": 15, "start_date": "2026-01-01T09:07:00"},
        NEW_YORK,
        created_at=utc(2026, 1, 1, 10, 0, 0, 750000),
    )

    assert fire_times(trigger, utc(2026, 1, 1), 3) == [
        utc(2026, 1, 1, 14, 7),
        utc(2026, 1, 1, 14, 22),
        utc(2026, 1, 1, 14, 37),
    ]
    # From a moment between fires, the grid stays on anchor + k * 15 min.
    assert trigger.next_after(utc(2026, 1, 2, 0, 0)) == utc(2026, 1, 2, 0, 7)
    assert trigger.next_after(utc(2026, 1, 2, 0, 7)) == utc(2026, 1, 2, 0, 22)


def test_interval_start_date_with_offset_is_exact() -> None:
    trigger = interval({"hours": 2, "start_date": "2026-01-01T09:30:00+09:00"}, NEW_YORK)

    assert fire_times(trigger, utc(2025, 12, 31), 2) == [
        utc(2026, 1, 1, 0, 30),
        utc(2026, 1, 1, 2, 30),
    ]


def test_interval_without_start_date_is_anchored_on_created_at_truncated_to_the_second() -> None:
    trigger = interval({"minutes": 15}, created_at=utc(2026, 1, 1, 10, 0, 0, 750000))

    assert trigger.next_after(utc(2026, 1, 1)) == utc(2026, 1, 1, 10)
    # Not 10:00:00.75: the anchor is 10:00:00 exactly.
    assert trigger.next_after(utc(2026, 1, 1, 10, 0, 0, 500000)) == utc(2026, 1, 1, 10, 15)
    assert fire_times(trigger, utc(2026, 1, 1, 10), 3) == [
        utc(2026, 1, 1, 10, 15),
        utc(2026, 1, 1, 10, 30),
        utc(2026, 1, 1, 10, 45),
    ]


def test_interval_created_at_in_another_zone_is_the_same_instant() -> None:
    created_at = datetime(2026, 1, 1, 5, 0, 0, 999999, tzinfo=NY)  # 10:00:00.999999 UTC

    trigger = interval({"seconds": 90}, "Asia/Seoul", created_at=created_at)

    assert fire_times(trigger, utc(2026, 1, 1), 3) == [
        utc(2026, 1, 1, 10, 0, 0),
        utc(2026, 1, 1, 10, 1, 30),
        utc(2026, 1, 1, 10, 3, 0),
    ]


@pytest.mark.parametrize(
    ("config", "period"),
    [
        ({"weeks": 1}, timedelta(weeks=1)),
        ({"days": 2}, timedelta(days=2)),
        ({"hours": 3}, timedelta(hours=3)),
        ({"minutes": 45}, timedelta(minutes=45)),
        ({"seconds": 10}, timedelta(seconds=10)),
        (
            {"weeks": 1, "days": 1, "hours": 1, "minutes": 1, "seconds": 1},
            timedelta(weeks=1, days=1, hours=1, minutes=1, seconds=1),
        ),
        ({"hours": 0, "minutes": 30}, timedelta(minutes=30)),
    ],
)
def test_interval_units_add_up(config: dict[str, Any], period: timedelta) -> None:
    anchor = utc(2026, 1, 1, 12)
    trigger = interval(config, created_at=anchor)

    assert fire_times(trigger, anchor - TICK, 4) == [anchor + k * period for k in range(4)]


# -- interval: elapsed time across DST ---------------------------------------------------


def test_hourly_interval_stays_an_hour_apart_across_spring_forward() -> None:
    trigger = interval({"hours": 1, "start_date": "2026-03-08T00:00:00"}, NEW_YORK)

    times = fire_times(trigger, utc(2026, 3, 7), 5)

    assert [later - earlier for earlier, later in itertools.pairwise(times)] == [
        timedelta(hours=1)
    ] * 4
    assert walls(times) == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T04:00:00-04:00",
        "2026-03-08T05:00:00-04:00",
    ]


def test_hourly_interval_stays_an_hour_apart_across_fall_back() -> None:
    trigger = interval({"hours": 1, "start_date": "2026-11-01T00:00:00"}, NEW_YORK)

    times = fire_times(trigger, utc(2026, 10, 31), 5)

    assert [later - earlier for earlier, later in itertools.pairwise(times)] == [
        timedelta(hours=1)
    ] * 4
    assert walls(times) == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
        "2026-11-01T03:00:00-05:00",
    ]


@pytest.mark.parametrize(
    ("start_date", "after"),
    [("2026-03-01T12:00:00", utc(2026, 3, 1)), ("2026-10-25T12:00:00", utc(2026, 10, 25))],
    ids=["spring-forward", "fall-back"],
)
def test_hourly_interval_is_3600_seconds_apart_for_days_across_dst(
    start_date: str, after: datetime
) -> None:
    trigger = interval({"hours": 1, "start_date": start_date}, NEW_YORK)

    times = fire_times(trigger, after, 24 * 14)

    assert {(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)} == {
        3600.0
    }


def test_daily_interval_is_24_hours_of_elapsed_time_so_its_wall_time_shifts() -> None:
    trigger = interval({"days": 1, "start_date": "2026-03-07T09:00:00"}, NEW_YORK)

    assert walls(fire_times(trigger, utc(2026, 3, 7), 3)) == [
        "2026-03-07T09:00:00-05:00",
        "2026-03-08T10:00:00-04:00",
        "2026-03-09T10:00:00-04:00",
    ]


def test_interval_start_date_inside_a_dst_gap_is_the_first_instant_after_it() -> None:
    trigger = interval({"hours": 1, "start_date": "2026-03-08T02:30:00"}, NEW_YORK)

    assert fire_times(trigger, utc(2026, 3, 8), 2) == [utc(2026, 3, 8, 7), utc(2026, 3, 8, 8)]


def test_interval_start_date_on_a_repeated_wall_time_is_its_first_occurrence() -> None:
    trigger = interval({"minutes": 30, "start_date": "2026-11-01T01:30:00"}, NEW_YORK)

    assert walls(fire_times(trigger, utc(2026, 11, 1), 3)) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
    ]


# -- interval: window --------------------------------------------------------------------


def test_interval_start_date_is_inclusive() -> None:
    trigger = interval({"minutes": 10, "start_date": "2026-01-01T09:00:00Z"})
    start = utc(2026, 1, 1, 9)

    assert trigger.next_after(start - TICK) == start
    assert trigger.next_after(utc(2025, 6, 1)) == start
    assert trigger.get_next_fire_time(None, start) == start
    assert trigger.next_after(start) == utc(2026, 1, 1, 9, 10)


def test_interval_no_fire_time_after_end_date() -> None:
    trigger = interval(
        {
            "hours": 1,
            "start_date": "2026-01-01T00:00:00Z",
            "end_date": "2026-01-01T03:30:00Z",
        }
    )

    assert fire_times(trigger, utc(2025, 12, 31), 4) == [
        utc(2026, 1, 1, 0),
        utc(2026, 1, 1, 1),
        utc(2026, 1, 1, 2),
        utc(2026, 1, 1, 3),
    ]
    assert trigger.next_after(utc(2026, 1, 1, 3)) is None
    assert trigger.next_after(utc(2026, 2, 1)) is None
    assert trigger.get_next_fire_time(utc(2026, 1, 1, 3), utc(2026, 1, 1, 3)) is None


def test_interval_fire_time_exactly_at_end_date_counts() -> None:
    trigger = interval(
        {"hours": 1, "start_date": "2026-01-01T00:00:00Z", "end_date": "2026-01-01T02:00:00Z"}
    )

    assert trigger.next_after(utc(2026, 1, 1, 1)) == utc(2026, 1, 1, 2)
    assert trigger.next_after(utc(2026, 1, 1, 2)) is None


def test_interval_end_date_without_start_date_bounds_created_at_grid() -> None:
    trigger = interval(
        {"minutes": 30, "end_date": "2026-01-01T11:00:00Z"}, created_at=utc(2026, 1, 1, 10)
    )

    assert fire_times(trigger, utc(2026, 1, 1), 3) == [
        utc(2026, 1, 1, 10),
        utc(2026, 1, 1, 10, 30),
        utc(2026, 1, 1, 11),
    ]
    assert trigger.next_after(utc(2026, 1, 1, 11)) is None


def test_naive_end_date_is_read_in_the_schedule_timezone() -> None:
    # 2026-01-01 10:00 in New York is 15:00 UTC.
    trigger = interval(
        {"hours": 1, "start_date": "2026-01-01T12:00:00Z", "end_date": "2026-01-01T10:00:00"},
        NEW_YORK,
    )

    assert trigger.next_after(utc(2026, 1, 1, 14)) == utc(2026, 1, 1, 15)
    assert trigger.next_after(utc(2026, 1, 1, 15)) is None


# -- interval: validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"hours": 0},
        {"weeks": 0, "days": 0, "hours": 0, "minutes": 0, "seconds": 0},
        {"hours": None},
        {"start_date": "2026-01-01T00:00:00Z"},
    ],
)
def test_interval_with_zero_total_is_rejected(config: dict[str, Any]) -> None:
    with pytest.raises(ScheduleValidationError) as info:
        interval(config)

    assert info.value.field == "schedule_config"
    assert str(info.value).startswith("schedule_config: ")


@pytest.mark.parametrize("unit", ["weeks", "days", "hours", "minutes", "seconds"])
@pytest.mark.parametrize("value", ["5", "-1", 1.5, True, False, -1, [1]], ids=repr)
def test_interval_units_are_strict_non_negative_integers(unit: str, value: object) -> None:
    with pytest.raises(ScheduleValidationError) as info:
        interval({unit: value, "minutes" if unit != "minutes" else "hours": 1})

    assert info.value.field == f"schedule_config.{unit}"
    assert f"schedule_config.{unit}" in str(info.value)


# -- date --------------------------------------------------------------------------------


def test_date_schedule_fires_once() -> None:
    trigger = date_schedule({"run_date": "2026-06-01T12:00:00Z"})
    run_date = utc(2026, 6, 1, 12)

    assert trigger.next_after(utc(2026, 1, 1)) == run_date
    assert trigger.next_after(run_date - TICK) == run_date
    assert trigger.next_after(run_date) is None
    assert trigger.next_after(utc(2027, 1, 1)) is None
    assert trigger.get_next_fire_time(None, run_date) == run_date
    assert trigger.get_next_fire_time(run_date, run_date) is None


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        ("UTC", utc(2026, 6, 1, 9, 30)),
        (NEW_YORK, utc(2026, 6, 1, 13, 30)),  # EDT, UTC-4
        ("Asia/Seoul", utc(2026, 6, 1, 0, 30)),  # UTC+9
        ("Europe/London", utc(2026, 6, 1, 8, 30)),  # BST, UTC+1
    ],
)
def test_naive_run_date_is_wall_time_in_the_schedule_timezone(
    timezone: str, expected: datetime
) -> None:
    trigger = date_schedule({"run_date": "2026-06-01T09:30:00"}, timezone)

    assert trigger.next_after(utc(2026, 1, 1)) == expected


@pytest.mark.parametrize(
    "run_date", ["2026-03-08T02:00:00", "2026-03-08T02:30:00", "2026-03-08T02:59:59"]
)
def test_run_date_inside_a_dst_gap_is_the_first_instant_after_the_gap(run_date: str) -> None:
    trigger = date_schedule({"run_date": run_date}, NEW_YORK)

    # The gap ends at 03:00 EDT, 07:00 UTC.
    assert trigger.next_after(utc(2026, 1, 1)) == utc(2026, 3, 8, 7)


@pytest.mark.parametrize(
    ("run_date", "expected"),
    [
        ("2026-11-01T01:00:00", utc(2026, 11, 1, 5)),
        ("2026-11-01T01:30:00", utc(2026, 11, 1, 5, 30)),
        ("2026-11-01T01:59:59", utc(2026, 11, 1, 5, 59, 59)),
    ],
)
def test_repeated_run_date_is_its_first_occurrence(run_date: str, expected: datetime) -> None:
    trigger = date_schedule({"run_date": run_date}, NEW_YORK)

    assert trigger.next_after(utc(2026, 1, 1)) == expected


@pytest.mark.parametrize(
    ("run_date", "expected"),
    [
        ("2026-11-01T01:30:00-05:00", utc(2026, 11, 1, 6, 30)),  # the second 01:30
        ("2026-11-01T01:30:00-04:00", utc(2026, 11, 1, 5, 30)),
        ("2026-06-01T12:00:00Z", utc(2026, 6, 1, 12)),
        ("2026-06-01T12:00:00+00:00", utc(2026, 6, 1, 12)),
        ("2026-06-01T21:00:00+09:00", utc(2026, 6, 1, 12)),
        ("2026-03-08T02:30:00+00:00", utc(2026, 3, 8, 2, 30)),
    ],
)
def test_run_date_with_offset_or_z_is_exact(run_date: str, expected: datetime) -> None:
    # The schedule's time zone does not change an instant that names its offset.
    for timezone in (NEW_YORK, "Asia/Seoul", "UTC"):
        trigger = date_schedule({"run_date": run_date}, timezone)

        assert trigger.next_after(utc(2026, 1, 1)) == expected, timezone


# -- window: end_date after start_date ---------------------------------------------------


@pytest.mark.parametrize("schedule_type", ["cron", "interval"])
@pytest.mark.parametrize(
    ("start_date", "end_date"),
    [
        ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("2026-02-01T00:00:00Z", "2026-02-01T00:00:00Z"),
        ("2026-02-01T09:00:00", "2026-02-01T09:00:00"),
        # 10:00 New York is 15:00 UTC: the end instant comes first.
        ("2026-01-01T10:00:00", "2026-01-01T12:00:00Z"),
    ],
)
def test_end_date_not_after_start_date_is_rejected(
    schedule_type: str, start_date: str, end_date: str
) -> None:
    timing = {"cron": {"cron_expression": "0 9 * * *"}, "interval": {"hours": 1}}[schedule_type]

    with pytest.raises(ScheduleValidationError) as info:
        build_trigger(
            schedule_type,
            {**timing, "start_date": start_date, "end_date": end_date},
            NEW_YORK,
        )

    assert info.value.field == "schedule_config.end_date"
    assert str(info.value).startswith("schedule_config.end_date: ")


@pytest.mark.parametrize("schedule_type", ["cron", "interval"])
def test_end_date_after_start_date_is_accepted(schedule_type: str) -> None:
    timing = {"cron": {"cron_expression": "0 9 * * *"}, "interval": {"hours": 1}}[schedule_type]

    trigger = build_trigger(
        schedule_type,
        {**timing, "start_date": "2026-01-01T09:00:00", "end_date": "2026-01-01T09:00:01"},
        NEW_YORK,
    )

    assert trigger.next_after(utc(2026, 1, 1)) == utc(2026, 1, 1, 14)
    assert trigger.next_after(utc(2026, 1, 1, 14)) is None
