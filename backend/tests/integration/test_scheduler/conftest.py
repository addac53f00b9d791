"""Engine tests need committed rows (engines run in their own transactions and processes):
a database of their own, emptied before each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.database import create_session_factory
from tests.integration.test_scheduler.helpers import EngineProcess


@pytest.fixture
def db(committed_db: AsyncEngine) -> AsyncEngine:
    """The committed-data database, emptied."""
    return committed_db


@pytest.fixture
def sessions(db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose commits are real."""
    return create_session_factory(db)


@pytest.fixture
def engines(
    db: AsyncEngine, engine_database_url: str, tmp_path: Path
) -> Iterator[Callable[..., EngineProcess]]:
    """Start engine processes on the emptied database; any still running at the end of the
    test is killed, so none fires into the next test's data."""
    started: list[EngineProcess] = []

    def spawn(**settings: str) -> EngineProcess:
        engine = EngineProcess(
            engine_database_url, tmp_path / f"engine-{len(started)}.log", **settings
        )
        started.append(engine)
        return engine

    yield spawn
    for engine in started:
        engine.reap()
