"""Routes under /api/v1/agents."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from app.agents import service
from app.agents.schemas import CREATE_EXAMPLES, AgentCreate, AgentRead, AgentTools, AgentUpdate
from app.api.deps import CurrentUser, ReadSessionDep, SessionDep
from app.api.errors import CONFLICT_RESPONSE, ERROR_RESPONSES, FORBIDDEN_RESPONSE
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.api.responses import json_response

router = APIRouter(prefix="/api/v1/agents", tags=["agents"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_agent(
    data: Annotated[AgentCreate, Body(openapi_examples=CREATE_EXAMPLES)],
    user: CurrentUser,
    session: SessionDep,
) -> AgentRead:
    """Create an agent."""
    return AgentRead.of(await service.create(session, user, data))


@router.get("", response_model=Page[AgentRead])
async def list_agents(
    user: CurrentUser,
    session: ReadSessionDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    mine: Annotated[bool, Query(description="Only your own (else public ones too)")] = False,
    include_deleted: Annotated[bool, Query(description="Your deleted ones too")] = False,
) -> Response:
    """The agents you may use (yours and public ones), newest first, a page at a time."""
    rows, next_cursor = await service.list_page(
        session, user, mine=mine, include_deleted=include_deleted, cursor=cursor, limit=limit
    )
    return json_response(Page(items=[AgentRead.of(row) for row in rows], next_cursor=next_cursor))


@router.get("/{agent_id}")
async def get_agent(agent_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep) -> AgentRead:
    """One of your agents, or a public one."""
    return AgentRead.of(await service.require_readable(session, user, agent_id))


@router.patch("/{agent_id}", responses=FORBIDDEN_RESPONSE)
async def update_agent(
    agent_id: uuid.UUID, data: AgentUpdate, user: CurrentUser, session: SessionDep
) -> AgentRead:
    """Change one of your agents."""
    return AgentRead.of(await service.update(session, user, agent_id, data))


@router.put("/{agent_id}/tools", responses=FORBIDDEN_RESPONSE)
async def set_agent_tools(
    agent_id: uuid.UUID, data: AgentTools, user: CurrentUser, session: SessionDep
) -> AgentRead:
    """Attach exactly these tools (yours or public ones) to one of your agents."""
    return AgentRead.of(await service.set_tools(session, user, agent_id, data.tool_ids))


@router.delete("/{agent_id}", status_code=status.HTTP_204_NO_CONTENT, responses=FORBIDDEN_RESPONSE)
async def delete_agent(agent_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """Soft-delete one of your agents."""
    await service.delete(session, user, agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{agent_id}/restore", responses={**CONFLICT_RESPONSE, **FORBIDDEN_RESPONSE})
async def restore_agent(agent_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> AgentRead:
    """Undelete one of your agents."""
    return AgentRead.of(await service.restore(session, user, agent_id))
