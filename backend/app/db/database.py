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


def create_database(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    statement_timeout: float | None = None,
    connect_timeout: float = 10.0,
) -> AsyncEngine:
    """A pooled asyncpg database for `url` that stores and returns timestamps in UTC.

    With `statement_timeout` (seconds) the server cancels longer statements and the
    client gives up a few seconds later, so even a half-open connection cannot hang a
    caller. Bound parameters never reach logs or error messages (they hold password
    hashes and emails). No pre-ping: it costs a round trip on every checkout;
    connections are recycled instead, and one that died fails one request and is replaced.
    """
    server_settings = {"timezone": "UTC"}
    connect_args: dict[str, object] = {
        "server_settings": server_settings,
        "timeout": connect_timeout,
    }
    if statement_timeout is not None:
        server_settings["statement_timeout"] = str(int(statement_timeout * 1000))
        connect_args["command_timeout"] = statement_timeout + 5
    return create_async_engine(
        to_async_url(url),
        pool_size=pool_size,
        pool_recycle=1800,
        pool_timeout=connect_timeout,
        echo=echo,
        hide_parameters=True,
        connect_args=connect_args,
        # JSONB columns are decoded on every read of a schedule; orjson is several times
        # faster than the standard library at it.
        json_deserializer=orjson.loads,
    )


def create_session_factory(database: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (no implicit reload)."""
    return async_sessionmaker(database, expire_on_commit=False)
