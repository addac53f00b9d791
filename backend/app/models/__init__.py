"""PasteTrader ORM models: one import target for services and Alembic (docs/data-model.md)."""

# Registered before any model is used: attribute guards, then the unit-of-work rules.
from app.models import column_guards as _column_guards  # noqa: F401
from app.models import unit_of_work as _unit_of_work  # noqa: F401
from app.models.agent import Agent
from app.models.base import Base, SoftDeleteMixin, TimestampMixin, UUIDMixin
from app.models.enums import (
    AuthMode,
    ExecutionStatus,
    LogLevel,
    ModelProvider,
    NodeType,
    ScheduleType,
    ToolType,
    TriggerType,
)
from app.models.execution import ExecutionLog, NodeExecution, WorkflowExecution
from app.models.schedule import Schedule
from app.models.tool import Tool
from app.models.user import User
from app.models.workflow import Edge, Node, Workflow

__all__ = [
    # Base classes
    "Base",
    "UUIDMixin",
    "TimestampMixin",
    "SoftDeleteMixin",
    # Enums
    "NodeType",
    "ToolType",
    "ModelProvider",
    "ExecutionStatus",
    "AuthMode",
    "TriggerType",
    "LogLevel",
    "ScheduleType",
    # Models
    "User",
    "Tool",
    "Agent",
    "Workflow",
    "Node",
    "Edge",
    "WorkflowExecution",
    "NodeExecution",
    "ExecutionLog",
    "Schedule",
]
