"""Test database plumbing: the server to use, fresh databases, Alembic runs, emptying."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database_url import to_async_url
from app.db.admin import alembic_config, ensure_database, migrate, run_in_thread
from app.db.embedded import embedded_server


@contextmanager
def test_server() -> Iterator[str]:
    """TEST_DATABASE_URL's server, or the embedded one started for this run."""
    with ExitStack() as stack:
        url = os.environ.get("TEST_DATABASE_URL") or stack.enter_context(embedded_server())
        yield to_async_url(url)


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the server; return its async URL."""
    return ensure_database(server_url, name, recreate=True)


def upgrade(database_url: str, revision: str = "head") -> None:
    """`alembic upgrade`."""
    migrate(database_url, revision)


def downgrade(database_url: str, revision: str) -> None:
    """`alembic downgrade`."""
    run_in_thread(lambda: command.downgrade(alembic_config(database_url), revision))


def check(database_url: str) -> None:
    """`alembic check`: raises when the models and the migrated schema differ."""
    run_in_thread(lambda: command.check(alembic_config(database_url)))


# TRUNCATE ... CASCADE of these reaches every table that references them.
ROOT_TABLES = "users, workflows, schedules, workflow_executions, pgqueuer, pgqueuer_log"


async def empty(database: AsyncEngine) -> None:
    """Delete every row of every table the tests write."""
    async with database.begin() as connection:
        await connection.execute(text(f"TRUNCATE {ROOT_TABLES} CASCADE"))
