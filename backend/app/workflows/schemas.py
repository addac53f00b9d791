"""Request and response bodies for workflows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import PatchModel, ReadModel
from app.core.json_values import MAX_TEXT_LENGTH
from app.models.workflow import NAME_MAX_LENGTH


class WorkflowCreate(BaseModel):
    """A new workflow."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "KOSPI open momentum", "description": "Buy the open"}]
        },
    )

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)
    config: dict[str, Any] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True


class WorkflowUpdate(PatchModel):
    """Fields to change; absent or null ones stay as they are (null clears `description`)."""

    model_config = ConfigDict(extra="forbid")
    clearable = frozenset({"description"})

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)
    config: dict[str, Any] | None = None
    variables: dict[str, Any] | None = None
    is_active: bool | None = None


class WorkflowRead(ReadModel):
    """A workflow as the API shows it."""

    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str | None
    config: dict[str, Any]
    variables: dict[str, Any]
    version: int
    is_active: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
