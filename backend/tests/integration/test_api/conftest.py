"""The API through HTTP (httpx against the ASGI app) on a committed-data database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from app.main import create_app
from app.models import Schedule

JWT_SECRET = "test-secret-not-for-production-0123456789"
Headers = dict[str, str]


@pytest.fixture
async def api(
    committed_db: AsyncEngine, engine_database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app (scheduler off) on an emptied database."""
    settings = Settings(
        database_url=engine_database_url,
        scheduler_enabled=False,
        worker_enabled=False,
        jwt_secret=JWT_SECRET,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def login(api: httpx.AsyncClient, email: str | None = None) -> Headers:
    """Register a user and return bearer headers for them."""
    email = email or f"u{uuid.uuid4().hex[:10]}@example.com"
    created = await api.post("/api/v1/users", json={"email": email, "password": "correct-horse"})
    assert created.status_code == 201, created.text
    token = await api.post(
        "/api/v1/auth/token", data={"username": email, "password": "correct-horse"}
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture
async def alice(api: httpx.AsyncClient) -> Headers:
    """A logged-in user."""
    return await login(api)


@pytest.fixture
async def bob(api: httpx.AsyncClient) -> Headers:
    """Another logged-in user."""
    return await login(api)


async def post_workflow(api: httpx.AsyncClient, headers: Headers, **body: Any) -> dict[str, Any]:
    """Create a workflow through the API."""
    response = await api.post("/api/v1/workflows", json={"name": "wf", **body}, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def post_schedule(
    api: httpx.AsyncClient, headers: Headers, workflow_id: str | None = None, **body: Any
) -> dict[str, Any]:
    """Create a schedule through the API (a workflow too, unless given)."""
    if workflow_id is None:
        workflow_id = (await post_workflow(api, headers))["id"]
    payload = {
        "workflow_id": workflow_id,
        "name": "open",
        "schedule_type": "cron",
        "schedule_config": {"cron_expression": "0 9 * * 1-5"},
        "timezone": "Asia/Seoul",
        **body,
    }
    response = await api.post("/api/v1/schedules", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def stored_schedules(db: AsyncEngine) -> list[dict[str, Any]]:
    """Every row of `schedules` as the database holds it (Core, no ORM), in id order."""
    table = Schedule.__table__
    async with db.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(table))
        result = await connection.execute(select(table).order_by(table.c.id))
        rows = [dict(row._mapping) for row in result]
    assert count == len(rows)
    return rows


def error_fields(response: httpx.Response) -> list[str]:
    """The fields an error answer names (asserting its shape)."""
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "details"} <= set(body["error"])
    return [detail["field"] for detail in body["error"]["details"]]


Factory = Callable[..., Awaitable[dict[str, Any]]]
