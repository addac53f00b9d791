"""Every validation rule of a schedule, through the API: 422, the field named, nothing written.

One table holds a case for each rule of the request schema (app/schedules/schemas.py), the
definition parser (app/timing/definitions.py), the trigger builder (triggers.py), time
zones (zones.py), run options (run_options.py), the credential rule
(app/core/credentials.py), the model's validators and column guards, and the service's
"it can never fire" check. Each case is sent as POST /api/v1/schedules; a representative
subset also as PATCH of an existing schedule. The answer must be a 422 in the error shape
naming exactly the offending field, and the `schedules` table, read with Core, must hold
exactly what it held before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.timing.run_options import MAX_TAG_LENGTH
from tests.integration.test_api.conftest import (
    Headers,
    error_fields,
    post_schedule,
    post_workflow,
    stored_schedules,
)

BASE = "/api/v1/schedules"
MISSING = object()  # a key left out of the request body


def iso(moment: datetime) -> str:
    return moment.isoformat()


NOW = datetime.now(UTC).replace(microsecond=0)
IN_A_DAY = iso(NOW + timedelta(days=1))
IN_TWO_DAYS = iso(NOW + timedelta(days=2))
A_DAY_AGO = iso(NOW - timedelta(days=1))

# A valid definition of each type; a case changes only what its rule is about.
VALID: dict[str, dict[str, Any]] = {
    "cron": {"schedule_config": {"cron_expression": "0 9 * * *"}, "timezone": "Asia/Seoul"},
    "interval": {"schedule_config": {"minutes": 5}, "timezone": "UTC"},
    "date": {"schedule_config": {"run_date": IN_A_DAY}, "timezone": "UTC"},
}


@dataclass(frozen=True)
class Rule:
    """One rule: a change that breaks it, for a schedule of `kind`, and the field named."""

    name: str
    kind: str
    change: dict[str, Any]
    field: str
    patch: bool = False  # also sent as a PATCH of an existing schedule of `kind`
    post: bool = True
    reasons: int = 1  # a value matching no member of a union gets one reason per member


def config(
    kind: str, value: object, field: str, *, patch: bool = False, name: str = "", reasons: int = 1
) -> Rule:
    """A rule about `schedule_config`."""
    return Rule(name or field, kind, {"schedule_config": value}, field, patch, reasons=reasons)


def metadata(value: object, field: str, *, patch: bool = False, name: str = "") -> Rule:
    """A rule about `metadata` (on a cron schedule)."""
    return Rule(name or field, "cron", {"metadata": value}, field, patch=patch)


SC = "schedule_config"
MD = "metadata"

RULES = [
    # -- the request body ------------------------------------------------------------------
    Rule("unknown top-level key", "cron", {"surprise": 1}, "surprise", patch=True),
    Rule("schedule_type not a type", "cron", {"schedule_type": "weekly"}, "schedule_type"),
    Rule("schedule_type missing", "cron", {"schedule_type": MISSING}, "schedule_type"),
    Rule("schedule_config missing", "cron", {SC: MISSING}, SC),
    Rule("name missing", "cron", {"name": MISSING}, "name"),
    Rule("name empty", "cron", {"name": ""}, "name", patch=True),
    Rule("name blank", "cron", {"name": "   "}, "name", patch=True),
    Rule("name too long", "cron", {"name": "n" * 256}, "name"),
    Rule("name with NUL", "cron", {"name": "a\x00b"}, "name", patch=True),
    Rule("description with NUL", "cron", {"description": "a\x00b"}, "description", patch=True),
    Rule("workflow_id not a uuid", "cron", {"workflow_id": "nope"}, "workflow_id"),
    Rule("workflow_id unknown", "cron",
         {"workflow_id": "5f0c7a8e-2a56-4c8e-9d6b-1f2a3b4c5d6e"}, "workflow_id"),
    Rule("is_active not a boolean", "cron", {"is_active": "maybe"}, "is_active"),
    Rule("workflow_id cannot change", "cron",
         {"workflow_id": "5f0c7a8e-2a56-4c8e-9d6b-1f2a3b4c5d6e"}, "workflow_id",
         patch=True, post=False),
    Rule("schedule_type cannot change", "cron", {"schedule_type": "interval"},
         "schedule_type", patch=True, post=False),
    # -- schedule_config: shape (definitions.py) -------------------------------------------
    config("cron", "0 9 * * *", SC, patch=True, name="config a string"),
    config("cron", [1], SC, name="config a list"),
    config("cron", {"hours": 1}, f"{SC}.hours", patch=True, name="cron unknown key"),
    config("cron", {"cron_expression": "0 9 * * *", "timezone": "UTC"}, f"{SC}.timezone"),
    config("cron", {"dayofweek": "mon", "hour": 9}, f"{SC}.dayofweek"),
    config("interval", {"hour": 1, "minutes": 5}, f"{SC}.hour", patch=True,
           name="interval unknown key"),
    config("interval", {"minutes": 5, "cron_expression": "0 9 * * *"},
           f"{SC}.cron_expression", name="interval with a cron key"),
    config("cron", {"minutes": 5}, f"{SC}.minutes", patch=True,
           name="cron with an interval key"),
    config("date", {"run_date": IN_A_DAY, "start_date": IN_A_DAY}, f"{SC}.start_date",
           name="date with a window"),
    config("date", {"run_date": IN_A_DAY, "hours": 1}, f"{SC}.hours", patch=True,
           name="date unknown key"),
    # strict types
    config("cron", {"cron_expression": 5}, f"{SC}.cron_expression", name="expression a number"),
    # A cron field is `int | str`: neither member takes these, and each says why.
    config("cron", {"hour": True}, f"{SC}.hour", patch=True, name="cron field a boolean",
           reasons=2),
    config("cron", {"hour": 9.5}, f"{SC}.hour", name="cron field a float", reasons=2),
    config("cron", {"hour": [9]}, f"{SC}.hour", name="cron field a list", reasons=2),
    config("interval", {"minutes": "5"}, f"{SC}.minutes", patch=True, name="unit a string"),
    config("interval", {"minutes": 1.5}, f"{SC}.minutes", name="unit a float"),
    config("interval", {"seconds": True, "minutes": 1}, f"{SC}.seconds", name="unit a boolean"),
    config("cron", {"hour": 9, "start_date": 20260101}, f"{SC}.start_date",
           name="start_date a number"),
    config("interval", {"minutes": 5, "end_date": ["2026-01-01"]}, f"{SC}.end_date",
           name="end_date a list"),
    config("date", {"run_date": 1767225600}, f"{SC}.run_date", name="run_date a number"),
    # required keys
    config("date", {}, f"{SC}.run_date", patch=True, name="run_date missing"),
    config("date", {"run_date": None}, f"{SC}.run_date", name="run_date null"),
    # what a config must say
    config("cron", {}, SC, patch=True, name="empty cron config"),
    config("cron", {"cron_expression": None, "hour": None}, SC, name="cron config all null"),
    config("cron", {"start_date": IN_A_DAY}, SC, name="cron config only a window"),
    config("interval", {}, SC, name="empty interval config"),
    config("interval", {"seconds": 0}, SC, patch=True, name="interval total zero"),
    config("interval", {"days": 0, "hours": 0}, SC, name="interval units all zero"),
    config("interval", {"minutes": -1, "hours": 1}, f"{SC}.minutes", patch=True,
           name="negative unit"),
    config("interval", {"weeks": -1, "hours": 1}, f"{SC}.weeks", name="negative weeks"),
    # dates (zones.py parse_instant) and the window
    config("cron", {"hour": 9, "start_date": "tomorrow"}, f"{SC}.start_date", patch=True,
           name="start_date not a date"),
    config("cron", {"hour": 9, "end_date": "2026-02-30T09:00:00"}, f"{SC}.end_date",
           name="end_date not a day"),
    config("interval", {"minutes": 5, "start_date": "01/02/2026 09:00"}, f"{SC}.start_date",
           name="start_date not ISO 8601"),
    config("date", {"run_date": "tomorrow"}, f"{SC}.run_date", patch=True,
           name="run_date not a date"),
    config("date", {"run_date": ""}, f"{SC}.run_date", name="run_date empty"),
    config("cron", {"hour": 9, "start_date": IN_TWO_DAYS, "end_date": IN_A_DAY},
           f"{SC}.end_date", patch=True, name="cron end before start"),
    config("interval", {"minutes": 5, "start_date": IN_A_DAY, "end_date": IN_A_DAY},
           f"{SC}.end_date", name="interval end equal to start"),
    # -- schedule_config: cron syntax (triggers.py) -----------------------------------------
    config("cron", {"cron_expression": "0 9 * *"}, f"{SC}.cron_expression", patch=True,
           name="expression of 4 fields"),
    config("cron", {"cron_expression": "0 0 9 * * * 2027"}, f"{SC}.cron_expression",
           name="expression of 7 fields"),
    config("cron", {"cron_expression": ""}, f"{SC}.cron_expression", name="expression empty"),
    config("cron", {"cron_expression": "61 * * * *"}, f"{SC}.cron_expression", patch=True,
           name="expression minute out of range"),
    config("cron", {"cron_expression": "0 9 * * funday"}, f"{SC}.cron_expression",
           name="expression unknown weekday"),
    config("cron", {"cron_expression": "*/0 * * * *"}, f"{SC}.cron_expression",
           name="expression zero step"),
    config("cron", {"cron_expression": "60 0 9 * * *"}, f"{SC}.cron_expression",
           name="six-field expression second out of range"),
    config("cron", {"hour": 24}, f"{SC}.hour", patch=True, name="cron field out of range"),
    config("cron", {"day_of_week": "funday"}, f"{SC}.day_of_week", name="cron field bad name"),
    config("cron", {"hour": 9, "minute": "*/x"}, f"{SC}.minute", name="cron field bad step"),
    config("cron", {"month": 13}, f"{SC}.month", name="cron field month 13"),
    config("cron", {"cron_expression": "0 9 * * *", "hour": 10}, SC, patch=True,
           name="expression and fields disagree"),
    config("cron", {"cron_expression": "61 * * * *", "hour": 9}, f"{SC}.cron_expression",
           name="expression bad beside fields"),
    config("cron", {"cron_expression": "0 9 * * *", "hour": 25}, f"{SC}.hour",
           name="field bad beside an expression"),
    config("cron", {"cron_expression": "0 9 * * *\x00"}, f"{SC}.cron_expression",
           name="expression with NUL"),
    # -- it can never fire (the service) -----------------------------------------------------
    config("date", {"run_date": A_DAY_AGO}, SC, name="run_date passed"),
    config("cron", {"hour": 9, "end_date": A_DAY_AGO}, SC, name="end_date passed"),
    # -- timezone (zones.py, the request schema) -----------------------------------------------
    Rule("timezone not IANA", "cron", {"timezone": "Mars/Olympus"}, "timezone", patch=True),
    Rule("timezone lower case", "interval", {"timezone": "utc"}, "timezone"),
    Rule("timezone an offset", "date", {"timezone": "+09:00"}, "timezone", patch=True),
    Rule("timezone a path", "cron", {"timezone": "../etc/passwd"}, "timezone"),
    Rule("timezone too long", "cron", {"timezone": "A" * 51}, "timezone"),
    Rule("timezone not a string", "cron", {"timezone": 9}, "timezone"),
    # -- metadata (run_options.py) --------------------------------------------------------------
    metadata("high", MD, patch=True, name="metadata a string"),
    metadata([], MD, name="metadata a list"),
    metadata(None, MD, name="metadata null"),
    metadata({"priority": "urgent"}, f"{MD}.priority", patch=True),
    metadata({"priority": 1}, f"{MD}.priority", name="priority a number"),
    metadata({"tags": "market-open"}, f"{MD}.tags", patch=True, name="tags not a list"),
    metadata({"tags": {"a": "b"}}, f"{MD}.tags", name="tags an object"),
    metadata({"tags": [1]}, f"{MD}.tags[0]", name="tag not a string"),
    metadata({"tags": [""]}, f"{MD}.tags[0]", patch=True, name="empty tag"),
    metadata({"tags": ["ok", ""]}, f"{MD}.tags[1]", name="empty second tag"),
    metadata({"tags": ["x" * (MAX_TAG_LENGTH + 1)]}, f"{MD}.tags[0]", patch=True,
             name="tag too long"),
    metadata({"notification": "email"}, f"{MD}.notification", name="notification a string"),
    metadata({"notification": {"email": True}}, f"{MD}.notification.email", patch=True,
             name="notification unknown key"),
    metadata({"notification": {"on_success": "yes"}}, f"{MD}.notification.on_success"),
    metadata({"notification": {"on_failure": 0}}, f"{MD}.notification.on_failure"),
    metadata({"notification": {"channels": "email"}}, f"{MD}.notification.channels"),
    metadata({"notification": {"channels": [1]}}, f"{MD}.notification.channels[0]"),
    metadata({"max_instances": 0}, f"{MD}.max_instances", patch=True),
    metadata({"max_instances": "2"}, f"{MD}.max_instances", name="max_instances a string"),
    metadata({"max_instances": True}, f"{MD}.max_instances", name="max_instances a boolean"),
    metadata({"coalesce": "yes"}, f"{MD}.coalesce", patch=True),
    metadata({"coalesce": 1}, f"{MD}.coalesce", name="coalesce a number"),
    metadata({"misfire_grace_time": -1}, f"{MD}.misfire_grace_time", patch=True),
    metadata({"misfire_grace_time": "60"}, f"{MD}.misfire_grace_time",
             name="misfire_grace_time a string"),
    metadata({"misfire_grace_time": 1.5}, f"{MD}.misfire_grace_time",
             name="misfire_grace_time a float"),
    metadata({"note": "a\x00b"}, f"{MD}.note", patch=True, name="metadata with NUL"),
    # -- metadata: credentials at any depth (credentials.py) ----------------------------------
    metadata({"api_key": "x"}, f"{MD}.api_key", patch=True),
    metadata({"clientSecret": "x"}, f"{MD}.clientSecret"),
    metadata({"broker": {"auth": {"accessKey": "x"}}}, f"{MD}.broker.auth.accessKey",
             patch=True),
    metadata({"accounts": [{"name": "a"}, {"db-password": "x"}]},
             f"{MD}.accounts[1].db-password"),
    metadata({"limits": [[{"token_budget": 100}]]}, f"{MD}.limits[0][0].token_budget"),
    metadata({"notification": {"webhook_token": "x"}}, f"{MD}.notification.webhook_token"),
    metadata({"broker": {"password": None}}, f"{MD}.broker.password"),
]  # fmt: skip


CASES = [
    (method, rule)
    for rule in RULES
    for method in (*(["POST"] if rule.post else []), *(["PATCH"] if rule.patch else []))
]


def test_the_table_names_each_rule_once() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert sum(method == "PATCH" for method, _ in CASES) >= 20


async def test_every_rule_is_422_naming_the_field_and_writes_nothing(
    api: httpx.AsyncClient,
    alice: Headers,
    committed_db: AsyncEngine,
    subtests: pytest.Subtests,
) -> None:
    """One case per rule (a subtest each); the table is read before and after every case."""
    workflow = await post_workflow(api, alice)
    existing = {
        kind: await post_schedule(api, alice, workflow["id"], schedule_type=kind, **valid)
        for kind, valid in VALID.items()
    }
    for method, rule in CASES:
        with subtests.test(f"{method} {rule.name}"):
            before = await stored_schedules(committed_db)
            if method == "POST":
                body = {
                    "workflow_id": workflow["id"],
                    "name": "n",
                    "schedule_type": rule.kind,
                    **VALID[rule.kind],
                    **rule.change,
                }
                body = {key: value for key, value in body.items() if value is not MISSING}
                response = await api.post(BASE, json=body, headers=alice)
            else:
                url = f"{BASE}/{existing[rule.kind]['id']}"
                response = await api.patch(url, json=rule.change, headers=alice)

            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == "validation_error"
            assert error_fields(response) == [rule.field] * rule.reasons, response.text
            assert await stored_schedules(committed_db) == before
            if method == "PATCH":
                shown = await api.get(url, headers=alice)
                assert shown.json() == existing[rule.kind]
