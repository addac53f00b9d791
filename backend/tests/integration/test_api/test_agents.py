"""The agents API through HTTP: model configuration checked (no keys in it), tools the
owner may use, public agents read-only to others."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.agents.schemas import CREATE_EXAMPLES
from tests.integration.test_api.conftest import Headers, error_fields
from tests.integration.test_api.test_tools import post_tool

LLM = {"provider": "anthropic", "model": "claude-sonnet-4-5", "temperature": 0.2}


async def post_agent(api: httpx.AsyncClient, headers: Headers, **body: Any) -> dict[str, Any]:
    """Create an agent through the API."""
    payload = {"name": "analyst", "llm_config": LLM, **body}
    response = await api.post("/api/v1/agents", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def agent_count(db: AsyncEngine) -> int:
    async with db.connect() as connection:
        count = await connection.scalar(text("SELECT count(*) FROM agents"))
        assert isinstance(count, int)
        return count


@pytest.mark.parametrize("name", sorted(CREATE_EXAMPLES))
async def test_documented_examples_create_agents(
    api: httpx.AsyncClient, alice: Headers, name: str
) -> None:
    example = CREATE_EXAMPLES[name]["value"]
    response = await api.post("/api/v1/agents", json=example, headers=alice)
    assert response.status_code == 201, response.text
    assert response.json()["llm_config"] == example["llm_config"]
    assert response.json()["tool_ids"] == []


@pytest.mark.parametrize(
    ("llm_config", "field"),
    [
        ({"provider": "openai", "model": "gpt", "api_key": "x"}, "llm_config.api_key"),
        ({"provider": "openai", "model": "gpt", "headers": {"X-Api-Key": "x"}},
         "llm_config.headers.X-Api-Key"),
        ({"provider": "openai", "model": "sk-" + "a" * 40}, "llm_config.model"),
        ({"provider": "mistral", "model": "m"}, "llm_config.provider"),
        ({"provider": "openai"}, "llm_config.model"),
        ({"provider": "openai", "model": "m", "temperature": 2.5}, "llm_config.temperature"),
        ({"provider": "openai", "model": "m", "max_tokens": 0}, "llm_config.max_tokens"),
        ({"provider": "openai", "model": "m", "base_url": "file:///etc"}, "llm_config.base_url"),
        ({"provider": "openai", "model": "m", "top_k": 3}, "llm_config.top_k"),
    ],
)  # fmt: skip
async def test_a_bad_llm_config_is_refused_and_nothing_is_written(
    api: httpx.AsyncClient,
    alice: Headers,
    committed_db: AsyncEngine,
    llm_config: dict[str, Any],
    field: str,
) -> None:
    body = {"name": "a", "llm_config": llm_config}
    response = await api.post("/api/v1/agents", json=body, headers=alice)
    assert response.status_code == 422, response.text
    assert field in error_fields(response)
    assert "sk-aaaa" not in response.text
    assert await agent_count(committed_db) == 0


async def test_tools_are_attached_replaced_and_detached(
    api: httpx.AsyncClient, alice: Headers, bob: Headers, committed_db: AsyncEngine
) -> None:
    own = await post_tool(api, alice, name="own")
    public = await post_tool(api, bob, name="public", is_public=True)
    private = await post_tool(api, bob, name="private")
    agent = await post_agent(api, alice, tool_ids=[own["id"]])
    assert agent["tool_ids"] == [own["id"]]
    url = f"/api/v1/agents/{agent['id']}/tools"
    both = await api.put(url, json={"tool_ids": [own["id"], public["id"]]}, headers=alice)
    assert both.status_code == 200, both.text
    assert sorted(both.json()["tool_ids"]) == sorted([own["id"], public["id"]])
    refused = await api.put(url, json={"tool_ids": [own["id"], private["id"]]}, headers=alice)
    assert refused.status_code == 422
    assert error_fields(refused) == ["tool_ids[1]"]
    twice = await api.put(url, json={"tool_ids": [own["id"], own["id"]]}, headers=alice)
    assert error_fields(twice) == ["tool_ids[1]"]
    fetched = await api.get(f"/api/v1/agents/{agent['id']}", headers=alice)
    assert sorted(fetched.json()["tool_ids"]) == sorted([own["id"], public["id"]])
    none = await api.put(url, json={"tool_ids": []}, headers=alice)
    assert none.json()["tool_ids"] == []
    created_with_private = await api.post(
        "/api/v1/agents",
        json={"name": "x", "llm_config": LLM, "tool_ids": [private["id"]]},
        headers=alice,
    )
    assert created_with_private.status_code == 422
    assert error_fields(created_with_private) == ["tool_ids[0]"]
    assert await agent_count(committed_db) == 1


async def test_update_checks_the_llm_config(api: httpx.AsyncClient, alice: Headers) -> None:
    agent = await post_agent(api, alice)
    url = f"/api/v1/agents/{agent['id']}"
    changed = await api.patch(
        url, json={"system_prompt": "Be brief.", "llm_config": {**LLM, "model": "m2"}},
        headers=alice,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["system_prompt"] == "Be brief."
    bad = await api.patch(url, json={"llm_config": {**LLM, "secret": "x"}}, headers=alice)
    assert error_fields(bad) == ["llm_config.secret"]
    assert (await api.get(url, headers=alice)).json()["llm_config"]["model"] == "m2"
    cleared = await api.patch(url, json={"system_prompt": None}, headers=alice)
    assert cleared.json()["system_prompt"] is None


async def test_ownership_on_every_agent_route(
    api: httpx.AsyncClient, alice: Headers, bob: Headers
) -> None:
    private = await post_agent(api, alice)
    public = await post_agent(api, alice, name="shared", is_public=True)
    url = f"/api/v1/agents/{private['id']}"
    for method, path, body in [
        ("GET", url, None),
        ("PATCH", url, {"name": "x"}),
        ("PUT", f"{url}/tools", {"tool_ids": []}),
        ("DELETE", url, None),
        ("POST", f"{url}/restore", None),
    ]:
        answer = await api.request(method, path, json=body, headers=bob)
        assert answer.status_code == 404, (method, path, answer.text)
    shared = f"/api/v1/agents/{public['id']}"
    assert (await api.get(shared, headers=bob)).status_code == 200
    for method, path, body in [
        ("PATCH", shared, {"name": "x"}),
        ("PUT", f"{shared}/tools", {"tool_ids": []}),
        ("DELETE", shared, None),
    ]:
        answer = await api.request(method, path, json=body, headers=bob)
        assert answer.status_code == 403, (method, path, answer.text)
    names = [
        item["name"] for item in (await api.get("/api/v1/agents", headers=bob)).json()["items"]
    ]
    assert names == ["shared"]


async def test_delete_restore_and_lists(api: httpx.AsyncClient, alice: Headers) -> None:
    agent = await post_agent(api, alice)
    url = f"/api/v1/agents/{agent['id']}"
    assert (await api.post(f"{url}/restore", headers=alice)).status_code == 409
    assert (await api.delete(url, headers=alice)).status_code == 204
    assert (await api.get(url, headers=alice)).status_code == 404
    assert (await api.get("/api/v1/agents", headers=alice)).json()["items"] == []
    listed = (await api.get("/api/v1/agents?include_deleted=true", headers=alice)).json()
    assert [item["id"] for item in listed["items"]] == [agent["id"]]
    restored = await api.post(f"{url}/restore", headers=alice)
    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None
    await post_agent(api, alice, name="second")
    page = (await api.get("/api/v1/agents?limit=1&mine=true", headers=alice)).json()
    assert [item["name"] for item in page["items"]] == ["second"]
    assert page["next_cursor"] is not None
