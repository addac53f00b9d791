"""Hostile input through HTTP: every one is a 4xx in the one error shape naming the field,
and nothing is written. Each case here was a 500, a stored poison or an accepted
look-alike before the rule that now refuses it."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_api.conftest import Headers, error_fields, login


async def table_counts(db: AsyncEngine) -> dict[str, int]:
    """Rows per table, to show nothing was written."""
    async with db.connect() as connection:
        return {
            table: int(await connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in ("users", "workflows", "schedules", "workflow_executions")
        }


async def a_workflow(api: httpx.AsyncClient, headers: Headers) -> str:
    """The id of a new workflow of the caller's."""
    response = await api.post("/api/v1/workflows", json={"name": "wf"}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def schedule_body(workflow_id: str, **changes: Any) -> dict[str, Any]:
    """A valid interval schedule body with `changes` applied."""
    return {
        "workflow_id": workflow_id,
        "name": "hostile",
        "schedule_type": "interval",
        "schedule_config": {"seconds": 10},
        **changes,
    }


NESTED_300 = json.loads("[" * 300 + "]" * 300)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"metadata": {"misfire_grace_time": 100_000_000_000}}, "metadata.misfire_grace_time"),
        ({"metadata": {"misfire_grace_time": 86_401}}, "metadata.misfire_grace_time"),
        ({"metadata": {"max_instances": 101}}, "metadata.max_instances"),
        ({"metadata": {"tags": ["t"] * 33}}, "metadata.tags"),
        ({"schedule_config": {"seconds": 10**13}}, "schedule_config.seconds"),
        ({"schedule_config": {"seconds": 10**18}}, "schedule_config.seconds"),
        ({"schedule_config": {"weeks": 10**8}}, "schedule_config.weeks"),
        ({"schedule_config": {"days": 3000, "weeks": 500}}, "schedule_config"),
        (
            {"schedule_type": "date", "schedule_config": {"run_date": "0001-01-01T00:00:00+14:00"}},
            "schedule_config.run_date",
        ),
        (
            {"schedule_type": "date", "schedule_config": {"run_date": "9999-12-31T23:00:00-10:00"}},
            "schedule_config.run_date",
        ),
        (
            {"schedule_config": {"seconds": 10, "start_date": "0001-01-01T00:00:00"}},
            "schedule_config.start_date",
        ),
        (
            {"schedule_type": "cron", "schedule_config": {"cron_expression": "* " * 300_000}},
            "schedule_config.cron_expression",
        ),
        (
            {"schedule_type": "cron", "schedule_config": {"minute": "1," * 200}},
            "schedule_config.minute",
        ),
        ({"metadata": {"deep": NESTED_300}}, "metadata.deep"),
        ({"metadata": {"note": "x" * 70_000}}, "metadata"),
        ({"description": "d" * 10_001}, "description"),
    ],
)
async def test_out_of_bounds_definitions_are_422_and_write_nothing(
    api: httpx.AsyncClient,
    alice: Headers,
    committed_db: AsyncEngine,
    changes: dict[str, Any],
    field: str,
) -> None:
    workflow_id = await a_workflow(api, alice)
    before = await table_counts(committed_db)
    response = await api.post(
        "/api/v1/schedules", json=schedule_body(workflow_id, **changes), headers=alice
    )
    assert response.status_code == 422, response.text
    assert any(name.startswith(field) for name in error_fields(response)), response.text
    assert await table_counts(committed_db) == before


async def test_the_same_bounds_hold_on_patch(
    api: httpx.AsyncClient, alice: Headers, committed_db: AsyncEngine
) -> None:
    workflow_id = await a_workflow(api, alice)
    created = await api.post("/api/v1/schedules", json=schedule_body(workflow_id), headers=alice)
    schedule = created.json()
    for changes, field in (
        ({"metadata": {"misfire_grace_time": 100_000_000_000}}, "metadata.misfire_grace_time"),
        ({"schedule_config": {"seconds": 10**18}}, "schedule_config.seconds"),
    ):
        response = await api.patch(
            f"/api/v1/schedules/{schedule['id']}", json=changes, headers=alice
        )
        assert response.status_code == 422, response.text
        assert field in error_fields(response)
    after = await api.get(f"/api/v1/schedules/{schedule['id']}", headers=alice)
    assert after.json()["metadata"] == schedule["metadata"]
    assert after.json()["schedule_config"] == schedule["schedule_config"]


@pytest.mark.parametrize(
    ("raw_metadata", "field"),
    [
        ('{"x": NaN}', "metadata.x"),
        ('{"x": Infinity}', "metadata.x"),
        ('{"x": -Infinity}', "metadata.x"),
        ('{"x": 1e400}', "metadata.x"),
        ('{"x": "\\ud800"}', "metadata.x"),
        ('{"\\udfff": 1}', "metadata"),
        ('{"x": ' + "[" * 300 + "]" * 300 + "}", "metadata.x"),
        # Past what the JSON parser nests, the body itself is refused.
        ('{"x": ' + "[" * 5000 + "]" * 5000 + "}", "body"),
        ('{"x": 100000000000000000000000000000}', "metadata.x"),
        ('{"x": ' + "9" * 400 + "}", "metadata.x"),
    ],
)
async def test_json_postgresql_cannot_store_or_render_is_422(
    api: httpx.AsyncClient,
    alice: Headers,
    committed_db: AsyncEngine,
    raw_metadata: str,
    field: str,
) -> None:
    workflow_id = await a_workflow(api, alice)
    before = await table_counts(committed_db)
    body = json.dumps(schedule_body(workflow_id))[:-1] + f', "metadata": {raw_metadata}}}'
    response = await api.post(
        "/api/v1/schedules",
        content=body.encode("utf-8", "surrogatepass"),
        headers={**alice, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert any(name.startswith(field) for name in error_fields(response)), response.text
    assert await table_counts(committed_db) == before


async def test_workflow_config_and_variables_follow_the_same_rules(
    api: httpx.AsyncClient, alice: Headers, committed_db: AsyncEngine
) -> None:
    before = await table_counts(committed_db)
    deep = {"config": {"a": NESTED_300}, "name": "deep"}
    assert (await api.post("/api/v1/workflows", json=deep, headers=alice)).status_code == 422
    big = {"variables": {"blob": "x" * 100_000}, "name": "big"}
    response = await api.post("/api/v1/workflows", json=big, headers=alice)
    assert response.status_code == 422
    assert error_fields(response) == ["variables.blob"]
    nan = '{"name": "nan", "config": {"weight": NaN}}'
    response = await api.post(
        "/api/v1/workflows", content=nan, headers={**alice, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert error_fields(response) == ["config.weight"]
    assert await table_counts(committed_db) == before


async def test_a_body_over_the_limit_is_413_in_the_error_shape_and_writes_nothing(
    api: httpx.AsyncClient, alice: Headers, committed_db: AsyncEngine
) -> None:
    before = await table_counts(committed_db)
    huge = {"name": "huge", "config": {"blob": "x" * (2 * 1024 * 1024)}}
    response = await api.post("/api/v1/workflows", json=huge, headers=alice)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert error_fields(response) == ["body"]

    async def chunks() -> Any:  # no Content-Length: the limit counts what streams in
        yield b'{"name": "streamed", "description": "'
        for _ in range(40):
            yield b"y" * 65_536
        yield b'"}'

    streamed = await api.post(
        "/api/v1/workflows", content=chunks(), headers={**alice, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert await table_counts(committed_db) == before


def cursor_of(value: object) -> str:
    """A cursor made the way the API makes them, around any JSON value."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of(["0001-01-01T00:00+14:00", "00000000-0000-0000-0000-000000000000"]),
        cursor_of(["9999-12-31T23:59:59-14:00", "00000000-0000-0000-0000-000000000000"]),
        cursor_of(["2026-01-01T00:00:00+00:00", 123]),
        cursor_of([123, "00000000-0000-0000-0000-000000000000"]),
        cursor_of({"a": 1}),
        cursor_of("just a string"),
        cursor_of([[[[[[[[[[[[]]]]]]]]]]]]),
        base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode(),
        "not base64 at all!",
        "x" * 10_000,
    ],
)
async def test_cursors_of_any_shape_are_422_naming_cursor(
    api: httpx.AsyncClient, alice: Headers, cursor: str
) -> None:
    workflow_id = await a_workflow(api, alice)
    created = await api.post("/api/v1/schedules", json=schedule_body(workflow_id), headers=alice)
    schedule_id = created.json()["id"]
    for path in (
        "/api/v1/workflows",
        "/api/v1/schedules",
        f"/api/v1/schedules/{schedule_id}/executions",
    ):
        response = await api.get(path, params={"cursor": cursor}, headers=alice)
        assert response.status_code == 422, (path, response.text)
        assert error_fields(response) == ["cursor"]


async def test_an_integer_or_deep_json_where_an_id_belongs_is_422(
    api: httpx.AsyncClient, alice: Headers, committed_db: AsyncEngine
) -> None:
    before = await table_counts(committed_db)
    for workflow_id in (12345, {"a": [1]}, NESTED_300):
        response = await api.post(
            "/api/v1/schedules",
            json=schedule_body(workflow_id),
            headers=alice,  # type: ignore[arg-type]
        )
        assert response.status_code == 422, response.text
        assert error_fields(response) == ["workflow_id"]
    assert await table_counts(committed_db) == before


async def test_responses_carry_the_security_headers(api: httpx.AsyncClient, alice: Headers) -> None:
    anonymous = await api.get("/health")
    assert anonymous.headers["x-content-type-options"] == "nosniff"
    assert anonymous.headers["referrer-policy"] == "no-referrer"
    assert "no-store" not in anonymous.headers.get("cache-control", "")
    mine = await api.get("/api/v1/users/me", headers=alice)
    assert mine.headers["cache-control"] == "no-store"
    assert mine.headers["x-content-type-options"] == "nosniff"
    refused = await api.get("/api/v1/users/me", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert refused.headers["cache-control"] == "no-store"


# -- accounts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "\uff34\uff32\uff21\uff24\uff25\uff32@example.com",  # full-width TRADER
        "TRADER@EXAMPLE.COM",
        "trader@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # full-width domain
    ],
)
async def test_look_alikes_of_an_existing_email_collide(
    api: httpx.AsyncClient, committed_db: AsyncEngine, variant: str
) -> None:
    first = await api.post(
        "/api/v1/users", json={"email": "trader@example.com", "password": "kospi-open-9am"}
    )
    assert first.status_code == 201
    again = await api.post("/api/v1/users", json={"email": variant, "password": "kospi-open-9am"})
    assert again.status_code == 409, again.text
    assert error_fields(again) == ["email"]
    # Logging in with the look-alike finds the one account there is.
    token = await api.post(
        "/api/v1/auth/token", data={"username": variant, "password": "kospi-open-9am"}
    )
    assert token.status_code == 200
    me = await api.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert me.json()["id"] == first.json()["id"]
    assert (await table_counts(committed_db))["users"] == 1


@pytest.mark.parametrize(
    "email",
    [
        "trader@example.com.",  # trailing dot
        "tra\u200bder@example.com",  # zero-width space
        "İvan@example.com",
        "i\u0307van@example.com",
        "x@.",
        "<script>@x.y",
        "no-at-sign",
        "a@b",
    ],
)
async def test_addresses_that_are_not_plain_emails_are_refused(
    api: httpx.AsyncClient, committed_db: AsyncEngine, email: str
) -> None:
    response = await api.post("/api/v1/users", json={"email": email, "password": "kospi-open-9am"})
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["email"]
    assert (await table_counts(committed_db))["users"] == 0


@pytest.mark.parametrize(
    "password",
    ["password", "12345678", "qwertyuiop", " " * 8, "\x00" * 8, "\t\n\r \t\n\r ", "me@example.com"],
)
async def test_weak_passwords_are_refused_naming_password(
    api: httpx.AsyncClient, committed_db: AsyncEngine, password: str
) -> None:
    response = await api.post(
        "/api/v1/users", json={"email": "me@example.com", "password": password}
    )
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["password"]
    assert (await table_counts(committed_db))["users"] == 0


async def test_repeated_wrong_logins_are_429_with_retry_after(api: httpx.AsyncClient) -> None:
    await api.post("/api/v1/users", json={"email": "me@example.com", "password": "kospi-open-9am"})
    statuses = []
    for _ in range(8):
        response = await api.post(
            "/api/v1/auth/token", data={"username": "me@example.com", "password": "guess"}
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["code"] == "too_many_requests"
    # Even the right password waits: the account is locked for the window, not the guesser.
    right = await api.post(
        "/api/v1/auth/token", data={"username": "me@example.com", "password": "kospi-open-9am"}
    )
    assert right.status_code == 429


async def test_registrations_from_one_address_are_rate_limited(api: httpx.AsyncClient) -> None:
    statuses = [
        (
            await api.post(
                "/api/v1/users", json={"email": f"u{n}@example.com", "password": "kospi-open-9am"}
            )
        ).status_code
        for n in range(12)
    ]
    assert statuses[:10] == [201] * 10
    assert statuses[10:] == [429, 429]


async def test_a_schedule_cannot_be_triggered_while_its_workflow_is_inactive(
    api: httpx.AsyncClient, committed_db: AsyncEngine
) -> None:
    alice = await login(api)
    workflow_id = await a_workflow(api, alice)
    created = await api.post("/api/v1/schedules", json=schedule_body(workflow_id), headers=alice)
    schedule_id = created.json()["id"]
    paused = await api.patch(
        f"/api/v1/workflows/{workflow_id}", json={"is_active": False}, headers=alice
    )
    assert paused.status_code == 200
    before = await table_counts(committed_db)
    for _ in range(3):
        response = await api.post(f"/api/v1/schedules/{schedule_id}/trigger", headers=alice)
        assert response.status_code == 409, response.text
    assert await table_counts(committed_db) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"schedule_config": {"seconds": 10, "end_date": "2000-01-01T00:00:00Z"}},
        {"schedule_config": {"run_date": "2000-01-01T00:00:00Z"}},
    ],
)
async def test_a_patch_that_would_leave_an_active_schedule_never_firing_is_422(
    api: httpx.AsyncClient, alice: Headers, changes: dict[str, Any]
) -> None:
    workflow_id = await a_workflow(api, alice)
    kind = "date" if "run_date" in changes["schedule_config"] else "interval"
    config = {"run_date": "2999-01-01T00:00:00Z"} if kind == "date" else {"seconds": 10}
    created = await api.post(
        "/api/v1/schedules",
        json=schedule_body(workflow_id, schedule_type=kind, schedule_config=config),
        headers=alice,
    )
    schedule = created.json()
    response = await api.patch(f"/api/v1/schedules/{schedule['id']}", json=changes, headers=alice)
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["schedule_config"]
    after = (await api.get(f"/api/v1/schedules/{schedule['id']}", headers=alice)).json()
    assert after["schedule_config"] == schedule["schedule_config"]
    assert after["next_run_at"] == schedule["next_run_at"]
    # Paused, the same change is accepted: a paused schedule need not be able to fire.
    paused = await api.post(f"/api/v1/schedules/{schedule['id']}/pause", headers=alice)
    assert paused.status_code == 200
    accepted = await api.patch(f"/api/v1/schedules/{schedule['id']}", json=changes, headers=alice)
    assert accepted.status_code == 200


async def test_a_fire_time_past_year_9999_is_no_fire_time_not_a_500(
    api: httpx.AsyncClient, alice: Headers, committed_db: AsyncEngine
) -> None:
    workflow_id = await a_workflow(api, alice)
    before = await table_counts(committed_db)
    body = schedule_body(
        workflow_id,
        schedule_type="cron",
        schedule_config={"year": 9999, "month": 12, "day": 31, "hour": 23},
        timezone="America/Los_Angeles",
    )
    response = await api.post("/api/v1/schedules", json=body, headers=alice)
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["schedule_config"]
    assert await table_counts(committed_db) == before


async def test_look_alikes_of_one_account_share_its_login_budget(api: httpx.AsyncClient) -> None:
    await api.post("/api/v1/users", json={"email": "me@example.com", "password": "kospi-open-9am"})
    spellings = ["me@example.com", "ME@example.com", "\uff4d\uff45@example.com", " me@EXAMPLE.com"]
    statuses = [
        (
            await api.post(
                "/api/v1/auth/token",
                data={"username": spellings[n % len(spellings)], "password": "guess"},
            )
        ).status_code
        for n in range(7)
    ]
    assert statuses == [401] * 5 + [429] * 2


async def test_the_413_answer_carries_the_security_headers(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    response = await api.post(
        "/api/v1/workflows", json={"name": "x", "description": "y" * 2_000_000}, headers=alice
    )
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
