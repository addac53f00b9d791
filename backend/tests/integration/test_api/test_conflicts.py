"""Races the database settles answer 409 in the one error shape, never a 500.

Each test makes the race happen for certain: it holds a row lock in its own open
transaction, starts the request, waits until PostgreSQL shows the request waiting on
that lock, then commits, so the request's write meets the constraint or the stale version.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_api.conftest import Headers, error_fields
from tests.integration.test_scheduler.helpers import wait_until_blocked_on_a_lock


async def test_two_registrations_of_one_email_racing_give_409_naming_email(
    api: httpx.AsyncClient, committed_db: AsyncEngine
) -> None:
    async with committed_db.connect() as rival:
        transaction = await rival.begin()
        # The rival's row is not committed, so the service's "is it taken" check passes
        # and its INSERT waits on the unique index until the rival commits.
        await rival.execute(text("INSERT INTO users (email) VALUES ('race@example.com')"))
        request = asyncio.create_task(
            api.post("/api/v1/users", json={"email": "race@example.com", "password": "long-enough"})
        )
        await wait_until_blocked_on_a_lock(committed_db, "INSERT INTO users")
        await transaction.commit()
        response = await request
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "conflict"
    assert error_fields(response) == ["email"]
    async with committed_db.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM users WHERE lower(email) = 'race@example.com'")
        )
    assert count == 1


async def test_many_concurrent_registrations_of_one_email_make_one_user(
    api: httpx.AsyncClient, committed_db: AsyncEngine
) -> None:
    body = {"email": "crowd@example.com", "password": "long-enough"}
    responses = await asyncio.gather(*(api.post("/api/v1/users", json=body) for _ in range(8)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert error_fields(response) == ["email"]


async def test_a_stale_workflow_write_is_409_and_the_winner_stays(
    api: httpx.AsyncClient, alice: Headers, committed_db: AsyncEngine
) -> None:
    created = await api.post("/api/v1/workflows", json={"name": "original"}, headers=alice)
    workflow: dict[str, Any] = created.json()
    async with committed_db.connect() as rival:
        transaction = await rival.begin()
        # Another writer changes the workflow (and its optimistic-lock version) first.
        await rival.execute(
            text("UPDATE workflows SET name = 'winner', version = version + 1 WHERE id = :id"),
            {"id": workflow["id"]},
        )
        request = asyncio.create_task(
            api.patch(f"/api/v1/workflows/{workflow['id']}", json={"name": "loser"}, headers=alice)
        )
        await wait_until_blocked_on_a_lock(committed_db, "UPDATE workflows")
        await transaction.commit()
        response = await request
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "conflict"
    assert error_fields(response) == ["version"]
    after = await api.get(f"/api/v1/workflows/{workflow['id']}", headers=alice)
    assert after.json()["name"] == "winner"
    assert after.json()["version"] == workflow["version"] + 1
