"""What a tool is configured with, by `tool_type`, and its write-only auth (runtime.md,
"Configurations"). Credentials live only in `auth_config`, sealed at rest; a config that
carries one in plain sight is refused."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, FiniteFloat, SecretStr, field_validator

from app.core.credentials import find_credential, names_credential
from app.core.errors import FieldValidationError
from app.core.secret_box import SecretBox
from app.graphs.expressions import TEMPLATE, check_templates
from app.graphs.shapes import StrictShape, parse_shape

BUILTIN_TOOLS = ("echo", "sleep", "fail")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_URL_LENGTH = 2048
MAX_HTTP_TIMEOUT_SECONDS = 300.0
MAX_ARGV = 100
# Headers that carry credentials or are the HTTP client's own business.
_RESERVED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "host", "content-length"}
)
_CALLABLE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")

Text = Annotated[str, Field(max_length=4096)]


def check_url(url: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """`url` when it is absolute with one of `schemes` and a host (templates allowed)."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"longer than {MAX_URL_LENGTH} characters")
    filled = TEMPLATE.sub("x", url)
    try:
        parts = urlsplit(filled)
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"must be an absolute URL with scheme {' or '.join(schemes)}")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in a URL are refused; use auth_config")
    if any(ch.isspace() or ord(ch) < 32 for ch in filled):
        raise ValueError("must not contain spaces or control characters")
    static = url.split("{{", 1)[0]
    if "{{" in url:
        fixed = urlsplit(static)
        after_host = static[len(f"{fixed.scheme}://{fixed.netloc}") :]
        if not (fixed.netloc and after_host[:1] in ("/", "?", "#")):
            raise ValueError(
                "templates may fill the path, query or fragment, not the scheme, host or port"
            )
    return url


class HttpToolConfig(StrictShape):
    """An HTTP request; url, headers, query and body may hold templates."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str
    headers: dict[str, Text] = Field(default_factory=dict, max_length=100)
    query: dict[str, Text] = Field(default_factory=dict, max_length=100)
    body: Any = None
    timeout_seconds: FiniteFloat = Field(default=10.0, gt=0, le=MAX_HTTP_TIMEOUT_SECONDS)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("headers")
    @classmethod
    def _plain_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if name.lower() in _RESERVED_HEADERS or names_credential(name):
                raise ValueError(
                    f"header {name!r} carries credentials or is set by the client; "
                    "put credentials in auth_config, which is encrypted"
                )
        return value

    @field_validator("query")
    @classmethod
    def _plain_query(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if names_credential(name):
                raise ValueError(
                    f"query parameter {name!r} names a credential; put it in auth_config"
                )
        return value


class PythonToolConfig(StrictShape):
    """A Python callable, `package.module:function` (run only when allow-listed)."""

    callable: str = Field(max_length=500)

    @field_validator("callable")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _CALLABLE.fullmatch(value):
            raise ValueError("must be a 'package.module:function' path")
        return value


class BuiltinToolConfig(StrictShape):
    """One of the built-in tools (echo, sleep, fail)."""

    name: Literal["echo", "sleep", "fail"]


class ShellToolConfig(StrictShape):
    """A program and its arguments, run without a shell (off unless enabled)."""

    argv: list[Text] = Field(min_length=1, max_length=MAX_ARGV)

    @field_validator("argv")
    @classmethod
    def _program(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise ValueError("the first item must name the program")
        return value


class McpToolConfig(StrictShape):
    """A tool of an MCP server (stored; not runnable yet)."""

    server_url: str
    tool_name: str = Field(min_length=1, max_length=255)

    @field_validator("server_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)


TOOL_CONFIGS: dict[str, type[StrictShape]] = {
    "http": HttpToolConfig,
    "python": PythonToolConfig,
    "builtin": BuiltinToolConfig,
    "shell": ShellToolConfig,
    "mcp": McpToolConfig,
}


def parse_tool_config(tool_type: str, raw: object, field: str = "config") -> StrictShape:
    """`raw` validated as the config of a `tool_type` tool, templates parsed."""
    model = TOOL_CONFIGS[str(tool_type)]
    config = parse_shape(model, raw, field, f"a tool of type {tool_type}")
    if isinstance(config, HttpToolConfig):
        if (found := find_credential(config.body, f"{field}.body")) is not None:
            raise FieldValidationError(
                found, "names a credential; put credentials in auth_config, which is encrypted"
            )
        check_templates(config.model_dump(include={"url", "headers", "query", "body"}), field)
    return config


def _header_safe(value: SecretStr) -> SecretStr:
    """A secret that goes into an HTTP header: no control characters (a newline would also
    make the HTTP client quote it in an error)."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value.get_secret_value()):
        raise ValueError("must not contain control characters (such as a newline)")
    return value


class BearerAuth(StrictShape):
    """`Authorization: Bearer <token>`."""

    type: Literal["bearer"]
    token: SecretStr = Field(min_length=1, max_length=8192)

    _token = field_validator("token")(classmethod(lambda cls, value: _header_safe(value)))


class HeaderAuth(StrictShape):
    """A header of your choosing, e.g. `X-Api-Key: <value>`."""

    type: Literal["header"]
    name: str = Field(pattern=_HEADER_NAME.pattern)
    value: SecretStr = Field(min_length=1, max_length=8192)

    _value = field_validator("value")(classmethod(lambda cls, value: _header_safe(value)))


class BasicAuth(StrictShape):
    """HTTP basic authentication."""

    type: Literal["basic"]
    username: str = Field(min_length=1, max_length=255)
    password: SecretStr = Field(min_length=0, max_length=8192)


AuthConfig = BearerAuth | HeaderAuth | BasicAuth
AUTH_TYPES: dict[str, type[StrictShape]] = {
    "bearer": BearerAuth,
    "header": HeaderAuth,
    "basic": BasicAuth,
}
AUTH_FIELD = "auth_config"


def parse_auth_config(raw: object, field: str = AUTH_FIELD) -> AuthConfig:
    """`raw` validated as one of the auth kinds (by its `type`)."""
    if not isinstance(raw, Mapping):
        raise FieldValidationError(field, "must be a JSON object")
    kind = raw.get("type")
    model = AUTH_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise FieldValidationError(f"{field}.type", f"must be one of {', '.join(AUTH_TYPES)}")
    parsed = parse_shape(model, raw, field, f"{kind} auth")
    assert isinstance(parsed, BearerAuth | HeaderAuth | BasicAuth)
    return parsed


def _plain(auth: AuthConfig) -> dict[str, Any]:
    return {
        key: value.get_secret_value() if isinstance(value, SecretStr) else value
        for key, value in auth
    }


def seal_auth(box: SecretBox, auth: AuthConfig) -> dict[str, str]:
    """What the `auth_config` column stores: the kind in the clear, the rest sealed."""
    return {"type": auth.type, "sealed": box.seal(_plain(auth))}


def open_auth(box: SecretBox, stored: Mapping[str, Any]) -> AuthConfig:
    """The auth config sealed in a stored `auth_config` (in the worker, never in a reply)."""
    return parse_auth_config(box.open(str(stored["sealed"])))


def auth_type(stored: Mapping[str, Any] | None) -> str | None:
    """Which kind of auth a stored `auth_config` holds (what the API may say about it)."""
    if not stored:
        return None
    kind = stored.get("type")
    return kind if isinstance(kind, str) else None
