"""What a node run is given and what it may raise: the shared vocabulary of node runners."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.core.secret_box import SecretBox
from app.core.settings import Settings
from app.graphs.node_configs import RetryConfig
from app.graphs.shapes import StrictShape


class NodeError(Exception):
    """A node run failed; `retryable` says whether trying again may help (runtime.md,
    "Timeouts, retries, failure")."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """The tool a tool node calls, as stored (auth still sealed)."""

    name: str
    tool_type: str
    config: dict[str, Any]
    auth_config: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """The agent an agent node asks, as stored."""

    name: str
    system_prompt: str | None
    llm_config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One node of the graph being run, with what it refers to."""

    id: uuid.UUID
    name: str
    node_type: str
    config: dict[str, Any]
    timeout_seconds: int
    retry: RetryConfig
    # The config parsed, once per graph version (parsing is most of a pure node's cost).
    parsed: StrictShape
    tool: ToolSpec | None = None
    agent: AgentSpec | None = None


@dataclass(slots=True)
class Services:
    """What node runners share in one worker: settings, the key box, one HTTP client."""

    settings: Settings
    secret_box: SecretBox
    http: httpx.AsyncClient
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodeCall:
    """One attempt of one node: what its expressions see (its input, plus `nodes`) and
    its idempotency key."""

    node: NodeSpec
    input: dict[str, Any]
    idempotency_key: str
    services: Services
