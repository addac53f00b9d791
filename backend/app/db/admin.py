"""Server-level chores: create or recreate a database, migrate it to head."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from app.core.database_url import with_database

REPO_ROOT = Path(__file__).resolve().parents[3]


async def connect(url: str) -> asyncpg.Connection:
    """A raw asyncpg connection for a SQLAlchemy-style URL (TCP or unix socket)."""
    parsed = make_url(url)
    return await asyncpg.connect(
        user=parsed.username or "postgres",
        password=parsed.password,
        host=parsed.query.get("host") or parsed.host,
        port=parsed.port,
        database=parsed.database or "postgres",
    )


def ensure_database(server_url: str, name: str, *, recreate: bool = False) -> str:
    """Create database `name` on the server (dropping it first if `recreate`); its URL."""

    async def run() -> None:
        conn = await connect(with_database(server_url, "postgres"))
        try:
            if recreate:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    run_in_thread(lambda: asyncio.run(run()))
    return with_database(server_url, name)


def alembic_config(database_url: str) -> Config:
    """Alembic configured from the repository's alembic.ini, aimed at `database_url`."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """`alembic upgrade <revision>` (in a worker thread: env.py runs its own event loop)."""
    run_in_thread(lambda: command.upgrade(alembic_config(database_url), revision))


def run_in_thread(work: Callable[[], object]) -> None:
    """Run `work` in a fresh thread (free to start its own event loop); re-raise its error."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
