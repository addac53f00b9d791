"""The database: an asyncpg connection pool (SQLAlchemy AsyncEngine) and its session factory.

Called "database" throughout, so that "engine" can only mean the firing engine.
"""

from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.database_url import to_async_url


def create_database(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """A pooled asyncpg database for `url` that stores and returns timestamps in UTC.

    No pre-ping: it costs a round trip on every checkout; connections are recycled
    instead, and one that died with its server fails one request and is replaced.
    """
    return create_async_engine(
        to_async_url(url),
        pool_size=pool_size,
        pool_recycle=1800,
        echo=echo,
        connect_args={"server_settings": {"timezone": "UTC"}},
        # JSONB columns are decoded on every read of a schedule; orjson is several times
        # faster than the standard library at it.
        json_deserializer=orjson.loads,
    )


def create_session_factory(database: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (no implicit reload)."""
    return async_sessionmaker(database, expire_on_commit=False)
