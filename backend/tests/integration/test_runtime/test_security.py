"""Secrets stay where they belong at run time (runtime.md: auth decrypted only in the
worker, never shown; API keys from settings): found by a hostile review, each a test."""

from __future__ import annotations

import base64
import json
import os
import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.secret_box import SecretBox, parse_keys
from tests.integration.test_api.conftest import Headers, login
from tests.integration.test_runtime.conftest import (
    TRIGGER,
    Loopback,
    create,
    nodes_by_name,
    run_to_end,
    tool,
    workflow,
)


async def _call_workflow(api: httpx.AsyncClient, user: Headers, node: dict[str, object]) -> str:
    return await workflow(
        api, user, [TRIGGER, {"name": "call", **node}], [{"source": "start", "target": "call"}]
    )


async def test_an_agent_cannot_send_the_operators_key_to_a_base_url_not_allowed(
    runtime: httpx.AsyncClient, loopback: Loopback
) -> None:
    mallory = await login(runtime)
    elsewhere = loopback.url.replace("127.0.0.1", "localhost") + "/v1"  # not allow-listed
    agent = await create(runtime, mallory, "agents", {
        "name": "exfil", "llm_config": {"provider": "openai", "model": "m",
                                        "base_url": elsewhere}})  # fmt: skip
    workflow_id = await _call_workflow(
        runtime, mallory, {"node_type": "agent", "agent_id": agent, "config": {"prompt": "hi"}}
    )

    execution = await run_to_end(runtime, mallory, workflow_id)

    assert execution["status"] == "failed"
    assert "is not allowed" in execution["error_message"]
    assert "LLM_ALLOWED_BASE_URLS" in execution["error_message"]
    assert loopback.requests == []


async def test_templates_may_not_move_a_tools_host(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    for url in (
        "http://{{ parameters.region }}.api.example.invalid/v1/quote",
        "https://api.example.com{{ parameters.p }}",
        "{{ parameters.scheme }}://api.example.com/",
    ):
        response = await runtime.post(
            "/api/v1/tools", headers=user,
            json={"name": f"t-{uuid.uuid4().hex[:6]}", "tool_type": "http",
                  "config": {"url": url}},
        )  # fmt: skip
        assert response.status_code == 422, url
        assert response.json()["error"]["details"][0]["field"] == "config.url"


async def test_a_stored_tool_whose_template_moves_the_host_is_not_sent_there(
    runtime: httpx.AsyncClient, loopback: Loopback, committed_db: AsyncEngine
) -> None:
    alice, bob = await login(runtime), await login(runtime)
    shared = await tool(
        runtime, alice, "http", {"url": "http://api.example.invalid/v1/quote"},
        auth_config={"type": "bearer", "token": "alices-secret"}, is_public=True,
    )  # fmt: skip
    hostile_url = "http://{{ parameters.region }}.api.example.invalid/v1/quote"
    async with committed_db.begin() as connection:  # a row written before the rule existed
        await connection.execute(
            text("UPDATE tools SET config = CAST(:config AS jsonb) WHERE id = :id"),
            {"config": json.dumps({"url": hostile_url}), "id": shared},
        )
    region = loopback.url.removeprefix("http://") + "/steal#"
    workflow_id = await _call_workflow(
        runtime, bob,
        {"node_type": "tool", "tool_id": shared, "config": {"parameters": {"region": region}}},
    )  # fmt: skip

    execution = await run_to_end(runtime, bob, workflow_id)

    assert execution["status"] == "failed"
    assert "not the scheme, host or port" in execution["error_message"]
    assert loopback.requests == []
    assert "alices-secret" not in str(execution)


async def test_a_token_with_a_newline_is_refused_and_one_stored_never_shows(
    runtime: httpx.AsyncClient, user: Headers, loopback: Loopback, committed_db: AsyncEngine
) -> None:
    refused = await runtime.post(
        "/api/v1/tools", headers=user,
        json={"name": "leaky", "tool_type": "http", "config": {"url": loopback.url + "/q"},
              "auth_config": {"type": "bearer", "token": "the-sealed-token\n"}},
    )  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == "auth_config.token"
    leaky = await tool(
        runtime, user, "http", {"url": loopback.url + "/q"},
        auth_config={"type": "bearer", "token": "placeholder"},
    )  # fmt: skip
    box = SecretBox(parse_keys(os.environ["ENCRYPTION_KEYS"]))  # the keys the app uses
    sealed = box.seal({"type": "bearer", "token": "the-sealed-token\n"})
    async with committed_db.begin() as connection:  # sealed before the rule existed
        await connection.execute(
            text("UPDATE tools SET auth_config = CAST(:auth AS jsonb) WHERE id = :id"),
            {"auth": json.dumps({"type": "bearer", "sealed": sealed}), "id": leaky},
        )
    workflow_id = await _call_workflow(runtime, user, {"node_type": "tool", "tool_id": leaky})

    execution = await run_to_end(runtime, user, workflow_id)

    logs = await runtime.get(f"/api/v1/executions/{execution['id']}/logs", headers=user)
    assert execution["status"] == "failed"
    assert "the-sealed-token" not in str(execution) + logs.text
    assert base64.b64encode(b"the-sealed-token").decode() not in str(execution)
    assert nodes_by_name(execution)["call"][0]["status"] == "failed"
