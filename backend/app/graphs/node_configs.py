"""What a node is configured with, by `node_type`, and the bounds on its timeout and retries
(runtime.md, "Configurations" and "Timeouts, retries, failure")."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, FiniteFloat, field_validator, model_validator

from app.core.json_values import MAX_TEXT_LENGTH
from app.graphs.expressions import check_templates, parse_expression
from app.graphs.shapes import StrictShape, parse_shape

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$"
NAME_RULE = "1-100 letters, digits, '_' or '-', starting with a letter or '_'"
_NAME = re.compile(NAME_PATTERN)
MIN_TIMEOUT_SECONDS = 1
MAX_TIMEOUT_SECONDS = 86_400
DEFAULT_TIMEOUT_SECONDS = 300
MAX_ATTEMPTS = 10
MAX_BACKOFF_SECONDS = 3_600.0
MAX_BRANCHES = 50
MAX_MAPPING_KEYS = 200


def valid_name(value: str) -> str:
    """`value` when it is a valid node or branch name (they key outputs and expressions);
    ValueError saying the rule otherwise."""
    if not _NAME.fullmatch(value):
        raise ValueError(f"must be {NAME_RULE}")
    return value


class EmptyConfig(StrictShape):
    """`trigger` and `parallel` nodes take no configuration."""


class ToolNodeConfig(StrictShape):
    """Calls the node's tool with `parameters` (templates over the node's input)."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    continue_on_error: bool = False


class AgentNodeConfig(StrictShape):
    """Asks the node's agent: `prompt` is a template over the node's input."""

    prompt: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    output: Literal["text", "json"] = "text"
    continue_on_error: bool = False


class Branch(StrictShape):
    """A named way out of a condition node, taken when `when` is truthy."""

    name: str
    when: str

    _name = field_validator("name")(classmethod(lambda cls, value: valid_name(value)))


class ConditionNodeConfig(StrictShape):
    """The first branch whose expression is truthy wins, else `default`."""

    branches: list[Branch] = Field(min_length=1, max_length=MAX_BRANCHES)
    default: str

    _default = field_validator("default")(classmethod(lambda cls, value: valid_name(value)))

    @model_validator(mode="after")
    def _distinct(self) -> ConditionNodeConfig:
        seen: set[str] = set()
        for branch in self.branches:
            if branch.name in seen or branch.name == self.default:
                raise ValueError(f"branch name {branch.name!r} is used twice")
            seen.add(branch.name)
        return self

    def handles(self) -> tuple[str, ...]:
        """The branch names an edge out of this node may carry, default last."""
        return (*(branch.name for branch in self.branches), self.default)


Expression = Annotated[str, Field(min_length=1)]


class AdapterNodeConfig(StrictShape):
    """Builds an object: each key is the value of its expression over the node's input."""

    mapping: dict[str, Expression] = Field(min_length=1, max_length=MAX_MAPPING_KEYS)


class AggregatorNodeConfig(StrictShape):
    """Gathers its taken predecessors' outputs, keyed by name, or merged into one object."""

    strategy: Literal["inputs", "merge"] = "inputs"


NODE_CONFIGS: dict[str, type[StrictShape]] = {
    "trigger": EmptyConfig,
    "parallel": EmptyConfig,
    "tool": ToolNodeConfig,
    "agent": AgentNodeConfig,
    "condition": ConditionNodeConfig,
    "adapter": AdapterNodeConfig,
    "aggregator": AggregatorNodeConfig,
}


def parse_node_config(node_type: str, raw: object, field: str = "config") -> StrictShape:
    """`raw` validated as the config of a `node_type` node, every expression parsed."""
    config = parse_shape(NODE_CONFIGS[str(node_type)], raw, field, f"a node of type {node_type}")
    if isinstance(config, ToolNodeConfig):
        check_templates(config.parameters, f"{field}.parameters")
    elif isinstance(config, AgentNodeConfig):
        check_templates(config.prompt, f"{field}.prompt")
    elif isinstance(config, ConditionNodeConfig):
        for index, branch in enumerate(config.branches):
            parse_expression(branch.when, f"{field}.branches[{index}].when")
    elif isinstance(config, AdapterNodeConfig):
        for key, expression in config.mapping.items():
            parse_expression(expression, f"{field}.mapping.{key}")
    return config


class RetryConfig(StrictShape):
    """How often a node's retryable failures are tried again, and how long between tries:
    `backoff_seconds * backoff_multiplier ** (attempt - 1)`, at most `max_backoff_seconds`."""

    max_attempts: int = Field(default=1, ge=1, le=MAX_ATTEMPTS)
    backoff_seconds: FiniteFloat = Field(default=1.0, ge=0, le=MAX_BACKOFF_SECONDS)
    backoff_multiplier: FiniteFloat = Field(default=2.0, ge=1, le=10)
    max_backoff_seconds: FiniteFloat = Field(default=300.0, ge=0, le=MAX_BACKOFF_SECONDS)


def parse_retry_config(raw: object, field: str = "retry_config") -> RetryConfig:
    """`raw` validated as a node's retry policy."""
    parsed = parse_shape(RetryConfig, raw, field, "retry_config")
    assert isinstance(parsed, RetryConfig)
    return parsed
