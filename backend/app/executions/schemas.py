"""Bodies of the execution routes (runtime.md, "API")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.api.schemas import ReadModel
from app.core.json_values import check_json_value
from app.models import ExecutionStatus, LogLevel, TriggerType


class RunRequest(BaseModel):
    """`POST /workflows/{id}/run`: the input the trigger node passes on."""

    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any] = Field(default_factory=dict)

    @field_validator("input")
    @classmethod
    def _storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_json_value(value, "input")
        return value


class ExecutionRead(ReadModel):
    """One run of a workflow."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    schedule_id: uuid.UUID | None
    status: ExecutionStatus
    trigger_type: TriggerType
    scheduled_for: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    attempt: int
    input_data: dict[str, Any]
    output_data: dict[str, Any] | None
    error_message: str | None
    created_at: datetime


class NodeRunRead(ReadModel):
    """One node's run inside an execution."""

    id: uuid.UUID
    node_id: uuid.UUID
    node_name: str
    node_type: str
    status: ExecutionStatus
    attempt: int
    retry_count: int
    started_at: datetime | None
    ended_at: datetime | None
    input_data: dict[str, Any]
    output_data: dict[str, Any] | None
    error_message: str | None


class ExecutionDetail(ExecutionRead):
    """An execution with its node runs, in start order."""

    computed = frozenset({"nodes"})

    nodes: list[NodeRunRead]


class LogRead(ReadModel):
    """One line of an execution's log."""

    id: uuid.UUID
    node_execution_id: uuid.UUID | None
    level: LogLevel
    message: str
    data: dict[str, Any] | None
    timestamp: datetime
