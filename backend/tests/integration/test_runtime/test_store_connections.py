"""The runtime's connections (store.connect): asyncpg connections of SQLAlchemy's pool,
given back only when they are in a known state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.database import create_database
from app.runtime import store


@pytest.fixture
async def one_connection(engine_database_url: str) -> AsyncIterator[AsyncEngine]:
    """A pool of a single connection, so that each test sees what was given back."""
    database = create_database(engine_database_url, pool_size=1)
    try:
        yield store.autocommit(database)
    finally:
        await database.dispose()


async def _backend_pid(database: AsyncEngine) -> int:
    async with store.connect(database, transaction=False) as connection:
        return int(await connection.fetchval("SELECT pg_backend_pid()"))


async def test_a_transaction_commits_and_a_refused_statement_rolls_it_back(
    one_connection: AsyncEngine,
) -> None:
    async with store.connect(one_connection, transaction=True) as connection:
        await connection.execute("CREATE TEMP TABLE kept (n int)")
        await connection.execute("INSERT INTO kept VALUES (1)")
    pid = await _backend_pid(one_connection)

    async def insert_then_fail() -> None:
        async with store.connect(one_connection, transaction=True) as connection:
            await connection.execute("INSERT INTO kept VALUES (2)")
            await connection.fetchval("SELECT 1 / 0")

    with pytest.raises(asyncpg.DivisionByZeroError):
        await insert_then_fail()
    async with store.connect(one_connection, transaction=False) as connection:
        assert await connection.fetch("SELECT n FROM kept") == [(1,)]
        assert not connection.is_in_transaction()
    assert await _backend_pid(one_connection) == pid  # a refused statement keeps it


@pytest.mark.parametrize("transaction", [True, False])
async def test_a_statement_cancelled_midway_stops_and_the_pool_stays_usable(
    one_connection: AsyncEngine, transaction: bool
) -> None:
    """A task cancelled mid-statement (a shutdown): the statement stops on the server and
    the next caller of the one-connection pool gets a working, idle connection."""

    async def sleep() -> None:
        async with store.connect(one_connection, transaction=transaction) as connection:
            await connection.execute("SELECT pg_sleep(30)")

    task = asyncio.create_task(sleep())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(5):
        while True:
            async with store.connect(one_connection, transaction=False) as connection:
                assert not connection.is_in_transaction()
                sleeping = await connection.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"
                )
            if sleeping == 0:
                break
            await asyncio.sleep(0.05)
