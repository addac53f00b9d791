"""Work a user's input could make unbounded is bounded: expressions whose values double,
shell programs that leave daemons behind (found by a hostile review)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_api.conftest import Headers, login
from tests.integration.test_runtime.conftest import (
    TRIGGER,
    client_of,
    run_to_end,
    runtime_settings,
    tool,
    workflow,
)

# Each `| {a:@,b:@}` doubles the value's size while the expression grows by 12 characters.
DOUBLINGS = "`1`" + " | {a:@,b:@}" * 60
DOUBLINGS_40 = "`1`" + " | {a:@,b:@}" * 40  # inside a function call: depth stays under 64
WRITTEN_OUT = f"length(to_string({DOUBLINGS_40})) > `0`"


async def test_an_expression_that_doubles_its_value_60_times_fails_its_node_quickly(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    """2**60 leaves, as an adapter's output or written out by to_string() or a template:
    each check stops at its limit instead of writing the value out."""
    echo = await tool(runtime, user, "builtin", {"name": "echo"})
    for node in (
        {"name": "bomb", "node_type": "adapter", "config": {"mapping": {"x": DOUBLINGS}}},
        {"name": "bomb", "node_type": "condition",
         "config": {"branches": [{"name": "big", "when": WRITTEN_OUT}], "default": "small"}},
        {"name": "bomb", "node_type": "tool", "tool_id": echo,
         "config": {"parameters": {"x": f"text {{{{ {DOUBLINGS} }}}}"}}},
    ):  # fmt: skip
        workflow_id = await workflow(
            runtime, user, [TRIGGER, node], [{"source": "start", "target": "bomb"}]
        )
        execution = await run_to_end(runtime, user, workflow_id)
        assert execution["status"] == "failed", node
        assert "larger than 1024 KiB of JSON" in execution["error_message"]


# -- a shell tool's timeout ------------------------------------------------------------


@pytest.fixture
async def shell_api(
    committed_db: AsyncEngine, engine_database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(runtime_settings(engine_database_url, shell_tools_enabled=True)) as client:
        yield client


async def test_a_shell_tool_whose_child_leaves_a_daemon_still_times_out(
    shell_api: httpx.AsyncClient,
) -> None:
    """`setsid sleep 20`: setsid forks (the child already leads a session), the parent exits
    0 at once, the sleeper keeps stdout and stderr open in a session of its own. The read
    waits for EOF; at the timeout _end sees the child exited (no killpg, which could not
    reach another session anyway) and reads the pipes 'to the end': the node runs 20 s
    under a 1 s timeout (with `sleep infinity`, forever)."""
    user = await login(shell_api)
    daemon = await tool(shell_api, user, "shell", {"argv": ["setsid", "sleep", "20"]})
    workflow_id = await workflow(
        shell_api, user,
        [TRIGGER, {"name": "call", "node_type": "tool", "tool_id": daemon, "timeout_seconds": 1}],
        [{"source": "start", "target": "call"}],
    )  # fmt: skip
    began = time.monotonic()
    execution = await run_to_end(shell_api, user, workflow_id)
    took = time.monotonic() - began
    assert took < 5, f"a 1 s timeout took {took:.0f} s: {execution['error_message']}"
