"""The FastAPI app: lifespan opens the engine, /health checks the database, docs are served."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from app.db.database import create_session_factory
from app.main import create_app
from tests.factories import make_schedule, persisted_workflow
from tests.waiting import until


async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=database_url, scheduler_enabled=False, worker_enabled=False)
    async for client in client_for(create_app(settings)):
        yield client


async def test_health_reports_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "scheduler": {"state": "disabled"},
        "worker": {"state": "disabled"},
    }


async def first_pass(app: FastAPI) -> None:
    """Wait until the app's engine has made its first pass."""

    async def passed() -> bool:
        return app.state.scheduler.last_pass_at is not None

    await until(passed, "the engine's first pass")


async def a_schedule(db: AsyncEngine, due_ago: timedelta | None = None) -> uuid.UUID:
    """Commit a weekday 09:00 schedule; with `due_ago`, its next fire time that long ago
    (and a grace long enough that it is still fired, however slow the machine)."""
    async with create_session_factory(db)() as session, session.begin():
        workflow = await persisted_workflow(session)
        schedule = make_schedule(workflow, metadata_={"misfire_grace_time": 3600})
        session.add(schedule)
    if due_ago is not None:
        async with db.begin() as connection:
            await connection.execute(
                text("UPDATE schedules SET next_run_at = :at WHERE id = :id"),
                {"at": datetime.now(UTC) - due_ago, "id": schedule.id},
            )
    return schedule.id


async def test_health_reports_the_running_engine(
    committed_db: AsyncEngine, engine_database_url: str
) -> None:
    # An emptied database and one schedule whose next fire is still ahead: nothing is due.
    await a_schedule(committed_db)
    settings = Settings(database_url=engine_database_url, scheduler_poll_interval=0.05)
    app = create_app(settings)
    async for client in client_for(app):
        await first_pass(app)
        scheduler = (await client.get("/health")).json()["scheduler"]
        assert scheduler["state"] == "running"
        assert scheduler["last_pass_at"] is not None
        assert scheduler["last_reconcile_at"] is not None
        assert scheduler["due_lag_seconds"] == 0.0, "no schedule is due, so none is late"
    assert app.state.scheduler.state == "stopped"


async def test_health_shows_how_late_the_oldest_due_schedule_is(
    committed_db: AsyncEngine, engine_database_url: str
) -> None:
    late = await a_schedule(committed_db, due_ago=timedelta(seconds=30))
    settings = Settings(database_url=engine_database_url, scheduler_poll_interval=0.05)
    app = create_app(settings)
    async for client in client_for(app):

        async def lag(client: httpx.AsyncClient = client) -> float:
            return float((await client.get("/health")).json()["scheduler"]["due_lag_seconds"])

        async with committed_db.connect() as holder:
            transaction = await holder.begin()
            # Held locked, the due row is skipped by every pass: it stays due, and late.
            await holder.execute(
                text("SELECT id FROM schedules WHERE id = :id FOR UPDATE"), {"id": late}
            )
            await first_pass(app)
            assert await lag() >= 30.0
            await transaction.rollback()

        async def caught_up() -> bool:
            return await lag() == 0.0

        await until(caught_up, "the engine to fire the late schedule")
    async with committed_db.connect() as connection:
        fired = await connection.scalar(
            text("SELECT count(*) FROM workflow_executions WHERE schedule_id = :id"), {"id": late}
        )
    assert fired == 1


async def test_health_is_503_when_the_database_is_down() -> None:
    settings = Settings(database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    app = create_app(settings)
    async for client in client_for(app):  # the app starts, its worker waits for the database

        async def worker_waits() -> bool:
            return bool(app.state.worker.state == "degraded")

        await until(worker_waits, "the worker to find the database down")
        response = await client.get("/health")
        assert response.status_code == 503
        assert response.json()["status"] == "error"
        assert response.json()["database"].startswith("unavailable")


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/health" in spec["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
