"""Odd data found by a hostile review: graph semantics, what a node's output may hold, and
what the API then answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.integration.test_api.conftest import Headers
from tests.integration.test_runtime.conftest import (
    TRIGGER,
    nodes_by_name,
    run_to_end,
    tool,
    workflow,
)

# Raw bodies a hostile (or just odd) HTTP API answers with.
BODIES: dict[str, bytes] = {
    "/surrogate": b'{"name": "\\ud800"}',
    "/deep300": b'{"a":' * 300 + b"1" + b"}" * 300,
    "/deep100k": b"[" * 100_000 + b"]" * 100_000,
    "/wide": '{"big": 9223372036854775807, "small": -9223372036854775807, '
    '"text": "café € \\u00e9 \\n", "e": 1e-7, "deep": [[[{"": null}]]]}'.encode(),
}


@pytest.fixture
def odd_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = BODIES[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def _get_then_echo(
    api: httpx.AsyncClient, user: Headers, url: str, *, continue_on_error: bool = False
) -> str:
    http = await tool(api, user, "http", {"method": "GET", "url": url})
    echo = await tool(api, user, "builtin", {"name": "echo"})
    return await workflow(
        api, user,
        [TRIGGER,
         {"name": "fetch", "node_type": "tool", "tool_id": http,
          "config": {"continue_on_error": continue_on_error}},
         {"name": "after", "node_type": "tool", "tool_id": echo,
          "config": {"parameters": {"got": "{{ input }}"}}}],
        [{"source": "start", "target": "fetch"}, {"source": "fetch", "target": "after"}],
    )  # fmt: skip


# -- graph semantics -------------------------------------------------------------------


async def test_a_condition_treats_zero_as_truthy_as_jmespath_does(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    """runtime.md: "the first branch whose expression is truthy wins"; in JMESPath only
    false, null and empty strings, lists and objects are false; 0 is true. nodes._truthy
    compares with `in (False, ...)`, and 0 == False in Python."""
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER, {"name": "decide", "node_type": "condition",
                   "config": {"branches": [{"name": "has_count", "when": "trigger.input.count"}],
                              "default": "none"}}],
        [{"source": "start", "target": "decide"}],
    )  # fmt: skip
    execution = await run_to_end(runtime, user, workflow_id, {"count": 0})
    assert execution["output_data"] == {"decide": {"branch": "has_count"}}


async def test_node_runs_of_one_wave_of_pure_nodes_come_in_start_order(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    """A chain of pure nodes is written by one INSERT: same started_at and created_at, so
    ORDER BY started_at, created_at, id sorts them by a random uuid."""
    chain = [f"a{i}" for i in range(12)]
    nodes = [TRIGGER] + [
        {"name": name, "node_type": "adapter", "config": {"mapping": {"i": "`1`"}}}
        for name in chain
    ]
    edges = [{"source": s, "target": t} for s, t in zip(["start", *chain], chain, strict=False)]
    workflow_id = await workflow(runtime, user, nodes, edges)
    execution = await run_to_end(runtime, user, workflow_id)
    assert [n["node_name"] for n in execution["nodes"]] == ["start", *chain]


# -- what a node's output may hold ----------------------------------------------------


async def test_a_lone_surrogate_in_an_http_answer_fails_the_node_not_the_runtime(
    runtime: httpx.AsyncClient, user: Headers, odd_server: str
) -> None:
    """json.loads turns "\\ud800" into a lone surrogate, which jsonb refuses: the output
    check fails the node (so continue_on_error applies), never the write with a SQL error."""
    workflow_id = await _get_then_echo(
        runtime, user, odd_server + "/surrogate", continue_on_error=True
    )
    execution = await run_to_end(runtime, user, workflow_id)
    assert "[SQL:" not in (execution["error_message"] or ""), execution["error_message"]
    assert execution["status"] == "completed", execution["error_message"]


async def test_a_deeply_nested_http_answer_fails_the_node_not_the_runtime(
    runtime: httpx.AsyncClient, user: Headers, odd_server: str
) -> None:
    """100,000 nested lists (200 KB, under the size limit): json.loads raises RecursionError;
    the answer is kept as text or the node fails, never the runtime."""
    workflow_id = await _get_then_echo(
        runtime, user, odd_server + "/deep100k", continue_on_error=True
    )
    execution = await run_to_end(runtime, user, workflow_id)
    assert not (execution["error_message"] or "").startswith("the runtime failed"), execution[
        "error_message"
    ]


async def test_an_output_300_levels_deep_does_not_break_the_execution_routes(
    runtime: httpx.AsyncClient, user: Headers, odd_server: str
) -> None:
    """A 2 KB answer 300 levels deep is stored (json and jsonb accept it), then every read
    of it is a 500: pydantic stops serializing at depth 255. The list breaks too, since
    the execution's output_data holds it."""
    http = await tool(runtime, user, "http", {"method": "GET", "url": odd_server + "/deep300"})
    workflow_id = await workflow(
        runtime, user, [TRIGGER, {"name": "fetch", "node_type": "tool", "tool_id": http}],
        [{"source": "start", "target": "fetch"}],
    )  # fmt: skip
    response = await runtime.post(
        f"/api/v1/workflows/{workflow_id}/run", json={"input": {}}, headers=user
    )
    execution_id = response.json()["id"]
    for _ in range(100):
        listed = await runtime.get("/api/v1/executions", headers=user)
        if listed.status_code != 200 or listed.json()["items"][0]["status"] != "pending":
            if listed.status_code == 200 and listed.json()["items"][0]["status"] == "running":
                continue
            break
    detail = await runtime.get(f"/api/v1/executions/{execution_id}", headers=user)
    assert detail.status_code == 200, detail.text
    assert listed.status_code == 200, listed.text


async def test_a_literal_backslash_u0000_in_run_input_is_storable_text(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    """The six characters \\u0000 (a JSON-escaped log line, a Windows path) are not a NUL
    and are kept as they are."""
    echo = await tool(runtime, user, "builtin", {"name": "echo"})
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER, {"name": "say", "node_type": "tool", "tool_id": echo,
                   "config": {"parameters": {"path": "{{ trigger.input.path }}"}}}],
        [{"source": "start", "target": "say"}],
    )  # fmt: skip
    execution = await run_to_end(runtime, user, workflow_id, {"path": "C:\\u0000dir"})
    assert execution["status"] == "completed", execution["error_message"]
    assert nodes_by_name(execution)["say"][0]["output_data"] == {"path": "C:\\u0000dir"}


async def test_64_bit_integers_and_non_ascii_text_are_kept_exactly(
    runtime: httpx.AsyncClient, user: Headers, odd_server: str
) -> None:
    """Node inputs and outputs are written as JSON text by orjson (UTF-8, not escapes):
    what is read back is what the node produced, to the last digit and character."""
    workflow_id = await _get_then_echo(runtime, user, odd_server + "/wide")
    execution = await run_to_end(runtime, user, workflow_id)
    assert execution["status"] == "completed", execution["error_message"]
    expected = json.loads(BODIES["/wide"])
    runs = nodes_by_name(execution)
    assert runs["fetch"][0]["output_data"]["json"] == expected
    assert runs["after"][0]["input_data"]["input"]["json"] == expected


def test_bodies_are_what_they_claim() -> None:
    json.loads(BODIES["/deep300"])


async def test_a_fan_out_wider_than_the_node_slots_completes_in_one_attempt(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    """Twelve tool nodes after the trigger, eight slots: the four that wait for a slot
    write their own start while the walk writes completions. Two writes of one run in
    flight at once once took the same completions, which made the run look lost to its
    own worker: it was resumed as attempt 2 and its nodes ran again."""
    echo = await tool(runtime, user, "builtin", {"name": "echo"})
    names = [f"e{i}" for i in range(12)]
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER, *({"name": name, "node_type": "tool", "tool_id": echo,
                     "config": {"parameters": {"n": name}}} for name in names)],
        [{"source": "start", "target": name} for name in names],
    )  # fmt: skip
    execution = await run_to_end(runtime, user, workflow_id)
    assert (execution["status"], execution["attempt"]) == ("completed", 1), execution
    runs = nodes_by_name(execution)
    assert {name: [run["status"] for run in runs[name]] for name in names} == {
        name: ["completed"] for name in names
    }
    logs = await runtime.get(f"/api/v1/executions/{execution['id']}/logs", headers=user)
    assert not [line for line in logs.json()["items"] if "resumed" in line["message"]]
