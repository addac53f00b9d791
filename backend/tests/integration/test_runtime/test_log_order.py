"""The log of an execution, oldest first, ends with its end."""

from __future__ import annotations

import httpx

from tests.integration.test_api.conftest import Headers
from tests.integration.test_runtime.conftest import TRIGGER, run_to_end, tool, workflow


async def test_the_log_reads_in_the_order_it_was_written(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    sleep = await tool(runtime, user, "builtin", {"name": "sleep"})
    workflow_id = await workflow(
        runtime, user,
        [TRIGGER, {"name": "b", "node_type": "tool", "tool_id": sleep,
                   "config": {"parameters": {"seconds": 0.05}}}],
        [{"source": "start", "target": "b"}],
    )  # fmt: skip
    wrong = []
    for _ in range(30):
        execution = await run_to_end(runtime, user, workflow_id)
        logs = await runtime.get(f"/api/v1/executions/{execution['id']}/logs", headers=user)
        lines = [(line["timestamp"], line["message"]) for line in logs.json()["items"]]
        if lines[-1][1] != "execution completed":
            wrong.append(lines)
    assert wrong == [], wrong[0]
