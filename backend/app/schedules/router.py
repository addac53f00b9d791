"""Routes under /api/v1/schedules."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from app.api.deps import CurrentUser, ReadConnectionDep, ReadSessionDep, SessionDep
from app.api.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.api.responses import json_bytes_response, json_response
from app.models import ScheduleType
from app.schedules import service
from app.schedules.schemas import (
    CREATE_EXAMPLES,
    DefinitionPreview,
    DefinitionPreviewRequest,
    ExecutionRead,
    PauseRequest,
    Preview,
    ScheduleCreate,
    ScheduleRead,
    ScheduleUpdate,
    TriggerResult,
)

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_schedule(
    data: Annotated[ScheduleCreate, Body(openapi_examples=CREATE_EXAMPLES)],
    user: CurrentUser,
    session: SessionDep,
) -> ScheduleRead:
    """Create a schedule of one of your workflows (422 if it could never fire)."""
    return ScheduleRead.of(await service.create(session, user, data))


@router.get("", response_model=Page[ScheduleRead])
async def list_schedules(
    user: CurrentUser,
    connection: ReadConnectionDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    workflow_id: uuid.UUID | None = None,
    is_active: bool | None = None,
    schedule_type: ScheduleType | None = None,
    include_deleted: bool = False,
) -> Response:
    """Your schedules, newest first, a page at a time."""
    rows, next_cursor = await service.list_page(
        connection, user, workflow_id=workflow_id, is_active=is_active,
        schedule_type=schedule_type, include_deleted=include_deleted, cursor=cursor, limit=limit,
    )  # fmt: skip
    items = [ScheduleRead.values_of(row._mapping) for row in rows]
    return json_bytes_response({"items": items, "next_cursor": next_cursor})


@router.get("/{schedule_id}", response_model=ScheduleRead)
async def get_schedule(
    schedule_id: uuid.UUID, user: CurrentUser, connection: ReadConnectionDep
) -> Response:
    """One of your schedules."""
    row = await service.get_row(connection, user, schedule_id)
    return json_bytes_response(ScheduleRead.values_of(row))


@router.patch("/{schedule_id}")
async def update_schedule(
    schedule_id: uuid.UUID, data: ScheduleUpdate, user: CurrentUser, session: SessionDep
) -> ScheduleRead:
    """Change name, description, schedule_config, timezone or metadata."""
    return ScheduleRead.of(await service.update(session, user, schedule_id, data))


@router.delete("/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(
    schedule_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Response:
    """Soft-delete a schedule: it stops firing."""
    await service.delete(session, user, schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{schedule_id}/restore", responses=CONFLICT_RESPONSE)
async def restore_schedule(
    schedule_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ScheduleRead:
    """Undelete a schedule (a paused one stays paused)."""
    return ScheduleRead.of(await service.restore(session, user, schedule_id))


@router.post("/{schedule_id}/pause")
async def pause_schedule(
    schedule_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    data: Annotated[PauseRequest | None, Body()] = None,
) -> ScheduleRead:
    """Stop firing, with an optional note that is kept and shown."""
    note = data.note if data else None
    return ScheduleRead.of(await service.pause(session, user, schedule_id, note))


@router.post("/{schedule_id}/resume", responses=CONFLICT_RESPONSE)
async def resume_schedule(
    schedule_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ScheduleRead:
    """Fire again (409 if it could never fire)."""
    return ScheduleRead.of(await service.resume(session, user, schedule_id))


@router.post(
    "/{schedule_id}/trigger", status_code=status.HTTP_201_CREATED, responses=CONFLICT_RESPONSE
)
async def trigger_schedule(
    schedule_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> TriggerResult:
    """Run the workflow now, once, also while paused; answers the new execution (409 when
    the workflow or its owner is inactive or deleted)."""
    schedule, execution = await service.trigger(session, user, schedule_id)
    return TriggerResult(schedule=ScheduleRead.of(schedule), execution=ExecutionRead.of(execution))


@router.post("/preview")
async def preview_definition(
    body: DefinitionPreviewRequest, user: CurrentUser
) -> DefinitionPreview:
    """What a definition not saved yet means: its description and next fire times, by the
    same rules as a saved schedule; 422 naming the field when it is not valid."""
    return service.preview_definition(body)


@router.get("/{schedule_id}/preview")
async def preview_schedule(
    schedule_id: uuid.UUID,
    user: CurrentUser,
    session: ReadSessionDep,
    count: Annotated[int, Query(ge=1, le=service.MAX_PREVIEW)] = 10,
) -> Preview:
    """The next `count` fire times, in UTC and in the schedule's time zone."""
    return await service.preview(session, user, schedule_id, count)


@router.get("/{schedule_id}/executions", response_model=Page[ExecutionRead])
async def list_executions(
    schedule_id: uuid.UUID,
    user: CurrentUser,
    session: ReadSessionDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    """The schedule's runs, newest first."""
    rows, next_cursor = await service.list_executions(
        session, user, schedule_id, cursor=cursor, limit=limit
    )
    items = [ExecutionRead.of(row) for row in rows]
    return json_response(Page(items=items, next_cursor=next_cursor))
