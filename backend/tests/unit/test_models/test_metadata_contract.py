"""The table contract of docs/data-model.md, checked on the models' metadata."""

from __future__ import annotations

from app import models
from app.models import Base

PLAN_EXPORTS = [
    "Base", "UUIDMixin", "TimestampMixin", "SoftDeleteMixin",
    "NodeType", "ToolType", "ModelProvider", "ExecutionStatus", "AuthMode", "TriggerType",
    "LogLevel", "ScheduleType",
    "User", "Tool", "Agent", "Workflow", "Node", "Edge", "WorkflowExecution", "NodeExecution",
    "ExecutionLog", "Schedule",
]  # fmt: skip


def test_exports_exactly_the_plan_names() -> None:
    assert models.__all__ == PLAN_EXPORTS
    for name in PLAN_EXPORTS:
        assert getattr(models, name) is not None


def test_tables() -> None:
    assert set(Base.metadata.tables) == {
        "users", "workflows", "nodes", "edges", "tools", "agents", "agent_tools",
        "workflow_executions", "node_executions", "execution_logs", "schedules",
    }  # fmt: skip


def test_every_python_default_has_a_server_default() -> None:
    missing = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.default is not None and column.server_default is None
    ]
    assert missing == []


def test_schedule_columns_are_the_plans() -> None:
    columns = {c.name: c for c in Base.metadata.tables["schedules"].columns}
    assert set(columns) >= {
        "id", "workflow_id", "user_id", "name", "description", "schedule_type",
        "schedule_config", "timezone", "is_active", "job_id", "next_run_at", "last_run_at",
        "run_count", "metadata", "created_at", "updated_at", "deleted_at",
    }  # fmt: skip
    assert columns["name"].type.length == 255  # type: ignore[attr-defined]
    assert columns["schedule_type"].type.length == 50  # type: ignore[attr-defined]
    assert columns["timezone"].type.length == 50  # type: ignore[attr-defined]
    assert columns["job_id"].unique is True
