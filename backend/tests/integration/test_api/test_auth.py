"""Registration, tokens, the current user."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.security import create_access_token
from app.core.settings import Settings
from app.main import create_app
from tests.integration.test_api.conftest import JWT_SECRET, Headers, error_fields, login


async def test_register_answers_the_user_without_secrets(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/users", json={"email": "Trader@Example.com", "password": "long-enough"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "Trader@Example.com"
    assert body["is_active"] is True
    assert "password" not in str(body)
    assert "hashed" not in str(body)


async def test_email_is_unique_ignoring_case(api: httpx.AsyncClient) -> None:
    first = {"email": "dup@example.com", "password": "long-enough"}
    assert (await api.post("/api/v1/users", json=first)).status_code == 201
    again = await api.post("/api/v1/users", json={**first, "email": "DUP@example.com"})
    assert again.status_code == 409
    assert error_fields(again) == ["email"]


async def test_bad_registration_names_the_field(api: httpx.AsyncClient) -> None:
    bad_email = await api.post("/api/v1/users", json={"email": "nope", "password": "long-enough"})
    assert bad_email.status_code == 422
    assert error_fields(bad_email) == ["email"]
    short = await api.post("/api/v1/users", json={"email": "a@example.com", "password": "x"})
    assert short.status_code == 422
    assert error_fields(short) == ["password"]
    extra = await api.post(
        "/api/v1/users", json={"email": "a@example.com", "password": "long-enough", "admin": 1}
    )
    assert extra.status_code == 422
    assert error_fields(extra) == ["admin"]


async def test_wrong_password_and_unknown_email_look_the_same(api: httpx.AsyncClient) -> None:
    await api.post("/api/v1/users", json={"email": "me@example.com", "password": "long-enough"})
    wrong = await api.post(
        "/api/v1/auth/token", data={"username": "me@example.com", "password": "not-it"}
    )
    unknown = await api.post(
        "/api/v1/auth/token", data={"username": "who@example.com", "password": "not-it"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["www-authenticate"] == "Bearer"


async def test_token_gives_me(api: httpx.AsyncClient, alice: Headers) -> None:
    me = await api.get("/api/v1/users/me", headers=alice)
    assert me.status_code == 200
    assert me.json()["email"].endswith("@example.com")


async def test_me_needs_a_valid_unexpired_token(api: httpx.AsyncClient, alice: Headers) -> None:
    assert (await api.get("/api/v1/users/me")).status_code == 401
    garbage = {"Authorization": "Bearer not-a-token"}
    assert (await api.get("/api/v1/users/me", headers=garbage)).status_code == 401
    user_id = uuid.UUID((await api.get("/api/v1/users/me", headers=alice)).json()["id"])
    expired = create_access_token(user_id, JWT_SECRET, timedelta(seconds=-1))
    response = await api.get("/api/v1/users/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    forged = create_access_token(
        user_id, "another-secret-of-32-characters-at-least", timedelta(hours=1)
    )
    response = await api.get("/api/v1/users/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_health_metrics_and_docs_need_no_token(api: httpx.AsyncClient) -> None:
    assert (await api.get("/health")).status_code == 200
    assert (await api.get("/metrics")).status_code == 200  # what Prometheus scrapes
    assert (await api.get("/docs")).status_code == 200
    assert (await api.get("/openapi.json")).status_code == 200


async def test_every_api_route_needs_a_token(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    some_id = str(uuid.uuid4())
    for path, operations in spec["paths"].items():
        if path in ("/health", "/metrics", "/api/v1/users", "/api/v1/auth/token"):
            continue
        for method in operations:
            url = path.replace("{schedule_id}", some_id).replace("{workflow_id}", some_id)
            response = await api.request(method.upper(), url, json={})
            assert response.status_code == 401, f"{method.upper()} {path}"


async def test_a_deactivated_or_deleted_user_loses_access(
    committed_db: AsyncEngine, engine_database_url: str
) -> None:
    settings = Settings(
        database_url=engine_database_url,
        scheduler_enabled=False,
        worker_enabled=False,
        jwt_secret=JWT_SECRET,
        auth_cache_seconds=0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
            alice, bob = await login(api), await login(api)
            assert (await api.get("/api/v1/users/me", headers=alice)).status_code == 200
            async with committed_db.begin() as connection:
                await connection.execute(text("UPDATE users SET is_active = false"))
            assert (await api.get("/api/v1/users/me", headers=alice)).status_code == 401
            async with committed_db.begin() as connection:
                await connection.execute(
                    text("UPDATE users SET is_active = true, deleted_at = now()")
                )
            assert (await api.get("/api/v1/workflows", headers=bob)).status_code == 401
