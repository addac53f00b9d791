"""Workflows and their graph: nodes joined by edges."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.core.errors import FieldValidationError
from app.models.base import Base, SoftDeleteMixin, TimestampMixin, UUIDMixin
from app.models.enums import NodeType
from app.models.json import JSONObject
from app.models.types import coerce_enum, enum_type

if TYPE_CHECKING:
    from app.models.agent import Agent
    from app.models.execution import WorkflowExecution
    from app.models.schedule import Schedule
    from app.models.tool import Tool
    from app.models.user import User

NAME_MAX_LENGTH = 255


class Workflow(UUIDMixin, TimestampMixin, SoftDeleteMixin, Base):
    """A trader's method as a graph; soft-deleting it soft-deletes its schedules at flush."""

    __tablename__ = "workflows"
    __table_args__ = (
        # Leads with owner_id (the FK) and serves an owner's pages, newest first.
        Index("ix_workflows_owner_id", "owner_id", "created_at", "id"),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    description: Mapped[str | None] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(
        JSONObject, default=dict, server_default=text("'{}'::jsonb")
    )
    variables: Mapped[dict[str, Any]] = mapped_column(
        JSONObject, default=dict, server_default=text("'{}'::jsonb")
    )
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))

    __mapper_args__ = {"version_id_col": version}

    owner: Mapped[User] = relationship(back_populates="workflows", lazy="raise")
    nodes: Mapped[list[Node]] = relationship(
        back_populates="workflow", passive_deletes=True, lazy="raise"
    )
    edges: Mapped[list[Edge]] = relationship(
        back_populates="workflow", passive_deletes=True, lazy="raise"
    )
    executions: Mapped[list[WorkflowExecution]] = relationship(
        back_populates="workflow", passive_deletes=True, lazy="raise"
    )
    schedules: Mapped[list[Schedule]] = relationship(
        back_populates="workflow", passive_deletes=True, lazy="raise"
    )


class Node(UUIDMixin, TimestampMixin, Base):
    """A step of a workflow: a trigger, tool, agent, condition, ..."""

    __tablename__ = "nodes"
    __table_args__ = (
        # Lets edges require both ends to belong to the edge's own workflow.
        UniqueConstraint("workflow_id", "id", name="uq_nodes_workflow_id_id"),
        # Names key node outputs; checked at commit, so a saved graph may swap two names.
        UniqueConstraint(
            "workflow_id",
            "name",
            name="uq_nodes_workflow_id_name",
            deferrable=True,
            initially="DEFERRED",
        ),
        CheckConstraint("timeout_seconds > 0", name="timeout_positive"),
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    node_type: Mapped[NodeType] = mapped_column(enum_type(NodeType, "node_type"))
    position_x: Mapped[float] = mapped_column(default=0.0, server_default=text("0"))
    position_y: Mapped[float] = mapped_column(default=0.0, server_default=text("0"))
    config: Mapped[dict[str, Any]] = mapped_column(
        JSONObject, default=dict, server_default=text("'{}'::jsonb")
    )
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    tool_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tools.id", ondelete="SET NULL"), index=True
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    timeout_seconds: Mapped[int] = mapped_column(default=300, server_default=text("300"))
    retry_config: Mapped[dict[str, Any]] = mapped_column(
        JSONObject, default=dict, server_default=text("'{}'::jsonb")
    )

    workflow: Mapped[Workflow] = relationship(back_populates="nodes", lazy="raise")
    tool: Mapped[Tool | None] = relationship(lazy="raise")
    agent: Mapped[Agent | None] = relationship(lazy="raise")

    @validates("node_type")
    def _coerce_node_type(self, key: str, value: Any) -> NodeType:
        return coerce_enum(NodeType, value, key)

    @validates("timeout_seconds")
    def _validate_timeout(self, key: str, value: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise FieldValidationError(key, "must be a positive whole number of seconds")
        return value


class Edge(UUIDMixin, TimestampMixin, Base):
    """A directed link between two nodes of the same workflow (never a node to itself)."""

    __tablename__ = "edges"
    __table_args__ = (
        CheckConstraint("source_node_id <> target_node_id", name="no_self_loop"),
        ForeignKeyConstraint(
            ["workflow_id", "source_node_id"],
            ["nodes.workflow_id", "nodes.id"],
            ondelete="CASCADE",
            name="fk_edges_source_node_nodes",
        ),
        ForeignKeyConstraint(
            ["workflow_id", "target_node_id"],
            ["nodes.workflow_id", "nodes.id"],
            ondelete="CASCADE",
            name="fk_edges_target_node_nodes",
        ),
        Index("ix_edges_workflow_id_source_node_id", "workflow_id", "source_node_id"),
        Index("ix_edges_workflow_id_target_node_id", "workflow_id", "target_node_id"),
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    source_node_id: Mapped[uuid.UUID]
    target_node_id: Mapped[uuid.UUID]
    source_handle: Mapped[str | None] = mapped_column(String(100))
    target_handle: Mapped[str | None] = mapped_column(String(100))
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    priority: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    workflow: Mapped[Workflow] = relationship(back_populates="edges", lazy="raise")

    @validates("source_node_id", "target_node_id")
    def _no_self_loop(self, key: str, value: uuid.UUID) -> uuid.UUID:
        other = self.target_node_id if key == "source_node_id" else self.source_node_id
        if value is not None and value == other:
            raise FieldValidationError(key, "an edge cannot join a node to itself")
        return value
