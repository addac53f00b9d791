"""Cron schedules: both forms, their day rules and daylight saving time.

The rules are those of docs/schedules.md ("cron" and
"Daylight saving time"); every expected fire time below is worked out by hand from them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.timing.errors import ScheduleValidationError
from app.timing.triggers import ScheduleTrigger, build_trigger
from tests.unit.test_timing.timeline import NEW_YORK, NY, fire_times, utc, walls

# 2026-01-01 is a Thursday.
NEW_YEAR = datetime(2026, 1, 1, tzinfo=UTC)
# New York springs forward at 2026-03-08 02:00 EST (07:00 UTC) and falls back at
# 2026-11-01 02:00 EDT (06:00 UTC), so 01:00-01:59 happens twice that day.
SPRING_FORWARD_UTC = datetime(2026, 3, 8, 7, tzinfo=UTC)
FALL_BACK_UTC = datetime(2026, 11, 1, 6, tzinfo=UTC)


def cron(config: dict[str, Any], timezone: str = "UTC") -> ScheduleTrigger:
    return build_trigger("cron", config, timezone)


# -- day-of-week numbering ---------------------------------------------------------------


@pytest.mark.parametrize("sunday", ["0", "7", "sun", "SUN", "Sun"])
def test_cron_expression_day_of_week_0_7_and_sun_mean_sunday(sunday: str) -> None:
    trigger = cron({"cron_expression": f"0 9 * * {sunday}"})

    assert fire_times(trigger, NEW_YEAR, 3) == [
        utc(2026, 1, 4, 9),
        utc(2026, 1, 11, 9),
        utc(2026, 1, 18, 9),
    ]


@pytest.mark.parametrize(
    ("name", "number", "python_weekday"),
    [
        ("mon", 1, 0),
        ("tue", 2, 1),
        ("wed", 3, 2),
        ("thu", 4, 3),
        ("fri", 5, 4),
        ("sat", 6, 5),
        ("sun", 0, 6),
    ],
)
def test_cron_expression_weekday_names_match_their_numbers(
    name: str, number: int, python_weekday: int
) -> None:
    by_name = fire_times(cron({"cron_expression": f"0 9 * * {name}"}), NEW_YEAR, 4)
    by_number = fire_times(cron({"cron_expression": f"0 9 * * {number}"}), NEW_YEAR, 4)

    assert by_name == by_number
    assert [time.weekday() for time in by_name] == [python_weekday] * 4
    assert [time - by_name[0] for time in by_name] == [timedelta(weeks=k) for k in range(4)]


@pytest.mark.parametrize("weekdays", ["1-5", "mon-fri"])
def test_cron_expression_weekday_range_is_monday_to_friday(weekdays: str) -> None:
    trigger = cron({"cron_expression": f"0 9 * * {weekdays}"})

    assert fire_times(trigger, NEW_YEAR, 6) == [
        utc(2026, 1, 1, 9),  # Thu
        utc(2026, 1, 2, 9),  # Fri
        utc(2026, 1, 5, 9),  # Mon
        utc(2026, 1, 6, 9),
        utc(2026, 1, 7, 9),
        utc(2026, 1, 8, 9),
    ]


def test_cron_expression_weekday_range_may_end_at_7_for_sunday() -> None:
    trigger = cron({"cron_expression": "0 9 * * 5-7"})

    assert fire_times(trigger, NEW_YEAR, 4) == [
        utc(2026, 1, 2, 9),  # Fri
        utc(2026, 1, 3, 9),  # Sat
        utc(2026, 1, 4, 9),  # Sun
        utc(2026, 1, 9, 9),  # Fri
    ]


# -- day-of-month / day-of-week: OR when both restricted, AND otherwise ------------------


@pytest.mark.parametrize(
    ("expression", "expected_days"),
    [
        # The 13th OR any Friday.
        (
            "0 9 13 * 5",
            [(1, 2), (1, 9), (1, 13), (1, 16), (1, 23), (1, 30), (2, 6), (2, 13)],
        ),
        # The 1st or 15th OR any Monday.
        ("0 9 1,15 * mon", [(1, 1), (1, 5), (1, 12), (1, 15), (1, 19), (1, 26), (2, 1)]),
    ],
)
def test_both_day_fields_restricted_match_either(
    expression: str, expected_days: list[tuple[int, int]]
) -> None:
    trigger = cron({"cron_expression": expression})

    assert fire_times(trigger, NEW_YEAR, len(expected_days)) == [
        utc(2026, month, day, 9) for month, day in expected_days
    ]


@pytest.mark.parametrize(
    ("expression", "expected_days"),
    [
        # Odd days of the month AND Monday (a `*/2` day-of-month is "unrestricted").
        ("0 9 */2 * 1", [(1, 5), (1, 19), (2, 9), (2, 23), (3, 9)]),
        # The 1st AND Sun/Tue/Thu/Sat (a `*/2` day-of-week is "unrestricted").
        ("0 9 1 * */2", [(1, 1), (2, 1), (3, 1), (8, 1), (9, 1)]),
        # `*/1` is every weekday, so only the 13th remains (OR would be every day).
        ("0 9 13 * */1", [(1, 13), (2, 13), (3, 13), (4, 13)]),
        # A plain `*` leaves only the other field.
        ("0 9 13 * *", [(1, 13), (2, 13), (3, 13)]),
        ("0 9 * * 5", [(1, 2), (1, 9), (1, 16)]),
    ],
)
def test_day_field_starting_with_star_means_both_must_match(
    expression: str, expected_days: list[tuple[int, int]]
) -> None:
    trigger = cron({"cron_expression": expression})

    assert fire_times(trigger, NEW_YEAR, len(expected_days)) == [
        utc(2026, month, day, 9) for month, day in expected_days
    ]


# -- six fields: leading seconds ---------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("30 0 9 * * *", [utc(2026, 1, 1, 9, 0, 30), utc(2026, 1, 2, 9, 0, 30)]),
        (
            "*/15 * * * * *",
            [utc(2026, 1, 1, 0, 0, 15), utc(2026, 1, 1, 0, 0, 30), utc(2026, 1, 1, 0, 0, 45)],
        ),
        ("0 0 9 * * 1", [utc(2026, 1, 5, 9), utc(2026, 1, 12, 9)]),
        ("15 45 * * * *", [utc(2026, 1, 1, 0, 45, 15), utc(2026, 1, 1, 1, 45, 15)]),
    ],
)
def test_six_field_expression_has_a_leading_seconds_field(
    expression: str, expected: list[datetime]
) -> None:
    trigger = cron({"cron_expression": expression})

    assert fire_times(trigger, NEW_YEAR, len(expected)) == expected


def test_five_field_expression_fires_on_the_whole_minute() -> None:
    trigger = cron({"cron_expression": "*/15 * * * *"})

    assert fire_times(trigger, utc(2026, 1, 1, 0, 0, 1), 3) == [
        utc(2026, 1, 1, 0, 15),
        utc(2026, 1, 1, 0, 30),
        utc(2026, 1, 1, 0, 45),
    ]


# -- the APScheduler fields form ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # Less significant fields default to their minimum, more significant ones to `*`.
        ({"hour": 9}, [utc(2026, 1, 1, 9), utc(2026, 1, 2, 9), utc(2026, 1, 3, 9)]),
        ({"minute": 5}, [utc(2026, 1, 1, 0, 5), utc(2026, 1, 1, 1, 5), utc(2026, 1, 1, 2, 5)]),
        (
            {"second": 30},
            [utc(2026, 1, 1, 0, 0, 30), utc(2026, 1, 1, 0, 1, 30), utc(2026, 1, 1, 0, 2, 30)],
        ),
        ({"day": 1}, [utc(2026, 2, 1), utc(2026, 3, 1), utc(2026, 4, 1)]),
        ({"month": 6}, [utc(2026, 6, 1), utc(2027, 6, 1), utc(2028, 6, 1)]),
        # `day_of_week` leaves the day `*`: every Monday at midnight.
        ({"day_of_week": "mon"}, [utc(2026, 1, 5), utc(2026, 1, 12), utc(2026, 1, 19)]),
        (
            {"hour": "*/6", "minute": 30},
            [utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 6, 30), utc(2026, 1, 1, 12, 30)],
        ),
        (
            {"hour": 9, "minute": 15, "second": 10},
            [utc(2026, 1, 1, 9, 15, 10), utc(2026, 1, 2, 9, 15, 10)],
        ),
    ],
)
def test_fields_form_defaults_like_apscheduler(
    fields: dict[str, Any], expected: list[datetime]
) -> None:
    assert fire_times(cron(fields), NEW_YEAR, len(expected)) == expected


def test_fields_form_with_only_a_year_fires_once_at_its_start() -> None:
    trigger = cron({"year": 2027})

    assert trigger.next_after(NEW_YEAR) == utc(2027, 1, 1)
    assert trigger.next_after(utc(2027, 1, 1)) is None


@pytest.mark.parametrize(
    ("day_of_week", "python_weekday"),
    [(0, 0), (1, 1), (4, 4), (5, 5), (6, 6), ("0", 0), ("mon", 0), ("sun", 6)],
)
def test_fields_form_day_of_week_counts_from_monday_zero(
    day_of_week: int | str, python_weekday: int
) -> None:
    times = fire_times(cron({"day_of_week": day_of_week, "hour": 9}), NEW_YEAR, 3)

    assert [time.weekday() for time in times] == [python_weekday] * 3
    assert [(time.hour, time.minute, time.second) for time in times] == [(9, 0, 0)] * 3


def test_fields_form_weekday_range_0_to_4_is_monday_to_friday() -> None:
    trigger = cron({"day_of_week": "0-4", "hour": 9})

    assert fire_times(trigger, NEW_YEAR, 4) == [
        utc(2026, 1, 1, 9),  # Thu
        utc(2026, 1, 2, 9),  # Fri
        utc(2026, 1, 5, 9),  # Mon
        utc(2026, 1, 6, 9),
    ]


def test_fields_form_day_and_day_of_week_must_both_match() -> None:
    # APScheduler semantics: Friday the 13th only (not "the 13th or any Friday").
    trigger = cron({"day": 13, "day_of_week": "fri", "hour": 9})

    assert fire_times(trigger, NEW_YEAR, 3) == [
        utc(2026, 2, 13, 9),
        utc(2026, 3, 13, 9),
        utc(2026, 11, 13, 9),
    ]


# -- expression and fields together ------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "fields"),
    [
        ("0 9 * * 1-5", {"hour": 9, "minute": 0, "day_of_week": "mon-fri"}),
        ("0 9 * * 1-5", {"hour": 9, "minute": 0, "day_of_week": "0-4"}),
        ("0 9 * * *", {"hour": 9}),
        ("5 * * * *", {"minute": 5}),
        ("0 9 * * 0", {"hour": 9, "day_of_week": "sun"}),
        ("0 9 * * 7", {"hour": 9, "day_of_week": 6}),
        ("0 9 1 * *", {"day": 1, "hour": 9}),
        ("30 0 9 * * *", {"hour": 9, "minute": 0, "second": 30}),
        ("*/30 * * * *", {"minute": "*/30"}),
    ],
)
def test_equivalent_expression_and_fields_are_accepted(
    expression: str, fields: dict[str, Any]
) -> None:
    both = cron({"cron_expression": expression, **fields})
    alone = cron({"cron_expression": expression})

    assert fire_times(both, NEW_YEAR, 10) == fire_times(alone, NEW_YEAR, 10)


@pytest.mark.parametrize(
    ("expression", "fields"),
    [
        ("0 9 * * 1-5", {"hour": 10}),
        # In the fields form 1-5 is Tuesday to Saturday.
        ("0 9 * * 1-5", {"hour": 9, "minute": 0, "day_of_week": "1-5"}),
        ("0 9 * * *", {"hour": 9, "second": 30}),
        ("0 9 * * *", {"minute": 0}),
        ("5 * * * *", {"minute": 6}),
        # The expression ORs its day fields, the fields form ANDs them.
        ("0 9 13 * 5", {"day": 13, "day_of_week": "fri", "hour": 9, "minute": 0}),
        ("0 9 * * 0", {"hour": 9, "day_of_week": 0}),
    ],
)
def test_conflicting_expression_and_fields_are_rejected(
    expression: str, fields: dict[str, Any]
) -> None:
    with pytest.raises(ScheduleValidationError) as info:
        cron({"cron_expression": expression, **fields})

    assert info.value.field == "schedule_config"
    assert str(info.value).startswith("schedule_config: ")
    assert "cron_expression" in str(info.value)


# -- window ------------------------------------------------------------------------------


@pytest.mark.parametrize("timing", [{"cron_expression": "0 9 * * *"}, {"hour": 9}])
def test_cron_window_start_is_inclusive_and_end_is_a_bound(timing: dict[str, Any]) -> None:
    trigger = cron(
        {**timing, "start_date": "2026-01-05T09:00:00Z", "end_date": "2026-01-07T09:00:00Z"}
    )

    assert trigger.next_after(NEW_YEAR) == utc(2026, 1, 5, 9)
    assert fire_times(trigger, NEW_YEAR, 3) == [
        utc(2026, 1, 5, 9),
        utc(2026, 1, 6, 9),
        utc(2026, 1, 7, 9),
    ]
    assert trigger.next_after(utc(2026, 1, 7, 9)) is None


# -- APScheduler's trigger API -----------------------------------------------------------


@pytest.mark.parametrize("timing", [{"cron_expression": "0 9 * * *"}, {"hour": 9}])
def test_get_next_fire_time_follows_apscheduler(timing: dict[str, Any]) -> None:
    trigger = cron(timing)
    nine = utc(2026, 1, 1, 9)

    # Without a previous fire time, `now` itself counts when it is a fire time.
    assert trigger.get_next_fire_time(None, nine) == nine
    assert trigger.get_next_fire_time(None, nine + timedelta(seconds=1)) == utc(2026, 1, 2, 9)
    # With one, the next fire time strictly after it.
    assert trigger.get_next_fire_time(nine, nine) == utc(2026, 1, 2, 9)


# -- daylight saving time: fixed-time schedules ------------------------------------------


@pytest.mark.parametrize(
    "timing",
    [
        {"cron_expression": "30 2 * * *"},
        {"hour": 2, "minute": 30},
        # For the fields form the second does not matter: still fixed-time.
        {"hour": 2, "minute": 30, "second": 0},
    ],
    ids=["expression", "fields", "fields-with-second"],
)
def test_fixed_time_in_spring_forward_gap_fires_once_just_after_it(
    timing: dict[str, Any],
) -> None:
    trigger = cron(timing, NEW_YORK)

    times = fire_times(trigger, utc(2026, 3, 7, 12), 3)

    # 02:30 does not exist on 2026-03-08; it fires at 03:00 EDT, once.
    assert times == [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)]
    assert walls(times) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]


@pytest.mark.parametrize(
    "timing",
    [
        {"cron_expression": "30 1 * * *"},
        {"hour": 1, "minute": 30},
        {"hour": 1, "minute": 30, "second": 0},
    ],
    ids=["expression", "fields", "fields-with-second"],
)
def test_fixed_time_repeated_by_fall_back_fires_once_at_first_occurrence(
    timing: dict[str, Any],
) -> None:
    trigger = cron(timing, NEW_YORK)

    times = fire_times(trigger, utc(2026, 10, 31, 12), 3)

    assert times == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), utc(2026, 11, 3, 6, 30)]
    assert walls(times)[0] == "2026-11-01T01:30:00-04:00"


@pytest.mark.parametrize(
    "timing",
    [{"cron_expression": "30 1-2 * * *"}, {"hour": "1-2", "minute": 30}],
    ids=["expression", "fields"],
)
def test_fixed_time_with_an_hour_range_applies_the_rule_to_each_hour(
    timing: dict[str, Any],
) -> None:
    trigger = cron(timing, NEW_YORK)

    assert walls(fire_times(trigger, utc(2026, 3, 8, 5), 2)) == [
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
    ]
    assert walls(fire_times(trigger, utc(2026, 11, 1, 4), 3)) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T02:30:00-05:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_expression_with_seconds_is_never_fixed_time() -> None:
    # As in cronsim: a gap skips it, a repeated time fires twice.
    at_0230 = cron({"cron_expression": "0 30 2 * * *"}, NEW_YORK)
    at_0130 = cron({"cron_expression": "0 30 1 * * *"}, NEW_YORK)

    assert fire_times(at_0230, utc(2026, 3, 7, 12), 2) == [
        utc(2026, 3, 9, 6, 30),
        utc(2026, 3, 10, 6, 30),
    ]
    assert walls(fire_times(at_0130, utc(2026, 10, 31, 12), 3)) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-02T01:30:00-05:00",
    ]


# -- daylight saving time: schedules that are not fixed-time -----------------------------


@pytest.mark.parametrize(
    "timing", [{"cron_expression": "0 * * * *"}, {"minute": 0}], ids=["expression", "fields"]
)
def test_hourly_skips_the_spring_forward_gap(timing: dict[str, Any]) -> None:
    trigger = cron(timing, NEW_YORK)

    times = fire_times(trigger, utc(2026, 3, 8, 5), 4)

    assert walls(times) == [
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T04:00:00-04:00",
        "2026-03-08T05:00:00-04:00",
    ]
    assert times == [utc(2026, 3, 8, 6), utc(2026, 3, 8, 7), utc(2026, 3, 8, 8), utc(2026, 3, 8, 9)]


@pytest.mark.parametrize(
    "timing", [{"cron_expression": "0 * * * *"}, {"minute": 0}], ids=["expression", "fields"]
)
def test_hourly_fires_in_both_passes_of_the_repeated_hour(timing: dict[str, Any]) -> None:
    trigger = cron(timing, NEW_YORK)

    times = fire_times(trigger, utc(2026, 11, 1, 4), 4)

    assert walls(times) == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
        "2026-11-01T03:00:00-05:00",
    ]
    assert times == [
        utc(2026, 11, 1, 5),
        utc(2026, 11, 1, 6),
        utc(2026, 11, 1, 7),
        utc(2026, 11, 1, 8),
    ]


@pytest.mark.parametrize(
    "timing",
    [{"cron_expression": "*/30 * * * *"}, {"minute": "*/30"}],
    ids=["expression", "fields"],
)
def test_every_30_minutes_follows_the_wall_clock_across_dst(timing: dict[str, Any]) -> None:
    trigger = cron(timing, NEW_YORK)

    assert walls(fire_times(trigger, utc(2026, 3, 8, 5), 5)) == [
        "2026-03-08T00:30:00-05:00",
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00",
    ]
    assert walls(fire_times(trigger, utc(2026, 11, 1, 4), 6)) == [
        "2026-11-01T00:30:00-04:00",
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]


# -- the two forms agree across DST ------------------------------------------------------

EQUIVALENT_FORMS = [
    ("0 * * * *", {"minute": 0}),
    ("*/30 * * * *", {"minute": "*/30"}),
    ("*/20 1-2 * * *", {"hour": "1-2", "minute": "*/20"}),
    ("45 */2 * * *", {"hour": "*/2", "minute": 45}),
    ("30 2 * * *", {"hour": 2, "minute": 30}),
    ("30 1 * * *", {"hour": 1, "minute": 30}),
    ("15 1-3 * * *", {"hour": "1-3", "minute": 15}),
    ("0 9 * * 1-5", {"hour": 9, "minute": 0, "day_of_week": "mon-fri"}),
]


@pytest.mark.parametrize(("expression", "fields"), EQUIVALENT_FORMS)
@pytest.mark.parametrize(
    ("after", "change"),
    [(utc(2026, 3, 8, 3), SPRING_FORWARD_UTC), (utc(2026, 11, 1, 3), FALL_BACK_UTC)],
    ids=["spring-forward", "fall-back"],
)
def test_expression_and_fields_give_identical_sequences_across_dst(
    expression: str, fields: dict[str, Any], after: datetime, change: datetime
) -> None:
    by_expression = fire_times(cron({"cron_expression": expression}, NEW_YORK), after, 60)
    by_fields = fire_times(cron(fields, NEW_YORK), after, 60)

    assert walls(by_expression) == walls(by_fields)
    assert all(earlier < later for earlier, later in itertools.pairwise(by_expression))
    assert by_expression[-1] > change  # the sequence crosses the change


# -- a moment inside the repeated hour ---------------------------------------------------

# 01:10 EST (06:10 UTC), the second pass of 01:10 on 2026-11-01, written four ways.
SECOND_PASS_0110 = [
    pytest.param(utc(2026, 11, 1, 6, 10), id="utc"),
    pytest.param(datetime(2026, 11, 1, 1, 10, tzinfo=NY, fold=1), id="new-york-fold-1"),
    pytest.param(utc(2026, 11, 1, 6, 10).astimezone(NY), id="new-york-from-utc"),
    pytest.param(utc(2026, 11, 1, 6, 10).astimezone(ZoneInfo("Asia/Seoul")), id="another-zone"),
]


@pytest.mark.parametrize("moment", SECOND_PASS_0110)
@pytest.mark.parametrize(
    "timing",
    [{"cron_expression": "30 1 * * *"}, {"hour": 1, "minute": 30}],
    ids=["expression", "fields"],
)
def test_fixed_time_next_after_a_moment_in_the_second_pass_is_the_next_day(
    timing: dict[str, Any], moment: datetime
) -> None:
    trigger = cron(timing, NEW_YORK)

    # 01:30 already fired in the first pass (05:30 UTC); the next fire is tomorrow.
    assert trigger.next_after(moment) == utc(2026, 11, 2, 6, 30)


@pytest.mark.parametrize("moment", SECOND_PASS_0110)
@pytest.mark.parametrize(
    "timing",
    [{"cron_expression": "30 1 * * *"}, {"hour": 1, "minute": 30}],
    ids=["expression", "fields"],
)
def test_fixed_time_get_next_fire_time_from_the_second_pass_is_the_next_day(
    timing: dict[str, Any], moment: datetime
) -> None:
    trigger = cron(timing, NEW_YORK)

    assert trigger.get_next_fire_time(None, moment) == utc(2026, 11, 2, 6, 30)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # 01:10 EDT (first pass): next is 01:00 EST.
        (datetime(2026, 11, 1, 1, 10, tzinfo=NY, fold=0), utc(2026, 11, 1, 6)),
        # 01:00 EDT exactly: strictly after it is 01:00 EST.
        (datetime(2026, 11, 1, 1, 0, tzinfo=NY, fold=0), utc(2026, 11, 1, 6)),
        # 01:10 EST (second pass): next is 02:00 EST.
        (datetime(2026, 11, 1, 1, 10, tzinfo=NY, fold=1), utc(2026, 11, 1, 7)),
        # 01:00 EST exactly: strictly after it is 02:00 EST.
        (datetime(2026, 11, 1, 1, 0, tzinfo=NY, fold=1), utc(2026, 11, 1, 7)),
    ],
    ids=["first-pass", "first-pass-on-the-hour", "second-pass", "second-pass-on-the-hour"],
)
@pytest.mark.parametrize(
    "timing", [{"cron_expression": "0 * * * *"}, {"minute": 0}], ids=["expression", "fields"]
)
def test_hourly_next_after_a_new_york_moment_in_the_repeated_hour(
    timing: dict[str, Any], moment: datetime, expected: datetime
) -> None:
    trigger = cron(timing, NEW_YORK)

    assert trigger.next_after(moment) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 1, 1, 10, tzinfo=NY, fold=0), utc(2026, 11, 1, 6)),
        # `now` on a fire time is that fire time (01:00 EDT, 05:00 UTC).
        (datetime(2026, 11, 1, 1, 0, tzinfo=NY, fold=0), utc(2026, 11, 1, 5)),
        (datetime(2026, 11, 1, 1, 10, tzinfo=NY, fold=1), utc(2026, 11, 1, 7)),
        # 01:00 EST itself (06:00 UTC).
        (datetime(2026, 11, 1, 1, 0, tzinfo=NY, fold=1), utc(2026, 11, 1, 6)),
    ],
    ids=["first-pass", "first-pass-on-the-hour", "second-pass", "second-pass-on-the-hour"],
)
@pytest.mark.parametrize(
    "timing", [{"cron_expression": "0 * * * *"}, {"minute": 0}], ids=["expression", "fields"]
)
def test_hourly_get_next_fire_time_from_a_new_york_now_in_the_repeated_hour(
    timing: dict[str, Any], now: datetime, expected: datetime
) -> None:
    trigger = cron(timing, NEW_YORK)

    assert trigger.get_next_fire_time(None, now) == expected


@pytest.mark.parametrize(
    "timing",
    [
        {"cron_expression": "30 1 * * *"},
        {"hour": 1, "minute": 30},
        {"cron_expression": "0 * * * *"},
        {"minute": 0},
        {"cron_expression": "*/30 * * * *"},
        {"minute": "*/30"},
    ],
    ids=[
        "fixed-expression",
        "fixed-fields",
        "hourly-expression",
        "hourly-fields",
        "30-expression",
        "30-fields",
    ],
)
def test_fire_times_do_not_depend_on_the_zone_a_moment_is_written_in(
    timing: dict[str, Any],
) -> None:
    trigger = cron(timing, NEW_YORK)
    wrong = []
    # Every 5 minutes from 00:00 EDT to 02:55 EST on 2026-11-01.
    for step in range(0, 4 * 60, 5):
        instant = utc(2026, 11, 1, 4) + timedelta(minutes=step)
        local = instant.astimezone(NY)  # carries fold=1 in the second pass
        from_utc = trigger.next_after(instant)
        from_local = trigger.next_after(local)
        if from_local != from_utc or from_utc is None or from_utc <= instant:
            wrong.append(("next_after", local.isoformat(), from_utc, from_local))
        apscheduler_utc = trigger.get_next_fire_time(None, instant)
        apscheduler_local = trigger.get_next_fire_time(None, local)
        if apscheduler_local != apscheduler_utc or apscheduler_utc is None:
            wrong.append(
                ("get_next_fire_time", local.isoformat(), apscheduler_utc, apscheduler_local)
            )

    assert wrong == []
