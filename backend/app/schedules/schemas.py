"""Request and response bodies of the schedules API (names as in the model)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.api.schemas import PatchModel, ReadModel, Source
from app.core.clock import utc_now
from app.core.json_values import MAX_TEXT_LENGTH
from app.models import ExecutionStatus, ScheduleType, TriggerType
from app.models.schedule import NAME_MAX_LENGTH, PAUSE_NOTE_MAX_LENGTH, TIMEZONE_MAX_LENGTH
from app.timing.description import describe
from app.timing.lifecycle import has_run, is_expired

CREATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "cron": {
        "summary": "Weekdays at the KOSPI open",
        "value": {
            "workflow_id": "5f0c7a8e-2a56-4c8e-9d6b-1f2a3b4c5d6e",
            "name": "KOSPI open",
            "schedule_type": "cron",
            "schedule_config": {"cron_expression": "0 9 * * 1-5"},
            "timezone": "Asia/Seoul",
            "metadata": {"priority": "high", "tags": ["market-open"], "misfire_grace_time": 60},
        },
    },
    "cron_fields": {
        "summary": "APScheduler-style fields: every 15 minutes in the NY session",
        "value": {
            "workflow_id": "5f0c7a8e-2a56-4c8e-9d6b-1f2a3b4c5d6e",
            "name": "NY session sweep",
            "schedule_type": "cron",
            "schedule_config": {"minute": "*/15", "hour": "9-15", "day_of_week": "mon-fri"},
            "timezone": "America/New_York",
        },
    },
    "interval": {
        "summary": "Every 10 seconds",
        "value": {
            "workflow_id": "5f0c7a8e-2a56-4c8e-9d6b-1f2a3b4c5d6e",
            "name": "Heartbeat",
            "schedule_type": "interval",
            "schedule_config": {"seconds": 10},
            "timezone": "UTC",
        },
    },
    "date": {
        "summary": "Once, on a given date",
        "value": {
            "workflow_id": "5f0c7a8e-2a56-4c8e-9d6b-1f2a3b4c5d6e",
            "name": "Rebalance",
            "schedule_type": "date",
            "schedule_config": {"run_date": "2030-06-15T10:30:00"},
            "timezone": "Asia/Seoul",
        },
    },
}


class ScheduleCreate(BaseModel):
    """A new schedule of one of your workflows."""

    model_config = ConfigDict(extra="forbid")

    workflow_id: uuid.UUID
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)
    schedule_type: ScheduleType
    schedule_config: dict[str, Any]
    timezone: str = Field(default="UTC", max_length=TIMEZONE_MAX_LENGTH)
    metadata: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True


class ScheduleUpdate(PatchModel):
    """Fields to change (absent or null: unchanged; null clears `description`);
    `workflow_id` and `schedule_type` cannot change."""

    model_config = ConfigDict(extra="forbid")
    clearable = frozenset({"description"})

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)
    schedule_config: dict[str, Any] | None = None
    timezone: str | None = Field(default=None, max_length=TIMEZONE_MAX_LENGTH)
    metadata: dict[str, Any] | None = None
    workflow_id: Any = Field(default=None, json_schema_extra={"readOnly": True})
    schedule_type: Any = Field(default=None, json_schema_extra={"readOnly": True})

    @field_validator("workflow_id", "schedule_type")
    @classmethod
    def _immutable(cls, value: Any) -> Any:
        raise ValueError("cannot be changed; create a new schedule instead")


class PauseRequest(BaseModel):
    """Why the schedule is paused (kept and shown until it resumes)."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=PAUSE_NOTE_MAX_LENGTH)


class ScheduleRead(ReadModel):
    """A schedule as the API shows it, with when it fires in words and whether it expired."""

    computed = frozenset({"schedule_description", "is_expired"})

    id: uuid.UUID
    workflow_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    description: str | None
    schedule_type: ScheduleType
    schedule_config: dict[str, Any]
    timezone: str
    metadata: dict[str, Any]
    is_active: bool
    job_id: str | None
    next_run_at: datetime | None
    last_run_at: datetime | None
    run_count: int
    missed_count: int
    skipped_count: int
    last_skip_reason: str | None
    last_skipped_at: datetime | None
    paused_at: datetime | None
    pause_note: str | None
    schedule_description: str = Field(description="When it fires, in words")
    is_expired: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @classmethod
    def of(cls, source: Source) -> Self:
        """The read model of a schedule (ORM object or Core row)."""
        # The values are the database's own, already typed: no second validation.
        return cls.model_construct(**cls.values_of(source))  # type: ignore[return-value]

    @classmethod
    def values_of(cls, source: Source) -> dict[str, Any]:
        """The read model's fields as a plain dict, description and expiry worked out; lists
        serialize these directly (see app.api.responses)."""
        values = cls.columns_of(source)
        kind, config, timezone = (
            values["schedule_type"], values["schedule_config"], values["timezone"]
        )  # fmt: skip
        ran = has_run(values["last_run_at"], values["run_count"])
        try:
            values["schedule_description"] = describe(kind, config, timezone)
            values["is_expired"] = is_expired(
                kind, config, timezone, values["metadata"], ran=ran, now=utc_now()
            )
        except ValueError:  # a row broken behind the API's back (raw SQL)
            values["schedule_description"], values["is_expired"] = "invalid definition", False
        return values


class ExecutionRead(ReadModel):
    """One run of a schedule."""

    id: uuid.UUID
    status: ExecutionStatus
    trigger_type: TriggerType
    scheduled_for: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    error_message: str | None
    created_at: datetime


class TriggerResult(BaseModel):
    """The schedule and the execution a trigger created."""

    schedule: ScheduleRead
    execution: ExecutionRead


class FireTime(BaseModel):
    """A coming fire time, in UTC and in the schedule's time zone."""

    at: datetime
    local: str


class Preview(BaseModel):
    """The next fire times of a schedule."""

    schedule_id: uuid.UUID
    timezone: str
    fire_times: list[FireTime]


class DefinitionPreviewRequest(BaseModel):
    """A schedule definition not saved (yet): checked as a new schedule's would be."""

    model_config = ConfigDict(extra="forbid")

    schedule_type: ScheduleType
    schedule_config: dict[str, Any]
    timezone: str = Field(default="UTC", max_length=TIMEZONE_MAX_LENGTH)
    metadata: dict[str, Any] = Field(default_factory=dict)
    count: int = Field(default=5, ge=1, le=100)


class DefinitionPreview(BaseModel):
    """What an unsaved definition means: in words, and its next fire times (none when it
    would never fire again, with the reason)."""

    schedule_description: str
    timezone: str
    fire_times: list[FireTime]
    never_fires_reason: str | None


__all__ = [
    "CREATE_EXAMPLES",
    "DefinitionPreview",
    "DefinitionPreviewRequest",
    "ExecutionRead",
    "FireTime",
    "PauseRequest",
    "Preview",
    "ScheduleCreate",
    "ScheduleRead",
    "ScheduleUpdate",
    "TriggerResult",
]
