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
import zlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

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
_DRAIN_SECONDS = 2.0
# What a shell tool's program sees of the environment: never the worker's own (it holds the
# database URL, the encryption keys and the provider keys).
_SHELL_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}


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
    _same_origin(config.url, str(url))
    headers.setdefault("Accept-Encoding", "gzip, deflate")
    limit = call.services.settings.node_output_max_bytes
    try:
        request = call.services.http.build_request(
            config.method, str(url), headers=headers, params=query,
            json=body, timeout=config.timeout_seconds,
        )  # fmt: skip
        response = await call.services.http.send(request, auth=auth, stream=True)
        try:
            content = await _read_body(response, limit)
        finally:
            await response.aclose()
    except httpx.TimeoutException:
        raise NodeError(f"timeout after {config.timeout_seconds:g} s", retryable=True) from None
    except (httpx.LocalProtocolError, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        # Never the exception's text: it can quote a header, and headers carry the auth.
        raise NodeError(f"the request cannot be sent: {type(exc).__name__}") from None
    except httpx.TransportError as exc:
        raise NodeError(f"request failed: {type(exc).__name__}: {exc}", retryable=True) from None
    if response.status_code >= 400:
        raise NodeError(
            f"HTTP {response.status_code} from {request.url.host}",
            retryable=response.status_code >= 500 or response.status_code in (408, 429),
        )
    output: dict[str, Any] = {"status": response.status_code, "headers": dict(response.headers)}
    try:
        text = content.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = content.decode("utf-8", errors="replace")
    try:
        output["json"] = json.loads(text) if text else None
    except (ValueError, RecursionError):
        output["text"] = text
    return output


def _same_origin(configured: str, rendered: str) -> None:
    """The filled URL goes where the tool says: templates fill the path, query and
    fragment only (`check_url`, run when the config is parsed, keeps them out of the
    scheme, host and port), and filling them must not move it either."""
    fixed = urlsplit(configured.split("{{", 1)[0])
    sent = urlsplit(rendered)
    if (sent.scheme.lower(), sent.netloc.lower()) != (fixed.scheme.lower(), fixed.netloc.lower()):
        raise NodeError(f"config.url: the filled URL leaves {fixed.scheme}://{fixed.netloc}")


async def _read_body(response: httpx.Response, limit: int) -> bytes:
    """The answer's body, decompressed, at most `limit` bytes (a small compressed answer
    cannot make a large one in memory)."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        decoder = None
    elif encoding == "gzip":
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    else:
        raise NodeError(f"the response's Content-Encoding {encoding!r} is not supported")
    content = bytearray()
    try:
        async for chunk in response.aiter_raw():
            content += decoder.decompress(chunk, limit + 1 - len(content)) if decoder else chunk
            if len(content) > limit:
                raise NodeError(f"the response is larger than {limit} bytes")
    except zlib.error as exc:
        raise NodeError(f"the response is not valid {encoding}: {exc}") from None
    return bytes(content)


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
    defined_in = getattr(target, "__module__", None)
    if defined_in != module_name:
        raise NodeError(
            f"{config.callable} is defined in {defined_in}, not in {module_name}; only what "
            f"{module_name} itself defines can be called"
        )
    try:
        if inspect.iscoroutinefunction(target):
            result = await target(**parameters)
        else:
            result = await asyncio.to_thread(target, **parameters)
    except (NodeError, asyncio.CancelledError):
        raise
    except BaseException as exc:  # SystemExit too: a tool must not end the worker
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
            stderr=asyncio.subprocess.PIPE, start_new_session=True, env=_SHELL_ENV,
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
    cancel, children left behind), then read its pipes to the end so the process can be
    reaped; a descendant that left the group and holds the pipes is not waited for."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)

    async def drain() -> None:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                while await stream.read(65_536):
                    pass

    try:
        await asyncio.wait_for(drain(), _DRAIN_SECONDS)
    except TimeoutError:
        transport = getattr(process, "_transport", None)  # close the pipes it still holds
        if transport is not None:
            transport.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), _DRAIN_SECONDS)


async def _mcp(call: NodeCall, tool: ToolSpec, parameters: dict[str, Any]) -> dict[str, Any]:
    raise NodeError("mcp tools are not supported yet")


_RUNNERS: dict[str, Callable[[NodeCall, ToolSpec, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "builtin": _builtin,
    "http": _http,
    "python": _python,
    "shell": _shell,
    "mcp": _mcp,
}
