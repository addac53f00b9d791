"""Routes under /api/v1/workflows."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import CurrentUser, ReadSessionDep, SessionDep
from app.api.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.api.responses import json_response
from app.workflows import service
from app.workflows.schemas import WorkflowCreate, WorkflowRead, WorkflowUpdate

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_workflow(
    data: WorkflowCreate, user: CurrentUser, session: SessionDep
) -> WorkflowRead:
    """Create a workflow."""
    return WorkflowRead.of(await service.create(session, user, data))


@router.get("", response_model=Page[WorkflowRead])
async def list_workflows(
    user: CurrentUser,
    session: ReadSessionDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    is_active: bool | None = None,
    include_deleted: bool = False,
) -> Response:
    """Your workflows, newest first, a page at a time."""
    rows, next_cursor = await service.list_page(
        session, user, include_deleted=include_deleted, is_active=is_active,
        cursor=cursor, limit=limit,
    )  # fmt: skip
    items = [WorkflowRead.of(row) for row in rows]
    return json_response(Page(items=items, next_cursor=next_cursor))


@router.get("/{workflow_id}")
async def get_workflow(
    workflow_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep
) -> WorkflowRead:
    """One of your workflows."""
    return WorkflowRead.of(await service.require(session, user, workflow_id))


@router.patch("/{workflow_id}")
async def update_workflow(
    workflow_id: uuid.UUID, data: WorkflowUpdate, user: CurrentUser, session: SessionDep
) -> WorkflowRead:
    """Change a workflow's name, description, config, variables or activity."""
    return WorkflowRead.of(await service.update(session, user, workflow_id, data))


@router.delete("/{workflow_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_workflow(
    workflow_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Response:
    """Soft-delete a workflow and, with it, its schedules."""
    await service.delete(session, user, workflow_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{workflow_id}/restore", responses=CONFLICT_RESPONSE)
async def restore_workflow(
    workflow_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> WorkflowRead:
    """Undelete a workflow and the schedules its deletion took."""
    return WorkflowRead.of(await service.restore(session, user, workflow_id))
