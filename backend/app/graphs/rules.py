"""The rules a graph obeys (runtime.md, "Graph semantics"), over plain descriptions of its
nodes and edges, each problem naming the node or edge at fault and why.

Two sets: `shape_problems` are wrong in any graph, finished or not (refused on every
write); `run_problems` add what a graph still lacks to run (a trigger, reachability),
refused when a whole graph is saved and reported by validation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

MAX_NODES = 500
MAX_EDGES = 2_000

Problem = tuple[str, str]


@dataclass(frozen=True)
class GraphNode:
    """A node as the rules see it; `label` prefixes the fields of its problems."""

    label: str
    name: str
    node_type: str
    # For a condition node: the branch names its outgoing edges may carry.
    handles: tuple[str, ...] | None = None


@dataclass(frozen=True)
class GraphEdge:
    """An edge as the rules see it, its ends named by node name."""

    label: str
    source: str
    target: str
    source_handle: str | None = None


def _field(label: str, name: str) -> str:
    return f"{label}.{name}" if label else name


def shape_problems(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> list[Problem]:
    """What is wrong with this graph whatever is added to it later."""
    problems: list[Problem] = []
    if len(nodes) > MAX_NODES:
        problems.append(("nodes", f"a workflow has at most {MAX_NODES} nodes"))
    if len(edges) > MAX_EDGES:
        problems.append(("edges", f"a workflow has at most {MAX_EDGES} edges"))
    by_name: dict[str, GraphNode] = {}
    trigger: GraphNode | None = None
    for node in nodes:
        if node.name in by_name:
            problems.append(
                (
                    _field(node.label, "name"),
                    f"another node is named {node.name!r}; names are unique",
                )
            )
            continue
        by_name[node.name] = node
        if node.node_type == "trigger":
            if trigger is None:
                trigger = node
            else:
                problems.append(
                    (
                        _field(node.label, "node_type"),
                        f"a workflow has exactly one trigger node and {trigger.name!r} is it",
                    )
                )
    seen: dict[tuple[str, str, str | None], GraphEdge] = {}
    for edge in edges:
        problems.extend(_edge_problems(edge, by_name, seen))
    if not problems:
        problems.extend(_cycle_problems(nodes, edges))
    return problems


def _edge_problems(
    edge: GraphEdge,
    by_name: dict[str, GraphNode],
    seen: dict[tuple[str, str, str | None], GraphEdge],
) -> list[Problem]:
    problems: list[Problem] = []
    source, target = by_name.get(edge.source), by_name.get(edge.target)
    if source is None:
        problems.append((_field(edge.label, "source"), f"no node is named {edge.source!r}"))
    if target is None:
        problems.append((_field(edge.label, "target"), f"no node is named {edge.target!r}"))
    if source is None or target is None:
        return problems
    if edge.source == edge.target:
        return [(_field(edge.label, "target"), "an edge cannot join a node to itself")]
    if target.node_type == "trigger":
        problems.append(
            (_field(edge.label, "target"), "the trigger node starts the graph; no edge enters it")
        )
    if source.handles is not None:
        if edge.source_handle not in source.handles:
            problems.append(
                (
                    _field(edge.label, "source_handle"),
                    f"an edge out of condition node {source.name!r} names one of its branches: "
                    + ", ".join(source.handles),
                )
            )
    elif edge.source_handle is not None:
        problems.append(
            (
                _field(edge.label, "source_handle"),
                "only edges out of a condition node name a branch",
            )
        )
    key = (edge.source, edge.target, edge.source_handle)
    if key in seen:
        problems.append(
            (
                edge.label or "body",
                f"duplicates the edge {edge.source!r} -> {edge.target!r}"
                + (f" on branch {edge.source_handle!r}" if edge.source_handle else ""),
            )
        )
    else:
        seen[key] = edge
    return problems


def _cycle_problems(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> list[Problem]:
    """The first edge that closes a cycle, walking from the trigger first (so the edge named
    is the one that leads back), with the cycle spelled out."""
    outgoing: dict[str, list[GraphEdge]] = defaultdict(list)
    for edge in edges:
        outgoing[edge.source].append(edge)
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []
    starts = sorted(nodes, key=lambda node: node.node_type != "trigger")
    for start in (node.name for node in starts):
        if state.get(start):
            continue
        # Iterative depth-first search: graphs of MAX_NODES never hit the recursion limit.
        stack: list[tuple[str, int]] = [(start, 0)]
        state[start] = 1
        path.append(start)
        while stack:
            name, index = stack[-1]
            if index < len(outgoing[name]):
                stack[-1] = (name, index + 1)
                edge = outgoing[name][index]
                if state.get(edge.target) == 1:
                    loop = [*path[path.index(edge.target) :], edge.target]
                    return [
                        (
                            _field(edge.label, "target"),
                            "this edge closes a cycle: " + " -> ".join(loop),
                        )
                    ]
                if not state.get(edge.target):
                    state[edge.target] = 1
                    path.append(edge.target)
                    stack.append((edge.target, 0))
            else:
                stack.pop()
                path.pop()
                state[name] = 2
    return []


def run_problems(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> list[Problem]:
    """Everything that stops this graph from running: its shape problems, then a missing
    trigger or nodes the trigger cannot reach."""
    problems = shape_problems(nodes, edges)
    if problems:
        return problems
    triggers = [node for node in nodes if node.node_type == "trigger"]
    if not triggers:
        return [("nodes", "a workflow needs exactly one trigger node; there is none")]
    outgoing: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        outgoing[edge.source].append(edge.target)
    reached = {triggers[0].name}
    frontier = [triggers[0].name]
    while frontier:
        for target in outgoing[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    return [
        (node.label or "nodes", f"node {node.name!r} cannot be reached from the trigger node")
        for node in nodes
        if node.name not in reached
    ]
