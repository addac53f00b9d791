"""Enumerations stored as VARCHAR with a named CHECK constraint (docs/data-model.md)."""

from __future__ import annotations

from enum import Enum


class _StrValueEnum(str, Enum):
    def __str__(self) -> str:
        """Return the string value for serialization."""
        return str(self.value)


class NodeType(_StrValueEnum):
    """Kind of node in a workflow graph."""

    TRIGGER = "trigger"
    TOOL = "tool"
    AGENT = "agent"
    CONDITION = "condition"
    ADAPTER = "adapter"
    PARALLEL = "parallel"
    AGGREGATOR = "aggregator"


class ToolType(_StrValueEnum):
    """How a tool is invoked."""

    HTTP = "http"
    MCP = "mcp"
    PYTHON = "python"
    SHELL = "shell"
    BUILTIN = "builtin"


class ModelProvider(_StrValueEnum):
    """LLM provider behind an agent."""

    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    GLM = "glm"


class ExecutionStatus(_StrValueEnum):
    """Lifecycle state of a workflow or node execution."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class AuthMode(_StrValueEnum):
    """How an agent authenticates with its provider."""

    OAUTH = "oauth"
    STANDALONE = "standalone"
    SDK = "sdk"
    GLM = "glm"


class TriggerType(_StrValueEnum):
    """What started a workflow execution."""

    SCHEDULE = "schedule"
    EVENT = "event"
    MANUAL = "manual"


class LogLevel(_StrValueEnum):
    """Severity of an execution log line."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class ScheduleType(_StrValueEnum):
    """Schedule type classification: the kinds of schedule APScheduler supports."""

    CRON = "cron"
    INTERVAL = "interval"
    DATE = "date"
