"""Routes under /api/v1/executions, and `POST /api/v1/workflows/{id}/run`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import CurrentUser, ReadSessionDep, SessionDep
from app.api.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.api.responses import json_response
from app.executions import service
from app.executions.schemas import ExecutionDetail, ExecutionRead, LogRead, RunRequest
from app.models import ExecutionStatus

router = APIRouter(prefix="/api/v1", tags=["executions"], responses=ERROR_RESPONSES)


@router.post(
    "/workflows/{workflow_id}/run",
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT_RESPONSE,
)
async def run_workflow(
    workflow_id: uuid.UUID, user: CurrentUser, session: SessionDep, data: RunRequest | None = None
) -> ExecutionRead:
    """Run the workflow now (`trigger_type` manual); the trigger node's `input` is the body's."""
    body = data or RunRequest()
    return ExecutionRead.of(await service.run(session, user, workflow_id, body.input))


@router.get("/executions", response_model=Page[ExecutionRead])
async def list_executions(
    user: CurrentUser,
    session: ReadSessionDep,
    workflow_id: uuid.UUID | None = None,
    schedule_id: uuid.UUID | None = None,
    status: ExecutionStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    """Your executions, newest first, a page at a time."""
    rows, next_cursor = await service.list_page(
        session, user, workflow_id=workflow_id, schedule_id=schedule_id, status=status,
        cursor=cursor, limit=limit,
    )  # fmt: skip
    return json_response(
        Page(items=[ExecutionRead.of(row) for row in rows], next_cursor=next_cursor)
    )


@router.get("/executions/{execution_id}")
async def get_execution(
    execution_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep
) -> ExecutionDetail:
    """An execution with its node runs in start order."""
    return await service.detail(session, user, execution_id)


@router.get("/executions/{execution_id}/logs", response_model=Page[LogRead])
async def list_logs(
    execution_id: uuid.UUID,
    user: CurrentUser,
    session: ReadSessionDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    """The execution's log, oldest first."""
    rows, next_cursor = await service.logs(session, user, execution_id, cursor=cursor, limit=limit)
    return json_response(Page(items=[LogRead.of(row) for row in rows], next_cursor=next_cursor))


@router.post("/executions/{execution_id}/cancel", responses=CONFLICT_RESPONSE)
async def cancel_execution(
    execution_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ExecutionRead:
    """Cancel a pending or running execution; 409 when it has finished."""
    return ExecutionRead.of(await service.cancel(session, user, execution_id))
