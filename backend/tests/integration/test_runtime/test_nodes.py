"""Each tool and agent kind through a real worker: success and failure paths (runtime.md,
"Node types"). Provider SDKs talk to a loopback server speaking their wire format."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_api.conftest import Headers, login
from tests.integration.test_runtime.conftest import (
    TRIGGER,
    Loopback,
    client_of,
    create,
    nodes_by_name,
    run_to_end,
    runtime_settings,
    tool,
    workflow,
)


async def _one_tool(
    api: httpx.AsyncClient, user: Headers, tool_id: str, parameters: dict[str, Any] | None = None,
    **node: Any,
) -> str:  # fmt: skip
    return await workflow(
        api, user,
        [TRIGGER, {"name": "call", "node_type": "tool", "tool_id": tool_id,
                   "config": {"parameters": parameters or {}}, **node}],
        [{"source": "start", "target": "call"}],
    )  # fmt: skip


async def _run_call(api: httpx.AsyncClient, user: Headers, workflow_id: str) -> dict[str, Any]:
    execution = await run_to_end(api, user, workflow_id)
    (call,) = nodes_by_name(execution)["call"]
    return execution | {"call": call}


async def test_an_http_tool_posts_its_parameters_and_keeps_a_text_answer(
    runtime: httpx.AsyncClient, user: Headers, loopback: Loopback
) -> None:
    post = await tool(
        runtime, user, "http",
        {"method": "POST", "url": loopback.url + "/orders", "headers": {"X-Trace": "t-1"},
         "query": {"symbol": "{{ parameters.symbol }}"}},
        auth_config={"type": "header", "name": "X-Api-Key", "value": "key-value-123"},
    )  # fmt: skip
    text_tool = await tool(runtime, user, "http", {"url": loopback.url + "/text"})

    posted = await _run_call(
        runtime, user, await _one_tool(runtime, user, post, {"symbol": "MSFT"})
    )
    texted = await _run_call(runtime, user, await _one_tool(runtime, user, text_tool))

    assert posted["status"] == "completed", posted["error_message"]
    request = loopback.requests[0]
    assert request["method"] == "POST"
    assert request["path"] == "/orders?symbol=MSFT"
    assert request["body"] == {"symbol": "MSFT"}
    assert request["headers"]["X-Api-Key"] == "key-value-123"
    assert request["headers"]["X-Trace"] == "t-1"
    assert posted["call"]["output_data"]["status"] == 200
    assert texted["call"]["output_data"]["text"] == "plain words"


async def test_an_http_tool_with_basic_auth_and_an_unreachable_server(
    runtime: httpx.AsyncClient, user: Headers, loopback: Loopback
) -> None:
    basic = await tool(
        runtime, user, "http", {"url": loopback.url + "/who"},
        auth_config={"type": "basic", "username": "ann", "password": "pw-secret"},
    )  # fmt: skip
    dead = await tool(runtime, user, "http", {"url": "http://127.0.0.1:9/nothing"})

    ok = await _run_call(runtime, user, await _one_tool(runtime, user, basic))
    down = await _run_call(
        runtime, user,
        await _one_tool(runtime, user, dead,
                        retry_config={"max_attempts": 2, "backoff_seconds": 0}),
    )  # fmt: skip

    assert ok["status"] == "completed"
    assert loopback.requests[0]["headers"]["Authorization"] == "Basic YW5uOnB3LXNlY3JldA=="
    assert down["status"] == "failed"
    assert down["call"]["retry_count"] == 1  # a connection error is retryable
    assert "request failed" in down["error_message"]


async def test_a_python_tool_runs_only_when_allow_listed(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    module = "tests.integration.test_runtime.callables"
    add = await tool(runtime, user, "python", {"callable": f"{module}:add"})
    word = await tool(runtime, user, "python", {"callable": f"{module}:wait_and_say"})
    bad = await tool(runtime, user, "python", {"callable": f"{module}:not_json"})
    refused = await tool(runtime, user, "python", {"callable": "os:getcwd"})
    through = await tool(runtime, user, "python", {"callable": f"{module}:os.getcwd"})
    private = await tool(
        runtime, user, "python", {"callable": f"{module}:asyncio._get_running_loop"}
    )

    added = await _run_call(runtime, user, await _one_tool(runtime, user, add, {"a": 2, "b": 3}))
    said = await _run_call(runtime, user, await _one_tool(runtime, user, word, {"word": "hi"}))
    not_json = await _run_call(runtime, user, await _one_tool(runtime, user, bad))
    denied = await _run_call(runtime, user, await _one_tool(runtime, user, refused))
    wrong_args = await _run_call(runtime, user, await _one_tool(runtime, user, add, {"c": 1}))
    imported = await _run_call(runtime, user, await _one_tool(runtime, user, through))
    hidden = await _run_call(runtime, user, await _one_tool(runtime, user, private))

    assert added["output_data"] == {"call": {"sum": 5}}
    assert said["output_data"] == {"call": {"result": "hi"}}
    assert not_json["status"] == "failed"
    assert (
        "the output cannot be kept: output.value: object is not a JSON value"
        in (not_json["error_message"])
    )
    assert denied["status"] == "failed"
    assert "os:getcwd is not allowed" in denied["error_message"]
    assert "PYTHON_TOOL_ALLOWLIST" in denied["error_message"]
    assert wrong_args["status"] == "failed"
    assert "raised TypeError" in wrong_args["error_message"]
    assert "reaches into the module os" in imported["error_message"]
    assert "private names cannot be called" in hidden["error_message"]


async def test_shell_tools_are_off_by_default_and_mcp_tools_are_refused(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    shell = await tool(runtime, user, "shell", {"argv": ["echo", "hi"]})
    mcp = await tool(
        runtime, user, "mcp", {"server_url": "http://127.0.0.1:9/mcp", "tool_name": "quote"}
    )

    off = await _run_call(runtime, user, await _one_tool(runtime, user, shell))
    refused = await _run_call(runtime, user, await _one_tool(runtime, user, mcp))

    assert off["status"] == "failed"
    assert "SHELL_TOOLS_ENABLED" in off["error_message"]
    assert refused["error_message"] == "node call failed: mcp tools are not supported yet"


@pytest.fixture
async def shell_runtime(
    committed_db: AsyncEngine, engine_database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A runtime app whose worker may run shell tools."""
    async with client_of(runtime_settings(engine_database_url, shell_tools_enabled=True)) as client:
        yield client


async def test_an_enabled_shell_tool_runs_argv_without_a_shell(
    shell_runtime: httpx.AsyncClient,
) -> None:
    user = await login(shell_runtime)
    echo = await tool(shell_runtime, user, "shell", {"argv": ["echo", "{{ parameters.word }}; ls"]})
    failing = await tool(shell_runtime, user, "shell", {"argv": ["false"]})
    missing = await tool(shell_runtime, user, "shell", {"argv": ["no-such-program-here"]})
    flood = await tool(shell_runtime, user, "shell", {"argv": ["yes"]})
    forks = await tool(shell_runtime, user, "shell", {"argv": ["sh", "-c", "sleep 60 & sleep 60"]})

    ran = await _run_call(
        shell_runtime, user, await _one_tool(shell_runtime, user, echo, {"word": "hi"})
    )
    failed = await _run_call(shell_runtime, user, await _one_tool(shell_runtime, user, failing))
    absent = await _run_call(shell_runtime, user, await _one_tool(shell_runtime, user, missing))
    flooded = await _run_call(shell_runtime, user, await _one_tool(shell_runtime, user, flood))
    stuck = await _run_call(
        shell_runtime, user, await _one_tool(shell_runtime, user, forks, timeout_seconds=1)
    )

    assert ran["call"]["output_data"] == {"exit_code": 0, "stdout": "hi; ls\n", "stderr": ""}
    assert failed["error_message"].startswith("node call failed: exit code 1")
    assert "cannot start no-such-program-here" in absent["error_message"]
    assert "the output is larger than 1048576 bytes" in flooded["error_message"]
    assert stuck["error_message"] == "node call failed: timeout after 1 s"  # its child too


async def _agent(api: httpx.AsyncClient, user: Headers, llm_config: dict[str, Any]) -> str:
    body = {"name": f"agent-{llm_config['provider']}", "system_prompt": "Be brief.",
            "llm_config": llm_config}  # fmt: skip
    return await create(api, user, "agents", body)


async def _ask(
    api: httpx.AsyncClient, user: Headers, agent_id: str, output: str = "text"
) -> dict[str, Any]:
    workflow_id = await workflow(
        api, user,
        [TRIGGER, {"name": "call", "node_type": "agent", "agent_id": agent_id,
                   "config": {"prompt": "price of {{ trigger.input.symbol }}?", "output": output}}],
        [{"source": "start", "target": "call"}],
    )  # fmt: skip
    execution = await run_to_end(api, user, workflow_id, {"symbol": "AAPL"})
    (call,) = nodes_by_name(execution)["call"]
    return execution | {"call": call}


async def test_an_openai_agent_answers_through_the_sdk(
    runtime: httpx.AsyncClient, user: Headers, loopback: Loopback
) -> None:
    agent = await _agent(
        runtime, user,
        {"provider": "openai", "model": "gpt-test", "temperature": 0.2,
         "base_url": loopback.url + "/v1"},
    )  # fmt: skip

    answered = await _ask(runtime, user, agent, output="json")

    assert answered["status"] == "completed", answered["error_message"]
    output = answered["call"]["output_data"]
    assert output["model"] == "gpt-test"
    assert output["json"] == {"echo": "price of AAPL?"}
    assert output["usage"]["total_tokens"] == 7
    request = loopback.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test-openai"
    assert request["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert request["body"]["temperature"] == 0.2


async def test_an_anthropic_agent_answers_through_the_sdk(
    runtime: httpx.AsyncClient, user: Headers, loopback: Loopback
) -> None:
    agent = await _agent(
        runtime, user,
        {"provider": "anthropic", "model": "claude-test", "base_url": loopback.url},
    )  # fmt: skip

    answered = await _ask(runtime, user, agent)
    as_json = await _ask(runtime, user, agent, output="json")

    assert answered["status"] == "completed", answered["error_message"]
    assert answered["call"]["output_data"]["text"] == "you said: price of AAPL?"
    sent = loopback.requests[0]["headers"]  # the SDK sends the key as it sees fit
    assert "sk-ant-test" in (sent.get("x-api-key"), sent.get("authorization", "").split()[-1])
    assert loopback.requests[0]["body"]["system"] == "Be brief."
    assert as_json["status"] == "failed"
    assert "the answer is not JSON" in as_json["error_message"]


@pytest.fixture
async def keyless_runtime(
    committed_db: AsyncEngine, engine_database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A runtime app with no provider keys."""
    settings = runtime_settings(engine_database_url, openai_api_key=None, anthropic_api_key=None)
    async with client_of(settings) as client:
        yield client


async def test_an_agent_without_a_key_fails_naming_the_setting(
    keyless_runtime: httpx.AsyncClient,
) -> None:
    user = await login(keyless_runtime)
    agent = await _agent(keyless_runtime, user, {"provider": "openai", "model": "gpt-test"})

    answered = await _ask(keyless_runtime, user, agent)

    assert answered["status"] == "failed"
    assert (
        answered["error_message"] == "node call failed: no API key for openai: set OPENAI_API_KEY"
    )


async def test_a_workflow_that_cannot_run_fails_at_once_with_its_problems(
    runtime: httpx.AsyncClient, user: Headers, committed_db: AsyncEngine
) -> None:
    echo = await tool(runtime, user, "builtin", {"name": "echo"})
    workflow_id = await _one_tool(runtime, user, echo)
    async with committed_db.begin() as connection:  # a tool deleted after the graph was saved
        await connection.execute(
            text("UPDATE tools SET deleted_at = now() WHERE id = :id"), {"id": echo}
        )

    execution = await run_to_end(runtime, user, workflow_id)

    assert execution["status"] == "failed"
    assert execution["error_message"] == (
        "the workflow cannot run: nodes.call.tool_id: the tool is deleted or not usable by "
        "the owner"
    )
    assert execution["nodes"] == []
    inactive = await runtime.patch(
        f"/api/v1/workflows/{workflow_id}", json={"is_active": False}, headers=user
    )
    assert inactive.status_code == 200
    refused = await runtime.post(f"/api/v1/workflows/{workflow_id}/run", headers=user)
    assert refused.status_code == 409


async def test_an_output_over_the_limit_fails_the_node(
    committed_db: AsyncEngine, engine_database_url: str
) -> None:
    async with client_of(runtime_settings(engine_database_url, node_output_max_bytes=1024)) as api:
        user = await login(api)
        echo = await tool(api, user, "builtin", {"name": "echo"})
        big = await _run_call(api, user, await _one_tool(api, user, echo, {"blob": "x" * 2000}))

    assert big["status"] == "failed"
    assert (
        "the output cannot be kept: output.blob: larger than 1 KiB of JSON"
        in (big["error_message"])
    )


async def test_run_input_is_validated_and_nothing_is_written(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    echo = await tool(runtime, user, "builtin", {"name": "echo"})
    workflow_id = await _one_tool(runtime, user, echo)

    for body in ({"input": [1]}, {"input": {"deep": "x" * 70_000}}, {"other": 1}):
        response = await runtime.post(
            f"/api/v1/workflows/{workflow_id}/run", json=body, headers=user
        )
        assert response.status_code == 422, body
    listed = await runtime.get(f"/api/v1/executions?workflow_id={workflow_id}", headers=user)
    assert listed.json()["items"] == []
