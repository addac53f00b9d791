"""Engine tests need committed rows (engines run in their own transactions and processes):
a database of their own, emptied before each test."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.database import create_session_factory


@pytest.fixture
def db(committed_db: AsyncEngine) -> AsyncEngine:
    """The committed-data database, emptied."""
    return committed_db


@pytest.fixture
def sessions(db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose commits are real."""
    return create_session_factory(db)
