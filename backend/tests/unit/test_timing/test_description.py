"""Schedule descriptions; a fields form is described through the cron expression it equals."""

from __future__ import annotations

from typing import Any

import pytest

from app.timing.description import _fields_as_expression, describe
from app.timing.triggers import build_trigger


@pytest.mark.parametrize(
    ("schedule_type", "config", "expected"),
    [
        ("cron", {"cron_expression": "0 9 * * 1-5"}, "At 09:00 on Monday through Friday (UTC)"),
        ("cron", {"hour": 9, "day_of_week": "mon-fri"}, "At 09:00 on Monday through Friday (UTC)"),
        ("cron", {"day_of_week": "0"}, "At 00:00 on Monday (UTC)"),
        ("cron", {"month": 6}, "At 00:00 on June 1 (UTC)"),
        ("cron", {"year": 2030, "hour": 9}, "Cron fields year=2030, hour=9 (UTC)"),
        ("interval", {"hours": 1, "minutes": 30}, "Every 1 hour, 30 minutes"),
        ("interval", {"seconds": 10, "start_date": "2030-01-01T00:00:00Z"}, "Every 10 seconds"),
        ("date", {"run_date": "2030-06-15T10:30:00"}, "Once at 2030-06-15T10:30:00 (UTC)"),
    ],
)
def test_describe(schedule_type: str, config: dict[str, Any], expected: str) -> None:
    assert describe(schedule_type, config, "UTC") == expected


@pytest.mark.parametrize(
    "fields",
    [
        {"hour": 9},
        {"minute": 5},
        {"second": "*/10"},
        {"hour": 9, "minute": 30, "day_of_week": "mon-fri"},
        {"day_of_week": "0,2"},
        {"month": 6},
        {"day": 15, "hour": 8},
        {"minute": "*/15", "hour": "9-15"},
    ],
)
def test_the_expression_describes_the_same_schedule(fields: dict[str, Any]) -> None:
    expression = _fields_as_expression(fields)
    assert expression is not None
    # Building the trigger refuses an expression and fields that pick different times.
    build_trigger("cron", {"cron_expression": expression, **fields}, "UTC")


@pytest.mark.parametrize(
    "fields",
    [
        {"week": 10},
        {"day": 1, "day_of_week": "mon"},
        {"day_of_week": "7"},
        {"day": "last"},
    ],
)
def test_fields_without_a_cron_equivalent(fields: dict[str, Any]) -> None:
    assert _fields_as_expression(fields) is None
