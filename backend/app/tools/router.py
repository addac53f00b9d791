"""Routes under /api/v1/tools."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from app.api.deps import CurrentUser, ReadSessionDep, SecretBoxDep, SessionDep
from app.api.errors import CONFLICT_RESPONSE, ERROR_RESPONSES, FORBIDDEN_RESPONSE
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.api.responses import json_response
from app.models import ToolType
from app.tools import service
from app.tools.schemas import CREATE_EXAMPLES, ToolCreate, ToolRead, ToolUpdate

router = APIRouter(prefix="/api/v1/tools", tags=["tools"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_tool(
    data: Annotated[ToolCreate, Body(openapi_examples=CREATE_EXAMPLES)],
    user: CurrentUser,
    session: SessionDep,
    box: SecretBoxDep,
) -> ToolRead:
    """Create a tool; `auth_config` is sealed and never shown again."""
    return ToolRead.of(await service.create(session, box, user, data))


@router.get("", response_model=Page[ToolRead])
async def list_tools(
    user: CurrentUser,
    session: ReadSessionDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    mine: Annotated[bool, Query(description="Only your own (else public ones too)")] = False,
    tool_type: ToolType | None = None,
    include_deleted: Annotated[bool, Query(description="Your deleted ones too")] = False,
) -> Response:
    """The tools you may use (yours and public ones), newest first, a page at a time."""
    rows, next_cursor = await service.list_page(
        session, user, mine=mine, tool_type=tool_type, include_deleted=include_deleted,
        cursor=cursor, limit=limit,
    )  # fmt: skip
    return json_response(Page(items=[ToolRead.of(row) for row in rows], next_cursor=next_cursor))


@router.get("/{tool_id}")
async def get_tool(tool_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep) -> ToolRead:
    """One of your tools, or a public one."""
    return ToolRead.of(await service.require_readable(session, user, tool_id))


@router.patch("/{tool_id}", responses=FORBIDDEN_RESPONSE)
async def update_tool(
    tool_id: uuid.UUID,
    data: ToolUpdate,
    user: CurrentUser,
    session: SessionDep,
    box: SecretBoxDep,
) -> ToolRead:
    """Change one of your tools (null `auth_config` removes its auth)."""
    return ToolRead.of(await service.update(session, box, user, tool_id, data))


@router.delete("/{tool_id}", status_code=status.HTTP_204_NO_CONTENT, responses=FORBIDDEN_RESPONSE)
async def delete_tool(tool_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """Soft-delete one of your tools."""
    await service.delete(session, user, tool_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{tool_id}/restore", responses={**CONFLICT_RESPONSE, **FORBIDDEN_RESPONSE})
async def restore_tool(tool_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> ToolRead:
    """Undelete one of your tools."""
    return ToolRead.of(await service.restore(session, user, tool_id))
