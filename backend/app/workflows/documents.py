"""Export a workflow as one document and import one as a new workflow, tools and agents
matched by name among those the importing user may use (their own first, then public
ones; the oldest of a name wins)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents import service as agents
from app.core.errors import FieldValidationError
from app.core.security import Principal
from app.graphs.tool_configs import auth_type
from app.models import Agent, Tool
from app.tools import service as tools
from app.workflows import graph_service
from app.workflows import service as workflows
from app.workflows.document_schemas import (
    DocumentAgent,
    DocumentGraph,
    DocumentNode,
    DocumentTool,
    ImportResult,
    WorkflowDocument,
)
from app.workflows.graph_schemas import GraphDocument, GraphEdgeIn, GraphNodeIn, NamedEdge
from app.workflows.schemas import WorkflowCreate, WorkflowRead

_WORKFLOW_FIELDS = tuple(WorkflowCreate.model_fields)
_NODE_FIELDS = tuple(DocumentNode.model_fields)


async def export(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID
) -> WorkflowDocument:
    """The user's workflow as a document. A node whose tool or agent the user may no longer
    use names none (importing it then says so)."""
    graph = await graph_service.read(session, user, workflow_id)
    tool_ids = [node.tool_id for node in graph.nodes if node.tool_id is not None]
    agent_ids = [node.agent_id for node in graph.nodes if node.agent_id is not None]
    used_agents = await agents.usable_by_ids(session, user, agent_ids)
    agent_tool_ids = [tool.id for agent in used_agents.values() for tool in agent.tools]
    used_tools = await tools.usable_by_ids(session, user, [*tool_ids, *agent_tool_ids])
    names = {node.id: node.name for node in graph.nodes}
    nodes = []
    for node in graph.nodes:
        values: dict[str, Any] = {
            key: getattr(node, key) for key in _NODE_FIELDS if key not in ("tool", "agent")
        }
        tool = used_tools.get(node.tool_id) if node.tool_id is not None else None
        agent = used_agents.get(node.agent_id) if node.agent_id is not None else None
        values["tool"] = tool.name if tool is not None else None
        values["agent"] = agent.name if agent is not None else None
        nodes.append(DocumentNode.model_validate(values))
    edges = [
        NamedEdge(
            source=names[edge.source_node_id], target=names[edge.target_node_id],
            source_handle=edge.source_handle, target_handle=edge.target_handle,
            priority=edge.priority,
        )
        for edge in graph.edges
    ]  # fmt: skip
    node_tools = {node.tool_id for node in graph.nodes}
    return WorkflowDocument(
        workflow=WorkflowCreate.model_validate(
            {key: getattr(graph.workflow, key) for key in _WORKFLOW_FIELDS}
        ),
        graph=DocumentGraph(nodes=nodes, edges=edges),
        tools=[_document_tool(t) for t in _by_name(used_tools.values()) if t.id in node_tools],
        agents=[_document_agent(agent, used_tools) for agent in _by_name(used_agents.values())],
    )


def _by_name(items: Any) -> list[Any]:
    return sorted(items, key=lambda item: (item.name, str(item.id)))


def _document_tool(tool: Tool) -> DocumentTool:
    return DocumentTool(
        name=tool.name, tool_type=tool.tool_type, description=tool.description,
        config=tool.config, input_schema=tool.input_schema, output_schema=tool.output_schema,
        auth_type=auth_type(tool.auth_config),
    )  # fmt: skip


def _document_agent(agent: Agent, usable_tools: dict[uuid.UUID, Tool]) -> DocumentAgent:
    return DocumentAgent(
        name=agent.name, description=agent.description, system_prompt=agent.system_prompt,
        llm_config=agent.llm_config,
        tools=sorted(tool.name for tool in agent.tools if tool.id in usable_tools),
    )  # fmt: skip


def _first_by_name(found: Sequence[Any]) -> dict[str, Any]:
    """The first of each name (the repositories order the user's own first, oldest first)."""
    chosen: dict[str, Any] = {}
    for item in found:
        chosen.setdefault(item.name, item)
    return chosen


async def import_document(
    session: AsyncSession, user: Principal, document: WorkflowDocument
) -> ImportResult:
    """A new workflow with the document's graph; 422 naming each tool or agent it names
    that the user has none of (by name), and every graph problem, with nothing written."""
    nodes = document.graph.nodes
    tool_names = sorted({node.tool for node in nodes if node.tool is not None})
    agent_names = sorted({node.agent for node in nodes if node.agent is not None})
    found_tools = _first_by_name(await tools.usable_by_names(session, user, tool_names))
    found_agents = _first_by_name(await agents.usable_by_names(session, user, agent_names))
    problems: list[tuple[str, str]] = []
    expected_types = {tool.name: tool.tool_type for tool in document.tools}
    graph_nodes: list[GraphNodeIn] = []
    for index, node in enumerate(nodes):
        label = f"graph.nodes[{index}]"
        tool = found_tools.get(node.tool) if node.tool is not None else None
        agent = found_agents.get(node.agent) if node.agent is not None else None
        if node.tool is not None and tool is None:
            problems.append((f"{label}.tool", f"no tool named {node.tool!r} that you may use"))
        elif tool is not None and expected_types.get(tool.name, tool.tool_type) != tool.tool_type:
            problems.append(
                (
                    f"{label}.tool",
                    f"your tool {tool.name!r} is of type {tool.tool_type}, the document's "
                    f"is {expected_types[tool.name]}",
                )
            )
        if node.agent is not None and agent is None:
            problems.append((f"{label}.agent", f"no agent named {node.agent!r} that you may use"))
        values = node.model_dump(exclude={"tool", "agent"})
        graph_nodes.append(
            GraphNodeIn(
                **values,
                tool_id=tool.id if tool is not None else None,
                agent_id=agent.id if agent is not None else None,
            )
        )
    if problems:
        raise FieldValidationError(problems[0][0], problems[0][1], errors=problems)
    workflow = await workflows.create(session, user, document.workflow)
    edges = [GraphEdgeIn(**edge.model_dump()) for edge in document.graph.edges]
    graph_document = GraphDocument(version=workflow.version, nodes=graph_nodes, edges=edges)
    graph = await graph_service.fill(session, user, workflow, graph_document, "graph.")
    return ImportResult(workflow=WorkflowRead.of(workflow), graph=graph.read())
