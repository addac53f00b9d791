"""Request and response bodies of the tools API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import PatchModel, ReadModel, Source
from app.core.json_values import MAX_TEXT_LENGTH
from app.graphs.tool_configs import auth_type
from app.models import Base, ToolType
from app.models.workflow import NAME_MAX_LENGTH

AUTH_CONFIG_DESCRIPTION = (
    "Write-only, sealed at rest: {type: bearer, token}, {type: header, name, value} or "
    "{type: basic, username, password}. Never returned; reads show auth_type."
)

CREATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "http": {
        "summary": "An HTTP API, with a bearer token",
        "value": {
            "name": "quote",
            "tool_type": "http",
            "config": {
                "method": "GET",
                "url": "https://api.example.com/quotes/{{ input.symbol }}",
                "headers": {"Accept": "application/json"},
                "query": {"currency": "{{ variables.currency }}"},
                "timeout_seconds": 10,
            },
            "auth_config": {"type": "bearer", "token": "<your token>"},
        },
    },
    "python": {
        "summary": "A Python function (runs only when allow-listed by the operator)",
        "value": {
            "name": "position_size",
            "tool_type": "python",
            "config": {"callable": "strategies.sizing:kelly"},
        },
    },
    "builtin": {
        "summary": "A built-in tool: echo, sleep or fail",
        "value": {"name": "echo", "tool_type": "builtin", "config": {"name": "echo"}},
    },
    "shell": {
        "summary": "A program run without a shell (off unless the operator enables it)",
        "value": {
            "name": "report",
            "tool_type": "shell",
            "config": {"argv": ["/usr/local/bin/report", "--daily"]},
        },
    },
    "mcp": {
        "summary": "A tool of an MCP server (stored; not runnable yet)",
        "value": {
            "name": "search",
            "tool_type": "mcp",
            "config": {"server_url": "https://mcp.example.com", "tool_name": "search"},
        },
    },
}


class ToolCreate(BaseModel):
    """A new tool; `config` takes the shape of its `tool_type`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)
    tool_type: ToolType
    config: dict[str, Any] = Field(default_factory=dict)
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    auth_config: dict[str, Any] | None = Field(
        default=None, description=AUTH_CONFIG_DESCRIPTION, json_schema_extra={"writeOnly": True}
    )
    is_public: bool = False


class ToolUpdate(PatchModel):
    """Fields to change (absent or null: unchanged; null clears description, the schemas and
    auth_config). A new `tool_type` needs a `config` of its shape."""

    model_config = ConfigDict(extra="forbid")
    clearable = frozenset({"description", "input_schema", "output_schema", "auth_config"})

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)
    tool_type: ToolType | None = None
    config: dict[str, Any] | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    auth_config: dict[str, Any] | None = Field(
        default=None, description=AUTH_CONFIG_DESCRIPTION, json_schema_extra={"writeOnly": True}
    )
    is_public: bool | None = None


class ToolRead(ReadModel):
    """A tool as the API shows it: its auth only by kind, never its secrets."""

    computed = frozenset({"auth_type"})

    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str | None
    tool_type: ToolType
    config: dict[str, Any]
    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
    auth_type: str | None = Field(description="bearer, header, basic, or null: no auth set")
    is_public: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @classmethod
    def values_of(cls, source: Source) -> dict[str, Any]:
        """The columns, with `auth_config` reduced to its kind."""
        values = cls.columns_of(source)
        stored = source.column_values() if isinstance(source, Base) else source
        values["auth_type"] = auth_type(stored["auth_config"])
        return values
