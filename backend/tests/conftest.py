"""Fixtures: a real PostgreSQL (TEST_DATABASE_URL or embedded), schema built by Alembic,
a session per test inside a transaction that is rolled back afterwards, and a
committed-data database emptied for each test that uses it (see README.md here)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.db.database import create_database
from tests.database import empty, recreate_database, test_server, upgrade

# Apps built from the environment in tests (and the processes tests start) sign tokens
# with this; outside development the app refuses to start without one.
os.environ.setdefault("JWT_SECRET", "tests-only-signing-secret-0123456789abcdef")
# A fixed Fernet key for tests only (never used anywhere else).
os.environ.setdefault("ENCRYPTION_KEYS", "dGVzdHMtb25seS1mZXJuZXQta2V5LTAxMjM0NTY3ODk=")

TEST_DATABASE = "pastetrader_test"
ENGINE_DATABASE = "pastetrader_test_engine"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """Async URL of the PostgreSQL server under test (its maintenance database)."""
    with test_server() as url:
        yield url


@pytest.fixture(scope="session")
def database_url(server_url: str) -> str:
    """A fresh database migrated to head by `alembic upgrade head`."""
    url = recreate_database(server_url, TEST_DATABASE)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine_database_url(server_url: str) -> str:
    """A migrated database whose data is committed for real (scheduler engines)."""
    url = recreate_database(server_url, ENGINE_DATABASE)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """One engine for the run."""
    engine = create_database(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            if transaction.is_active:
                await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """An ORM session on the test's transaction; its commits become savepoints."""
    session = AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        await session.close()


@pytest.fixture
async def committed_db(engine_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the committed-data database, emptied first."""
    engine = create_database(engine_database_url, pool_size=5)
    await empty(engine)
    yield engine
    await engine.dispose()
