"""Tools that workflow nodes and agents call."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.models.base import Base, SoftDeleteMixin, TimestampMixin, UUIDMixin
from app.models.enums import ToolType
from app.models.json import JSONObject
from app.models.types import coerce_enum, enum_type

if TYPE_CHECKING:
    from app.models.agent import Agent
    from app.models.user import User


class Tool(UUIDMixin, TimestampMixin, SoftDeleteMixin, Base):
    """Something a workflow can invoke: an HTTP endpoint, an MCP server, a Python callable..."""

    __tablename__ = "tools"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    tool_type: Mapped[ToolType] = mapped_column(enum_type(ToolType, "tool_type"))
    config: Mapped[dict[str, Any]] = mapped_column(
        JSONObject, default=dict, server_default=text("'{}'::jsonb")
    )
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    auth_config: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    is_public: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    owner: Mapped[User] = relationship(back_populates="tools", lazy="raise")
    agents: Mapped[list[Agent]] = relationship(
        secondary="agent_tools", back_populates="tools", passive_deletes=True, lazy="raise"
    )

    @validates("tool_type")
    def _coerce_tool_type(self, key: str, value: Any) -> ToolType:
        return coerce_enum(ToolType, value, key)
