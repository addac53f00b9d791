"""Request and response bodies of the agents API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import PatchModel, ReadModel, Source
from app.core.json_values import MAX_TEXT_LENGTH
from app.models import Agent
from app.models.workflow import NAME_MAX_LENGTH

MAX_PROMPT_LENGTH = 50_000
MAX_AGENT_TOOLS = 100

CREATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "anthropic": {
        "summary": "A Claude analyst (the key comes from ANTHROPIC_API_KEY)",
        "value": {
            "name": "analyst",
            "system_prompt": "You are a cautious equity analyst. Answer in JSON.",
            "llm_config": {
                "provider": "anthropic",
                "model": "claude-sonnet-4-5",
                "temperature": 0.2,
                "max_tokens": 1024,
            },
        },
    },
    "openai_compatible": {
        "summary": "An OpenAI-compatible endpoint",
        "value": {
            "name": "summariser",
            "llm_config": {
                "provider": "openai",
                "model": "gpt-4.1-mini",
                "base_url": "https://llm.internal.example.com/v1",
            },
        },
    },
}


class AgentCreate(BaseModel):
    """A new agent; API keys never go in `llm_config` (they come from settings)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)
    system_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_LENGTH)
    llm_config: dict[str, Any]
    is_public: bool = False
    tool_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_AGENT_TOOLS)


class AgentUpdate(PatchModel):
    """Fields to change (absent or null: unchanged; null clears description and
    system_prompt)."""

    model_config = ConfigDict(extra="forbid")
    clearable = frozenset({"description", "system_prompt"})

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)
    system_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_LENGTH)
    llm_config: dict[str, Any] | None = None
    is_public: bool | None = None


class AgentTools(BaseModel):
    """The whole set of tools an agent may use (replaces the current set)."""

    model_config = ConfigDict(extra="forbid")

    tool_ids: list[uuid.UUID] = Field(max_length=MAX_AGENT_TOOLS)


class AgentRead(ReadModel):
    """An agent as the API shows it, with the ids of its tools."""

    computed = frozenset({"tool_ids"})

    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str | None
    system_prompt: str | None
    llm_config: dict[str, Any]
    is_public: bool
    tool_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @classmethod
    def values_of(cls, source: Source) -> dict[str, Any]:
        """The columns and the agent's (loaded) tools' ids, in id order."""
        values = cls.columns_of(source)
        assert isinstance(source, Agent)
        values["tool_ids"] = sorted((tool.id for tool in source.tools), key=str)
        return values
