"""Any schedule definition, however odd, is either accepted with computable fire times or
refused with a field error naming what is wrong; never another exception (a 500)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.errors import FieldValidationError
from app.timing.description import describe
from app.timing.lifecycle import is_expired
from app.timing.run_options import parse_run_options
from app.timing.triggers import build_trigger

KEYS = [
    "cron_expression", "year", "month", "day", "week", "day_of_week", "hour", "minute",
    "second", "weeks", "days", "hours", "minutes", "seconds", "start_date", "end_date",
    "run_date", "timezone", "unknown",
]  # fmt: skip
CRON_PIECES = ["*", "*/5", "0", "7", "59", "60", "1-5", "mon-fri", "L", "?", "#", ",", "9999"]
DATES = st.one_of(
    st.datetimes(timezones=st.sampled_from([UTC, None])).map(lambda moment: moment.isoformat()),
    st.sampled_from(
        ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-03-08T02:30:00",
         "2026-11-01T01:30:00", "not a date", "", "2026-02-30T00:00:00"]
    ),
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.sampled_from(CRON_PIECES), max_size=6).map(" ".join),
    DATES,
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=5), SCALARS, max_size=3),
)
CONFIGS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5)
TYPES = st.sampled_from(["cron", "interval", "date", "weekly", ""])
ZONES = st.sampled_from(
    ["UTC", "Asia/Seoul", "America/New_York", "Australia/Lord_Howe", "Mars/Base", ""]
)
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
OPTION_KEYS = [*KEYS, "priority", "tags", "notification", "max_instances", "coalesce",
               "misfire_grace_time", "api_key"]  # fmt: skip


@settings(max_examples=1500, derandomize=True, deadline=None)
@given(schedule_type=TYPES, config=CONFIGS, timezone=ZONES)
def test_a_definition_is_accepted_with_fire_times_or_refused_naming_a_field(
    schedule_type: str, config: dict[str, Any], timezone: str
) -> None:
    refused: FieldValidationError | None = None
    try:
        trigger = build_trigger(schedule_type, config, timezone, created_at=NOW)
    except FieldValidationError as error:
        refused = error
    if refused is not None:
        assert refused.field
        assert refused.reason
        return
    moment = trigger.next_after(NOW)
    if moment is not None:
        assert moment.tzinfo is not None
        assert moment > NOW
        following = trigger.next_after(moment)
        assert following is None or following > moment
    count, _exact = trigger.count_between(NOW - timedelta(days=2), NOW, limit=50)
    assert count >= 0
    assert describe(schedule_type, config, timezone)
    assert is_expired(schedule_type, config, timezone, {}, ran=False, now=NOW) in (True, False)


@settings(max_examples=800, derandomize=True, deadline=None)
@given(metadata=st.dictionaries(st.sampled_from(OPTION_KEYS), VALUES, max_size=5))
def test_run_options_are_accepted_within_bounds_or_refused_naming_a_field(
    metadata: dict[str, Any],
) -> None:
    refused: FieldValidationError | None = None
    try:
        options = parse_run_options(metadata)
    except FieldValidationError as error:
        refused = error
    if refused is not None:
        assert refused.field.startswith("metadata")
        return
    assert 1 <= options.effective_max_instances <= 100
    assert timedelta(0) <= options.misfire_grace <= timedelta(days=1)
