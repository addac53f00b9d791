"""Agent queries, each loading the agent's tools; none commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.api.pagination import page_of, paginate
from app.api.sharing import usable
from app.db.repository import owned
from app.models import Agent


def _with_tools(statement: Select[Any]) -> Select[Any]:
    return statement.options(selectinload(Agent.tools))


async def list_page(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    mine: bool,
    include_deleted: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[Agent], str | None]:
    """A page of the agents the user may use (or only their own), newest first."""
    if mine or include_deleted:
        statement = owned(Agent, Agent.owner_id, user_id, include_deleted=include_deleted)
    else:
        statement = usable(Agent, user_id)
    statement = paginate(_with_tools(statement), Agent.created_at, Agent.id, cursor, limit)
    return page_of(list(await session.scalars(statement)), limit)


async def with_tools(session: AsyncSession, agent: Agent) -> Agent:
    """`agent` with its tools loaded."""
    await session.refresh(agent, ["tools"])
    return agent


async def usable_by_ids(
    session: AsyncSession, user_id: uuid.UUID, agent_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Agent]:
    """The agents among `agent_ids` that the user may use, by id."""
    if not agent_ids:
        return {}
    statement = _with_tools(usable(Agent, user_id).where(Agent.id.in_(agent_ids)))
    return {agent.id: agent for agent in await session.scalars(statement)}


async def usable_by_names(
    session: AsyncSession, user_id: uuid.UUID, names: Sequence[str]
) -> list[Agent]:
    """The agents the user may use whose name is among `names`, their own first."""
    if not names:
        return []
    statement = _with_tools(
        usable(Agent, user_id)
        .where(Agent.name.in_(names))
        .order_by((Agent.owner_id != user_id), Agent.created_at)
    )
    return list(await session.scalars(statement))
