"""Graph rules as the API applies them: every change is checked against the whole graph as
it would be after it, and either all of it is written, with the workflow's `version`
bumped, or nothing is.

A whole graph saved at once (PUT, import) must be able to run; one node or edge at a
time only has to keep the graph well formed (graphs are built that way), and
`validate` says what still stops a run (runtime.md, "Graph semantics").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents import service as agents
from app.api.errors import ConflictError, ErrorDetail, NotFoundError
from app.core.clock import utc_now
from app.core.errors import FieldValidationError
from app.core.security import Principal
from app.graphs.node_configs import ConditionNodeConfig, parse_node_config, parse_retry_config
from app.graphs.rules import GraphEdge, GraphNode, Problem, run_problems, shape_problems
from app.models import Edge, Node, NodeType, Workflow
from app.tools import service as tools
from app.workflows import graph_repository as repository
from app.workflows import service as workflows
from app.workflows.graph_schemas import (
    EdgeCreate,
    EdgeRead,
    EdgeUpdate,
    GraphDocument,
    GraphRead,
    NodeCreate,
    NodeFields,
    NodeRead,
    NodeUpdate,
    ValidationReport,
)

NODE_COLUMNS = tuple(NodeFields.model_fields)
EDGE_COLUMNS = ("source_handle", "target_handle", "priority")


@dataclass
class NodeDraft:
    """A node as it would be after the change; `label` prefixes the fields of its problems,
    `check` says whether its own fields are (re)validated."""

    label: str
    values: dict[str, Any]
    existing: Node | None = None
    check: bool = True

    @property
    def name(self) -> str:
        """The node's name after the change."""
        name: str = self.values["name"]
        return name


@dataclass
class EdgeDraft:
    """An edge as it would be after the change, its ends by node name."""

    label: str
    source: str
    target: str
    values: dict[str, Any] = field(default_factory=dict)
    existing: Edge | None = None


@dataclass
class Graph:
    """A workflow's saved graph, loaded."""

    workflow: Workflow
    nodes: list[Node]
    edges: list[Edge]

    def read(self) -> GraphRead:
        """The graph as the API shows it."""
        names = {node.id: node.name for node in self.nodes}
        return GraphRead(
            workflow_id=self.workflow.id,
            version=self.workflow.version,
            nodes=[NodeRead.of(node) for node in self.nodes],
            edges=[edge_read(edge, names) for edge in self.edges],
        )


def edge_read(edge: Edge, names: dict[uuid.UUID, str]) -> EdgeRead:
    """An edge's read model, its ends named."""
    values = EdgeRead.columns_of(edge)
    values["source"], values["target"] = names[edge.source_node_id], names[edge.target_node_id]
    return EdgeRead.model_validate(values)


def _field(label: str, name: str) -> str:
    return f"{label}.{name}" if label else name


def _raise(problems: Sequence[Problem]) -> None:
    if problems:
        raise FieldValidationError(problems[0][0], problems[0][1], errors=list(problems))


async def _locked(session: AsyncSession, user: Principal, workflow_id: uuid.UUID,
                  version: int | None) -> Graph:  # fmt: skip
    workflow = await repository.lock_owned(session, user.id, workflow_id)
    if workflow is None:
        raise NotFoundError("Workflow not found")
    if version is not None and version != workflow.version:
        raise ConflictError(
            f"The graph changed since version {version}: it is at version "
            f"{workflow.version}; read it again and retry",
            [("version", f"stale: the workflow is at version {workflow.version}")],
        )
    nodes = await repository.nodes_of(session, workflow.id)
    edges = await repository.edges_of(session, workflow.id)
    return Graph(workflow, nodes, edges)


async def read(session: AsyncSession, user: Principal, workflow_id: uuid.UUID) -> Graph:
    """The user's workflow with its nodes and edges; 404 when unknown, another's or deleted."""
    workflow = await workflows.require(session, user, workflow_id)
    nodes = await repository.nodes_of(session, workflow.id)
    edges = await repository.edges_of(session, workflow.id)
    return Graph(workflow, nodes, edges)


def _existing_node_draft(node: Node, check: bool = False) -> NodeDraft:
    values = {name: getattr(node, name) for name in NODE_COLUMNS}
    return NodeDraft(f"nodes.{node.name}", values, node, check)


def _existing_edge_draft(edge: Edge, names: dict[uuid.UUID, str]) -> EdgeDraft:
    values = {name: getattr(edge, name) for name in EDGE_COLUMNS}
    return EdgeDraft(
        f"edges.{edge.id}", names[edge.source_node_id], names[edge.target_node_id], values, edge
    )


async def _node_problems(
    session: AsyncSession, user: Principal, drafts: Iterable[NodeDraft]
) -> list[Problem]:
    """Each checked node's own problems: its config for its type, its retry policy, and
    the tool or agent it names (one the user may use, on a node of the right type)."""
    checked = [draft for draft in drafts if draft.check]
    tool_ids = [d.values["tool_id"] for d in checked if d.values.get("tool_id") is not None]
    agent_ids = [d.values["agent_id"] for d in checked if d.values.get("agent_id") is not None]
    usable_tools = await tools.usable_by_ids(session, user, tool_ids)
    usable_agents = await agents.usable_by_ids(session, user, agent_ids)
    problems: list[Problem] = []
    for draft in checked:
        values, label = draft.values, draft.label
        node_type = NodeType(values["node_type"])
        for parse, key in ((parse_node_config, "config"), (None, "retry_config")):
            try:
                if parse is None:
                    parse_retry_config(values[key], _field(label, key))
                else:
                    parse(node_type, values[key], _field(label, key))
            except FieldValidationError as exc:
                problems.extend(exc.errors)
        for key, kind, usable in (
            ("tool_id", NodeType.TOOL, usable_tools),
            ("agent_id", NodeType.AGENT, usable_agents),
        ):
            target = values.get(key)
            what = key.removesuffix("_id")
            if node_type == kind and target is None:
                problems.append((_field(label, key), f"a {kind} node needs the id of a {what}"))
            elif node_type == kind and target not in usable:
                problems.append((_field(label, key), f"no {what} with this id that you may use"))
            elif node_type != kind and target is not None:
                problems.append((_field(label, key), f"only {kind} nodes have a {what}"))
    return problems


def _handles(draft: NodeDraft) -> tuple[str, ...] | None:
    if draft.values["node_type"] != NodeType.CONDITION:
        return None
    try:
        config = parse_node_config(NodeType.CONDITION, draft.values["config"])
    except FieldValidationError:
        return ()
    assert isinstance(config, ConditionNodeConfig)
    return config.handles()


def _graph_problems(
    nodes: Sequence[NodeDraft], edges: Sequence[EdgeDraft], *, complete: bool
) -> list[Problem]:
    graph_nodes = [
        GraphNode(d.label, d.name, str(d.values["node_type"]), _handles(d)) for d in nodes
    ]
    graph_edges = [
        GraphEdge(d.label, d.source, d.target, d.values.get("source_handle")) for d in edges
    ]
    check = run_problems if complete else shape_problems
    return check(graph_nodes, graph_edges)


async def _save(
    session: AsyncSession,
    user: Principal,
    graph: Graph,
    nodes: list[NodeDraft],
    edges: list[EdgeDraft],
    *,
    complete: bool,
    rename: dict[str, str] | None = None,
) -> Graph:
    """Check the graph the drafts describe and, when nothing is wrong, make it the saved one
    (dropped edges and nodes deleted, the rest updated or inserted, version bumped)."""
    problems = await _node_problems(session, user, nodes)
    _raise(problems)
    problems = _graph_problems(nodes, edges, complete=complete)
    if rename:
        problems = [(rename.get(where, where), why) for where, why in problems]
    _raise(problems)
    kept_edges = {id(draft.existing) for draft in edges if draft.existing is not None}
    kept_nodes = {id(draft.existing) for draft in nodes if draft.existing is not None}
    for edge in graph.edges:
        if id(edge) not in kept_edges:
            await session.delete(edge)
    for node in graph.nodes:
        if id(node) not in kept_nodes:
            await session.delete(node)
    await session.flush()
    saved_nodes: dict[str, Node] = {}
    for draft in nodes:
        node = draft.existing or Node(workflow_id=graph.workflow.id)
        for key, value in draft.values.items():
            if getattr(node, key, None) != value or draft.existing is None:
                setattr(node, key, value)
        session.add(node)
        saved_nodes[draft.name] = node
    await session.flush()
    saved_edges: list[Edge] = []
    for edge_draft in edges:
        edge = edge_draft.existing or Edge(workflow_id=graph.workflow.id)
        source, target = saved_nodes[edge_draft.source].id, saved_nodes[edge_draft.target].id
        if edge.source_node_id != source or edge.target_node_id != target:
            # Both ends at once: the model refuses a self loop seen half-way.
            edge.source_node_id, edge.target_node_id = None, None  # type: ignore[assignment]
            edge.target_node_id, edge.source_node_id = target, source
        for key, value in edge_draft.values.items():
            if getattr(edge, key, None) != value:
                setattr(edge, key, value)
        session.add(edge)
        saved_edges.append(edge)
    graph.workflow.updated_at = utc_now()  # the UPDATE bumps `version`
    await session.flush()
    ordered = sorted(saved_nodes.values(), key=lambda node: node.name)
    # The order reads give (graph_repository): edges made in one flush may share a
    # created_at, and the answer to a save must equal the next read.
    saved_edges.sort(key=lambda edge: (edge.created_at, edge.id))
    return Graph(graph.workflow, ordered, saved_edges)


def _document_drafts(
    graph: Graph, document: GraphDocument, prefix: str = ""
) -> tuple[list[NodeDraft], list[EdgeDraft]]:
    """Drafts of a whole document: nodes matched to saved ones by id, else by name; edges
    by id, else by (source, target, branch)."""
    by_id = {node.id: node for node in graph.nodes}
    by_name = {node.name: node for node in graph.nodes}
    claimed: set[uuid.UUID] = set()
    problems: list[Problem] = []
    nodes: list[NodeDraft] = []
    for index, item in enumerate(document.nodes):
        label = f"{prefix}nodes[{index}]"
        existing: Node | None = None
        if item.id is not None:
            existing = by_id.get(item.id)
            if existing is None or existing.id in claimed:
                problems.append((f"{label}.id", "no other node of this workflow has this id"))
                continue
        elif (named := by_name.get(item.name)) is not None and named.id not in claimed:
            existing = named
        if existing is not None:
            claimed.add(existing.id)
        nodes.append(NodeDraft(label, item.model_dump(exclude={"id"}), existing))
    by_edge_id = {edge.id: edge for edge in graph.edges}
    names = {node.id: node.name for node in graph.nodes}
    by_ends = {
        (names[e.source_node_id], names[e.target_node_id], e.source_handle): e for e in graph.edges
    }
    taken: set[uuid.UUID] = set()
    edges: list[EdgeDraft] = []
    for index, edge_item in enumerate(document.edges):
        label = f"{prefix}edges[{index}]"
        edge: Edge | None = None
        if edge_item.id is not None:
            edge = by_edge_id.get(edge_item.id)
            if edge is None or edge.id in taken:
                problems.append((f"{label}.id", "no other edge of this workflow has this id"))
                continue
        else:
            found = by_ends.get((edge_item.source, edge_item.target, edge_item.source_handle))
            edge = found if found is not None and found.id not in taken else None
        if edge is not None:
            taken.add(edge.id)
        values = edge_item.model_dump(include=set(EDGE_COLUMNS))
        edges.append(EdgeDraft(label, edge_item.source, edge_item.target, values, edge))
    _raise(problems)
    return nodes, edges


async def replace(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID, document: GraphDocument
) -> Graph:
    """Save a whole graph (one that can run) in place of the current one, given the version
    the client read; 409 when it is stale."""
    graph = await _locked(session, user, workflow_id, document.version)
    nodes, edges = _document_drafts(graph, document)
    return await _save(session, user, graph, nodes, edges, complete=True)


async def fill(
    session: AsyncSession, user: Principal, workflow: Workflow, document: GraphDocument,
    prefix: str,
) -> Graph:  # fmt: skip
    """Give a new workflow (flushed, no graph yet) the graph of `document` (import)."""
    graph = Graph(workflow, [], [])
    nodes, edges = _document_drafts(graph, document, prefix)
    return await _save(session, user, graph, nodes, edges, complete=True)


def _all_edges(graph: Graph, names: dict[uuid.UUID, str]) -> list[EdgeDraft]:
    return [_existing_edge_draft(edge, names) for edge in graph.edges]


def _node_of(graph: Graph, node_id: uuid.UUID) -> Node:
    for node in graph.nodes:
        if node.id == node_id:
            return node
    raise NotFoundError("Node not found")


def _edge_of(graph: Graph, edge_id: uuid.UUID) -> Edge:
    for edge in graph.edges:
        if edge.id == edge_id:
            return edge
    raise NotFoundError("Edge not found")


async def add_node(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID, data: NodeCreate,
    *,
    version: int | None,
) -> tuple[Graph, Node]:  # fmt: skip
    """Add a node (a well-formed graph after it); the graph and the new node."""
    graph = await _locked(session, user, workflow_id, version)
    nodes = [_existing_node_draft(node) for node in graph.nodes]
    new = NodeDraft("", data.model_dump())
    names = {node.id: node.name for node in graph.nodes}
    saved = await _save(session, user, graph, [*nodes, new], _all_edges(graph, names),
                        complete=False)  # fmt: skip
    return saved, next(node for node in saved.nodes if node.name == new.name)


async def update_node(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID, node_id: uuid.UUID,
    data: NodeUpdate,
    *,
    version: int | None,
) -> tuple[Graph, Node]:  # fmt: skip
    """Change a node (a well-formed graph after it); edges follow a renamed node."""
    graph = await _locked(session, user, workflow_id, version)
    target = _node_of(graph, node_id)
    nodes = [_existing_node_draft(node) for node in graph.nodes if node is not target]
    changed = _existing_node_draft(target, check=True)
    changed.label = ""
    changed.values.update(data.changes())
    names = {node.id: node.name for node in graph.nodes} | {target.id: changed.name}
    saved = await _save(session, user, graph, [*nodes, changed], _all_edges(graph, names),
                        complete=False)  # fmt: skip
    return saved, target


async def delete_node(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID, node_id: uuid.UUID,
    *,
    version: int | None,
) -> Graph:  # fmt: skip
    """Remove a node and the edges at its ends."""
    graph = await _locked(session, user, workflow_id, version)
    target = _node_of(graph, node_id)
    nodes = [_existing_node_draft(node) for node in graph.nodes if node is not target]
    names = {node.id: node.name for node in graph.nodes}
    edges = [
        _existing_edge_draft(edge, names)
        for edge in graph.edges
        if target.id not in (edge.source_node_id, edge.target_node_id)
    ]
    return await _save(session, user, graph, nodes, edges, complete=False)


_EDGE_FIELDS = {"source": "source_node_id", "target": "target_node_id"}


def _end_name(graph: Graph, node_id: uuid.UUID, field_name: str) -> str:
    for node in graph.nodes:
        if node.id == node_id:
            return node.name
    raise FieldValidationError(field_name, "no node of this workflow has this id")


async def add_edge(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID, data: EdgeCreate,
    *,
    version: int | None,
) -> tuple[Graph, Edge]:  # fmt: skip
    """Join two nodes of the workflow (a well-formed graph after it)."""
    graph = await _locked(session, user, workflow_id, version)
    source = _end_name(graph, data.source_node_id, "source_node_id")
    target = _end_name(graph, data.target_node_id, "target_node_id")
    nodes = [_existing_node_draft(node) for node in graph.nodes]
    names = {node.id: node.name for node in graph.nodes}
    new = EdgeDraft("", source, target, data.model_dump(include=set(EDGE_COLUMNS)))
    saved = await _save(session, user, graph, nodes, [*_all_edges(graph, names), new],
                        complete=False, rename=_EDGE_FIELDS)  # fmt: skip
    return saved, saved.edges[-1]


async def update_edge(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID, edge_id: uuid.UUID,
    data: EdgeUpdate,
    *,
    version: int | None,
) -> tuple[Graph, Edge]:  # fmt: skip
    """Change an edge's ends, branch, port or priority (a well-formed graph after it)."""
    graph = await _locked(session, user, workflow_id, version)
    target = _edge_of(graph, edge_id)
    changes = data.changes()
    names = {node.id: node.name for node in graph.nodes}
    edges = [_existing_edge_draft(edge, names) for edge in graph.edges]
    changed = next(draft for draft in edges if draft.existing is target)
    changed.label = ""
    if "source_node_id" in changes:
        changed.source = _end_name(graph, changes.pop("source_node_id"), "source_node_id")
    if "target_node_id" in changes:
        changed.target = _end_name(graph, changes.pop("target_node_id"), "target_node_id")
    changed.values.update(changes)
    nodes = [_existing_node_draft(node) for node in graph.nodes]
    saved = await _save(session, user, graph, nodes, edges, complete=False, rename=_EDGE_FIELDS)
    return saved, target


async def delete_edge(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID, edge_id: uuid.UUID,
    *,
    version: int | None,
) -> Graph:  # fmt: skip
    """Remove an edge."""
    graph = await _locked(session, user, workflow_id, version)
    target = _edge_of(graph, edge_id)
    names = {node.id: node.name for node in graph.nodes}
    edges = [_existing_edge_draft(e, names) for e in graph.edges if e is not target]
    nodes = [_existing_node_draft(node) for node in graph.nodes]
    return await _save(session, user, graph, nodes, edges, complete=False)


async def validate(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID
) -> ValidationReport:
    """Everything that would stop a run of the workflow now: the graph's problems, nodes
    whose tool or agent the user may no longer use, an inactive workflow."""
    graph = await read(session, user, workflow_id)
    nodes = [_existing_node_draft(node, check=True) for node in graph.nodes]
    names = {node.id: node.name for node in graph.nodes}
    problems = await _node_problems(session, user, nodes)
    problems += _graph_problems(nodes, _all_edges(graph, names), complete=True)
    if not graph.workflow.is_active:
        problems.insert(0, ("is_active", "the workflow is inactive"))
    return ValidationReport(
        workflow_id=graph.workflow.id,
        version=graph.workflow.version,
        valid=not problems,
        problems=[ErrorDetail(field=where, reason=why) for where, why in problems],
    )
