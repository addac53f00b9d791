"""The FastAPI app: lifespan opens the engine, /health checks the database, docs are served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.core.settings import Settings
from app.main import create_app


async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=database_url, scheduler_enabled=False)
    async for client in client_for(create_app(settings)):
        yield client


async def test_health_reports_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "scheduler": {"state": "disabled"},
    }


async def test_health_reports_the_running_engine(engine_database_url: str) -> None:
    settings = Settings(database_url=engine_database_url, scheduler_poll_interval=0.05)
    app = create_app(settings)
    async for client in client_for(app):
        for _ in range(100):  # until the engine has made its first pass
            if app.state.scheduler.last_pass_at is not None:
                break
            await asyncio.sleep(0.05)
        scheduler = (await client.get("/health")).json()["scheduler"]
        assert scheduler["state"] == "running"
        assert scheduler["last_pass_at"] is not None
        assert scheduler["last_reconcile_at"] is not None
        assert scheduler["due_lag_seconds"] == 0.0
    assert app.state.scheduler.state == "stopped"


async def test_health_is_503_when_the_database_is_down() -> None:
    settings = Settings(database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    async for client in client_for(create_app(settings)):
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
