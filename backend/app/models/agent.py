"""LLM agents and the tools they may use."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, SoftDeleteMixin, TimestampMixin, UUIDMixin
from app.models.json import JSONObject

if TYPE_CHECKING:
    from app.models.tool import Tool
    from app.models.user import User

agent_tools = Table(
    "agent_tools",
    Base.metadata,
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("tool_id", ForeignKey("tools.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_agent_tools_tool_id", "tool_id"),
)


class Agent(UUIDMixin, TimestampMixin, SoftDeleteMixin, Base):
    """An LLM-backed step: a system prompt, a model configuration and tools."""

    __tablename__ = "agents"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    system_prompt: Mapped[str | None] = mapped_column(Text)
    llm_config: Mapped[dict[str, Any]] = mapped_column(
        JSONObject, default=dict, server_default=text("'{}'::jsonb")
    )
    is_public: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    owner: Mapped[User] = relationship(back_populates="agents", lazy="raise")
    tools: Mapped[list[Tool]] = relationship(
        secondary=agent_tools, back_populates="agents", passive_deletes=True, lazy="raise"
    )
