"""Odd input on the execution routes answers 4xx, never 500."""

from __future__ import annotations

import base64
import json

import httpx

from tests.integration.test_api.conftest import Headers
from tests.integration.test_runtime.conftest import TRIGGER, start_run, tool, wait_for, workflow


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


async def test_odd_input_is_never_a_500(runtime: httpx.AsyncClient, user: Headers) -> None:
    echo = await tool(runtime, user, "builtin", {"name": "echo"})
    workflow_id = await workflow(
        runtime, user, [TRIGGER, {"name": "say", "node_type": "tool", "tool_id": echo}],
        [{"source": "start", "target": "say"}],
    )  # fmt: skip
    execution_id = await start_run(runtime, user, workflow_id)
    await wait_for(runtime, user, execution_id)
    cursors = [
        "x",
        "",
        "%%%",
        "a" * 199,
        _cursor(["9999-12-31T23:59:59-14:00", "0" * 32]),
        _cursor(["0001-01-01T00:00:00+14:00", "00000000-0000-0000-0000-000000000000"]),
        _cursor(["2020-01-01T00:00:00+00:00", "not-a-uuid"]),
        _cursor([1, 2]),
        _cursor({}),
        _cursor(["2020-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]),
        _cursor(["2020-01-01T00:00:00\u0000+00:00", "00000000-0000-0000-0000-000000000000"]),
    ]
    probes: list[tuple[str, str, object]] = [
        ("GET", "/api/v1/executions?status=nope", None),
        ("GET", "/api/v1/executions?status=", None),
        ("GET", "/api/v1/executions?limit=100000", None),
        ("GET", "/api/v1/executions?limit=-1", None),
        ("GET", "/api/v1/executions?workflow_id=nope", None),
        ("GET", "/api/v1/executions?schedule_id=" + "f" * 40, None),
        ("GET", "/api/v1/executions/nope", None),
        ("GET", "/api/v1/executions/00000000-0000-0000-0000-000000000000", None),
        ("GET", f"/api/v1/executions/{execution_id}/logs?limit=0", None),
        ("POST", f"/api/v1/executions/{execution_id}/cancel", None),
        ("POST", f"/api/v1/workflows/{workflow_id}/run", {"input": None}),
        ("POST", f"/api/v1/workflows/{workflow_id}/run", {"input": []}),
        ("POST", f"/api/v1/workflows/{workflow_id}/run", {"input": {"a": 2**70}}),
        ("POST", f"/api/v1/workflows/{workflow_id}/run", {"input": {"a": 1e308 * 10}}),
        ("POST", f"/api/v1/workflows/{workflow_id}/run", {"other": 1}),
        ("POST", f"/api/v1/workflows/{workflow_id}/run", [1]),
        ("POST", "/api/v1/workflows/nope/run", {}),
    ]
    probes += [("GET", f"/api/v1/executions?cursor={c}", None) for c in cursors]
    probes += [("GET", f"/api/v1/executions/{execution_id}/logs?cursor={c}", None) for c in cursors]
    answers = []
    for method, path, body in probes:
        if body is None:
            response = await runtime.request(method, path, headers=user)
        else:
            raw = json.dumps(body, allow_nan=True)
            response = await runtime.request(
                method, path, content=raw, headers={**user, "Content-Type": "application/json"}
            )
        answers.append((method, path[:90], response.status_code))
    raw_surrogate = '{"input": {"a": "\\ud800"}}'
    response = await runtime.post(
        f"/api/v1/workflows/{workflow_id}/run", content=raw_surrogate,
        headers={**user, "Content-Type": "application/json"},
    )  # fmt: skip
    answers.append(("POST", "run with a lone surrogate", response.status_code))
    assert [a for a in answers if a[2] >= 500] == [], answers
