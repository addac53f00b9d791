"""The runtime under test: the app with a worker inside (as `make run` runs it), a loopback
HTTP server for HTTP tools and provider SDKs, and helpers to build and run workflows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from app.main import create_app
from tests.integration.test_api.conftest import JWT_SECRET, Headers, login

FINISHED = {"completed", "failed", "cancelled", "skipped"}


@dataclass
class Loopback:
    """A real HTTP server on 127.0.0.1 whose answers the tests script."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures_left: dict[str, int] = field(default_factory=dict)


def _handler(loopback: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            path = self.path.split("?")[0]
            loopback.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": httpx.Headers(dict(self.headers)),
                    "body": body,
                }
            )
            if path.startswith("/quote/"):
                self._answer(200, {"symbol": path.rsplit("/", 1)[1], "price": 90})
            elif path == "/flaky":
                left = loopback.failures_left.get("/flaky", 0)
                if left > 0:
                    loopback.failures_left["/flaky"] = left - 1
                    self._answer(503, {"error": "busy"})
                else:
                    self._answer(200, {"ok": True})
            elif path == "/missing":
                self._answer(404, {"error": "no such thing"})
            elif path == "/slow":
                time.sleep(3)
                self._answer(200, {"slow": True})
            elif path == "/text":
                self._answer(200, b"plain words", "text/plain")
            elif path == "/v1/chat/completions":
                prompt = body["messages"][-1]["content"]
                answer = json.dumps({"echo": prompt})
                self._answer(200, {
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 1,
                    "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer}}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
                })  # fmt: skip
            elif path == "/v1/messages":
                prompt = body["messages"][-1]["content"]
                self._answer(200, {
                    "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                    "content": [{"type": "text", "text": f"you said: {prompt}"}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": 3, "output_tokens": 4},
                })  # fmt: skip
            else:
                self._answer(200, {"path": self.path, "body": body})

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

    return Handler


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    """A scripted HTTP server on loopback."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    loopback = Loopback(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(loopback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield loopback
    server.shutdown()
    server.server_close()


def runtime_settings(database_url: str, loopback_url: str = "", **overrides: Any) -> Settings:
    """Settings of an app whose worker runs executions quickly enough for tests."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "scheduler_enabled": False,
        "worker_enabled": True,
        "jwt_secret": JWT_SECRET,
        "worker_stall_seconds": 2.0,
        "worker_shutdown_grace_seconds": 5.0,
        "python_tool_allowlist": ["tests.integration.test_runtime.callables:*"],
        "openai_api_key": SecretStr("sk-test-openai"),
        "anthropic_api_key": SecretStr("sk-ant-test"),
        "llm_allowed_base_urls": [loopback_url, loopback_url + "/v1"] if loopback_url else [],
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def runtime(
    committed_db: AsyncEngine, engine_database_url: str, loopback: Loopback
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that runs a worker, on an emptied database."""
    async with client_of(runtime_settings(engine_database_url, loopback.url)) as client:
        yield client


@contextlib.asynccontextmanager
async def client_of(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app built from `settings`, its lifespan (and worker) running."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def user(runtime: httpx.AsyncClient) -> Headers:
    """A logged-in user of the runtime app."""
    return await login(runtime)


async def create(api: httpx.AsyncClient, headers: Headers, path: str, body: dict[str, Any]) -> str:
    """POST a body; the new object's id."""
    response = await api.post(f"/api/v1/{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: str = response.json()["id"]
    return created


async def tool(
    api: httpx.AsyncClient, headers: Headers, tool_type: str, config: dict[str, Any], **extra: Any
) -> str:
    """A new tool's id."""
    body = {
        "name": f"{tool_type}-{time.monotonic_ns()}",
        "tool_type": tool_type,
        "config": config,
        **extra,
    }
    return await create(api, headers, "tools", body)


async def workflow(
    api: httpx.AsyncClient, headers: Headers, nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]], **fields: Any,
) -> str:  # fmt: skip
    """A new workflow with this graph; its id."""
    workflow_id = await create(api, headers, "workflows", {"name": "wf", **fields})
    graph = await api.get(f"/api/v1/workflows/{workflow_id}/graph", headers=headers)
    saved = await api.put(
        f"/api/v1/workflows/{workflow_id}/graph",
        json={"version": graph.json()["version"], "nodes": nodes, "edges": edges},
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    return workflow_id


async def start_run(
    api: httpx.AsyncClient,
    headers: Headers,
    workflow_id: str,
    run_input: dict[str, Any] | None = None,
) -> str:
    """POST /workflows/{id}/run; the execution's id."""
    response = await api.post(
        f"/api/v1/workflows/{workflow_id}/run", json={"input": run_input or {}}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    execution_id: str = response.json()["id"]
    return execution_id


async def wait_for(
    api: httpx.AsyncClient, headers: Headers, execution_id: str, statuses: set[str] = FINISHED,
    limit: float = 30.0,
) -> dict[str, Any]:  # fmt: skip
    """The execution once its status is one of `statuses` (fails after `limit` seconds)."""
    deadline = time.monotonic() + limit
    while True:
        response = await api.get(f"/api/v1/executions/{execution_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"still {body['status']} after {limit} s: {body}"
        await asyncio.sleep(0.1)


async def run_to_end(
    api: httpx.AsyncClient,
    headers: Headers,
    workflow_id: str,
    run_input: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the workflow and wait for its execution to finish."""
    return await wait_for(api, headers, await start_run(api, headers, workflow_id, run_input))


def nodes_by_name(execution: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The execution's node runs grouped by node name."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for node in execution["nodes"]:
        grouped.setdefault(node["node_name"], []).append(node)
    return grouped


TRIGGER = {"name": "start", "node_type": "trigger"}


# -- runners driven by hand (an app with no worker) ----------------------------------------


@pytest.fixture
def settings(engine_database_url: str) -> Settings:
    """Settings of an app with no worker: the test runs executions with runners of its own
    (a module may define its own `settings` and `api`)."""
    return runtime_settings(engine_database_url, worker_enabled=False)


@pytest.fixture
async def api(committed_db: AsyncEngine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with no worker."""
    async with client_of(settings) as client:
        yield client


async def napper(api: httpx.AsyncClient, headers: Headers, seconds: float) -> str:
    """A workflow start -> nap (builtin sleep of `seconds`); its id."""
    sleep = await tool(api, headers, "builtin", {"name": "sleep"})
    return await workflow(
        api, headers,
        [TRIGGER, {"name": "nap", "node_type": "tool", "tool_id": sleep,
                   "config": {"parameters": {"seconds": seconds}}}],
        [{"source": "start", "target": "nap"}],
    )  # fmt: skip


async def node_statuses(db: AsyncEngine, execution_id: str) -> list[str]:
    """The execution's node runs as "name:status", in start order."""
    async with db.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT n.name, ne.status FROM node_executions ne JOIN nodes n ON n.id = "
                "ne.node_id WHERE ne.workflow_execution_id = :id ORDER BY ne.started_at"
            ),
            {"id": execution_id},
        )
        return [f"{name}:{status}" for name, status in rows]
