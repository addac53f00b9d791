"""Tool queries; none commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.pagination import page_of, paginate
from app.api.sharing import usable
from app.db.repository import owned
from app.models import Tool, ToolType


async def list_page(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    mine: bool,
    tool_type: ToolType | None,
    include_deleted: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[Tool], str | None]:
    """A page of the tools the user may use (or only their own), newest first."""
    if mine or include_deleted:
        statement = owned(Tool, Tool.owner_id, user_id, include_deleted=include_deleted)
    else:
        statement = usable(Tool, user_id)
    if tool_type is not None:
        statement = statement.where(Tool.tool_type == tool_type)
    statement = paginate(statement, Tool.created_at, Tool.id, cursor, limit)
    return page_of(list(await session.scalars(statement)), limit)


async def usable_by_ids(
    session: AsyncSession, user_id: uuid.UUID, tool_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Tool]:
    """The tools among `tool_ids` that the user may use, by id."""
    if not tool_ids:
        return {}
    found = await session.scalars(usable(Tool, user_id).where(Tool.id.in_(tool_ids)))
    return {tool.id: tool for tool in found}


async def usable_by_names(
    session: AsyncSession, user_id: uuid.UUID, names: Sequence[str]
) -> list[Tool]:
    """The tools the user may use whose name is among `names`, their own first."""
    if not names:
        return []
    statement = (
        usable(Tool, user_id)
        .where(Tool.name.in_(names))
        .order_by((Tool.owner_id != user_id), Tool.created_at)
    )
    return list(await session.scalars(statement))


async def with_auth_after(session: AsyncSession, after: uuid.UUID, limit: int) -> list[Tool]:
    """The next `limit` tools past id `after` that hold sealed auth, locked, in id order."""
    statement = (
        select(Tool)
        .where(Tool.auth_config.has_key("sealed"), Tool.id > after)
        .order_by(Tool.id)
        .limit(limit)
        .with_for_update()
    )
    return list(await session.scalars(statement))
