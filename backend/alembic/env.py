"""Alembic environment: async (asyncpg), database from DATABASE_URL, models from app.models."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.database_url import to_async_url
from app.models import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    """The URL a caller passed in `config.attributes`, else DATABASE_URL, with the async driver."""
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set; point it at a PostgreSQL database")
    return to_async_url(url)


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave pgqueuer's tables (built by its installer in revision 0007) to pgqueuer."""
    return not (type_ == "table" and reflected and (name or "").startswith("pgqueuer"))


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        include_object=_ours,
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (`alembic upgrade head --sql`)."""
    _configure(url=database_url())
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    """Run migrations on an async connection."""
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
