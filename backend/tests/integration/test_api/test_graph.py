"""The graph API through HTTP: a whole graph saved at once or one node or edge at a time,
every rule refused with the node or edge named and nothing written, stale versions 409."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.deps import SessionDep
from app.models import Edge
from tests.integration.test_api.conftest import Headers, error_fields, post_workflow
from tests.integration.test_api.test_tools import post_tool

Graph = dict[str, Any]


def small_graph(tool_id: str, version: int = 1) -> Graph:
    """trigger -> an HTTP tool -> a condition with two branches, each to a tool."""
    return {
        "version": version,
        "nodes": [
            {"name": "start", "node_type": "trigger"},
            {"name": "quote", "node_type": "tool", "tool_id": tool_id,
             "config": {"parameters": {"symbol": "{{ variables.symbol }}"}},
             "timeout_seconds": 10, "retry_config": {"max_attempts": 3, "backoff_seconds": 1}},
            {"name": "decide", "node_type": "condition",
             "config": {"branches": [{"name": "buy", "when": "input.json.price < `100`"}],
                        "default": "hold"}},
            {"name": "order", "node_type": "tool", "tool_id": tool_id,
             "config": {"parameters": {"side": "buy"}}},
            {"name": "wait", "node_type": "tool", "tool_id": tool_id},
        ],
        "edges": [
            {"source": "start", "target": "quote"},
            {"source": "quote", "target": "decide"},
            {"source": "decide", "target": "order", "source_handle": "buy"},
            {"source": "decide", "target": "wait", "source_handle": "hold"},
        ],
    }  # fmt: skip


async def setup(api: httpx.AsyncClient, headers: Headers) -> tuple[str, str]:
    """A workflow and an HTTP tool of the user's: (workflow id, tool id)."""
    workflow = await post_workflow(api, headers, variables={"symbol": "AAPL"})
    tool = await post_tool(api, headers)
    return workflow["id"], tool["id"]


async def put_graph(
    api: httpx.AsyncClient, headers: Headers, workflow_id: str, graph: Graph
) -> httpx.Response:
    return await api.put(f"/api/v1/workflows/{workflow_id}/graph", json=graph, headers=headers)


async def get_graph(api: httpx.AsyncClient, headers: Headers, workflow_id: str) -> Graph:
    response = await api.get(f"/api/v1/workflows/{workflow_id}/graph", headers=headers)
    assert response.status_code == 200, response.text
    graph: Graph = response.json()
    return graph


def shape(graph: Graph) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """A graph's nodes and edges without ids or times, to compare graphs."""
    nodes = {
        (n["name"], n["node_type"], json.dumps(n["config"], sort_keys=True)) for n in graph["nodes"]
    }
    edges = {(e["source"], e["target"], e["source_handle"]) for e in graph["edges"]}
    return nodes, edges


async def test_a_new_workflow_has_an_empty_graph(api: httpx.AsyncClient, alice: Headers) -> None:
    workflow_id, _ = await setup(api, alice)
    graph = await get_graph(api, alice, workflow_id)
    assert graph == {"workflow_id": workflow_id, "version": 1, "nodes": [], "edges": []}


async def test_a_whole_graph_is_saved_and_read_back(api: httpx.AsyncClient, alice: Headers) -> None:
    workflow_id, tool_id = await setup(api, alice)
    saved = await put_graph(api, alice, workflow_id, small_graph(tool_id))
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["version"] == 2
    assert {node["name"] for node in body["nodes"]} == {"start", "quote", "decide", "order", "wait"}
    quote = next(node for node in body["nodes"] if node["name"] == "quote")
    assert quote["tool_id"] == tool_id
    assert quote["timeout_seconds"] == 10
    assert quote["retry_config"] == {"max_attempts": 3, "backoff_seconds": 1}
    names = {node["id"]: node["name"] for node in body["nodes"]}
    for edge in body["edges"]:
        assert names[edge["source_node_id"]] == edge["source"]
        assert names[edge["target_node_id"]] == edge["target"]
    assert await get_graph(api, alice, workflow_id) == body
    workflow = await api.get(f"/api/v1/workflows/{workflow_id}", headers=alice)
    assert workflow.json()["version"] == 2
    report = await api.get(f"/api/v1/workflows/{workflow_id}/validate", headers=alice)
    assert report.json() == {
        "workflow_id": workflow_id,
        "version": 2,
        "valid": True,
        "problems": [],
    }


async def test_saving_again_keeps_node_ids_matched_by_id_or_name(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    workflow_id, tool_id = await setup(api, alice)
    first = (await put_graph(api, alice, workflow_id, small_graph(tool_id))).json()
    ids = {node["name"]: node["id"] for node in first["nodes"]}
    again = copy.deepcopy(small_graph(tool_id, version=first["version"]))
    again["nodes"][4] = {**again["nodes"][4], "id": ids["wait"], "name": "later"}
    again["edges"][3]["target"] = "later"
    second = await put_graph(api, alice, workflow_id, again)
    assert second.status_code == 200, second.text
    after = {node["name"]: node["id"] for node in second.json()["nodes"]}
    assert after == {**{k: v for k, v in ids.items() if k != "wait"}, "later": ids["wait"]}
    assert second.json()["version"] == first["version"] + 1
    # A smaller graph drops the rest, edges included.
    smaller = {"version": second.json()["version"],
               "nodes": [{"name": "start", "node_type": "trigger"}], "edges": []}  # fmt: skip
    third = await put_graph(api, alice, workflow_id, smaller)
    assert third.status_code == 200, third.text
    assert [node["id"] for node in third.json()["nodes"]] == [ids["start"]]
    assert third.json()["edges"] == []


async def test_a_stale_version_is_a_conflict_and_changes_nothing(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    workflow_id, tool_id = await setup(api, alice)
    saved = (await put_graph(api, alice, workflow_id, small_graph(tool_id))).json()
    stale = await put_graph(api, alice, workflow_id, small_graph(tool_id, version=1))
    assert stale.status_code == 409
    assert error_fields(stale) == ["version"]
    assert await get_graph(api, alice, workflow_id) == saved
    node_id = saved["nodes"][0]["id"]
    for method, path, body in [
        ("POST", "nodes", {"name": "x", "node_type": "parallel"}),
        ("PATCH", f"nodes/{node_id}", {"position_x": 5}),
        ("DELETE", f"nodes/{node_id}", None),
        ("DELETE", f"edges/{saved['edges'][0]['id']}", None),
    ]:
        answer = await api.request(
            method, f"/api/v1/workflows/{workflow_id}/{path}?version=1", json=body, headers=alice
        )
        assert answer.status_code == 409, (method, path, answer.text)
    assert await get_graph(api, alice, workflow_id) == saved


async def test_two_editors_saving_the_same_version_one_wins(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    workflow_id, tool_id = await setup(api, alice)
    mine = small_graph(tool_id)
    theirs = small_graph(tool_id)
    theirs["nodes"][0]["position_x"] = 42.0
    answers = await asyncio.gather(
        put_graph(api, alice, workflow_id, mine), put_graph(api, alice, workflow_id, theirs)
    )
    assert sorted(answer.status_code for answer in answers) == [200, 409]
    winner = next(answer for answer in answers if answer.status_code == 200)
    assert await get_graph(api, alice, workflow_id) == winner.json()
    assert winner.json()["version"] == 2


Change = Callable[[list[dict[str, Any]], list[dict[str, Any]], str], object]
NODE, COND = "nodes[2].config", "nodes[2].config.branches[0].when"

# What breaks the small graph, and the field the refusal names.
BROKEN: dict[str, tuple[Change, str]] = {
    "second trigger": (lambda n, e, t: n.append({"name": "again", "node_type": "trigger"}),
                       "nodes[5].node_type"),
    "no trigger": (lambda n, e, t: n[0].update(node_type="parallel"), "nodes"),
    "cycle": (lambda n, e, t: e.append({"source": "order", "target": "quote"}),
              "edges[4].target"),
    "duplicate edge": (lambda n, e, t: e.append({"source": "start", "target": "quote"}),
                       "edges[4]"),
    "unknown end": (lambda n, e, t: e.append({"source": "start", "target": "nowhere"}),
                    "edges[4].target"),
    "self loop": (lambda n, e, t: e.append({"source": "quote", "target": "quote"}),
                  "edges[4].target"),
    "into trigger": (lambda n, e, t: e.append({"source": "order", "target": "start"}),
                     "edges[4].target"),
    "condition edge without branch": (lambda n, e, t: e[2].pop("source_handle"),
                                      "edges[2].source_handle"),
    "unknown branch": (lambda n, e, t: e[2].update(source_handle="sell"),
                       "edges[2].source_handle"),
    "branch out of a tool": (lambda n, e, t: e[1].update(source_handle="buy"),
                             "edges[1].source_handle"),
    "unreachable": (lambda n, e, t: n.append({"name": "island", "node_type": "parallel"}),
                    "nodes[5]"),
    "duplicate name": (lambda n, e, t: n.append({"name": "quote", "node_type": "parallel"}),
                       "nodes[5].name"),
    "bad name": (lambda n, e, t: n[4].update(name="wait here"), "nodes[4].name"),
    "timeout zero": (lambda n, e, t: n[1].update(timeout_seconds=0), "nodes[1].timeout_seconds"),
    "timeout huge": (lambda n, e, t: n[1].update(timeout_seconds=86_401),
                     "nodes[1].timeout_seconds"),
    "too many attempts": (lambda n, e, t: n[1].update(retry_config={"max_attempts": 11}),
                          "nodes[1].retry_config.max_attempts"),
    "unknown retry key": (lambda n, e, t: n[1].update(retry_config={"retries": 2}),
                          "nodes[1].retry_config.retries"),
    "bad condition expression": (
        lambda n, e, t: n[2]["config"]["branches"][0].update(when="input.json.price <"), COND),
    "unknown function": (
        lambda n, e, t: n[2]["config"]["branches"][0].update(when="frobnicate(input)"), COND),
    "bad template": (lambda n, e, t: n[1]["config"]["parameters"].update(symbol="{{ v. }}"),
                     "nodes[1].config.parameters.symbol"),
    "no default": (lambda n, e, t: n[2]["config"].pop("default"), f"{NODE}.default"),
    "tool node without tool": (lambda n, e, t: n[1].pop("tool_id"), "nodes[1].tool_id"),
    "unknown tool": (lambda n, e, t: n[1].update(tool_id=str(uuid.uuid4())), "nodes[1].tool_id"),
    "tool on a condition": (lambda n, e, t: n[2].update(tool_id=t), "nodes[2].tool_id"),
    "agent without prompt": (
        lambda n, e, t: n[4].update(node_type="agent", agent_id=str(uuid.uuid4()), config={}),
        "nodes[4].config.prompt"),
    "config on a trigger": (lambda n, e, t: n[0].update(config={"cron": "* * * * *"}),
                            "nodes[0].config.cron"),
    "adapter mapping": (
        lambda n, e, t: n[4].update(node_type="adapter", tool_id=None,
                                    config={"mapping": {"p": "a[?"}}),
        "nodes[4].config.mapping.p"),
    "aggregator strategy": (
        lambda n, e, t: n[4].update(node_type="aggregator", tool_id=None,
                                    config={"strategy": "sum"}),
        "nodes[4].config.strategy"),
    "huge position": (lambda n, e, t: n[0].update(position_x=1e300), "nodes[0].position_x"),
}  # fmt: skip


def _broken(tool_id: str, change: str) -> Graph:
    graph = small_graph(tool_id)
    BROKEN[change][0](graph["nodes"], graph["edges"], tool_id)
    return graph


@pytest.mark.parametrize(
    ("change", "field"), sorted((name, field) for name, (_, field) in BROKEN.items())
)
async def test_each_graph_rule_is_refused_naming_the_node_or_edge_and_nothing_changes(
    api: httpx.AsyncClient, alice: Headers, change: str, field: str
) -> None:
    workflow_id, tool_id = await setup(api, alice)
    before = await get_graph(api, alice, workflow_id)
    response = await put_graph(api, alice, workflow_id, _broken(tool_id, change))
    assert response.status_code == 422, response.text
    assert field in error_fields(response), response.text
    reasons = [detail["reason"] for detail in response.json()["error"]["details"]]
    assert all(reasons)
    assert await get_graph(api, alice, workflow_id) == before


async def test_a_cycle_is_spelled_out(api: httpx.AsyncClient, alice: Headers) -> None:
    workflow_id, tool_id = await setup(api, alice)
    response = await put_graph(api, alice, workflow_id, _broken(tool_id, "cycle"))
    [detail] = response.json()["error"]["details"]
    assert detail["reason"] == "this edge closes a cycle: quote -> decide -> order -> quote"


async def test_non_finite_numbers_are_refused(api: httpx.AsyncClient, alice: Headers) -> None:
    workflow_id, tool_id = await setup(api, alice)
    body = json.dumps(small_graph(tool_id)).replace(
        '"timeout_seconds": 10', '"timeout_seconds": NaN'
    )
    body = body.replace(
        '"name": "start", "node_type": "trigger"',
        '"name": "start", "node_type": "trigger", "position_y": Infinity',
    )
    response = await api.put(
        f"/api/v1/workflows/{workflow_id}/graph", content=body,
        headers={**alice, "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert await get_graph(api, alice, workflow_id) == {
        "workflow_id": workflow_id, "version": 1, "nodes": [], "edges": []
    }  # fmt: skip


async def test_public_tools_of_others_may_be_used_private_ones_not(
    api: httpx.AsyncClient, alice: Headers, bob: Headers
) -> None:
    workflow_id, _ = await setup(api, alice)
    public = await post_tool(api, bob, name="bobs", is_public=True)
    private = await post_tool(api, bob, name="secret")
    assert (await put_graph(api, alice, workflow_id, small_graph(public["id"]))).status_code == 200
    graph = small_graph(private["id"], version=2)
    refused = await put_graph(api, alice, workflow_id, graph)
    assert refused.status_code == 422
    assert "nodes[1].tool_id" in error_fields(refused)


async def test_building_a_graph_one_item_at_a_time(api: httpx.AsyncClient, alice: Headers) -> None:
    workflow_id, tool_id = await setup(api, alice)
    base = f"/api/v1/workflows/{workflow_id}"
    start = await api.post(
        f"{base}/nodes", json={"name": "start", "node_type": "trigger"}, headers=alice
    )
    assert start.status_code == 201, start.text
    assert start.json()["version"] == 2
    quote = await api.post(
        f"{base}/nodes?version=2",
        json={"name": "quote", "node_type": "tool", "tool_id": tool_id}, headers=alice,
    )  # fmt: skip
    assert quote.status_code == 201, quote.text
    assert quote.json()["version"] == 3
    report = (await api.get(f"{base}/validate", headers=alice)).json()
    assert report["valid"] is False
    assert report["problems"] == [
        {"field": "nodes.quote", "reason": "node 'quote' cannot be reached from the trigger node"}
    ]
    start_id, quote_id = start.json()["node"]["id"], quote.json()["node"]["id"]
    edge = await api.post(
        f"{base}/edges",
        json={"source_node_id": start_id, "target_node_id": quote_id},
        headers=alice,
    )
    assert edge.status_code == 201, edge.text
    assert edge.json()["version"] == 4
    assert (edge.json()["edge"]["source"], edge.json()["edge"]["target"]) == ("start", "quote")
    assert (await api.get(f"{base}/validate", headers=alice)).json()["valid"] is True

    renamed = await api.patch(f"{base}/nodes/{quote_id}", json={"name": "price"}, headers=alice)
    assert renamed.status_code == 200, renamed.text
    graph = await get_graph(api, alice, workflow_id)
    assert [(e["source"], e["target"]) for e in graph["edges"]] == [("start", "price")]

    back = await api.post(
        f"{base}/edges",
        json={"source_node_id": quote_id, "target_node_id": start_id},
        headers=alice,
    )
    assert back.status_code == 422
    assert "target_node_id" in error_fields(back)
    twice = await api.post(
        f"{base}/edges",
        json={"source_node_id": start_id, "target_node_id": quote_id},
        headers=alice,
    )
    assert twice.status_code == 422
    assert error_fields(twice) == ["body"]
    second_trigger = await api.post(
        f"{base}/nodes", json={"name": "t2", "node_type": "trigger"}, headers=alice
    )
    assert error_fields(second_trigger) == ["node_type"]
    same_name = await api.post(
        f"{base}/nodes", json={"name": "start", "node_type": "parallel"}, headers=alice
    )
    assert error_fields(same_name) == ["name"]
    assert (await get_graph(api, alice, workflow_id))["version"] == 5

    edge_id = edge.json()["edge"]["id"]
    assert (await api.delete(f"{base}/edges/{edge_id}", headers=alice)).status_code == 204
    assert (await get_graph(api, alice, workflow_id))["edges"] == []
    assert (await api.delete(f"{base}/edges/{edge_id}", headers=alice)).status_code == 404
    readded = await api.post(
        f"{base}/edges",
        json={"source_node_id": start_id, "target_node_id": quote_id},
        headers=alice,
    )
    assert readded.status_code == 201
    assert (await api.delete(f"{base}/nodes/{quote_id}", headers=alice)).status_code == 204
    graph = await get_graph(api, alice, workflow_id)
    assert [node["name"] for node in graph["nodes"]] == ["start"]
    assert graph["edges"] == []
    assert graph["version"] == 8


async def test_a_condition_cannot_drop_a_branch_an_edge_leaves_by(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    workflow_id, tool_id = await setup(api, alice)
    saved = (await put_graph(api, alice, workflow_id, small_graph(tool_id))).json()
    decide = next(node for node in saved["nodes"] if node["name"] == "decide")
    hold_edge = next(edge for edge in saved["edges"] if edge["source_handle"] == "hold")
    config = {"branches": [{"name": "buy", "when": "`true`"}], "default": "sell"}
    response = await api.patch(
        f"/api/v1/workflows/{workflow_id}/nodes/{decide['id']}", json={"config": config},
        headers=alice,
    )  # fmt: skip
    assert response.status_code == 422
    assert error_fields(response) == [f"edges.{hold_edge['id']}.source_handle"]
    moved = await api.patch(
        f"/api/v1/workflows/{workflow_id}/edges/{hold_edge['id']}",
        json={"source_handle": "sell"}, headers=alice,
    )  # fmt: skip
    assert moved.status_code == 422
    assert error_fields(moved) == ["source_handle"]
    assert await get_graph(api, alice, workflow_id) == saved


async def test_an_edge_end_must_be_a_node_of_the_same_workflow(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    first, tool_id = await setup(api, alice)
    second = (await post_workflow(api, alice))["id"]
    one = (await put_graph(api, alice, first, small_graph(tool_id))).json()
    other = await api.post(
        f"/api/v1/workflows/{second}/nodes",
        json={"name": "s", "node_type": "trigger"},
        headers=alice,
    )
    foreign = other.json()["node"]["id"]
    response = await api.post(
        f"/api/v1/workflows/{first}/edges",
        json={"source_node_id": one["nodes"][0]["id"], "target_node_id": foreign}, headers=alice,
    )  # fmt: skip
    assert response.status_code == 422
    assert error_fields(response) == ["target_node_id"]
    wrong_workflow = await api.patch(
        f"/api/v1/workflows/{second}/nodes/{one['nodes'][0]['id']}", json={"position_x": 1},
        headers=alice,
    )  # fmt: skip
    assert wrong_workflow.status_code == 404


async def test_the_database_refusal_of_a_foreign_edge_end_is_a_422(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    """Past the service, the database's own rule answers with the fields it covers."""
    first, tool_id = await setup(api, alice)
    second = (await post_workflow(api, alice))["id"]
    one = (await put_graph(api, alice, first, small_graph(tool_id))).json()
    two = (await put_graph(api, alice, second, small_graph(tool_id))).json()
    app: FastAPI = api._transport.app  # type: ignore[attr-defined]

    @app.post("/test-only/raw-edge")
    async def raw_edge(session: SessionDep) -> None:
        session.add(
            Edge(
                workflow_id=uuid.UUID(first),
                source_node_id=uuid.UUID(one["nodes"][0]["id"]),
                target_node_id=uuid.UUID(two["nodes"][1]["id"]),
            )
        )
        await session.flush()

    response = await api.post("/test-only/raw-edge")
    assert response.status_code == 422, response.text
    assert "target_node_id" in error_fields(response)


async def test_validate_reports_a_deleted_tool_and_an_inactive_workflow(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    workflow_id, tool_id = await setup(api, alice)
    await put_graph(api, alice, workflow_id, small_graph(tool_id))
    assert (await api.delete(f"/api/v1/tools/{tool_id}", headers=alice)).status_code == 204
    await api.patch(f"/api/v1/workflows/{workflow_id}", json={"is_active": False}, headers=alice)
    report = (await api.get(f"/api/v1/workflows/{workflow_id}/validate", headers=alice)).json()
    assert report["valid"] is False
    fields = [problem["field"] for problem in report["problems"]]
    assert fields == [
        "is_active", "nodes.order.tool_id", "nodes.quote.tool_id", "nodes.wait.tool_id"
    ]  # fmt: skip


async def test_another_users_workflow_is_unknown_on_every_graph_route(
    api: httpx.AsyncClient, alice: Headers, bob: Headers, committed_db: AsyncEngine
) -> None:
    workflow_id, tool_id = await setup(api, alice)
    saved = (await put_graph(api, alice, workflow_id, small_graph(tool_id))).json()
    node_id, edge_id = saved["nodes"][0]["id"], saved["edges"][0]["id"]
    base = f"/api/v1/workflows/{workflow_id}"
    bob_tool = await post_tool(api, bob)
    for method, path, body in [
        ("GET", f"{base}/graph", None),
        ("PUT", f"{base}/graph", small_graph(bob_tool["id"], version=saved["version"])),
        ("POST", f"{base}/nodes", {"name": "x", "node_type": "parallel"}),
        ("PATCH", f"{base}/nodes/{node_id}", {"position_x": 1}),
        ("DELETE", f"{base}/nodes/{node_id}", None),
        ("POST", f"{base}/edges", {"source_node_id": node_id, "target_node_id": node_id}),
        ("PATCH", f"{base}/edges/{edge_id}", {"priority": 1}),
        ("DELETE", f"{base}/edges/{edge_id}", None),
        ("GET", f"{base}/validate", None),
        ("GET", f"{base}/export", None),
    ]:
        answer = await api.request(method, path, json=body, headers=bob)
        assert answer.status_code == 404, (method, path, answer.text)
    assert await get_graph(api, alice, workflow_id) == saved
    async with committed_db.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM nodes")) == 5


async def test_a_deleted_workflow_has_no_graph_routes(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    workflow_id, tool_id = await setup(api, alice)
    await api.delete(f"/api/v1/workflows/{workflow_id}", headers=alice)
    assert (await put_graph(api, alice, workflow_id, small_graph(tool_id))).status_code == 404
    assert (
        await api.get(f"/api/v1/workflows/{workflow_id}/graph", headers=alice)
    ).status_code == 404


async def test_the_largest_graph_is_saved_and_one_node_more_is_refused(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    workflow_id, _ = await setup(api, alice)
    nodes: list[dict[str, Any]] = [{"name": "start", "node_type": "trigger"}]
    nodes += [{"name": f"n{index}", "node_type": "parallel"} for index in range(499)]
    # A chain through every node, plus a jump from the trigger to each past the second.
    edges = [{"source": a["name"], "target": b["name"]} for a, b in itertools.pairwise(nodes)]
    edges += [{"source": "start", "target": node["name"]} for node in nodes[2:]]
    saved = await put_graph(api, alice, workflow_id, {"version": 1, "nodes": nodes, "edges": edges})
    assert saved.status_code == 200, saved.text[:500]
    assert len(saved.json()["nodes"]) == 500
    assert len(saved.json()["edges"]) == 997
    # The same again, closed into a cycle at the far end: found without recursion limits.
    looped = [*edges, {"source": "n498", "target": "n0"}]
    refused = await put_graph(
        api, alice, workflow_id, {"version": 2, "nodes": nodes, "edges": looped}
    )
    assert refused.status_code == 422
    assert error_fields(refused) == ["edges[997].target"]
    too_many = [*nodes, {"name": "extra", "node_type": "parallel"}]
    over = await put_graph(
        api, alice, workflow_id, {"version": 2, "nodes": too_many, "edges": edges}
    )
    assert over.status_code == 422
    assert error_fields(over) == ["nodes"]
    assert (await get_graph(api, alice, workflow_id))["version"] == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda g: g["nodes"][1]["config"]["parameters"].update(s="a\u0000b"),
         "nodes[1].config.parameters.s"),
        (lambda g: g["nodes"][1]["config"]["parameters"].update(s="\ud800"),
         "nodes[1].config.parameters.s"),
        (lambda g: g["nodes"][1]["config"]["parameters"].update(n=2**70),
         "nodes[1].config.parameters.n"),
        (lambda g: g["nodes"][1]["config"]["parameters"].update(big="x" * 70_000),
         "nodes[1].config"),
        (lambda g: g["nodes"][1].update(input_schema={"a": "\u0000"}), "nodes[1].input_schema"),
        (lambda g: g["edges"][0].update(target_handle="\u0000"), "edges[0].target_handle"),
    ],
)  # fmt: skip
async def test_json_the_database_cannot_keep_is_refused_naming_it(
    api: httpx.AsyncClient, alice: Headers, change: Callable[[Graph], object], field: str
) -> None:
    workflow_id, tool_id = await setup(api, alice)
    graph = small_graph(tool_id)
    change(graph)
    response = await api.put(
        f"/api/v1/workflows/{workflow_id}/graph", content=json.dumps(graph),
        headers={**alice, "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 422, response.text[:300]
    assert any(found.startswith(field) for found in error_fields(response)), response.text[:300]
    assert (await get_graph(api, alice, workflow_id))["nodes"] == []


async def test_deeply_nested_parameters_are_refused(api: httpx.AsyncClient, alice: Headers) -> None:
    workflow_id, tool_id = await setup(api, alice)
    graph = small_graph(tool_id)
    deep: Any = "leaf"
    for _ in range(40):
        deep = {"d": deep}
    graph["nodes"][1]["config"]["parameters"] = {"deep": deep}
    response = await put_graph(api, alice, workflow_id, graph)
    assert response.status_code == 422
    assert any(field.startswith("nodes[1].config") for field in error_fields(response))
