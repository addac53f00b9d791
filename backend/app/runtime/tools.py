"""Tool nodes, one runner per `tool_type` (runtime.md, "Node types": `tool`)."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import importlib
import inspect
import json
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from jmespath.exceptions import JMESPathError

from app.graphs.expressions import render
from app.graphs.tool_configs import (
    BasicAuth,
    BearerAuth,
    BuiltinToolConfig,
    HeaderAuth,
    HttpToolConfig,
    PythonToolConfig,
    ShellToolConfig,
    open_auth,
    parse_tool_config,
)
from app.runtime.calls import NodeCall, NodeError, ToolSpec

MAX_SLEEP_SECONDS = 3600.0


def render_over(value: Any, data: dict[str, Any], where: str) -> Any:
    """`value` with its templates filled over `data`; an expression that fails on this
    data fails the node (not retryable: the same data fails again)."""
    try:
        return render(value, data)
    except (JMESPathError, TypeError, ValueError) as exc:
        raise NodeError(f"{where}: {exc}") from None


async def run_tool(call: NodeCall, parameters: dict[str, Any]) -> dict[str, Any]:
    """Call the node's tool with its rendered parameters; the tool's output."""
    tool = call.node.tool
    if tool is None:
        raise NodeError("the node's tool no longer exists")
    runner = _RUNNERS.get(tool.tool_type)
    if runner is None:
        raise NodeError(f"{tool.tool_type} tools are not supported yet")
    return await runner(call, tool, parameters)


async def _builtin(call: NodeCall, tool: ToolSpec, parameters: dict[str, Any]) -> dict[str, Any]:
    config = parse_tool_config("builtin", tool.config)
    assert isinstance(config, BuiltinToolConfig)
    if config.name == "echo":
        return parameters
    if config.name == "sleep":
        seconds = parameters.get("seconds", 1)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise NodeError("sleep: parameters.seconds must be a number")
        if not 0 <= seconds <= MAX_SLEEP_SECONDS:
            raise NodeError(f"sleep: parameters.seconds must be 0-{MAX_SLEEP_SECONDS:g}")
        await asyncio.sleep(seconds)
        return {"slept": seconds}
    raise NodeError(str(parameters.get("message", "failed on purpose")))


async def _http(call: NodeCall, tool: ToolSpec, parameters: dict[str, Any]) -> dict[str, Any]:
    config = parse_tool_config("http", tool.config)
    assert isinstance(config, HttpToolConfig)
    data = {**call.input, "parameters": parameters}
    url = render_over(config.url, data, "config.url")
    headers = {
        k: str(render_over(v, data, f"config.headers.{k}")) for k, v in config.headers.items()
    }
    query = {k: render_over(v, data, f"config.query.{k}") for k, v in config.query.items()}
    body = render_over(config.body, data, "config.body") if config.body is not None else None
    if body is None and config.method in ("POST", "PUT", "PATCH") and parameters:
        body = parameters
    headers["Idempotency-Key"] = call.idempotency_key
    auth: httpx.Auth | None = None
    if tool.auth_config:
        opened = open_auth(call.services.secret_box, tool.auth_config)
        if isinstance(opened, BearerAuth):
            headers["Authorization"] = f"Bearer {opened.token.get_secret_value()}"
        elif isinstance(opened, HeaderAuth):
            headers[opened.name] = opened.value.get_secret_value()
        elif isinstance(opened, BasicAuth):
            auth = httpx.BasicAuth(opened.username, opened.password.get_secret_value())
    limit = call.services.settings.node_output_max_bytes
    try:
        request = call.services.http.build_request(
            config.method, str(url), headers=headers, params=query,
            json=body, timeout=config.timeout_seconds,
        )  # fmt: skip
        response = await call.services.http.send(request, auth=auth, stream=True)
        try:
            content = bytearray()
            async for chunk in response.aiter_bytes():
                content += chunk
                if len(content) > limit:
                    raise NodeError(f"the response is larger than {limit} bytes")
        finally:
            await response.aclose()
    except httpx.TimeoutException:
        raise NodeError(f"timeout after {config.timeout_seconds:g} s", retryable=True) from None
    except (httpx.TransportError, httpx.InvalidURL) as exc:
        retryable = isinstance(exc, httpx.TransportError)
        raise NodeError(
            f"request failed: {type(exc).__name__}: {exc}", retryable=retryable
        ) from None
    if response.status_code >= 400:
        raise NodeError(
            f"HTTP {response.status_code} from {request.url.host}",
            retryable=response.status_code >= 500 or response.status_code in (408, 429),
        )
    output: dict[str, Any] = {"status": response.status_code, "headers": dict(response.headers)}
    text = content.decode(response.encoding or "utf-8", errors="replace")
    try:
        output["json"] = json.loads(text) if text else None
    except ValueError:
        output["text"] = text
    return output


async def _python(call: NodeCall, tool: ToolSpec, parameters: dict[str, Any]) -> dict[str, Any]:
    config = parse_tool_config("python", tool.config)
    assert isinstance(config, PythonToolConfig)
    allowed = call.services.settings.python_tool_allowlist
    if not any(fnmatch.fnmatchcase(config.callable, pattern) for pattern in allowed):
        raise NodeError(
            f"{config.callable} is not allowed: add it to PYTHON_TOOL_ALLOWLIST to run it"
        )
    module_name, _, attribute = config.callable.partition(":")
    parts = attribute.split(".")
    if any(part.startswith("_") for part in parts):
        raise NodeError(f"{config.callable}: private names cannot be called")
    try:
        target: Any = importlib.import_module(module_name)
        for part in parts:
            target = getattr(target, part)
            if inspect.ismodule(target):  # e.g. allowed:os.system through an import
                raise NodeError(
                    f"{config.callable} reaches into the module {target.__name__}; only "
                    f"what {module_name} itself defines can be called"
                )
    except (ImportError, AttributeError) as exc:
        raise NodeError(f"{config.callable} cannot be loaded: {exc}") from None
    if not callable(target):
        raise NodeError(f"{config.callable} is not callable")
    try:
        if inspect.iscoroutinefunction(target):
            result = await target(**parameters)
        else:
            result = await asyncio.to_thread(target, **parameters)
    except NodeError:
        raise
    except Exception as exc:
        raise NodeError(f"{config.callable} raised {type(exc).__name__}: {exc}") from None
    return result if isinstance(result, dict) else {"result": result}


async def _shell(call: NodeCall, tool: ToolSpec, parameters: dict[str, Any]) -> dict[str, Any]:
    if not call.services.settings.shell_tools_enabled:
        raise NodeError("shell tools are disabled: set SHELL_TOOLS_ENABLED=true to run them")
    config = parse_tool_config("shell", tool.config)
    assert isinstance(config, ShellToolConfig)
    data = {**call.input, "parameters": parameters}
    argv = [str(render_over(arg, data, f"config.argv[{i}]")) for i, arg in enumerate(config.argv)]
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        raise NodeError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    limit = call.services.settings.node_output_max_bytes
    readers = [
        asyncio.ensure_future(_read_at_most(process.stdout, limit)),
        asyncio.ensure_future(_read_at_most(process.stderr, limit)),
    ]
    try:
        stdout, stderr = await asyncio.gather(*readers)
        await process.wait()
    finally:
        for reader in readers:
            reader.cancel()
        await _end(process)
    output = {
        "exit_code": process.returncode,
        "stdout": stdout.decode(errors="replace"),
        "stderr": stderr.decode(errors="replace"),
    }
    if process.returncode != 0:
        raise NodeError(f"exit code {process.returncode}: {stderr.decode(errors='replace')[-500:]}")
    return output


async def _read_at_most(stream: asyncio.StreamReader | None, limit: int) -> bytes:
    """What a child writes to `stream` until it closes it; a NodeError past `limit` bytes,
    so a chatty program cannot fill the worker's memory."""
    if stream is None:
        return b""
    data = bytearray()
    while chunk := await stream.read(65_536):
        data += chunk
        if len(data) > limit:
            raise NodeError(f"the output is larger than {limit} bytes")
    return bytes(data)


async def _end(process: asyncio.subprocess.Process) -> None:
    """Kill what is left of the program's process group (a timeout, too much output, a
    cancel), then read its pipes to the end so the process can be reaped."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            while await stream.read(65_536):
                pass
    await process.wait()


async def _mcp(call: NodeCall, tool: ToolSpec, parameters: dict[str, Any]) -> dict[str, Any]:
    raise NodeError("mcp tools are not supported yet")


_RUNNERS: dict[str, Callable[[NodeCall, ToolSpec, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "builtin": _builtin,
    "http": _http,
    "python": _python,
    "shell": _shell,
    "mcp": _mcp,
}
