"""A workflow as one portable JSON document: its fields, its graph with tools and agents by
name, and what those tools and agents are (never their secrets)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.graphs.rules import MAX_EDGES, MAX_NODES
from app.models import ToolType
from app.workflows.graph_schemas import GraphRead, NamedEdge, NodeBody
from app.workflows.schemas import WorkflowCreate, WorkflowRead


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentNode(NodeBody):
    """A node; the tool or agent it uses by name."""

    tool: str | None = Field(default=None, max_length=255)
    agent: str | None = Field(default=None, max_length=255)


class DocumentGraph(_Strict):
    """Nodes and edges, edges naming their ends by node name."""

    nodes: list[DocumentNode] = Field(max_length=MAX_NODES)
    edges: list[NamedEdge] = Field(default_factory=list, max_length=MAX_EDGES)


class DocumentTool(_Strict):
    """A tool the graph uses, as it was where the document was made (auth only by kind)."""

    name: str = Field(max_length=255)
    tool_type: ToolType
    description: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    auth_type: str | None = None


class DocumentAgent(_Strict):
    """An agent the graph uses, with its tools by name."""

    name: str = Field(max_length=255)
    description: str | None = None
    system_prompt: str | None = None
    llm_config: dict[str, Any] = Field(default_factory=dict)
    tools: list[str] = Field(default_factory=list, max_length=100)


class WorkflowDocument(_Strict):
    """A whole workflow, as export writes it and import reads it."""

    format: Literal["pastetrader.workflow"] = "pastetrader.workflow"
    format_version: Literal[1] = 1
    workflow: WorkflowCreate
    graph: DocumentGraph
    tools: list[DocumentTool] = Field(default_factory=list, max_length=MAX_NODES)
    agents: list[DocumentAgent] = Field(default_factory=list, max_length=MAX_NODES)


class ImportResult(BaseModel):
    """The workflow an import created and its graph."""

    workflow: WorkflowRead
    graph: GraphRead
