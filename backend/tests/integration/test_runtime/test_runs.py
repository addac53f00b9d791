"""Executions run by a real worker through the API: node types, graph semantics, retries,
timeouts, continue_on_error, cancel, ownership (runtime.md)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx

from tests.integration.test_api.conftest import Headers, login
from tests.integration.test_runtime.conftest import (
    TRIGGER,
    Loopback,
    nodes_by_name,
    run_to_end,
    start_run,
    tool,
    wait_for,
    workflow,
)


async def _echo(api: httpx.AsyncClient, user: Headers) -> str:
    return await tool(api, user, "builtin", {"name": "echo"})


async def test_the_readme_workflow_runs_its_branch_and_skips_the_other(
    runtime: httpx.AsyncClient, user: Headers, loopback: Loopback
) -> None:
    quote = await tool(
        runtime, user, "http",
        {"method": "GET", "url": loopback.url + "/quote/{{ variables.symbol }}"},
        auth_config={"type": "bearer", "token": "the-secret-token"},
    )  # fmt: skip
    echo = await _echo(runtime, user)
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER,
         {"name": "quote", "node_type": "tool", "tool_id": quote, "timeout_seconds": 10},
         {"name": "decide", "node_type": "condition",
          "config": {"branches": [
              {"name": "buy", "when": "input.json.price < variables.max_price"}],
              "default": "hold"}},
         {"name": "order", "node_type": "tool", "tool_id": echo,
          "config": {"parameters": {"side": "buy", "price": "{{ nodes.quote.json.price }}"}}},
         {"name": "note", "node_type": "tool", "tool_id": echo,
          "config": {"parameters": {"message": "held at {{ nodes.quote.json.price }}"}}}],
        [{"source": "start", "target": "quote"}, {"source": "quote", "target": "decide"},
         {"source": "decide", "target": "order", "source_handle": "buy"},
         {"source": "decide", "target": "note", "source_handle": "hold"}],
        variables={"symbol": "AAPL", "max_price": 100},
    )  # fmt: skip

    execution = await run_to_end(runtime, user, workflow_id)

    assert execution["status"] == "completed", execution["error_message"]
    assert execution["output_data"] == {"order": {"side": "buy", "price": 90}}
    runs = nodes_by_name(execution)
    assert {name: [r["status"] for r in rs] for name, rs in runs.items()} == {
        "start": ["completed"], "quote": ["completed"], "decide": ["completed"],
        "order": ["completed"], "note": ["skipped"],
    }  # fmt: skip
    assert runs["decide"][0]["output_data"] == {"branch": "buy"}
    assert runs["quote"][0]["output_data"]["json"] == {"symbol": "AAPL", "price": 90}
    assert runs["start"][0]["output_data"]["trigger_type"] == "manual"
    assert runs["start"][0]["output_data"]["execution_id"] == execution["id"]
    (request,) = loopback.requests
    assert request["path"] == "/quote/AAPL"
    assert request["headers"]["Authorization"] == "Bearer the-secret-token"
    quote_node = runs["quote"][0]["node_id"]
    assert request["headers"]["Idempotency-Key"] == f"{execution['id']}:{quote_node}"
    everything = (await runtime.get(f"/api/v1/executions/{execution['id']}", headers=user)).text
    logs = await runtime.get(f"/api/v1/executions/{execution['id']}/logs", headers=user)
    assert "the-secret-token" not in everything + logs.text
    messages = [line["message"] for line in logs.json()["items"]]
    assert messages[0] == "execution started"
    assert messages[-1] == "execution completed"
    assert "node quote completed" in messages


async def test_the_manual_input_reaches_the_trigger_output(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    echo = await _echo(runtime, user)
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER, {"name": "say", "node_type": "tool", "tool_id": echo,
                   "config": {"parameters": {
                       "got": "{{ trigger.input.word }}", "all": "{{ input }}"}}}],
        [{"source": "start", "target": "say"}],
    )  # fmt: skip

    execution = await run_to_end(runtime, user, workflow_id, {"word": "hello"})

    assert execution["status"] == "completed"
    assert execution["output_data"]["say"]["got"] == "hello"
    assert execution["output_data"]["say"]["all"]["input"] == {"word": "hello"}


async def test_retryable_errors_are_retried_and_counted(
    runtime: httpx.AsyncClient, user: Headers, loopback: Loopback
) -> None:
    loopback.failures_left["/flaky"] = 2
    flaky = await tool(runtime, user, "http", {"url": loopback.url + "/flaky"})
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER, {"name": "call", "node_type": "tool", "tool_id": flaky,
                   "retry_config": {"max_attempts": 3, "backoff_seconds": 0.1}}],
        [{"source": "start", "target": "call"}],
    )  # fmt: skip

    execution = await run_to_end(runtime, user, workflow_id)

    assert execution["status"] == "completed", execution["error_message"]
    (call,) = nodes_by_name(execution)["call"]
    assert call["retry_count"] == 2
    assert call["output_data"]["json"] == {"ok": True}
    assert len([r for r in loopback.requests if r["path"] == "/flaky"]) == 3
    logs = await runtime.get(f"/api/v1/executions/{execution['id']}/logs", headers=user)
    retries = [line for line in logs.json()["items"] if "retrying in" in line["message"]]
    assert [line["data"]["attempt"] for line in retries] == [1, 2]
    assert [line["data"]["retry_in_seconds"] for line in retries] == [0.1, 0.2]  # backed off


async def test_a_client_error_fails_at_once_and_skips_what_follows(
    runtime: httpx.AsyncClient, user: Headers, loopback: Loopback
) -> None:
    missing = await tool(runtime, user, "http", {"url": loopback.url + "/missing"})
    echo = await _echo(runtime, user)
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER, {"name": "call", "node_type": "tool", "tool_id": missing,
                   "retry_config": {"max_attempts": 5, "backoff_seconds": 0}},
         {"name": "after", "node_type": "tool", "tool_id": echo}],
        [{"source": "start", "target": "call"}, {"source": "call", "target": "after"}],
    )  # fmt: skip

    execution = await run_to_end(runtime, user, workflow_id)

    assert execution["status"] == "failed"
    assert execution["error_message"].startswith("node call failed: HTTP 404")
    runs = nodes_by_name(execution)
    assert runs["call"][0]["status"] == "failed"
    assert runs["call"][0]["retry_count"] == 0
    assert runs["after"][0]["status"] == "skipped"
    assert len(loopback.requests) == 1


async def test_a_node_over_its_timeout_fails_the_attempt(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    sleep = await tool(runtime, user, "builtin", {"name": "sleep"})
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER, {"name": "nap", "node_type": "tool", "tool_id": sleep, "timeout_seconds": 1,
                   "config": {"parameters": {"seconds": 30}}}],
        [{"source": "start", "target": "nap"}],
    )  # fmt: skip

    execution = await run_to_end(runtime, user, workflow_id)

    assert execution["status"] == "failed"
    assert execution["error_message"] == "node nap failed: timeout after 1 s"


async def test_continue_on_error_keeps_going_with_the_error_as_output(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    fail = await tool(runtime, user, "builtin", {"name": "fail"})
    echo = await _echo(runtime, user)
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER, {"name": "try", "node_type": "tool", "tool_id": fail,
                   "config": {"parameters": {"message": "no luck"}, "continue_on_error": True}},
         {"name": "after", "node_type": "tool", "tool_id": echo,
          "config": {"parameters": {"saw": "{{ input.error }}"}}}],
        [{"source": "start", "target": "try"}, {"source": "try", "target": "after"}],
    )  # fmt: skip

    execution = await run_to_end(runtime, user, workflow_id)

    assert execution["status"] == "completed"
    runs = nodes_by_name(execution)
    assert runs["try"][0]["status"] == "failed"
    assert runs["try"][0]["output_data"] == {"error": "no luck"}
    assert execution["output_data"] == {"after": {"saw": "no luck"}}


async def test_independent_nodes_run_at_once_and_the_aggregator_gathers_them(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    sleep = await tool(runtime, user, "builtin", {"name": "sleep"})
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER, {"name": "fan", "node_type": "parallel"},
         {"name": "a", "node_type": "tool", "tool_id": sleep,
          "config": {"parameters": {"seconds": 1}}},
         {"name": "b", "node_type": "tool", "tool_id": sleep,
          "config": {"parameters": {"seconds": 1}}},
         {"name": "join", "node_type": "aggregator"},
         {"name": "shape", "node_type": "adapter",
          "config": {"mapping": {
              "total": "sum([inputs.join.inputs.a.slept, inputs.join.inputs.b.slept])"}}}],
        [{"source": "start", "target": "fan"}, {"source": "fan", "target": "a"},
         {"source": "fan", "target": "b"}, {"source": "a", "target": "join"},
         {"source": "b", "target": "join"}, {"source": "join", "target": "shape"}],
    )  # fmt: skip

    execution = await run_to_end(runtime, user, workflow_id)

    assert execution["status"] == "completed", execution["error_message"]
    runs = nodes_by_name(execution)
    a, b = runs["a"][0], runs["b"][0]
    assert datetime.fromisoformat(a["started_at"]) < datetime.fromisoformat(b["ended_at"])
    assert datetime.fromisoformat(b["started_at"]) < datetime.fromisoformat(a["ended_at"])
    assert runs["join"][0]["output_data"] == {"inputs": {"a": {"slept": 1}, "b": {"slept": 1}}}
    assert execution["output_data"] == {"shape": {"total": 2}}


async def test_a_skip_propagates_through_a_chain_and_a_join_runs_on_one_taken_edge(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    echo = await _echo(runtime, user)
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER,
         {"name": "gate", "node_type": "condition",
          "config": {"branches": [{"name": "never", "when": "`false`"}], "default": "always"}},
         {"name": "x1", "node_type": "tool", "tool_id": echo},
         {"name": "x2", "node_type": "tool", "tool_id": echo},
         {"name": "join", "node_type": "aggregator", "config": {"strategy": "merge"}}],
        [{"source": "start", "target": "gate"},
         {"source": "gate", "target": "x1", "source_handle": "never"},
         {"source": "x1", "target": "x2"}, {"source": "x2", "target": "join"},
         {"source": "gate", "target": "join", "source_handle": "always"}],
    )  # fmt: skip

    execution = await run_to_end(runtime, user, workflow_id)

    assert execution["status"] == "completed"
    runs = nodes_by_name(execution)
    assert runs["x1"][0]["status"] == runs["x2"][0]["status"] == "skipped"
    assert runs["join"][0]["status"] == "completed"
    assert runs["join"][0]["output_data"] == {"branch": "always"}


async def test_cancel_stops_a_running_execution_and_a_finished_one_is_409(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    sleep = await tool(runtime, user, "builtin", {"name": "sleep"})
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER, {"name": "nap", "node_type": "tool", "tool_id": sleep,
                   "config": {"parameters": {"seconds": 60}}}],
        [{"source": "start", "target": "nap"}],
    )  # fmt: skip
    execution_id = await start_run(runtime, user, workflow_id)
    running = await wait_for(runtime, user, execution_id, {"running"})
    while [node["status"] for node in running["nodes"]] != ["completed", "running"]:
        running = await wait_for(runtime, user, execution_id, {"running"})
    assert [node["node_name"] for node in running["nodes"]] == ["start", "nap"]

    cancelled = await runtime.post(f"/api/v1/executions/{execution_id}/cancel", headers=user)

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"

    for _ in range(50):
        detail = (await runtime.get(f"/api/v1/executions/{execution_id}", headers=user)).json()
        if nodes_by_name(detail)["nap"][0]["status"] == "cancelled":
            break
        await asyncio.sleep(0.1)
    assert nodes_by_name(detail)["nap"][0]["status"] == "cancelled"
    again = await runtime.post(f"/api/v1/executions/{execution_id}/cancel", headers=user)
    assert again.status_code == 409


async def test_another_users_execution_is_404_everywhere(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    echo = await _echo(runtime, user)
    workflow_id = await workflow(
        runtime, user, [TRIGGER, {"name": "say", "node_type": "tool", "tool_id": echo}],
        [{"source": "start", "target": "say"}],
    )  # fmt: skip
    execution = await run_to_end(runtime, user, workflow_id)
    other = await login(runtime)

    for method, path in [
        ("GET", f"/api/v1/executions/{execution['id']}"),
        ("GET", f"/api/v1/executions/{execution['id']}/logs"),
        ("POST", f"/api/v1/executions/{execution['id']}/cancel"),
        ("POST", f"/api/v1/workflows/{workflow_id}/run"),
    ]:
        response = await runtime.request(method, path, headers=other)
        assert response.status_code == 404, (path, response.text)
    listed = await runtime.get("/api/v1/executions", headers=other)
    assert listed.json()["items"] == []
    mine = await runtime.get(f"/api/v1/executions?workflow_id={workflow_id}", headers=user)
    assert [item["id"] for item in mine.json()["items"]] == [execution["id"]]
