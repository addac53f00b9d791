"""The walk of a graph as it runs (runtime.md, "Graph semantics"): which edges are taken,
which nodes are ready, which are skipped.

An edge is taken when its source completed and, out of a condition node, carries the
branch the condition chose; it is not taken when its source was skipped or chose another
branch. A node is ready once every incoming edge is decided: it runs when at least one is
taken, otherwise it is skipped and its own edges are not taken, so skips propagate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class WalkEdge:
    """An edge by its ends' names; `handle` is the branch that takes it (condition edges)."""

    source: str
    target: str
    handle: str | None = None


@dataclass(slots=True)
class Step:
    """What deciding one node led to: nodes now ready to run, nodes skipped."""

    ready: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class GraphWalk:
    """The state of one run's walk; every node is decided exactly once."""

    def __init__(self, names: Sequence[str], edges: Sequence[WalkEdge]) -> None:
        self._names = list(names)
        self._incoming: dict[str, list[int]] = defaultdict(list)
        self._outgoing: dict[str, list[int]] = defaultdict(list)
        self._edges = list(edges)
        for index, edge in enumerate(self._edges):
            self._incoming[edge.target].append(index)
            self._outgoing[edge.source].append(index)
        self._taken: dict[int, bool] = {}
        self._decided: set[str] = set()
        self._completed: set[str] = set()
        self._ready: set[str] = set()

    def roots(self) -> list[str]:
        """Nodes without incoming edges (in a valid graph, the trigger): ready at once."""
        return [name for name in self._names if not self._incoming[name]]

    def complete(self, name: str, branch: str | None = None) -> Step:
        """`name` completed (a condition with the `branch` it chose): decide its edges."""
        self._decide(name)
        self._completed.add(name)
        step = Step()
        for index in self._outgoing[name]:
            handle = self._edges[index].handle
            self._taken[index] = handle is None or handle == branch
            self._settle(self._edges[index].target, step)
        return step

    def taken_predecessors(self, name: str) -> list[str]:
        """The sources of `name`'s taken incoming edges, in edge order, each once."""
        sources = [self._edges[i].source for i in self._incoming[name] if self._taken.get(i)]
        return list(dict.fromkeys(sources))

    def leaves(self) -> list[str]:
        """Completed nodes none of whose outgoing edges was taken: the run's outputs."""
        return [
            name
            for name in self._names
            if name in self._completed
            and not any(self._taken.get(index) for index in self._outgoing[name])
        ]

    def undecided(self) -> list[str]:
        """Nodes neither completed nor skipped yet."""
        return [name for name in self._names if name not in self._decided]

    def _decide(self, name: str) -> None:
        if name in self._decided:
            raise ValueError(f"node {name!r} was already decided")
        self._decided.add(name)

    def _settle(self, name: str, step: Step) -> None:
        """Make `name` ready or skipped once all its incoming edges are decided; a skip
        decides the node's own edges (not taken) in turn, without recursion."""
        pending = [name]
        while pending:
            current = pending.pop()
            incoming = self._incoming[current]
            if current in self._decided or current in self._ready:
                continue
            if any(i not in self._taken for i in incoming):
                continue
            if any(self._taken[i] for i in incoming):
                self._ready.add(current)
                step.ready.append(current)
                continue
            self._decide(current)
            step.skipped.append(current)
            for index in self._outgoing[current]:
                self._taken[index] = False
                pending.append(self._edges[index].target)
