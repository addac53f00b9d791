"""Bodies of the graph API: the graph document (edges name their ends by node name), the
per-item node and edge bodies, and the validation report (runtime.md, "The graph
document")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, field_validator

from app.api.errors import ErrorDetail
from app.api.schemas import PatchModel, ReadModel
from app.core.errors import FieldValidationError
from app.core.json_values import check_json_value, text_problem
from app.graphs.node_configs import (
    DEFAULT_TIMEOUT_SECONDS,
    MAX_TIMEOUT_SECONDS,
    MIN_TIMEOUT_SECONDS,
    NAME_RULE,
    valid_name,
)
from app.graphs.rules import MAX_EDGES, MAX_NODES
from app.models import NodeType

HANDLE_MAX_LENGTH = 100
MAX_POSITION = 1e7
EXAMPLE_TOOL_ID = "8d3f9a52-4a0e-4d3b-9c1e-2b7f5e6a7c80"
EXAMPLE_AGENT_ID = "0b7e1c9d-6f2a-4e8b-a3d5-9c4f1e2b6a70"

NODE_EXAMPLES: dict[str, dict[str, Any]] = {
    "trigger": {"summary": "The trigger: where a run starts", "value": {
        "name": "start", "node_type": "trigger", "config": {}}},
    "tool": {"summary": "Call a tool with templated parameters", "value": {
        "name": "quote", "node_type": "tool", "tool_id": EXAMPLE_TOOL_ID,
        "config": {"parameters": {"symbol": "{{ variables.symbol }}"}},
        "timeout_seconds": 10, "retry_config": {"max_attempts": 3, "backoff_seconds": 1}}},
    "agent": {"summary": "Ask an agent", "value": {
        "name": "analyse", "node_type": "agent", "agent_id": EXAMPLE_AGENT_ID,
        "config": {"prompt": "Is {{ input.json.price }} cheap for {{ variables.symbol }}?",
                   "output": "json"}}},
    "condition": {"summary": "Branch on an expression", "value": {
        "name": "decide", "node_type": "condition",
        "config": {"branches": [{"name": "buy", "when": "input.json.price < `100`"}],
                   "default": "hold"}}},
    "adapter": {"summary": "Reshape data", "value": {
        "name": "order_args", "node_type": "adapter",
        "config": {"mapping": {"symbol": "variables.symbol", "price": "inputs.quote.json.price"}}}},
    "parallel": {"summary": "Fan out: every outgoing edge is taken", "value": {
        "name": "fan_out", "node_type": "parallel", "config": {}}},
    "aggregator": {"summary": "Gather the outputs of several nodes", "value": {
        "name": "gather", "node_type": "aggregator", "config": {"strategy": "inputs"}}},
}  # fmt: skip

GRAPH_EXAMPLE: dict[str, Any] = {
    "version": 1,
    "nodes": [
        NODE_EXAMPLES["trigger"]["value"],
        NODE_EXAMPLES["tool"]["value"],
        NODE_EXAMPLES["condition"]["value"],
        {"name": "order", "node_type": "tool", "tool_id": EXAMPLE_TOOL_ID,
         "config": {"parameters": {"symbol": "{{ variables.symbol }}", "side": "buy"}}},
    ],
    "edges": [
        {"source": "start", "target": "quote"},
        {"source": "quote", "target": "decide"},
        {"source": "decide", "target": "order", "source_handle": "buy"},
    ],
}  # fmt: skip


def storable_json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """`value` when the database can keep it (app.core.json_values), checked here so the
    error names the item in its list (`nodes[3].input_schema`)."""
    if value is not None:
        try:
            check_json_value(value, "")
        except FieldValidationError as exc:
            where = exc.field.lstrip(".")
            raise ValueError(f"{exc.reason} (at {where})" if where else exc.reason) from None
    return value


def storable_text(value: str | None) -> str | None:
    """`value` when the database can keep it (no NUL, valid Unicode)."""
    if value is not None and (problem := text_problem(value)) is not None:
        raise ValueError(problem)
    return value


class NodeBody(BaseModel):
    """What a node is made of, but the tool or agent it uses; `config` takes the shape of
    its `node_type`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description=f"Unique in the workflow: {NAME_RULE}")
    node_type: NodeType
    config: dict[str, Any] = Field(default_factory=dict)
    timeout_seconds: int = Field(
        default=DEFAULT_TIMEOUT_SECONDS, ge=MIN_TIMEOUT_SECONDS, le=MAX_TIMEOUT_SECONDS
    )
    retry_config: dict[str, Any] = Field(
        default_factory=dict,
        description="max_attempts (1-10), backoff_seconds, backoff_multiplier, max_backoff_seconds",
    )
    position_x: FiniteFloat = Field(default=0.0, ge=-MAX_POSITION, le=MAX_POSITION)
    position_y: FiniteFloat = Field(default=0.0, ge=-MAX_POSITION, le=MAX_POSITION)
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return valid_name(value)

    _schemas = field_validator("input_schema", "output_schema")(storable_json)


class NodeFields(NodeBody):
    """A node with the tool or agent it uses, by id."""

    tool_id: uuid.UUID | None = Field(default=None, description="Tool nodes: the tool to call")
    agent_id: uuid.UUID | None = Field(default=None, description="Agent nodes: the agent")


class GraphNodeIn(NodeFields):
    """A node of a saved graph; `id` keeps an existing node (else it is matched by name)."""

    id: uuid.UUID | None = None


class NodeCreate(NodeFields):
    """A node added to a workflow's graph."""


class NodeUpdate(PatchModel):
    """Node fields to change (absent or null: unchanged; null clears tool_id, agent_id and
    the schemas)."""

    model_config = ConfigDict(extra="forbid")
    clearable = frozenset({"tool_id", "agent_id", "input_schema", "output_schema"})

    name: str | None = None
    node_type: NodeType | None = None
    config: dict[str, Any] | None = None
    tool_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    timeout_seconds: int | None = Field(
        default=None, ge=MIN_TIMEOUT_SECONDS, le=MAX_TIMEOUT_SECONDS
    )
    retry_config: dict[str, Any] | None = None
    position_x: FiniteFloat | None = Field(default=None, ge=-MAX_POSITION, le=MAX_POSITION)
    position_y: FiniteFloat | None = Field(default=None, ge=-MAX_POSITION, le=MAX_POSITION)
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else valid_name(value)

    _schemas = field_validator("input_schema", "output_schema")(storable_json)


Handle = str | None


class EdgeFields(BaseModel):
    """An edge's optional parts: the branch it leaves a condition node by, an editor port."""

    model_config = ConfigDict(extra="forbid")

    source_handle: Handle = Field(
        default=None, max_length=HANDLE_MAX_LENGTH,
        description="Out of a condition node: the branch name that takes this edge",
    )  # fmt: skip
    target_handle: Handle = Field(default=None, max_length=HANDLE_MAX_LENGTH)
    priority: int = Field(default=0, ge=-1000, le=1000)

    _handles = field_validator("source_handle", "target_handle")(storable_text)


class NamedEdge(EdgeFields):
    """An edge, its ends named by node name."""

    source: str = Field(max_length=255)
    target: str = Field(max_length=255)


class GraphEdgeIn(NamedEdge):
    """An edge of a saved graph; `id` keeps an existing edge (else it is matched by its
    ends and branch)."""

    id: uuid.UUID | None = None


class EdgeCreate(EdgeFields):
    """An edge added to a workflow's graph, its ends given by node id."""

    source_node_id: uuid.UUID
    target_node_id: uuid.UUID


class EdgeUpdate(PatchModel):
    """Edge fields to change (absent or null: unchanged; null clears the handles)."""

    model_config = ConfigDict(extra="forbid")
    clearable = frozenset({"source_handle", "target_handle"})

    source_node_id: uuid.UUID | None = None
    target_node_id: uuid.UUID | None = None
    source_handle: Handle = Field(default=None, max_length=HANDLE_MAX_LENGTH)
    target_handle: Handle = Field(default=None, max_length=HANDLE_MAX_LENGTH)
    priority: int | None = Field(default=None, ge=-1000, le=1000)

    _handles = field_validator("source_handle", "target_handle")(storable_text)


class GraphDocument(BaseModel):
    """A whole graph to save, with the `version` of the workflow the client read."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [GRAPH_EXAMPLE]})

    version: int = Field(ge=1, le=2**31 - 1)
    nodes: list[GraphNodeIn] = Field(max_length=MAX_NODES)
    edges: list[GraphEdgeIn] = Field(default_factory=list, max_length=MAX_EDGES)


class NodeRead(ReadModel):
    """A node as the API shows it."""

    id: uuid.UUID
    name: str
    node_type: NodeType
    config: dict[str, Any]
    tool_id: uuid.UUID | None
    agent_id: uuid.UUID | None
    timeout_seconds: int
    retry_config: dict[str, Any]
    position_x: float
    position_y: float
    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class EdgeRead(ReadModel):
    """An edge as the API shows it: its ends by node name and by id."""

    computed = frozenset({"source", "target"})

    id: uuid.UUID
    source: str
    target: str
    source_node_id: uuid.UUID
    target_node_id: uuid.UUID
    source_handle: str | None
    target_handle: str | None
    priority: int
    created_at: datetime
    updated_at: datetime


class GraphRead(BaseModel):
    """A workflow's graph and the version to send back when saving it."""

    workflow_id: uuid.UUID
    version: int
    nodes: list[NodeRead]
    edges: list[EdgeRead]


class NodeChange(BaseModel):
    """The node as saved and the workflow's new version."""

    version: int
    node: NodeRead


class EdgeChange(BaseModel):
    """The edge as saved and the workflow's new version."""

    version: int
    edge: EdgeRead


class ValidationReport(BaseModel):
    """What would stop a run of the workflow now (nothing, when `valid`)."""

    workflow_id: uuid.UUID
    version: int
    valid: bool
    problems: list[ErrorDetail]
