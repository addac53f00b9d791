"""Workflow runs, their per-node runs and their log lines."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.core.clock import utc_now
from app.models.base import Base, TimestampMixin, UUIDMixin
from app.models.enums import ExecutionStatus, LogLevel, TriggerType
from app.models.json import JSONObject
from app.models.types import UTCDateTime, coerce_enum, enum_type

if TYPE_CHECKING:
    from app.models.schedule import Schedule
    from app.models.workflow import Node, Workflow

_FINISHED = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


class InvalidTransitionError(ValueError):
    """An execution was asked to move to a state it cannot reach from its current one."""


class _Lifecycle:
    """What workflow and node executions share: their state columns and the state changes
    start, complete, fail, cancel, skip."""

    status: Mapped[ExecutionStatus] = mapped_column(
        enum_type(ExecutionStatus, "status"),
        default=ExecutionStatus.PENDING,
        server_default=ExecutionStatus.PENDING.value,
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    input_data: Mapped[dict[str, Any]] = mapped_column(
        JSONObject, default=dict, server_default=text("'{}'::jsonb")
    )
    output_data: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    error_message: Mapped[str | None] = mapped_column(Text)

    @validates("status")
    def _coerce_status(self, key: str, value: Any) -> ExecutionStatus:
        return coerce_enum(ExecutionStatus, value, key)

    def _move(self, target: ExecutionStatus, allowed_from: tuple[ExecutionStatus, ...]) -> None:
        current = ExecutionStatus(self.status or ExecutionStatus.PENDING)
        if current not in allowed_from:
            raise InvalidTransitionError(f"status: cannot go from {current} to {target}")
        self.status = target

    def start(self) -> None:
        """pending -> running."""
        self._move(ExecutionStatus.RUNNING, (ExecutionStatus.PENDING,))
        self.started_at = utc_now()

    def complete(self, output: dict[str, Any] | None = None) -> None:
        """running -> completed, keeping the output."""
        self._move(ExecutionStatus.COMPLETED, (ExecutionStatus.RUNNING,))
        self.ended_at = utc_now()
        if output is not None:
            self.output_data = output

    def fail(self, error: str) -> None:
        """pending or running -> failed, with the reason."""
        self._move(ExecutionStatus.FAILED, (ExecutionStatus.PENDING, ExecutionStatus.RUNNING))
        self.ended_at = utc_now()
        self.error_message = error

    def cancel(self) -> None:
        """pending or running -> cancelled."""
        self._move(ExecutionStatus.CANCELLED, (ExecutionStatus.PENDING, ExecutionStatus.RUNNING))
        self.ended_at = utc_now()

    def skip(self) -> None:
        """pending -> skipped."""
        self._move(ExecutionStatus.SKIPPED, (ExecutionStatus.PENDING,))
        self.ended_at = utc_now()

    @property
    def is_finished(self) -> bool:
        """True in a terminal state."""
        return self.status in (*_FINISHED, ExecutionStatus.SKIPPED)


class WorkflowExecution(_Lifecycle, UUIDMixin, TimestampMixin, Base):
    """One run of a workflow; a scheduled run records its schedule and planned fire time."""

    __tablename__ = "workflow_executions"
    __table_args__ = (
        UniqueConstraint(
            "schedule_id", "scheduled_for", name="uq_workflow_executions_schedule_id_scheduled_for"
        ),
        Index("ix_workflow_executions_status", "status"),
        # max_instances counts a schedule's running executions on every fire.
        Index(
            "ix_workflow_executions_schedule_id_running",
            "schedule_id",
            postgresql_where=text("status = 'running'"),
        ),
        Index("ix_workflow_executions_workflow_id_created_at", "workflow_id", "created_at", "id"),
        CheckConstraint("attempt >= 0", name="attempt_non_negative"),
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    trigger_type: Mapped[TriggerType] = mapped_column(enum_type(TriggerType, "trigger_type"))
    context: Mapped[dict[str, Any]] = mapped_column(
        JSONObject, default=dict, server_default=text("'{}'::jsonb")
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONObject, default=dict, server_default=text("'{}'::jsonb")
    )
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL")
    )
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Workers that took this execution up; more than one after a worker was lost.
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The worker run holding the execution: one that lost it can no longer write.
    run_token: Mapped[uuid.UUID | None] = mapped_column()

    workflow: Mapped[Workflow] = relationship(back_populates="executions", lazy="raise")
    schedule: Mapped[Schedule | None] = relationship(lazy="raise")
    node_executions: Mapped[list[NodeExecution]] = relationship(
        back_populates="workflow_execution", passive_deletes=True, lazy="raise"
    )
    logs: Mapped[list[ExecutionLog]] = relationship(
        back_populates="workflow_execution", passive_deletes=True, lazy="raise"
    )

    @validates("trigger_type")
    def _coerce_trigger_type(self, key: str, value: Any) -> TriggerType:
        return coerce_enum(TriggerType, value, key)


class NodeExecution(_Lifecycle, UUIDMixin, TimestampMixin, Base):
    """One node's run inside a workflow execution."""

    __tablename__ = "node_executions"
    __table_args__ = (CheckConstraint("attempt >= 1", name="attempt_positive"),)

    workflow_execution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflow_executions.id", ondelete="CASCADE"), index=True
    )
    node_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), index=True
    )
    retry_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The execution attempt (worker run) this node run belongs to.
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    workflow_execution: Mapped[WorkflowExecution] = relationship(
        back_populates="node_executions", lazy="raise"
    )
    node: Mapped[Node] = relationship(lazy="raise")


class ExecutionLog(UUIDMixin, Base):
    """A log line written while a workflow (or one of its nodes) ran."""

    __tablename__ = "execution_logs"

    workflow_execution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflow_executions.id", ondelete="CASCADE"), index=True
    )
    node_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("node_executions.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[LogLevel] = mapped_column(
        enum_type(LogLevel, "level"), default=LogLevel.INFO, server_default=LogLevel.INFO.value
    )
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    timestamp: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utc_now, server_default=text("now()")
    )

    workflow_execution: Mapped[WorkflowExecution] = relationship(
        back_populates="logs", lazy="raise"
    )

    @validates("level")
    def _coerce_level(self, key: str, value: Any) -> LogLevel:
        return coerce_enum(LogLevel, value, key)
