"""Secrets, logs, timeouts and health under faults, with real processes where it matters."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from app.db.database import create_database, create_session_factory
from app.main import create_app
from app.scheduler import EngineConfig, SchedulerEngine
from tests.integration.test_scheduler.helpers import create_schedule, fire_times, load

DEADLINE = 60.0


def free_port() -> int:
    """A TCP port free on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_outside_development_the_app_refuses_to_start_without_a_secret(
    engine_database_url: str,
) -> None:
    settings = Settings(
        database_url=engine_database_url, scheduler_enabled=False, worker_enabled=False,
        environment="production",
        jwt_secret=None, _env_file=None,
    )  # type: ignore[call-arg]  # fmt: skip
    app = create_app(settings)
    with pytest.raises(RuntimeError, match="JWT_SECRET is not set"):
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover - never reached


async def test_outside_development_the_app_refuses_to_start_without_encryption_keys(
    engine_database_url: str,
) -> None:
    settings = Settings(
        database_url=engine_database_url, scheduler_enabled=False, worker_enabled=False,
        environment="production",
        encryption_keys=None, _env_file=None,
    )  # type: ignore[call-arg]  # fmt: skip
    app = create_app(settings)
    with pytest.raises(RuntimeError, match="ENCRYPTION_KEYS is not set"):
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover - never reached


def test_a_bad_encryption_key_is_named_by_position_never_shown() -> None:
    key = "not-a-fernet-key-but-a-secret-0123456789"
    keys = f"{Fernet.generate_key().decode()},{key}"
    with pytest.raises(ValidationError) as raised:
        Settings(database_url="postgresql://x@localhost/x", encryption_keys=keys, _env_file=None)  # type: ignore[call-arg]
    assert "key 2 is not a Fernet key" in str(raised.value)
    assert key not in str(raised.value)


def test_in_development_the_encryption_key_is_made_once_and_kept(tmp_path: Path) -> None:
    def made() -> Settings:
        return Settings(
            database_url="postgresql://x@localhost/x", environment="development",
            dev_secrets_dir=tmp_path, encryption_keys=None, _env_file=None,
        )  # type: ignore[call-arg]  # fmt: skip

    first, second = made().sealing_box(), made().sealing_box()
    assert second.open(first.seal({"token": "t"})) == {"token": "t"}
    assert (tmp_path / "encryption_key").stat().st_mode & 0o077 == 0


def test_in_development_the_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    made = Settings(
        database_url="postgresql://x@localhost/x", environment="development",
        dev_secrets_dir=tmp_path, jwt_secret=None, _env_file=None,
    )  # type: ignore[call-arg]  # fmt: skip
    again = Settings(
        database_url="postgresql://x@localhost/x", environment="development",
        dev_secrets_dir=tmp_path, jwt_secret=None, _env_file=None,
    )  # type: ignore[call-arg]  # fmt: skip
    assert made.jwt_secret_value == again.jwt_secret_value
    assert len(made.jwt_secret_value) >= 32
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o077 == 0


async def test_every_worker_of_a_development_server_accepts_the_same_token(
    engine_database_url: str, committed_db: AsyncEngine, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        key: value for key, value in os.environ.items() if key != "JWT_SECRET"
    } | {
        "DATABASE_URL": engine_database_url, "ENVIRONMENT": "development",
        "DEV_SECRETS_DIR": str(tmp_path), "SCHEDULER_ENABLED": "false", "WORKER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }  # fmt: skip
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "2", "--log-level", "warning", env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + DEADLINE
            while True:
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "uvicorn never served"
                await asyncio.sleep(0.2)
            body = {"email": "workers@example.com", "password": "kospi-open-9am"}
            assert (await client.post("/api/v1/users", json=body)).status_code == 201
            token = await client.post(
                "/api/v1/auth/token",
                data={"username": body["email"], "password": body["password"]},
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            # New connections each time, so both workers answer some of them.
            statuses = []
            for _ in range(30):
                async with httpx.AsyncClient(base_url=base, timeout=30) as fresh:
                    answer = await fresh.get("/api/v1/users/me", headers=headers)
                    statuses.append(answer.status_code)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), DEADLINE)
    assert statuses == [200] * 30


async def test_a_failing_insert_logs_no_password_hash(
    engine_database_url: str, committed_db: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    database = create_database(engine_database_url, echo=True)
    secret_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0$aGFzaA"
    insert = text("INSERT INTO users (email, hashed_password) VALUES (:email, :hash)")
    values = {"email": "dup@example.com", "hash": secret_hash}
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            async with database.begin() as connection:
                await connection.execute(insert, values)
            with pytest.raises(IntegrityError) as failed:
                async with database.begin() as connection:
                    await connection.execute(insert, values)
    finally:
        await database.dispose()
    assert "INSERT INTO users" in caplog.text  # the statement is logged...
    assert "$argon2id" not in caplog.text  # ...its parameters never
    assert "dup@example.com" not in caplog.text
    assert "$argon2id" not in str(failed.value)
    assert "dup@example.com" not in str(failed.value)


async def test_a_statement_past_the_timeout_is_cancelled(engine_database_url: str) -> None:
    database = create_database(engine_database_url, statement_timeout=0.5)
    try:
        began = time.monotonic()
        with pytest.raises(DBAPIError, match="statement timeout"):
            async with database.connect() as connection:
                await connection.execute(text("SELECT pg_sleep(30)"))
        assert time.monotonic() - began < 25  # cancelled, not waited out
    finally:
        await database.dispose()


async def test_a_stuck_pass_shows_in_health_as_degraded_with_the_reason(
    committed_db: AsyncEngine,
) -> None:
    sessions = create_session_factory(committed_db)
    await create_schedule(
        sessions, schedule_type="interval", schedule_config={"seconds": 1}, timezone="UTC"
    )
    scheduler = SchedulerEngine(committed_db, EngineConfig(poll_interval=0.1, stall_after=0.5))
    async with committed_db.connect() as blocker:
        transaction = await blocker.begin()
        # Inserts of executions wait behind this; reads of schedules do not.
        await blocker.execute(text("LOCK TABLE workflow_executions IN EXCLUSIVE MODE"))
        scheduler.start()
        try:
            deadline = time.monotonic() + DEADLINE
            while (status := await scheduler.status())["state"] != "degraded":
                assert time.monotonic() < deadline, status
                await asyncio.sleep(0.1)
            assert str(status["reason"]).startswith("a pass has been running for")
        finally:
            await transaction.rollback()
        deadline = time.monotonic() + DEADLINE
        while (status := await scheduler.status())["state"] != "running":
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.1)
        assert status["reason"] is None
    await scheduler.shutdown()


@pytest.mark.parametrize("owner_change", ["is_active = false", "deleted_at = now()"])
async def test_schedules_of_an_inactive_or_deleted_owner_skip_their_fires(
    committed_db: AsyncEngine, owner_change: str
) -> None:
    sessions = create_session_factory(committed_db)
    created = await create_schedule(
        sessions, schedule_type="interval", schedule_config={"seconds": 10}, timezone="UTC"
    )
    async with committed_db.begin() as connection:
        now = await connection.scalar(text("SELECT clock_timestamp()"))
        await connection.execute(
            text(
                f"UPDATE users SET {owner_change}"
                " WHERE id = (SELECT user_id FROM schedules WHERE id = :id)"
            ),
            {"id": created.schedule_id},
        )
        await connection.execute(
            text("UPDATE schedules SET next_run_at = :due WHERE id = :id"),
            {"due": now, "id": created.schedule_id},
        )
    report = await SchedulerEngine(committed_db).run_due(now)
    assert report.fired == 0
    assert await fire_times(committed_db, created.schedule_id) == []
    schedule = await load(sessions, created.schedule_id)
    assert schedule.last_skip_reason == "owner_inactive"
    assert schedule.skipped_count == 1
    assert schedule.is_active is True  # the schedule is kept; it fires again if the owner returns


async def test_a_genuine_server_error_answers_in_the_error_shape_without_internals(
    engine_database_url: str, committed_db: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        database_url=engine_database_url, scheduler_enabled=False, worker_enabled=False,
        jwt_secret="tests-only-signing-secret-0123456789abcdef",
    )  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            body = {"email": "boom@example.com", "password": "kospi-open-9am"}
            assert (await client.post("/api/v1/users", json=body)).status_code == 201
            token = await client.post(
                "/api/v1/auth/token",
                data={"username": body["email"], "password": body["password"]},
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            # The database goes away under the app: a fault, not bad input.
            await app.state.database.dispose()
            app.state.live_users.ttl = 0
            app.state.read_database = create_database("postgresql://nobody@127.0.0.1:9/none")
            response = await client.get("/api/v1/users/me", headers=headers)
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Internal server error", "details": []}
    }
    assert "127.0.0.1" not in response.text
    assert "unhandled error on GET /api/v1/users/me" in caplog.text
