"""Validation of schedule_config, timezone and metadata (docs/schedules.md).

Every rejection must be a ScheduleValidationError (a ValueError) whose field and message
name what is wrong, so a user can find and fix it.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from typing import Any

import pytest

from app.core.credentials import names_credential
from app.timing.errors import ScheduleValidationError
from app.timing.run_options import MAX_TAG_LENGTH, parse_run_options
from app.timing.triggers import build_trigger
from app.timing.zones import get_zone, parse_instant

NEW_YEAR = datetime(2026, 1, 1, tzinfo=UTC)
VALID_TIMING = {
    "cron": {"cron_expression": "0 9 * * *"},
    "interval": {"hours": 1},
    "date": {"run_date": "2026-06-01T12:00:00Z"},
}


def names_field(error: ScheduleValidationError, field: str) -> bool:
    """True when the error is about exactly `field` and its message starts with it."""
    return error.field == field and str(error).startswith(f"{field}: ")


def rejected(schedule_type: str, config: object, timezone: str = "UTC") -> ScheduleValidationError:
    with pytest.raises(ScheduleValidationError) as info:
        build_trigger(schedule_type, config, timezone)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    return info.value


def metadata_rejected(raw: object) -> ScheduleValidationError:
    with pytest.raises(ScheduleValidationError) as info:
        parse_run_options(raw)
    assert isinstance(info.value, ValueError)
    return info.value


# -- schedule_config: shape --------------------------------------------------------------


@pytest.mark.parametrize("schedule_type", ["cron", "interval", "date"])
@pytest.mark.parametrize("config", [None, [], "0 9 * * *", 5])
def test_config_must_be_a_json_object(schedule_type: str, config: object) -> None:
    error = rejected(schedule_type, config)

    assert error.field == "schedule_config"
    assert str(error).startswith("schedule_config: ")


@pytest.mark.parametrize(
    ("schedule_type", "config", "field"),
    [
        # A typo must not silently mean something else.
        ("interval", {"hour": 1, "minutes": 5}, "schedule_config.hour"),
        ("interval", {"week": 1}, "schedule_config.week"),
        ("interval", {"hours": 1, "run_date": "2026-01-01T00:00:00Z"}, "schedule_config.run_date"),
        (
            "interval",
            {"hours": 1, "cron_expression": "0 9 * * *"},
            "schedule_config.cron_expression",
        ),
        ("interval", {"hours": 1, "start": "2026-01-01T00:00:00Z"}, "schedule_config.start"),
        ("cron", {"hours": 9}, "schedule_config.hours"),
        ("cron", {"weeks": 1, "hour": 9}, "schedule_config.weeks"),
        ("cron", {"cron_expression": "0 9 * * *", "timezone": "UTC"}, "schedule_config.timezone"),
        ("cron", {"cron": "0 9 * * *"}, "schedule_config.cron"),
        ("cron", {"hour": 9, "run_date": "2026-01-01T00:00:00Z"}, "schedule_config.run_date"),
        ("cron", {"dayofweek": "mon", "hour": 9}, "schedule_config.dayofweek"),
        ("date", {"run_date": "2026-06-01T12:00:00Z", "date": "x"}, "schedule_config.date"),
        (
            "date",
            {"run_date": "2026-06-01T12:00:00Z", "start_date": "2026-01-01T00:00:00Z"},
            "schedule_config.start_date",
        ),
        ("date", {"run_date": "2026-06-01T12:00:00Z", "hours": 1}, "schedule_config.hours"),
    ],
)
def test_unknown_keys_are_rejected(schedule_type: str, config: dict[str, Any], field: str) -> None:
    error = rejected(schedule_type, config)

    assert names_field(error, field), str(error)


# -- null counts as not given ------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule_type", "with_nulls", "without"),
    [
        (
            "cron",
            {
                "cron_expression": "0 9 * * *",
                "hour": None,
                "minute": None,
                "day_of_week": None,
                "start_date": None,
                "end_date": None,
            },
            {"cron_expression": "0 9 * * *"},
        ),
        (
            "cron",
            {"cron_expression": None, "hour": 9, "minute": None, "second": None},
            {"hour": 9},
        ),
        (
            "interval",
            {
                "weeks": None,
                "days": None,
                "hours": None,
                "minutes": 5,
                "seconds": None,
                "start_date": "2026-01-01T00:00:00Z",
                "end_date": None,
            },
            {"minutes": 5, "start_date": "2026-01-01T00:00:00Z"},
        ),
    ],
)
def test_null_counts_as_not_given(
    schedule_type: str, with_nulls: dict[str, Any], without: dict[str, Any]
) -> None:
    a = build_trigger(schedule_type, with_nulls, "UTC", NEW_YEAR)
    b = build_trigger(schedule_type, without, "UTC", NEW_YEAR)

    moment = NEW_YEAR
    for _ in range(5):
        expected = b.next_after(moment)
        assert a.next_after(moment) == expected
        assert expected is not None
        moment = expected


def test_null_run_date_counts_as_missing() -> None:
    error = rejected("date", {"run_date": None})

    assert names_field(error, "schedule_config.run_date")


def test_missing_run_date_is_rejected() -> None:
    error = rejected("date", {})

    assert names_field(error, "schedule_config.run_date")


# -- cron ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"cron_expression": None},
        {"hour": None, "minute": None},
        {"start_date": "2026-01-01T00:00:00Z"},
        {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-02-01T00:00:00Z"},
    ],
)
def test_empty_cron_config_is_rejected(config: dict[str, Any]) -> None:
    error = rejected("cron", config)

    assert error.field == "schedule_config"
    assert str(error).startswith("schedule_config: ")


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "   ",
        "0 9 * *",
        "9 * *",
        "*",
        "0 0 9 * * * *",
        "0 0 9 * * * 2026",
    ],
)
def test_cron_expression_needs_five_or_six_fields(expression: str) -> None:
    error = rejected("cron", {"cron_expression": expression})

    assert names_field(error, "schedule_config.cron_expression")


@pytest.mark.parametrize(
    "expression",
    [
        "61 9 * * *",
        "0 24 * * *",
        "0 9 0 * *",
        "0 9 32 * *",
        "0 9 * 0 *",
        "0 9 * 13 *",
        "0 9 * * 8",
        "0 9 * * funday",
        "a b c d e",
        "*/0 * * * *",
        "0 9 * * 1-",
        "0 9 * jan-foo *",
        "60 0 9 * * *",
    ],
)
def test_bad_cron_syntax_is_rejected(expression: str) -> None:
    error = rejected("cron", {"cron_expression": expression})

    assert names_field(error, "schedule_config.cron_expression")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"hour": 24}, "hour"),
        ({"minute": 60}, "minute"),
        ({"second": 60}, "second"),
        ({"day": 32}, "day"),
        ({"day": 0}, "day"),
        ({"month": 13}, "month"),
        ({"week": 54}, "week"),
        ({"day_of_week": 7}, "day_of_week"),
        ({"day_of_week": "funday"}, "day_of_week"),
        ({"year": "abc"}, "year"),
        ({"hour": "x"}, "hour"),
        ({"hour": 9, "minute": "*/x"}, "minute"),
    ],
)
def test_bad_cron_field_values_are_rejected(fields: dict[str, Any], field: str) -> None:
    error = rejected("cron", fields)

    assert names_field(error, f"schedule_config.{field}"), str(error)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"cron_expression": 5}, "cron_expression"),
        ({"cron_expression": ["0", "9", "*", "*", "*"]}, "cron_expression"),
        ({"hour": True}, "hour"),
        ({"hour": 9.5}, "hour"),
        ({"hour": [9]}, "hour"),
        ({"minute": False, "hour": 9}, "minute"),
    ],
)
def test_cron_values_are_strictly_typed(config: dict[str, Any], field: str) -> None:
    error = rejected("cron", config)

    assert names_field(error, f"schedule_config.{field}"), str(error)


# -- interval ----------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["weeks", "days", "hours", "minutes", "seconds"])
@pytest.mark.parametrize(
    ("value", "why"),
    [("5", "string"), (1.5, "float"), (True, "boolean"), ("yes", "string"), (-1, "negative")],
    ids=["string-number", "float", "true", "yes", "negative"],
)
def test_interval_units_are_non_negative_integers(unit: str, value: object, why: str) -> None:
    other = "hours" if unit != "hours" else "minutes"

    error = rejected("interval", {unit: value, other: 1})

    assert names_field(error, f"schedule_config.{unit}"), why


@pytest.mark.parametrize("config", [{}, {"seconds": 0}, {"days": 0, "hours": 0}])
def test_interval_total_must_be_above_zero(config: dict[str, Any]) -> None:
    error = rejected("interval", config)

    assert error.field == "schedule_config"


# -- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "tomorrow",
        "2026-02-30T09:00:00",
        "2026-13-01T00:00:00",
        "2026-01-01T25:00:00",
        "01/02/2026 09:00",
        "",
        "2026-01-01T09:00:00 America/New_York",
    ],
)
@pytest.mark.parametrize(
    ("schedule_type", "key"),
    [
        ("cron", "start_date"),
        ("cron", "end_date"),
        ("interval", "start_date"),
        ("interval", "end_date"),
        ("date", "run_date"),
    ],
)
def test_bad_iso_dates_are_rejected(schedule_type: str, key: str, value: str) -> None:
    config = {**VALID_TIMING[schedule_type], key: value}

    error = rejected(schedule_type, config)

    assert names_field(error, f"schedule_config.{key}")


@pytest.mark.parametrize("value", [20260101, 1767225600, True, ["2026-01-01"], {"y": 2026}])
@pytest.mark.parametrize(
    ("schedule_type", "key"),
    [("cron", "start_date"), ("interval", "end_date"), ("date", "run_date")],
)
def test_dates_must_be_strings(schedule_type: str, key: str, value: object) -> None:
    config = {**VALID_TIMING[schedule_type], key: value}

    error = rejected(schedule_type, config)

    assert names_field(error, f"schedule_config.{key}")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01T09:00:00", datetime(2026, 1, 1, 14, tzinfo=UTC)),
        ("2026-01-01T09:00:00Z", datetime(2026, 1, 1, 9, tzinfo=UTC)),
        ("2026-01-01T09:00:00+09:00", datetime(2026, 1, 1, 0, tzinfo=UTC)),
        ("2026-03-08T02:30:00", datetime(2026, 3, 8, 7, tzinfo=UTC)),
        ("2026-11-01T01:30:00", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
    ],
)
def test_parse_instant_reads_offsets_exactly_and_naive_times_in_the_zone(
    value: str, expected: datetime
) -> None:
    assert parse_instant(value, get_zone("America/New_York"), "x") == expected


def test_parse_instant_names_the_field_it_was_given() -> None:
    with pytest.raises(ScheduleValidationError) as info:
        parse_instant("nope", get_zone("UTC"), "schedule_config.start_date")

    assert info.value.field == "schedule_config.start_date"
    assert str(info.value).startswith("schedule_config.start_date: ")


# -- timezone ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["UTC", "Asia/Seoul", "America/New_York", "Europe/London", "EST5EDT", "Etc/GMT-9"],
)
def test_iana_timezones_are_accepted(name: str) -> None:
    assert name in zoneinfo.available_timezones()

    trigger = build_trigger("date", VALID_TIMING["date"], name)

    assert trigger.next_after(NEW_YEAR) == datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus",
        "",
        "utc",
        "america/new_york",
        "America/New_York ",
        "+09:00",
        "UTC+9",
        "KST",
        "Asia/Seoul/",
        "../etc/passwd",
    ],
)
@pytest.mark.parametrize("schedule_type", ["cron", "interval", "date"])
def test_non_iana_timezones_are_rejected(schedule_type: str, name: str) -> None:
    assert name not in zoneinfo.available_timezones()

    error = rejected(schedule_type, VALID_TIMING[schedule_type], name)

    assert error.field == "timezone"
    assert str(error).startswith("timezone: ")


@pytest.mark.parametrize("name", [None, 9, b"UTC"])
def test_timezone_must_be_a_string(name: object) -> None:
    with pytest.raises(ScheduleValidationError) as info:
        get_zone(name)  # type: ignore[arg-type]

    assert info.value.field == "timezone"


# -- metadata: known keys ----------------------------------------------------------------


def test_empty_metadata_has_the_defaults() -> None:
    parsed = parse_run_options({})

    assert parsed.effective_max_instances == 1
    assert parsed.effective_coalesce is True
    assert parsed.effective_misfire_grace_time == 60


def test_null_known_keys_count_as_defaults() -> None:
    parsed = parse_run_options(
        {
            "priority": None,
            "tags": None,
            "notification": None,
            "max_instances": None,
            "coalesce": None,
            "misfire_grace_time": None,
        }
    )

    assert parsed.effective_max_instances == 1
    assert parsed.effective_coalesce is True
    assert parsed.effective_misfire_grace_time == 60


def test_null_notification_keys_are_accepted() -> None:
    parse_run_options({"notification": {"on_success": None, "on_failure": None, "channels": None}})


def test_valid_metadata_is_kept() -> None:
    parsed = parse_run_options(
        {
            "priority": "high",
            "tags": ["market-open", "kr"],
            "notification": {"on_success": False, "on_failure": True, "channels": ["email"]},
            "max_instances": 3,
            "coalesce": False,
            "misfire_grace_time": 0,
            "strategy": {"name": "momentum", "max_tokens": 512, "legs": [{"symbol": "005930"}]},
        }
    )

    assert parsed.priority == "high"
    assert parsed.tags == ["market-open", "kr"]
    assert parsed.effective_max_instances == 3
    assert parsed.effective_coalesce is False
    assert parsed.effective_misfire_grace_time == 0


@pytest.mark.parametrize("priority", ["low", "normal", "high"])
def test_priority_values_are_accepted(priority: str) -> None:
    assert parse_run_options({"priority": priority}).priority == priority


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"priority": "urgent"}, "metadata.priority"),
        ({"priority": "HIGH"}, "metadata.priority"),
        ({"priority": ""}, "metadata.priority"),
        ({"priority": 1}, "metadata.priority"),
        ({"priority": True}, "metadata.priority"),
        ({"tags": "market-open"}, "metadata.tags"),
        ({"tags": ["ok", 1]}, "metadata.tags[1]"),
        ({"tags": [["nested"]]}, "metadata.tags[0]"),
        ({"tags": ["x" * 1000]}, "metadata.tags[0]"),
        ({"tags": ["x" * (MAX_TAG_LENGTH + 1)]}, "metadata.tags[0]"),
        ({"tags": [""]}, "metadata.tags[0]"),
        ({"tags": ["ok", ""]}, "metadata.tags[1]"),
        ({"tags": {"a": "b"}}, "metadata.tags"),
        ({"notification": "email"}, "metadata.notification"),
        ({"notification": {"email": True}}, "metadata.notification.email"),
        ({"notification": {"on_success": "yes"}}, "metadata.notification.on_success"),
        ({"notification": {"on_success": 1}}, "metadata.notification.on_success"),
        ({"notification": {"on_failure": "true"}}, "metadata.notification.on_failure"),
        ({"notification": {"on_failure": 0}}, "metadata.notification.on_failure"),
        ({"notification": {"channels": "email"}}, "metadata.notification.channels"),
        ({"notification": {"channels": [1]}}, "metadata.notification.channels[0]"),
        ({"max_instances": 0}, "metadata.max_instances"),
        ({"max_instances": -1}, "metadata.max_instances"),
        ({"max_instances": "2"}, "metadata.max_instances"),
        ({"max_instances": 1.5}, "metadata.max_instances"),
        ({"max_instances": True}, "metadata.max_instances"),
        ({"coalesce": "yes"}, "metadata.coalesce"),
        ({"coalesce": "true"}, "metadata.coalesce"),
        ({"coalesce": 1}, "metadata.coalesce"),
        ({"coalesce": 0}, "metadata.coalesce"),
        ({"misfire_grace_time": -1}, "metadata.misfire_grace_time"),
        ({"misfire_grace_time": "60"}, "metadata.misfire_grace_time"),
        ({"misfire_grace_time": 1.5}, "metadata.misfire_grace_time"),
        ({"misfire_grace_time": True}, "metadata.misfire_grace_time"),
    ],
)
def test_known_metadata_keys_are_strictly_typed(raw: dict[str, Any], field: str) -> None:
    error = metadata_rejected(raw)

    assert names_field(error, field), str(error)


def test_tag_of_the_maximum_length_is_accepted() -> None:
    tag = "x" * MAX_TAG_LENGTH

    assert parse_run_options({"tags": [tag]}).tags == [tag]


@pytest.mark.parametrize(("value", "expected"), [(1, 1), (10, 10)])
def test_max_instances_at_least_one_is_accepted(value: int, expected: int) -> None:
    assert parse_run_options({"max_instances": value}).effective_max_instances == expected


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (300, 300)])
def test_misfire_grace_time_zero_or_more_is_accepted(value: int, expected: int) -> None:
    assert parse_run_options({"misfire_grace_time": value}).effective_misfire_grace_time == expected


@pytest.mark.parametrize("raw", [None, [], "priority=high", 5])
def test_metadata_must_be_a_json_object(raw: object) -> None:
    error = metadata_rejected(raw)

    assert error.field == "metadata"


# -- metadata: credentials ---------------------------------------------------------------

CREDENTIAL_KEYS = [
    "api_key",
    "accessKey",
    "db-password",
    "token_budget",
    "apikey",
    "APIKey",
    "ApiKey",
    "API_KEY",
    "x-api-key",
    "password",
    "PASSWORD",
    "passwd",
    "secret",
    "client_secret",
    "clientSecret",
    "token",
    "access_token",
    "refreshToken",
    "credential",
    "credentials",
    "aws_credentials",
    "private_key",
    "privateKey",
    "access-key-id",
    "AccessKey",
]

NON_CREDENTIAL_KEYS = [
    "max_tokens",
    "tokens",
    "tokenizer",
    "keyboard",
    "monkey",
    "key",
    "public_key",
    "primary_key",
    "api_version",
    "access_level",
    "secretary",
    "apikeys_doc_url",
]


@pytest.mark.parametrize("key", CREDENTIAL_KEYS)
def test_names_credential_detects_secret_keys(key: str) -> None:
    assert names_credential(key)


@pytest.mark.parametrize("key", NON_CREDENTIAL_KEYS)
def test_names_credential_leaves_ordinary_keys_alone(key: str) -> None:
    assert not names_credential(key)


@pytest.mark.parametrize("key", CREDENTIAL_KEYS)
def test_credential_key_at_the_top_is_rejected(key: str) -> None:
    error = metadata_rejected({"priority": "low", key: "hunter2"})

    assert error.field == f"metadata.{key}"
    assert str(error).startswith(f"metadata.{key}: ")


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"broker": {"api_key": "x"}}, "metadata.broker.api_key"),
        ({"broker": {"auth": {"accessKey": "x"}}}, "metadata.broker.auth.accessKey"),
        ({"accounts": [{"name": "a"}, {"db-password": "x"}]}, "metadata.accounts[1].db-password"),
        ({"limits": [[{"token_budget": 100}]]}, "metadata.limits[0][0].token_budget"),
        ({"llm": {"models": [{"apikey": "x"}]}}, "metadata.llm.models[0].apikey"),
        (
            {"notification": {"channels": ["email"], "webhook_token": "x"}},
            "metadata.notification.webhook_token",
        ),
        # A credential-named key is refused even when its value is empty or null.
        ({"broker": {"password": None}}, "metadata.broker.password"),
        ({"broker": {"secret": {}}}, "metadata.broker.secret"),
    ],
)
def test_credential_keys_are_rejected_at_any_depth(raw: dict[str, Any], path: str) -> None:
    error = metadata_rejected(raw)

    assert error.field == path
    assert str(error).startswith(f"{path}: ")


@pytest.mark.parametrize("key", NON_CREDENTIAL_KEYS)
def test_ordinary_keys_are_accepted_at_any_depth(key: str) -> None:
    parse_run_options({key: 1, "nested": {key: 2, "list": [{key: 3}, [{key: 4}]]}})


def test_credential_words_as_values_are_not_keys() -> None:
    parse_run_options({"tags": ["password", "api_key"], "note": "rotate the token monthly"})


def test_unknown_schedule_type_is_named() -> None:
    with pytest.raises(ScheduleValidationError) as info:
        build_trigger("weekly", {"hours": 1}, "UTC")
    assert names_field(info.value, "schedule_type")


def test_metadata_nested_past_the_limit_is_a_field_error_not_a_recursion_error() -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]  # type: ignore[assignment]
    with pytest.raises(ScheduleValidationError, match="nested deeper than 32 levels"):
        parse_run_options(deep)
