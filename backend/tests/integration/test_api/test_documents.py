"""Workflow documents: export one, import it (here or for another user), get an equal graph;
what is missing named, nothing created."""

from __future__ import annotations

import copy
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_api.conftest import Headers, error_fields, post_workflow
from tests.integration.test_api.test_agents import post_agent
from tests.integration.test_api.test_graph import put_graph, shape, small_graph
from tests.integration.test_api.test_tools import TOKEN, post_tool


async def exported(api: httpx.AsyncClient, headers: Headers, workflow_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/workflows/{workflow_id}/export", headers=headers)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


async def built(api: httpx.AsyncClient, headers: Headers) -> tuple[str, dict[str, Any]]:
    """A workflow with a graph that uses an HTTP tool (with auth) and an agent."""
    workflow = await post_workflow(
        api, headers, name="momentum", description="Buy the open",
        variables={"symbol": "AAPL"}, config={"owner": "desk-1"},
    )  # fmt: skip
    tool = await post_tool(api, headers, auth_config={"type": "bearer", "token": TOKEN})
    agent = await post_agent(api, headers, tool_ids=[tool["id"]])
    graph = small_graph(tool["id"])
    graph["nodes"][4] = {"name": "wait", "node_type": "agent", "agent_id": agent["id"],
                         "config": {"prompt": "Why hold {{ variables.symbol }}?"}}  # fmt: skip
    saved = await put_graph(api, headers, workflow["id"], graph)
    assert saved.status_code == 200, saved.text
    return workflow["id"], saved.json()


async def test_export_is_one_document_without_secrets(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    workflow_id, graph = await built(api, alice)
    document = await exported(api, alice, workflow_id)
    assert TOKEN not in str(document)
    assert document["format"] == "pastetrader.workflow"
    assert document["format_version"] == 1
    assert document["workflow"] == {
        "name": "momentum", "description": "Buy the open", "config": {"owner": "desk-1"},
        "variables": {"symbol": "AAPL"}, "is_active": True,
    }  # fmt: skip
    [tool] = document["tools"]
    assert (tool["name"], tool["tool_type"], tool["auth_type"]) == ("quote", "http", "bearer")
    [agent] = document["agents"]
    assert (agent["name"], agent["tools"]) == ("analyst", ["quote"])
    quote = next(node for node in document["graph"]["nodes"] if node["name"] == "quote")
    assert (quote["tool"], quote["agent"]) == ("quote", None)
    assert "tool_id" not in quote
    assert {(e["source"], e["target"]) for e in document["graph"]["edges"]} == {
        (e["source"], e["target"]) for e in graph["edges"]
    }


async def test_a_round_trip_gives_an_equal_graph(api: httpx.AsyncClient, alice: Headers) -> None:
    workflow_id, graph = await built(api, alice)
    document = await exported(api, alice, workflow_id)
    response = await api.post("/api/v1/workflows/import", json=document, headers=alice)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["workflow"]["id"] != workflow_id
    assert created["workflow"]["name"] == "momentum"
    assert shape(created["graph"]) == shape(graph)
    again = await exported(api, alice, created["workflow"]["id"])
    assert again == document
    imported_graph = await api.get(
        f"/api/v1/workflows/{created['workflow']['id']}/graph", headers=alice
    )
    assert imported_graph.json() == created["graph"]


async def test_import_matches_by_name_among_the_importers_tools(
    api: httpx.AsyncClient, alice: Headers, bob: Headers
) -> None:
    workflow_id, _ = await built(api, alice)
    document = await exported(api, alice, workflow_id)
    # Bob has neither a tool named quote nor an agent named analyst: both named, nothing made.
    refused = await api.post("/api/v1/workflows/import", json=document, headers=bob)
    assert refused.status_code == 422
    assert error_fields(refused) == [
        "graph.nodes[1].tool", "graph.nodes[2].tool", "graph.nodes[4].agent"
    ]  # fmt: skip
    reasons = {d["reason"] for d in refused.json()["error"]["details"]}
    assert reasons == {"no tool named 'quote' that you may use",
                       "no agent named 'analyst' that you may use"}  # fmt: skip
    assert (await api.get("/api/v1/workflows", headers=bob)).json()["items"] == []
    # With a quote tool of the wrong type the mismatch is named.
    await post_tool(api, bob, name="quote", tool_type="builtin", config={"name": "echo"})
    mismatch = await api.post("/api/v1/workflows/import", json=document, headers=bob)
    assert "graph.nodes[1].tool" in error_fields(mismatch)
    assert "is of type builtin" in mismatch.text
    # Bob's own http tool and agent of those names make it import.
    await post_tool(api, bob, name="quote")
    await post_agent(api, bob)
    bob_doc = copy.deepcopy(document)
    bob_doc["tools"] = [t for t in bob_doc["tools"] if t["name"] != "quote"]
    accepted = await api.post("/api/v1/workflows/import", json=bob_doc, headers=bob)
    assert accepted.status_code == 201, accepted.text


async def test_an_import_with_a_broken_graph_creates_nothing(
    api: httpx.AsyncClient, alice: Headers, committed_db: AsyncEngine
) -> None:
    workflow_id, _ = await built(api, alice)
    document = await exported(api, alice, workflow_id)
    document["graph"]["edges"].append({"source": "order", "target": "quote"})
    response = await api.post("/api/v1/workflows/import", json=document, headers=alice)
    assert response.status_code == 422
    assert error_fields(response) == ["graph.edges[4].target"]
    async with committed_db.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM workflows")) == 1
    bad_format = {**document, "format": "n8n"}
    assert (
        await api.post("/api/v1/workflows/import", json=bad_format, headers=alice)
    ).status_code == 422
