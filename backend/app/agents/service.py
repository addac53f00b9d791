"""Agent rules: a valid model configuration with no credentials in it, tools the owner may
use, public agents read and used by everyone but changed only by their owner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents import repository
from app.agents.schemas import AgentCreate, AgentUpdate
from app.api.sharing import delete_owned, require_owned, require_usable, restore_owned
from app.core.clock import utc_now
from app.core.errors import FieldValidationError
from app.core.security import Principal
from app.graphs.llm_configs import parse_llm_config
from app.models import Agent, Tool
from app.tools import service as tools

KIND = "Agent"


async def require_readable(session: AsyncSession, user: Principal, agent_id: uuid.UUID) -> Agent:
    """A live agent the user owns or that is public, tools loaded; 404 otherwise."""
    agent = await require_usable(session, Agent, user.id, agent_id, KIND)
    return await repository.with_tools(session, agent)


async def usable_by_ids(
    session: AsyncSession, user: Principal, agent_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Agent]:
    """The agents among `agent_ids` that the user may use, by id."""
    return await repository.usable_by_ids(session, user.id, agent_ids)


async def usable_by_names(
    session: AsyncSession, user: Principal, names: Sequence[str]
) -> list[Agent]:
    """The agents named among `names` that the user may use, their own first."""
    return await repository.usable_by_names(session, user.id, names)


async def list_page(
    session: AsyncSession,
    user: Principal,
    *,
    mine: bool,
    include_deleted: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[Agent], str | None]:
    """A page of the agents the user may use (or only their own), newest first."""
    return await repository.list_page(
        session, user.id, mine=mine, include_deleted=include_deleted, cursor=cursor, limit=limit
    )


async def _usable_tools(
    session: AsyncSession, user: Principal, tool_ids: Sequence[uuid.UUID]
) -> list[Tool]:
    """The tools in order; 422 naming `tool_ids[i]` for one the user may not use or one
    listed twice."""
    found = await tools.usable_by_ids(session, user, tool_ids)
    errors: list[tuple[str, str]] = []
    seen: set[uuid.UUID] = set()
    for index, tool_id in enumerate(tool_ids):
        if tool_id in seen:
            errors.append((f"tool_ids[{index}]", "listed twice"))
        elif tool_id not in found:
            errors.append((f"tool_ids[{index}]", "no tool with this id that you may use"))
        seen.add(tool_id)
    if errors:
        raise FieldValidationError(errors[0][0], errors[0][1], errors=errors)
    return [found[tool_id] for tool_id in tool_ids]


async def create(session: AsyncSession, user: Principal, data: AgentCreate) -> Agent:
    """A new agent owned by `user`, with the tools it may use."""
    parse_llm_config(data.llm_config)
    attached = await _usable_tools(session, user, data.tool_ids)
    agent = Agent(owner_id=user.id, **data.model_dump(exclude={"tool_ids"}))
    agent.tools = attached
    session.add(agent)
    await session.flush()
    return agent


async def update(
    session: AsyncSession, user: Principal, agent_id: uuid.UUID, data: AgentUpdate
) -> Agent:
    """Change the given fields."""
    agent = await require_owned(session, Agent, user.id, agent_id, KIND)
    changes = data.changes()
    if "llm_config" in changes:
        parse_llm_config(changes["llm_config"])
    for key, value in changes.items():
        setattr(agent, key, value)
    await session.flush()
    return await repository.with_tools(session, agent)


async def set_tools(
    session: AsyncSession, user: Principal, agent_id: uuid.UUID, tool_ids: Sequence[uuid.UUID]
) -> Agent:
    """Replace the agent's tools with these (each one the user may use)."""
    agent = await require_owned(session, Agent, user.id, agent_id, KIND)
    attached = await _usable_tools(session, user, tool_ids)
    await repository.with_tools(session, agent)
    agent.tools = attached
    agent.updated_at = utc_now()  # the agent row records the change too
    await session.flush()
    return agent


async def delete(session: AsyncSession, user: Principal, agent_id: uuid.UUID) -> None:
    """Soft-delete the agent."""
    await delete_owned(session, Agent, user.id, agent_id, KIND)


async def restore(session: AsyncSession, user: Principal, agent_id: uuid.UUID) -> Agent:
    """Bring back a deleted agent."""
    agent = await restore_owned(session, Agent, user.id, agent_id, KIND)
    return await repository.with_tools(session, agent)
