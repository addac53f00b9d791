"""Engine tests need committed rows (engines run in their own transactions and processes):
a database of their own, emptied before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.engine import create_engine, create_session_factory


@pytest.fixture
async def db(engine_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the engine-test database, emptied first."""
    engine = create_engine(engine_database_url, pool_size=5)
    async with engine.begin() as connection:
        await connection.execute(
            text("TRUNCATE users, workflows, schedules, workflow_executions CASCADE")
        )
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose commits are real."""
    return create_session_factory(db)
