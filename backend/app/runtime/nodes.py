"""One node run by `node_type` (runtime.md, "Node types"): its output, and for a condition
the branch it chose."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jmespath.exceptions import JMESPathError

from app.graphs.expressions import evaluate
from app.graphs.node_configs import (
    AdapterNodeConfig,
    AgentNodeConfig,
    AggregatorNodeConfig,
    ConditionNodeConfig,
    ToolNodeConfig,
)
from app.runtime.agents import run_agent
from app.runtime.calls import NodeCall, NodeError
from app.runtime.tools import render_over, run_tool

# Nodes that only compute over their input: quick, no I/O, nothing to recover mid-way.
PURE_NODE_TYPES = frozenset({"trigger", "condition", "adapter", "parallel", "aggregator"})


@dataclass(frozen=True, slots=True)
class NodeResult:
    """What a node produced; `branch` is the condition's choice."""

    output: dict[str, Any]
    branch: str | None = None


def _truthy(value: Any) -> bool:
    """JMESPath's truth: false, null and empty strings, lists and objects are false."""
    if value is None or value is False:
        return False
    return not (isinstance(value, str | list | dict) and not value)


def _evaluate(expression: str, data: dict[str, Any], where: str) -> Any:
    try:
        return evaluate(expression, data)
    except (JMESPathError, TypeError, ValueError) as exc:
        raise NodeError(f"{where}: {exc}") from None


async def run_node(call: NodeCall) -> NodeResult:
    """Run one attempt of the node over its input."""
    node = call.node
    data = call.input
    if node.node_type == "trigger":
        return NodeResult(dict(data.get("trigger") or {}))
    config = node.parsed
    if isinstance(config, ConditionNodeConfig):
        for index, branch in enumerate(config.branches):
            if _truthy(_evaluate(branch.when, data, f"config.branches[{index}].when")):
                return NodeResult({"branch": branch.name}, branch.name)
        return NodeResult({"branch": config.default}, config.default)
    if isinstance(config, AdapterNodeConfig):
        return NodeResult(
            {
                key: _evaluate(expression, data, f"config.mapping.{key}")
                for key, expression in config.mapping.items()
            }
        )
    if isinstance(config, AggregatorNodeConfig):
        inputs: dict[str, Any] = data.get("inputs", {})
        if config.strategy == "merge":
            merged: dict[str, Any] = {}
            for output in inputs.values():
                if isinstance(output, dict):
                    merged.update(output)
            return NodeResult(merged)
        return NodeResult({"inputs": inputs})
    if node.node_type == "parallel":
        passed = data.get("input")
        return NodeResult(passed if isinstance(passed, dict) else {"inputs": data["inputs"]})
    if isinstance(config, ToolNodeConfig):
        parameters = render_over(config.parameters, data, "config.parameters")
        return NodeResult(await run_tool(call, parameters))
    if isinstance(config, AgentNodeConfig):
        return NodeResult(await run_agent(call, config))
    raise NodeError(f"{node.node_type} nodes cannot run")
