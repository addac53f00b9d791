"""Test database plumbing: the server to use, fresh databases, Alembic runs."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from app.db.embedded import embedded_server
from app.db.url import to_async_url, with_database

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def test_server() -> Iterator[str]:
    """TEST_DATABASE_URL's server, or the embedded one started for this run."""
    with ExitStack() as stack:
        url = os.environ.get("TEST_DATABASE_URL") or stack.enter_context(embedded_server())
        yield to_async_url(url)


async def _connect(url: str) -> asyncpg.Connection:
    parsed = make_url(url)
    return await asyncpg.connect(
        user=parsed.username or "postgres",
        password=parsed.password,
        host=parsed.query.get("host") or parsed.host,
        port=parsed.port,
        database=parsed.database or "postgres",
    )


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the server; return its async URL."""

    async def recreate() -> None:
        conn = await _connect(with_database(server_url, "postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(recreate())
    return with_database(server_url, name)


def alembic_config(database_url: str) -> Config:
    """Alembic configured from the repository's alembic.ini, aimed at `database_url`."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """`alembic upgrade` in a worker thread (env.py runs its own event loop)."""
    _in_thread(lambda: command.upgrade(alembic_config(database_url), revision))


def downgrade(database_url: str, revision: str) -> None:
    """`alembic downgrade` in a worker thread."""
    _in_thread(lambda: command.downgrade(alembic_config(database_url), revision))


def check(database_url: str) -> None:
    """`alembic check`: raises when the models and the migrated schema differ."""
    _in_thread(lambda: command.check(alembic_config(database_url)))


def _in_thread(work: object) -> None:
    import threading

    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
