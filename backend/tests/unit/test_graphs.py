"""The pure workflow graph domain (app.graphs) and the secret box it seals auth with.

Every refusal is a FieldValidationError whose field names where the problem is (down to
the key or list item) and whose reason says what is wrong, so a user can find and fix it.
No database, no HTTP: everything here is plain values in, plain values out.
"""

from __future__ import annotations

import inspect
import math
import re
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import combinations, pairwise
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.core.errors import FieldValidationError
from app.core.secret_box import SecretBox, SecretUnreadableError, generate_key, parse_keys
from app.graphs.expressions import (
    MAX_EXPRESSION_LENGTH,
    check_templates,
    evaluate,
    parse_expression,
    render,
    template_expressions,
)
from app.graphs.llm_configs import LLMConfig, parse_llm_config
from app.graphs.node_configs import (
    MAX_ATTEMPTS,
    MAX_BRANCHES,
    NAME_RULE,
    NODE_CONFIGS,
    AdapterNodeConfig,
    AgentNodeConfig,
    AggregatorNodeConfig,
    ConditionNodeConfig,
    EmptyConfig,
    RetryConfig,
    ToolNodeConfig,
    parse_node_config,
    parse_retry_config,
    valid_name,
)
from app.graphs.rules import (
    MAX_EDGES,
    MAX_NODES,
    GraphEdge,
    GraphNode,
    run_problems,
    shape_problems,
)
from app.graphs.tool_configs import (
    AUTH_TYPES,
    BUILTIN_TOOLS,
    HTTP_METHODS,
    MAX_ARGV,
    MAX_HTTP_TIMEOUT_SECONDS,
    MAX_URL_LENGTH,
    TOOL_CONFIGS,
    BasicAuth,
    BearerAuth,
    BuiltinToolConfig,
    HeaderAuth,
    HttpToolConfig,
    McpToolConfig,
    PythonToolConfig,
    ShellToolConfig,
    auth_type,
    open_auth,
    parse_auth_config,
    parse_tool_config,
    seal_auth,
)
from app.models.enums import ModelProvider, NodeType, ToolType

NAN = math.nan
INF = math.inf
# Looks like an OpenAI key: "sk-" and 30 letters.
KEY_LIKE = "sk-" + "abcdefghij" * 3


def refused(call: Callable[[], object]) -> FieldValidationError:
    """The FieldValidationError `call` raises (it must raise one)."""
    with pytest.raises(FieldValidationError) as info:
        call()
    error = info.value
    assert isinstance(error, ValueError)
    assert error.errors[0] == (error.field, error.reason)
    return error


def names(error: FieldValidationError, field: str) -> bool:
    """True when the error is about exactly `field` and its message starts with it."""
    return error.field == field and str(error).startswith(f"{field}: ")


@contextmanager
def recursion_headroom(frames: int) -> Iterator[None]:
    """Only `frames` more stack frames allowed than are in use now: code that recursed once
    per node or per nesting level would hit RecursionError."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def literal_values(model: type[Any], field: str) -> tuple[object, ...]:
    """The values of a Literal-typed pydantic field."""
    annotation = model.model_fields[field].annotation
    return typing.get_args(annotation)


# == The string tuples of app.graphs match the stored enums ===============================


def test_tool_config_kinds_are_exactly_the_tool_types() -> None:
    assert set(TOOL_CONFIGS) == {member.value for member in ToolType}


def test_node_config_kinds_are_exactly_the_node_types() -> None:
    assert set(NODE_CONFIGS) == {member.value for member in NodeType}


def test_llm_providers_are_exactly_the_model_providers() -> None:
    assert set(literal_values(LLMConfig, "provider")) == {member.value for member in ModelProvider}


def test_builtin_names_and_http_methods_match_their_literals() -> None:
    assert literal_values(BuiltinToolConfig, "name") == BUILTIN_TOOLS
    assert literal_values(HttpToolConfig, "method") == HTTP_METHODS


def test_auth_kinds_match_each_model_type_literal() -> None:
    for kind, model in AUTH_TYPES.items():
        assert literal_values(model, "type") == (kind,)


def test_configs_are_found_by_enum_member_as_well_as_by_text() -> None:
    config = parse_tool_config(ToolType.BUILTIN, {"name": "echo"})
    node = parse_node_config(NodeType.AGGREGATOR, {})

    assert isinstance(config, BuiltinToolConfig)
    assert isinstance(node, AggregatorNodeConfig)


# == Expressions: parse_expression =========================================================


@pytest.mark.parametrize(
    ("expression", "data", "value"),
    [
        ("a", {"a": 1}, 1),
        ("a.b[0]", {"a": {"b": [7, 8]}}, 7),
        ("items[?price > `10`].name", {"items": [{"price": 5}, {"price": 20, "name": "x"}]}, ["x"]),
        ("length(items)", {"items": [1, 2, 3]}, 3),
        ("merge(a, b, c)", {"a": {"x": 1}, "b": {"y": 2}, "c": {}}, {"x": 1, "y": 2}),
        ("not_null(a, b)", {"b": 2}, 2),
        ("sort_by(items, &n)[0].n", {"items": [{"n": 3}, {"n": 1}]}, 1),
        ("a && b || !c", {"a": True, "b": False, "c": False}, True),
        ("  a.b  ", {"a": {"b": "padded"}}, "padded"),
        ('`{"k": [1, 2]}`', {}, {"k": [1, 2]}),
    ],
)
def test_valid_expressions_parse_to_what_they_compute(
    expression: str, data: object, value: object
) -> None:
    parsed = parse_expression(expression, "config.when")

    assert parsed.search(data) == value


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("a[", "incomplete expression at character 2"),
        ("a ||", "incomplete expression at character 4"),
        ("a..b", "unexpected '.' at character 2"),
        ("a b", "unexpected 'b' at character 2"),
        ("`foo", "Unclosed ` delimiter at character 0"),
    ],
)
def test_syntax_errors_are_refused_saying_where(expression: str, reason: str) -> None:
    error = refused(lambda: parse_expression(expression, "config.when"))

    assert names(error, "config.when")
    assert error.reason == f"not a valid JMESPath expression: {reason}"


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("foo(a)", "unknown function foo()"),
        ("a.shout(b)", "unknown function shout()"),
        ("abs(a, b)", "abs() takes 1 argument(s), 2 given"),
        ("length()", "length() takes 1 argument(s), 0 given"),
        ("starts_with(a)", "starts_with() takes 2 argument(s), 1 given"),
        ("merge()", "merge() takes at least 1 argument(s), 0 given"),
        ("not_null()", "not_null() takes at least 1 argument(s), 0 given"),
        # Calls are checked inside other calls and deep inside the expression too.
        ("length(abs(x, y))", "abs() takes 1 argument(s), 2 given"),
        ("a[?nope(b)].c", "unknown function nope()"),
    ],
)
def test_calls_that_fail_whatever_the_data_are_refused(expression: str, reason: str) -> None:
    error = refused(lambda: parse_expression(expression, "config.branches[0].when"))

    assert names(error, "config.branches[0].when")
    assert error.reason == f"not a valid JMESPath expression: {reason}"


@pytest.mark.parametrize("expression", ["", "   ", "\n\t"])
def test_an_empty_expression_is_refused(expression: str) -> None:
    error = refused(lambda: parse_expression(expression, "f"))

    assert names(error, "f")
    assert error.reason == "must be a JMESPath expression, not empty"


@pytest.mark.parametrize("expression", [None, 5, 1.5, True, ["a"], {"a": 1}, b"a"])
def test_an_expression_must_be_a_string(expression: object) -> None:
    error = refused(lambda: parse_expression(expression, "config.mapping.total"))

    assert names(error, "config.mapping.total")
    assert error.reason == "must be a JMESPath expression (a string)"


def test_an_expression_of_the_maximum_length_parses() -> None:
    expression = "a" * MAX_EXPRESSION_LENGTH

    assert parse_expression(expression, "f").search({expression: 1}) == 1
    # Surrounding blanks are not counted.
    assert parse_expression(f"  {expression}\n", "f").search({expression: 2}) == 2


def test_an_over_long_expression_is_refused() -> None:
    error = refused(lambda: parse_expression("a" * (MAX_EXPRESSION_LENGTH + 1), "f"))

    assert names(error, "f")
    assert error.reason == f"longer than {MAX_EXPRESSION_LENGTH} characters; split the logic up"


def test_five_thousand_nested_parentheses_are_refused_not_a_recursion_error() -> None:
    expression = "(" * 5000 + "a" + ")" * 5000

    error = refused(lambda: parse_expression(expression, "config.when"))

    assert names(error, "config.when")
    assert "longer than" in error.reason


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 499 + "a" + ")" * 499,
        "!" * 999 + "a",
        "[" * 499 + "a" + "]" * 499,
    ],
    ids=["parentheses", "nots", "brackets"],
)
def test_deep_nesting_within_the_length_is_refused_not_a_recursion_error(
    expression: str,
) -> None:
    assert len(expression) <= MAX_EXPRESSION_LENGTH

    error = refused(lambda: parse_expression(expression, "config.when"))

    assert names(error, "config.when")
    assert error.reason == "nested too deeply to be parsed"
    # The interpreter is still fine afterwards.
    assert parse_expression("(a)", "f").search({"a": 3}) == 3


# == Expressions: templates ===============================================================


def test_template_expressions_lists_every_template_with_its_path_in_order() -> None:
    value = {
        "a": "{{ x }} and {{ y.z }}",
        "b": [1, {"c": "pre {{ items[0] }}"}],
        "d": "no template here",
    }

    assert template_expressions(value, "config.parameters") == [
        ("config.parameters.a", " x "),
        ("config.parameters.a", " y.z "),
        ("config.parameters.b[1].c", " items[0] "),
    ]


def test_check_templates_accepts_valid_templates_at_any_depth() -> None:
    value = {"a": ["{{ x }}", {"b": "id-{{ length(items) }}"}], "c": 3, "d": None}

    check_templates(value, "config.parameters")  # no error
    check_templates("{ not a template }", "config.prompt")


def test_check_templates_names_the_path_of_a_bad_template() -> None:
    value = {"a": [{"b": "{{ x }}"}, {"b": "fine {{ items[ }}"}]}

    error = refused(lambda: check_templates(value, "config.parameters"))

    assert names(error, "config.parameters.a[1].b")
    assert error.reason.startswith("not a valid JMESPath expression: ")


def test_check_templates_names_the_first_bad_template() -> None:
    value = {"first": "{{ nope(a) }}", "second": "{{ a[ }}"}

    error = refused(lambda: check_templates(value, "config.parameters"))

    assert names(error, "config.parameters.first")
    assert error.reason == "not a valid JMESPath expression: unknown function nope()"


def test_check_templates_refuses_an_empty_template() -> None:
    error = refused(lambda: check_templates("Hello {{ }}!", "config.prompt"))

    assert names(error, "config.prompt")
    assert error.reason == "must be a JMESPath expression, not empty"


# == Expressions: render and evaluate =====================================================

DATA: dict[str, Any] = {
    "n": 3,
    "f": 1.5,
    "flag": True,
    "s": "text",
    "xs": [1, 2],
    "obj": {"k": 1},
    "nothing": None,
    "user": {"name": "Ada"},
}


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("{{ n }}", 3),
        ("{{n}}", 3),
        ("{{ f }}", 1.5),
        ("{{ flag }}", True),
        ("{{ s }}", "text"),
        ("{{ xs }}", [1, 2]),
        ("{{ obj }}", {"k": 1}),
        ("{{ nothing }}", None),
        ("{{ missing }}", None),
        ("{{ user.name }}", "Ada"),
        ("{{ length(xs) }}", 2),
    ],
)
def test_a_whole_string_template_keeps_the_json_type(template: str, value: object) -> None:
    rendered = render(template, DATA)

    assert rendered == value
    assert type(rendered) is type(value)


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("n={{ n }}", "n=3"),
        ("x{{ f }}", "x1.5"),
        ("flag: {{ flag }}", "flag: true"),
        ("Hello {{ user.name }}!", "Hello Ada!"),
        ("xs={{ xs }}", "xs=[1,2]"),
        ("obj={{ obj }}", 'obj={"k":1}'),
        ("[{{ nothing }}]", "[]"),
        ("[{{ missing }}]", "[]"),
        # Two templates make a longer string, even with nothing between them.
        ("{{ n }}{{ s }}", "3text"),
        ("{{ n }} and {{ n }}", "3 and 3"),
        (" {{ n }}", " 3"),
        ("no templates", "no templates"),
    ],
)
def test_templates_inside_a_longer_string_become_text(template: str, text: str) -> None:
    assert render(template, DATA) == text


def test_render_renders_nested_objects_and_lists() -> None:
    value = {
        "id": "{{ n }}",
        "label": "item-{{ n }}",
        "tags": ["{{ s }}", "{{ xs }}", 7, None, True],
        "inner": {"obj": "{{ obj }}", "deeper": [{"name": "{{ user.name }}"}]},
    }

    assert render(value, DATA) == {
        "id": 3,
        "label": "item-3",
        "tags": ["text", [1, 2], 7, None, True],
        "inner": {"obj": {"k": 1}, "deeper": [{"name": "Ada"}]},
    }
    # The template itself is left as it was.
    assert value["id"] == "{{ n }}"


@pytest.mark.parametrize("value", [5, 1.5, None, True, False, "plain", "{ n }", "{{ n", [], {}])
def test_render_leaves_non_template_values_untouched(value: object) -> None:
    assert render(value, DATA) == value


def test_render_does_not_render_object_keys() -> None:
    assert render({"{{ n }}": "{{ n }}"}, DATA) == {"{{ n }}": 3}


@pytest.mark.parametrize(
    ("expression", "data", "value"),
    [
        ("a.b", {"a": {"b": 2}}, 2),
        ("  a  ", {"a": "padded"}, "padded"),
        ("items[?x > `1`].x", {"items": [{"x": 1}, {"x": 2}, {"x": 3}]}, [2, 3]),
        ("length(xs)", {"xs": "abcd"}, 4),
        ("missing.deeper", {"a": 1}, None),
        ("a == `1`", {"a": 1}, True),
        ("[a, b]", {"a": 1, "b": 2}, [1, 2]),
    ],
)
def test_evaluate_computes_the_value_over_the_data(
    expression: str, data: object, value: object
) -> None:
    assert evaluate(expression, data) == value


# == Tool configs: http ===================================================================

HTTP_URL = "https://api.example.com/v1/items"


def http(**config: object) -> dict[str, object]:
    return {"url": HTTP_URL, **config}


def test_a_templated_http_config_is_accepted_as_written() -> None:
    raw = {
        "method": "POST",
        "url": "https://api.example.com/items/{{ item.id }}",
        "headers": {"X-Request-Id": "{{ run_id }}", "Accept": "application/json"},
        "query": {"q": "{{ query }}", "page": "2"},
        "body": {"name": "{{ item.name }}", "tags": ["a", "{{ tag }}"], "count": 2},
        "timeout_seconds": 30,
    }

    config = parse_tool_config("http", raw)

    assert isinstance(config, HttpToolConfig)
    assert config.method == "POST"
    assert config.url == raw["url"]
    assert config.headers == raw["headers"]
    assert config.query == raw["query"]
    assert config.body == raw["body"]
    assert config.timeout_seconds == 30.0


def test_an_http_config_has_defaults_for_all_but_the_url() -> None:
    config = parse_tool_config("http", {"url": "http://example.com"})

    assert isinstance(config, HttpToolConfig)
    assert (config.method, config.headers, config.query, config.body) == ("GET", {}, {}, None)
    assert config.timeout_seconds == 10.0


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/{{ path }}?x={{ x }}",
        "HTTPS://EXAMPLE.COM",
        "https://example.com/" + "a" * (MAX_URL_LENGTH - len("https://example.com/")),
    ],
)
def test_http_urls_may_hold_templates(url: str) -> None:
    config = parse_tool_config("http", {"url": url})

    assert isinstance(config, HttpToolConfig)
    assert config.url == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/file", "must be an absolute URL with scheme http or https"),
        ("file:///etc/passwd", "must be an absolute URL with scheme http or https"),
        ("example.com/path", "must be an absolute URL with scheme http or https"),
        ("/relative/path", "must be an absolute URL with scheme http or https"),
        ("https://", "must name a host"),
        ("http:///path", "must name a host"),
        ("https://user:pw@example.com/", "credentials in a URL are refused; use auth_config"),
        ("https://user@example.com/", "credentials in a URL are refused; use auth_config"),
        (
            "https://{{ user }}:{{ pw }}@example.com/",
            "credentials in a URL are refused; use auth_config",
        ),
        ("https://example.com/a b", "must not contain spaces or control characters"),
        ("https://example.com/a\tb", "must not contain spaces or control characters"),
        ("https://exa mple.com/", "must not contain spaces or control characters"),
        ("https://[::1/", "not a URL: Invalid IPv6 URL"),
        (
            "https://example.com/" + "a" * MAX_URL_LENGTH,
            f"longer than {MAX_URL_LENGTH} characters",
        ),
    ],
)
def test_bad_http_urls_are_refused(url: str, reason: str) -> None:
    error = refused(lambda: parse_tool_config("http", {"url": url}))

    assert names(error, "config.url")
    assert error.reason == reason


@pytest.mark.parametrize(
    "header",
    [
        "Authorization",
        "authorization",
        "Proxy-Authorization",
        "Cookie",
        "Host",
        "Content-Length",
        "X-Api-Key",
        "x-api-key",
        "X-Auth-Token",
        "Client-Secret",
        "X-Access-Key",
    ],
)
def test_headers_carrying_credentials_or_set_by_the_client_are_refused(header: str) -> None:
    error = refused(lambda: parse_tool_config("http", http(headers={header: "value"})))

    assert names(error, "config.headers")
    assert repr(header) in error.reason
    assert "auth_config" in error.reason


@pytest.mark.parametrize("header", ["Bad Header", "X:Y", "", "é", "a" * 101])
def test_invalid_header_names_are_refused(header: str) -> None:
    error = refused(lambda: parse_tool_config("http", http(headers={header: "v"})))

    assert names(error, "config.headers")
    assert error.reason == f"{header!r} is not a valid header name"


@pytest.mark.parametrize("key", ["api_key", "apiKey", "access_token", "password", "client-secret"])
def test_query_keys_naming_credentials_are_refused(key: str) -> None:
    error = refused(lambda: parse_tool_config("http", http(query={"page": "1", key: "x"})))

    assert names(error, "config.query")
    assert error.reason == f"query parameter {key!r} names a credential; put it in auth_config"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "hunter2"}, "config.body.password"),
        ({"data": [{"user": {"apiKey": "x"}}]}, "config.body.data[0].user.apiKey"),
        ([{"ok": 1}, {"client_secret": "x"}], "config.body[1].client_secret"),
    ],
)
def test_credential_keys_anywhere_in_the_body_are_refused(body: object, field: str) -> None:
    error = refused(lambda: parse_tool_config("http", http(method="POST", body=body)))

    assert names(error, field)
    assert error.reason == "names a credential; put credentials in auth_config, which is encrypted"


def test_a_body_may_hold_any_json_value() -> None:
    for body in ["text", 3, [1, "two", None], {"max_tokens": 5, "nested": {"a": [True]}}]:
        config = parse_tool_config("http", http(method="PUT", body=body))
        assert isinstance(config, HttpToolConfig)
        assert config.body == body


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"url": "https://example.com/{{ a[ }}"}, "config.url"),
        (http(headers={"X-Trace": "{{ foo(a) }}"}), "config.headers.X-Trace"),
        (http(query={"q": "{{ }}"}), "config.query.q"),
        (http(body={"a": {"b": ["ok {{ x }}", "{{ nope( }}"]}}), "config.body.a.b[1]"),
    ],
)
def test_bad_templates_in_an_http_config_are_named_by_path(
    raw: dict[str, object], field: str
) -> None:
    error = refused(lambda: parse_tool_config("http", raw))

    assert names(error, field)
    assert "JMESPath expression" in error.reason


@pytest.mark.parametrize("timeout", [NAN, INF, -INF])
def test_a_non_finite_timeout_is_refused(timeout: float) -> None:
    error = refused(lambda: parse_tool_config("http", http(timeout_seconds=timeout)))

    assert names(error, "config.timeout_seconds")
    assert error.reason == "must be a finite number (not NaN or Infinity)"


@pytest.mark.parametrize(
    ("timeout", "reason"),
    [
        (0, "greater than 0"),
        (-1, "greater than 0"),
        (MAX_HTTP_TIMEOUT_SECONDS + 0.5, "less than or equal to 300"),
        (301, "less than or equal to 300"),
        ("10", "valid number"),
        (True, "valid number"),
        (None, "valid number"),
    ],
)
def test_a_timeout_out_of_bounds_or_not_a_number_is_refused(timeout: object, reason: str) -> None:
    error = refused(lambda: parse_tool_config("http", http(timeout_seconds=timeout)))

    assert names(error, "config.timeout_seconds")
    assert reason in error.reason


@pytest.mark.parametrize("timeout", [0.1, 1, MAX_HTTP_TIMEOUT_SECONDS])
def test_timeouts_within_bounds_are_accepted(timeout: float) -> None:
    config = parse_tool_config("http", http(timeout_seconds=timeout))

    assert isinstance(config, HttpToolConfig)
    assert config.timeout_seconds == timeout


@pytest.mark.parametrize("method", ["get", "FETCH", "", 1])
def test_an_unknown_method_is_refused(method: object) -> None:
    error = refused(lambda: parse_tool_config("http", http(method=method)))

    assert names(error, "config.method")
    assert "'GET', 'POST'" in error.reason


@pytest.mark.parametrize("method", HTTP_METHODS)
def test_every_http_method_is_accepted(method: str) -> None:
    config = parse_tool_config("http", http(method=method))

    assert isinstance(config, HttpToolConfig)
    assert config.method == method


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (http(timeout=5), "config.timeout", "unknown key for a tool of type http"),
        ({}, "config.url", "required for a tool of type http"),
        ({"url": 5}, "config.url", "Input should be a valid string"),
        (http(headers=["Accept"]), "config.headers", "Input should be a valid dictionary"),
        (http(headers={"X-A": 5}), "config.headers.X-A", "Input should be a valid string"),
        (http(query={"page": 2}), "config.query.page", "Input should be a valid string"),
        (http(body={"x": NAN}), "config.body.x", "must be a finite number (not NaN or Infinity)"),
    ],
)
def test_http_config_keys_and_types_are_strict(
    raw: dict[str, object], field: str, reason: str
) -> None:
    error = refused(lambda: parse_tool_config("http", raw))

    assert names(error, field)
    assert error.reason == reason


def test_every_problem_of_a_config_is_listed_the_first_as_its_field() -> None:
    raw = {"url": 5, "method": "get", "extra": 1}

    error = refused(lambda: parse_tool_config("http", raw))

    assert {field for field, _ in error.errors} == {"config.url", "config.method", "config.extra"}
    assert error.errors[0] == (error.field, error.reason)
    for field, reason in error.errors:
        assert f"{field}: {reason}" in str(error)


@pytest.mark.parametrize("tool_type", sorted(TOOL_CONFIGS))
@pytest.mark.parametrize("raw", [None, "https://example.com", ["url"], 5])
def test_a_tool_config_must_be_a_json_object(tool_type: str, raw: object) -> None:
    error = refused(lambda: parse_tool_config(tool_type, raw))

    assert names(error, "config")
    assert error.reason == "must be a JSON object"


def test_tool_config_errors_are_named_under_the_given_field() -> None:
    error = refused(lambda: parse_tool_config("http", {"url": "ftp://x"}, "tools[2].config"))

    assert names(error, "tools[2].config.url")


# == Tool configs: python, builtin, shell, mcp ============================================


@pytest.mark.parametrize(
    "path", ["pkg:func", "pkg.mod:func", "pkg.sub_mod:Class.method", "_p._q:_f", "a1.b2:c3"]
)
def test_a_python_callable_path_is_accepted(path: str) -> None:
    config = parse_tool_config("python", {"callable": path})

    assert isinstance(config, PythonToolConfig)
    assert config.callable == path


@pytest.mark.parametrize(
    "path",
    [
        "pkg.mod.func",
        "pkg:",
        ":func",
        "1pkg:func",
        "pkg:1func",
        "pkg.mod:func()",
        "pkg mod:func",
        "pkg..mod:func",
        "pkg:f:g",
        "pkg/mod:func",
        "",
    ],
)
def test_a_malformed_python_callable_path_is_refused(path: str) -> None:
    error = refused(lambda: parse_tool_config("python", {"callable": path}))

    assert names(error, "config.callable")
    assert error.reason == "must be a 'package.module:function' path"


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({}, "config.callable", "required for a tool of type python"),
        ({"callable": 5}, "config.callable", "Input should be a valid string"),
        ({"callable": "a:b", "args": []}, "config.args", "unknown key for a tool of type python"),
    ],
)
def test_python_config_keys_and_types_are_strict(
    raw: dict[str, object], field: str, reason: str
) -> None:
    error = refused(lambda: parse_tool_config("python", raw))

    assert names(error, field)
    assert error.reason == reason


@pytest.mark.parametrize("name", BUILTIN_TOOLS)
def test_the_builtin_tools_are_accepted(name: str) -> None:
    config = parse_tool_config("builtin", {"name": name})

    assert isinstance(config, BuiltinToolConfig)
    assert config.name == name


@pytest.mark.parametrize("name", ["exec", "ECHO", "", None])
def test_an_unknown_builtin_tool_is_refused(name: object) -> None:
    error = refused(lambda: parse_tool_config("builtin", {"name": name}))

    assert names(error, "config.name")
    assert error.reason == "Input should be 'echo', 'sleep' or 'fail'"


def test_a_shell_argv_is_accepted_as_given() -> None:
    config = parse_tool_config("shell", {"argv": ["ls", "-la", "{{ dir }}", ""]})

    assert isinstance(config, ShellToolConfig)
    assert config.argv == ["ls", "-la", "{{ dir }}", ""]


@pytest.mark.parametrize(
    ("argv", "field", "reason"),
    [
        ([], "config.argv", "List should have at least 1 item after validation, not 0"),
        ([""], "config.argv", "the first item must name the program"),
        (["  ", "x"], "config.argv", "the first item must name the program"),
        ("ls -la", "config.argv", "Input should be a valid list"),
        ([1], "config.argv[0]", "Input should be a valid string"),
        (["ls", "a" * 4097], "config.argv[1]", "String should have at most 4096 characters"),
        (
            ["x"] * (MAX_ARGV + 1),
            "config.argv",
            f"List should have at most {MAX_ARGV} items after validation, not {MAX_ARGV + 1}",
        ),
    ],
)
def test_a_bad_shell_argv_is_refused(argv: object, field: str, reason: str) -> None:
    error = refused(lambda: parse_tool_config("shell", {"argv": argv}))

    assert names(error, field)
    assert error.reason == reason


def test_an_mcp_config_names_a_server_and_a_tool() -> None:
    config = parse_tool_config(
        "mcp", {"server_url": "https://mcp.example.com/sse", "tool_name": "q"}
    )

    assert isinstance(config, McpToolConfig)
    assert (config.server_url, config.tool_name) == ("https://mcp.example.com/sse", "q")


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (
            {"server_url": "ws://mcp.example.com", "tool_name": "q"},
            "config.server_url",
            "must be an absolute URL with scheme http or https",
        ),
        (
            {"server_url": "https://u:p@mcp.example.com", "tool_name": "q"},
            "config.server_url",
            "credentials in a URL are refused; use auth_config",
        ),
        (
            {"server_url": "https://mcp.example.com"},
            "config.tool_name",
            "required for a tool of type mcp",
        ),
        (
            {"server_url": "https://mcp.example.com", "tool_name": ""},
            "config.tool_name",
            "String should have at least 1 character",
        ),
        ({"tool_name": "q"}, "config.server_url", "required for a tool of type mcp"),
    ],
)
def test_a_bad_mcp_config_is_refused(raw: dict[str, object], field: str, reason: str) -> None:
    error = refused(lambda: parse_tool_config("mcp", raw))

    assert names(error, field)
    assert error.reason == reason


# == Tool auth ============================================================================

BEARER = {"type": "bearer", "token": "tok-0123456789-secret"}
HEADER = {"type": "header", "name": "X-Api-Key", "value": "hdr-0123456789-secret"}
BASIC = {"type": "basic", "username": "ada", "password": "pw-0123456789-secret"}
SECRETS = {"bearer": BEARER["token"], "header": HEADER["value"], "basic": BASIC["password"]}


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([generate_key()])


def test_the_three_auth_kinds_parse() -> None:
    bearer = parse_auth_config(BEARER)
    header = parse_auth_config(HEADER)
    basic = parse_auth_config(BASIC)

    assert isinstance(bearer, BearerAuth)
    assert bearer.token.get_secret_value() == BEARER["token"]
    assert isinstance(header, HeaderAuth)
    assert header.name == "X-Api-Key"
    assert header.value.get_secret_value() == HEADER["value"]
    assert isinstance(basic, BasicAuth)
    assert basic.username == "ada"
    assert basic.password.get_secret_value() == BASIC["password"]


def test_basic_auth_may_have_an_empty_password() -> None:
    basic = parse_auth_config({"type": "basic", "username": "ada", "password": ""})

    assert isinstance(basic, BasicAuth)
    assert basic.password.get_secret_value() == ""


@pytest.mark.parametrize(
    "raw", [{"type": "oauth"}, {}, {"type": 5}, {"type": None}, {"token": "t"}]
)
def test_an_unknown_auth_kind_is_refused_listing_the_kinds(raw: dict[str, object]) -> None:
    error = refused(lambda: parse_auth_config(raw))

    assert names(error, "auth_config.type")
    assert error.reason == "must be one of bearer, header, basic"


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({"type": "bearer"}, "auth_config.token", "required for bearer auth"),
        ({"type": "header", "value": "v"}, "auth_config.name", "required for header auth"),
        ({"type": "header", "name": "X-Key"}, "auth_config.value", "required for header auth"),
        ({"type": "basic", "password": "p"}, "auth_config.username", "required for basic auth"),
        ({"type": "basic", "username": "u"}, "auth_config.password", "required for basic auth"),
        ({"type": "bearer", "token": "t", "scheme": "x"}, "auth_config.scheme", "unknown key"),
        ({"type": "bearer", "token": ""}, "auth_config.token", "at least 1"),
        ({"type": "bearer", "token": 5}, "auth_config.token", "valid string"),
        ({"type": "header", "name": "X Key", "value": "v"}, "auth_config.name", "pattern"),
    ],
)
def test_auth_fields_are_required_and_strict(
    raw: dict[str, object], field: str, reason: str
) -> None:
    error = refused(lambda: parse_auth_config(raw))

    assert names(error, field)
    assert reason in error.reason


@pytest.mark.parametrize("raw", [None, "bearer abc", ["bearer"]])
def test_auth_config_must_be_a_json_object(raw: object) -> None:
    error = refused(lambda: parse_auth_config(raw, "tool.auth_config"))

    assert names(error, "tool.auth_config")
    assert error.reason == "must be a JSON object"


@pytest.mark.parametrize("raw", [BEARER, HEADER, BASIC])
def test_a_parsed_auth_never_shows_its_secret(raw: dict[str, str]) -> None:
    auth = parse_auth_config(raw)
    secret = SECRETS[raw["type"]]

    for shown in (repr(auth), str(auth), auth.model_dump_json(), str(auth.model_dump())):
        assert secret not in shown
        assert "**********" in shown


@pytest.mark.parametrize("raw", [BEARER, HEADER, BASIC])
def test_seal_auth_keeps_only_the_kind_in_the_clear(box: SecretBox, raw: dict[str, str]) -> None:
    stored = seal_auth(box, parse_auth_config(raw))

    assert set(stored) == {"type", "sealed"}
    assert stored["type"] == raw["type"]
    assert SECRETS[raw["type"]] not in str(stored)
    assert box.open(stored["sealed"]) == raw


@pytest.mark.parametrize("raw", [BEARER, HEADER, BASIC])
def test_open_auth_gives_back_the_sealed_auth(box: SecretBox, raw: dict[str, str]) -> None:
    auth = parse_auth_config(raw)

    opened = open_auth(box, seal_auth(box, auth))

    assert opened == auth
    assert type(opened) is type(auth)
    secrets = [value for _, value in opened if isinstance(value, SecretStr)]
    assert [secret.get_secret_value() for secret in secrets] == [SECRETS[raw["type"]]]


def test_open_auth_with_another_key_is_unreadable(box: SecretBox) -> None:
    stored = seal_auth(box, parse_auth_config(BEARER))

    with pytest.raises(SecretUnreadableError):
        open_auth(SecretBox([generate_key()]), stored)


@pytest.mark.parametrize(
    ("stored", "kind"),
    [
        ({"type": "bearer", "sealed": "x"}, "bearer"),
        ({"type": "basic", "sealed": "x"}, "basic"),
        (None, None),
        ({}, None),
        ({"type": 3, "sealed": "x"}, None),
        ({"sealed": "x"}, None),
    ],
)
def test_auth_type_says_only_the_kind(stored: dict[str, object] | None, kind: str | None) -> None:
    assert auth_type(stored) == kind


def test_auth_type_of_a_sealed_auth_is_its_kind(box: SecretBox) -> None:
    assert auth_type(seal_auth(box, parse_auth_config(HEADER))) == "header"


# == Secret box ===========================================================================


def test_a_sealed_value_opens_to_what_was_sealed() -> None:
    box = SecretBox([generate_key()])
    value = {"token": "s3cr3t-value", "nested": {"n": [1, 2.5, None, True]}, "é": "ü"}

    token = box.seal(value)

    assert box.open(token) == value
    assert "s3cr3t-value" not in token
    # Each seal is fresh ciphertext.
    assert box.seal(value) != token


def test_a_box_with_another_key_cannot_open() -> None:
    token = SecretBox([generate_key()]).seal({"a": 1})

    with pytest.raises(SecretUnreadableError, match="no configured key opens this secret"):
        SecretBox([generate_key()]).open(token)


def test_rotation_opens_old_values_and_reseals_them_under_the_new_key() -> None:
    old, new = generate_key(), generate_key()
    value = {"password": "rotate-me"}
    token = SecretBox([old]).seal(value)
    both = SecretBox([new, old])

    assert both.open(token) == value
    with pytest.raises(SecretUnreadableError):
        SecretBox([new]).open(token)

    rotated = both.rotate(token)

    assert rotated != token
    assert SecretBox([new]).open(rotated) == value
    # The first key seals: new values open without the old key.
    assert SecretBox([new]).open(both.seal(value)) == value


@pytest.mark.parametrize("token", ["garbage", "", "gAAAAAB" + "A" * 80, "é"])
def test_a_token_that_is_not_a_secret_is_unreadable(token: str) -> None:
    box = SecretBox([generate_key()])

    with pytest.raises(SecretUnreadableError, match="no configured key opens this secret"):
        box.open(token)
    with pytest.raises(SecretUnreadableError, match="no configured key opens this secret"):
        box.rotate(token)


@pytest.mark.parametrize(
    ("plain", "reason"),
    [(b"[1, 2]", "not a JSON object"), (b"not json", "no configured key opens this secret")],
)
def test_a_sealed_value_that_is_not_a_json_object_is_unreadable(plain: bytes, reason: str) -> None:
    key = generate_key()
    token = Fernet(key).encrypt(plain).decode("ascii")

    with pytest.raises(SecretUnreadableError, match=reason):
        SecretBox([key]).open(token)


def test_a_box_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        SecretBox([])


@pytest.mark.parametrize("separator", [",", " ", ", ", "\n", " ,\n "])
def test_parse_keys_reads_a_list_newest_first(separator: str) -> None:
    keys = [generate_key(), generate_key(), generate_key()]

    assert parse_keys(f" {separator.join(keys)}{separator}") == keys


def test_generated_keys_are_distinct_valid_keys() -> None:
    first, second = generate_key(), generate_key()

    assert first != second
    assert parse_keys(f"{first},{second}") == [first, second]


@pytest.mark.parametrize("text", ["", "   ", " , ,\n"])
def test_parse_keys_needs_a_key(text: str) -> None:
    with pytest.raises(ValueError, match="no key given"):
        parse_keys(text)


@pytest.mark.parametrize(
    ("bad", "position"),
    [
        ("not-a-fernet-key-but-a-secret-1234", 2),
        ("c2hvcnQta2V5", 2),  # valid base64, too short
        ("é" * 44, 2),
    ],
)
def test_parse_keys_names_a_bad_key_by_position_never_by_value(bad: str, position: int) -> None:
    good = generate_key()

    with pytest.raises(ValueError, match=f"key {position} is not a Fernet key") as info:
        parse_keys(f"{good},{bad},{good}")

    assert bad not in str(info.value)
    assert good not in str(info.value)


def test_parse_keys_names_the_first_key_when_it_is_bad() -> None:
    with pytest.raises(ValueError, match=r"^key 1 is not a Fernet key"):
        parse_keys(f"nope {generate_key()}")


# == LLM configs ==========================================================================


def test_a_full_llm_config_is_accepted() -> None:
    raw = {
        "provider": "anthropic",
        "model": "claude-sonnet-4",
        "temperature": 0.7,
        "max_tokens": 1024,
        "base_url": "https://proxy.example.com/v1",
    }

    config = parse_llm_config(raw)

    assert config.model_dump() == raw


@pytest.mark.parametrize("provider", [member.value for member in ModelProvider])
def test_an_llm_config_needs_only_provider_and_model(provider: str) -> None:
    config = parse_llm_config({"provider": provider, "model": "m"})

    assert (config.provider, config.model) == (provider, "m")
    assert (config.temperature, config.max_tokens, config.base_url) == (None, None, None)


@pytest.mark.parametrize("temperature", [0, 2, 1.25])
def test_temperatures_from_zero_to_two_are_accepted(temperature: float) -> None:
    assert parse_llm_config(llm(temperature=temperature)).temperature == temperature


def llm(**config: object) -> dict[str, object]:
    return {"provider": "openai", "model": "gpt-4o", **config}


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({"provider": "mistral", "model": "m"}, "llm_config.provider", "'anthropic', 'openai'"),
        ({"provider": "OpenAI", "model": "m"}, "llm_config.provider", "'anthropic', 'openai'"),
        ({"model": "m"}, "llm_config.provider", "required for llm_config"),
        ({"provider": "openai"}, "llm_config.model", "required for llm_config"),
        (llm(model=""), "llm_config.model", "at least 1 character"),
        (llm(temperature=-0.1), "llm_config.temperature", "greater than or equal to 0"),
        (llm(temperature=2.01), "llm_config.temperature", "less than or equal to 2"),
        (llm(temperature=NAN), "llm_config.temperature", "finite number"),
        (llm(temperature=INF), "llm_config.temperature", "finite number"),
        (llm(temperature="0.5"), "llm_config.temperature", "valid number"),
        (llm(max_tokens=0), "llm_config.max_tokens", "greater than or equal to 1"),
        (llm(max_tokens=-5), "llm_config.max_tokens", "greater than or equal to 1"),
        (llm(max_tokens=1_000_001), "llm_config.max_tokens", "less than or equal to 1000000"),
        (llm(max_tokens="100"), "llm_config.max_tokens", "valid integer"),
        (llm(max_tokens=1.5), "llm_config.max_tokens", "valid integer"),
        (llm(base_url="ftp://proxy.example.com"), "llm_config.base_url", "scheme http or https"),
        (llm(base_url="localhost:8080"), "llm_config.base_url", "scheme http or https"),
        (llm(base_url="https://k:s@proxy.example.com"), "llm_config.base_url", "credentials"),
        (llm(top_p=0.9), "llm_config.top_p", "unknown key for llm_config"),
    ],
)
def test_a_bad_llm_config_is_refused(raw: dict[str, object], field: str, reason: str) -> None:
    error = refused(lambda: parse_llm_config(raw))

    assert names(error, field)
    assert reason in error.reason


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (llm(api_key="x"), "llm_config.api_key"),
        (llm(apiKey="x"), "llm_config.apiKey"),
        (llm(OPENAI_API_KEY="x"), "llm_config.OPENAI_API_KEY"),
        (llm(secret="x"), "llm_config.secret"),
        (llm(extra={"auth": {"token": "x"}}), "llm_config.extra.auth.token"),
        (llm(headers=[{"ok": 1}, {"x-api-key": "x"}]), "llm_config.headers[1].x-api-key"),
    ],
)
def test_credential_named_keys_at_any_depth_are_refused(raw: dict[str, object], field: str) -> None:
    error = refused(lambda: parse_llm_config(raw))

    assert names(error, field)
    assert error.reason.startswith("names a credential; API keys come from settings")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("model", KEY_LIKE),
        ("model", "sk-ant-api03-" + "x" * 40),
        ("model", "sk_live_" + "a" * 20),
        ("model", "xai-" + "b" * 30),
        ("model", "AIza" + "c" * 35),
        ("model", "d" * 32 + "." + "e" * 10),
        ("base_url", KEY_LIKE),
        ("note", KEY_LIKE),
    ],
)
def test_key_like_values_are_refused_without_echoing_them(key: str, value: str) -> None:
    error = refused(lambda: parse_llm_config(llm(**{key: value})))

    assert names(error, f"llm_config.{key}")
    assert error.reason.startswith("looks like an API key; API keys come from settings")
    assert value not in str(error)


def test_max_tokens_is_not_mistaken_for_a_credential() -> None:
    assert parse_llm_config(llm(max_tokens=5)).max_tokens == 5


@pytest.mark.parametrize("raw", [None, "openai", [], 5])
def test_an_llm_config_must_be_a_json_object(raw: object) -> None:
    error = refused(lambda: parse_llm_config(raw))

    assert names(error, "llm_config")
    assert error.reason == "must be a JSON object"


# == Node configs =========================================================================


@pytest.mark.parametrize("node_type", ["trigger", "parallel"])
def test_trigger_and_parallel_nodes_take_an_empty_config(node_type: str) -> None:
    assert isinstance(parse_node_config(node_type, {}), EmptyConfig)

    error = refused(lambda: parse_node_config(node_type, {"branches": []}))

    assert names(error, "config.branches")
    assert error.reason == f"unknown key for a node of type {node_type}"


@pytest.mark.parametrize("node_type", sorted(NODE_CONFIGS))
@pytest.mark.parametrize("raw", [None, [], "x"])
def test_a_node_config_must_be_a_json_object(node_type: str, raw: object) -> None:
    error = refused(lambda: parse_node_config(node_type, raw, "nodes[3].config"))

    assert names(error, "nodes[3].config")
    assert error.reason == "must be a JSON object"


def test_a_tool_node_takes_templated_parameters() -> None:
    parameters = {"url": "{{ input.url }}", "n": 3, "list": ["{{ a }}", {"b": "x-{{ b }}"}]}

    config = parse_node_config("tool", {"parameters": parameters, "continue_on_error": True})

    assert isinstance(config, ToolNodeConfig)
    assert config.parameters == parameters
    assert config.continue_on_error is True


def test_a_tool_node_config_has_defaults() -> None:
    config = parse_node_config("tool", {})

    assert isinstance(config, ToolNodeConfig)
    assert (config.parameters, config.continue_on_error) == ({}, False)


def test_a_bad_tool_parameter_template_is_named_by_path() -> None:
    raw = {"parameters": {"a": ["{{ x }}", {"b": "{{ x[ }}"}]}}

    error = refused(lambda: parse_node_config("tool", raw))

    assert names(error, "config.parameters.a[1].b")
    assert error.reason.startswith("not a valid JMESPath expression: ")


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({"continue_on_error": "true"}, "config.continue_on_error", "valid boolean"),
        ({"continue_on_error": 1}, "config.continue_on_error", "valid boolean"),
        ({"parameters": ["a"]}, "config.parameters", "valid dictionary"),
        ({"params": {}}, "config.params", "unknown key for a node of type tool"),
    ],
)
def test_tool_node_config_types_are_strict(raw: dict[str, object], field: str, reason: str) -> None:
    error = refused(lambda: parse_node_config("tool", raw))

    assert names(error, field)
    assert reason in error.reason


def test_an_agent_node_takes_a_templated_prompt() -> None:
    config = parse_node_config("agent", {"prompt": "Summarise {{ input.text }}", "output": "json"})

    assert isinstance(config, AgentNodeConfig)
    assert (config.prompt, config.output) == ("Summarise {{ input.text }}", "json")
    assert config.continue_on_error is False


def test_an_agent_answers_in_text_by_default() -> None:
    config = parse_node_config("agent", {"prompt": "Hi"})

    assert isinstance(config, AgentNodeConfig)
    assert config.output == "text"


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({}, "config.prompt", "required for a node of type agent"),
        ({"prompt": ""}, "config.prompt", "String should have at least 1 character"),
        ({"prompt": "Hi {{ nope(x) }}"}, "config.prompt", "unknown function nope()"),
        ({"prompt": "Hi", "output": "xml"}, "config.output", "Input should be 'text' or 'json'"),
        ({"prompt": 5}, "config.prompt", "Input should be a valid string"),
    ],
)
def test_a_bad_agent_node_config_is_refused(
    raw: dict[str, object], field: str, reason: str
) -> None:
    error = refused(lambda: parse_node_config("agent", raw))

    assert names(error, field)
    assert reason in error.reason


CONDITION = {
    "branches": [
        {"name": "big", "when": "amount > `100`"},
        {"name": "small_one", "when": "amount <= `100` && amount > `0`"},
    ],
    "default": "none",
}


def test_a_condition_node_offers_its_branches_then_the_default() -> None:
    config = parse_node_config("condition", CONDITION)

    assert isinstance(config, ConditionNodeConfig)
    assert [branch.name for branch in config.branches] == ["big", "small_one"]
    assert config.handles() == ("big", "small_one", "none")


def branches(*names_and_whens: tuple[str, str], default: str = "other") -> dict[str, object]:
    return {
        "branches": [{"name": name, "when": when} for name, when in names_and_whens],
        "default": default,
    }


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (
            {"branches": [], "default": "d"},
            "config.branches",
            "List should have at least 1 item after validation, not 0",
        ),
        ({"default": "d"}, "config.branches", "required for a node of type condition"),
        (
            {"branches": [{"name": "a", "when": "x"}]},
            "config.default",
            "required for a node of type condition",
        ),
        (
            {"branches": [{"name": "a"}], "default": "d"},
            "config.branches[0].when",
            "required for a node of type condition",
        ),
        (
            {"branches": [{"name": "a", "when": 5}], "default": "d"},
            "config.branches[0].when",
            "Input should be a valid string",
        ),
        (
            {"branches": [{"name": "a", "when": "x", "to": "b"}], "default": "d"},
            "config.branches[0].to",
            "unknown key for a node of type condition",
        ),
    ],
)
def test_a_condition_needs_branches_and_a_default(
    raw: dict[str, object], field: str, reason: str
) -> None:
    error = refused(lambda: parse_node_config("condition", raw))

    assert names(error, field)
    assert error.reason == reason


def test_a_condition_has_at_most_max_branches() -> None:
    many = branches(*((f"b{index}", "x") for index in range(MAX_BRANCHES + 1)))
    enough = branches(*((f"b{index}", "x") for index in range(MAX_BRANCHES)))

    error = refused(lambda: parse_node_config("condition", many))

    assert names(error, "config.branches")
    assert f"at most {MAX_BRANCHES} items" in error.reason
    assert isinstance(parse_node_config("condition", enough), ConditionNodeConfig)


BAD_NAMES = ["1st", "has space", "dot.name", "", "a" * 101, "é", "a/b", "-lead"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_branch_and_default_names_follow_the_name_rule(name: str) -> None:
    branch_error = refused(lambda: parse_node_config("condition", branches((name, "x"))))
    default_error = refused(
        lambda: parse_node_config("condition", branches(("ok", "x"), default=name))
    )

    assert names(branch_error, "config.branches[0].name")
    assert branch_error.reason == f"must be {NAME_RULE}"
    assert names(default_error, "config.default")
    assert default_error.reason == f"must be {NAME_RULE}"


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (branches(("a", "x"), ("b", "y"), ("a", "z")), "a"),
        (branches(("a", "x"), ("b", "y"), default="b"), "b"),
    ],
    ids=["two-branches", "branch-and-default"],
)
def test_branch_names_are_unique_including_the_default(raw: dict[str, object], name: str) -> None:
    error = refused(lambda: parse_node_config("condition", raw))

    assert names(error, "config")
    assert error.reason == f"branch name {name!r} is used twice"


def test_a_bad_branch_expression_is_named_by_its_index() -> None:
    raw = branches(("ok", "amount > `1`"), ("bad", "amount >"), ("worse", "nope(x)"))

    error = refused(lambda: parse_node_config("condition", raw))

    assert names(error, "config.branches[1].when")
    assert error.reason.startswith("not a valid JMESPath expression: ")


def test_an_adapter_maps_keys_to_parsed_expressions() -> None:
    mapping = {"total": "sum(items[].price)", "first": "items[0].name", "user-name": "user.name"}

    config = parse_node_config("adapter", {"mapping": mapping})

    assert isinstance(config, AdapterNodeConfig)
    assert config.mapping == mapping


@pytest.mark.parametrize(
    ("mapping", "field", "reason"),
    [
        ({}, "config.mapping", "Dictionary should have at least 1 item after validation, not 0"),
        ({"k": ""}, "config.mapping.k", "String should have at least 1 character"),
        ({"k": 5}, "config.mapping.k", "Input should be a valid string"),
        ({"k": "   "}, "config.mapping.k", "must be a JMESPath expression, not empty"),
        (
            {"ok": "a", "total": "sum(a, b)"},
            "config.mapping.total",
            "not a valid JMESPath expression: sum() takes 1 argument(s), 2 given",
        ),
    ],
)
def test_a_bad_adapter_mapping_is_named_by_key(
    mapping: dict[str, object], field: str, reason: str
) -> None:
    error = refused(lambda: parse_node_config("adapter", {"mapping": mapping}))

    assert names(error, field)
    assert error.reason == reason


@pytest.mark.parametrize(("raw", "strategy"), [({}, "inputs"), ({"strategy": "merge"}, "merge")])
def test_an_aggregator_gathers_inputs_or_merges(raw: dict[str, object], strategy: str) -> None:
    config = parse_node_config("aggregator", raw)

    assert isinstance(config, AggregatorNodeConfig)
    assert config.strategy == strategy


def test_an_unknown_aggregator_strategy_is_refused() -> None:
    error = refused(lambda: parse_node_config("aggregator", {"strategy": "sum"}))

    assert names(error, "config.strategy")
    assert error.reason == "Input should be 'inputs' or 'merge'"


# == Retry config and names ===============================================================


def test_a_retry_config_has_defaults() -> None:
    config = parse_retry_config({})

    assert config == RetryConfig(
        max_attempts=1, backoff_seconds=1.0, backoff_multiplier=2.0, max_backoff_seconds=300.0
    )


def test_a_retry_config_within_bounds_is_accepted() -> None:
    raw = {
        "max_attempts": MAX_ATTEMPTS,
        "backoff_seconds": 0,
        "backoff_multiplier": 10,
        "max_backoff_seconds": 3600,
    }

    assert parse_retry_config(raw).model_dump() == raw


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({"max_attempts": 0}, "retry_config.max_attempts", "greater than or equal to 1"),
        ({"max_attempts": -1}, "retry_config.max_attempts", "greater than or equal to 1"),
        ({"max_attempts": 11}, "retry_config.max_attempts", "less than or equal to 10"),
        ({"max_attempts": 2.0}, "retry_config.max_attempts", "valid integer"),
        ({"max_attempts": "3"}, "retry_config.max_attempts", "valid integer"),
        ({"max_attempts": True}, "retry_config.max_attempts", "valid integer"),
        ({"backoff_seconds": -1}, "retry_config.backoff_seconds", "greater than or equal to 0"),
        ({"backoff_seconds": 3601}, "retry_config.backoff_seconds", "less than or equal to 3600"),
        ({"backoff_seconds": NAN}, "retry_config.backoff_seconds", "finite number"),
        ({"backoff_multiplier": 0.5}, "retry_config.backoff_multiplier", "greater than or equal"),
        ({"backoff_multiplier": 11}, "retry_config.backoff_multiplier", "less than or equal to 10"),
        ({"backoff_multiplier": INF}, "retry_config.backoff_multiplier", "finite number"),
        ({"max_backoff_seconds": -0.5}, "retry_config.max_backoff_seconds", "greater than or"),
        ({"max_backoff_seconds": NAN}, "retry_config.max_backoff_seconds", "finite number"),
        ({"retries": 3}, "retry_config.retries", "unknown key for retry_config"),
    ],
)
def test_a_retry_config_out_of_bounds_is_refused(
    raw: dict[str, object], field: str, reason: str
) -> None:
    error = refused(lambda: parse_retry_config(raw))

    assert names(error, field)
    assert reason in error.reason


def test_a_retry_config_must_be_a_json_object() -> None:
    error = refused(lambda: parse_retry_config(3))

    assert names(error, "retry_config")


@pytest.mark.parametrize("name", ["a", "_a", "A-b_9", "fetch_prices", "a" * 100])
def test_valid_names_are_returned(name: str) -> None:
    assert valid_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_names_are_refused_saying_the_rule(name: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"must be {NAME_RULE}")):
        valid_name(name)


# == Graph rules ==========================================================================


def nodes(*specs: str | tuple[str, str] | tuple[str, str, tuple[str, ...]]) -> list[GraphNode]:
    """Nodes labelled `nodes[i]`: a name (a tool), or (name, type[, handles])."""
    built: list[GraphNode] = []
    for index, spec in enumerate(specs):
        if isinstance(spec, str):
            built.append(GraphNode(f"nodes[{index}]", spec, "tool"))
        elif len(spec) == 2:
            built.append(GraphNode(f"nodes[{index}]", spec[0], spec[1]))
        else:
            built.append(GraphNode(f"nodes[{index}]", spec[0], spec[1], spec[2]))
    return built


def edges(*specs: tuple[str, str] | tuple[str, str, str]) -> list[GraphEdge]:
    """Edges labelled `edges[i]`: (source, target[, branch])."""
    return [
        GraphEdge(f"edges[{index}]", spec[0], spec[1], spec[2] if len(spec) == 3 else None)
        for index, spec in enumerate(specs)
    ]


TRIGGER = ("start", "trigger")
DECIDE = ("decide", "condition", ("yes", "no"))


def test_a_valid_trigger_tool_condition_graph_has_no_problems() -> None:
    graph_nodes = nodes(TRIGGER, "fetch", DECIDE, "buy", "wait")
    graph_edges = edges(
        ("start", "fetch"), ("fetch", "decide"), ("decide", "buy", "yes"), ("decide", "wait", "no")
    )

    assert shape_problems(graph_nodes, graph_edges) == []
    assert run_problems(graph_nodes, graph_edges) == []


def test_a_diamond_is_not_a_cycle() -> None:
    graph_nodes = nodes(TRIGGER, "a", "b", ("join", "aggregator"))
    graph_edges = edges(("start", "a"), ("start", "b"), ("a", "join"), ("b", "join"))

    assert run_problems(graph_nodes, graph_edges) == []


def test_duplicate_node_names_are_refused() -> None:
    problems = shape_problems(nodes(TRIGGER, "a", "a"), [])

    assert problems == [("nodes[2].name", "another node is named 'a'; names are unique")]


def test_a_second_trigger_is_refused_naming_the_first() -> None:
    problems = shape_problems(nodes(TRIGGER, "a", ("again", "trigger")), [])

    assert problems == [
        ("nodes[2].node_type", "a workflow has exactly one trigger node and 'start' is it")
    ]


def test_unknown_edge_ends_are_named() -> None:
    problems = shape_problems(nodes(TRIGGER, "a"), edges(("start", "a"), ("ghost", "phantom")))

    assert problems == [
        ("edges[1].source", "no node is named 'ghost'"),
        ("edges[1].target", "no node is named 'phantom'"),
    ]


def test_a_self_loop_is_refused() -> None:
    problems = shape_problems(nodes(TRIGGER, "a"), edges(("start", "a"), ("a", "a")))

    assert problems == [("edges[1].target", "an edge cannot join a node to itself")]


def test_no_edge_enters_the_trigger() -> None:
    problems = shape_problems(nodes(TRIGGER, "a"), edges(("start", "a"), ("a", "start")))

    assert problems == [("edges[1].target", "the trigger node starts the graph; no edge enters it")]


@pytest.mark.parametrize("branch", [None, "maybe"])
def test_an_edge_out_of_a_condition_names_one_of_its_branches(branch: str | None) -> None:
    graph_edges = [
        GraphEdge("edges[0]", "start", "decide"),
        GraphEdge("edges[1]", "decide", "a", branch),
    ]

    problems = shape_problems(nodes(TRIGGER, DECIDE, "a"), graph_edges)

    assert problems == [
        (
            "edges[1].source_handle",
            "an edge out of condition node 'decide' names one of its branches: yes, no",
        )
    ]


def test_only_edges_out_of_a_condition_name_a_branch() -> None:
    problems = shape_problems(nodes(TRIGGER, "a"), edges(("start", "a", "yes")))

    assert problems == [
        ("edges[0].source_handle", "only edges out of a condition node name a branch")
    ]


def test_a_duplicate_edge_is_refused() -> None:
    problems = shape_problems(nodes(TRIGGER, "a"), edges(("start", "a"), ("start", "a")))

    assert problems == [("edges[1]", "duplicates the edge 'start' -> 'a'")]


def test_a_duplicate_branch_edge_names_the_branch_and_other_branches_are_distinct() -> None:
    graph_nodes = nodes(TRIGGER, DECIDE, "a")
    graph_edges = edges(
        ("start", "decide"), ("decide", "a", "yes"), ("decide", "a", "no"), ("decide", "a", "yes")
    )

    problems = shape_problems(graph_nodes, graph_edges)

    assert problems == [("edges[3]", "duplicates the edge 'decide' -> 'a' on branch 'yes'")]


def test_problems_of_unlabelled_nodes_and_edges_name_the_bare_field() -> None:
    graph_nodes = [GraphNode("", "start", "trigger"), GraphNode("", "start", "tool")]
    graph_edges = [GraphEdge("", "start", "ghost"), GraphEdge("", "a", "b")]

    problems = shape_problems(graph_nodes, graph_edges)

    assert problems == [
        ("name", "another node is named 'start'; names are unique"),
        ("target", "no node is named 'ghost'"),
        ("source", "no node is named 'a'"),
        ("target", "no node is named 'b'"),
    ]


def test_a_duplicate_unlabelled_edge_is_named_body() -> None:
    graph_edges = [GraphEdge("", "start", "a"), GraphEdge("", "start", "a")]

    assert shape_problems(nodes(TRIGGER, "a"), graph_edges) == [
        ("body", "duplicates the edge 'start' -> 'a'")
    ]


def test_a_cycle_is_spelled_out_at_the_edge_that_closes_it() -> None:
    graph_nodes = nodes(TRIGGER, "a", "b", "c")
    graph_edges = edges(("start", "a"), ("a", "b"), ("b", "c"), ("c", "a"))

    problems = shape_problems(graph_nodes, graph_edges)

    assert problems == [("edges[3].target", "this edge closes a cycle: a -> b -> c -> a")]


def test_a_two_node_cycle_is_found() -> None:
    problems = shape_problems(nodes("a", "b"), edges(("a", "b"), ("b", "a")))

    assert problems == [("edges[1].target", "this edge closes a cycle: a -> b -> a")]


def test_a_cycle_reached_late_in_the_node_order_is_found() -> None:
    graph_nodes = nodes(TRIGGER, "a", "x", "y")
    graph_edges = edges(("start", "a"), ("x", "y"), ("y", "x"))

    assert shape_problems(graph_nodes, graph_edges) == [
        ("edges[2].target", "this edge closes a cycle: x -> y -> x")
    ]


def test_cycles_are_looked_for_only_once_the_rest_is_right() -> None:
    graph_edges = edges(("a", "b"), ("b", "a"), ("a", "ghost"))

    assert shape_problems(nodes("a", "b"), graph_edges) == [
        ("edges[2].target", "no node is named 'ghost'")
    ]


def chain(length: int) -> tuple[list[GraphNode], list[GraphEdge]]:
    """A trigger and `length - 1` tools in a line: start -> n1 -> n2 -> ..."""
    names_in_order = ["start", *(f"n{index}" for index in range(1, length))]
    graph_nodes = [
        GraphNode(f"nodes[{index}]", name, "trigger" if index == 0 else "tool")
        for index, name in enumerate(names_in_order)
    ]
    graph_edges = [
        GraphEdge(f"edges[{index}]", source, target)
        for index, (source, target) in enumerate(pairwise(names_in_order))
    ]
    return graph_nodes, graph_edges


def test_a_chain_of_the_maximum_nodes_does_not_recurse_per_node() -> None:
    graph_nodes, graph_edges = chain(MAX_NODES)

    with recursion_headroom(150):
        shape = shape_problems(graph_nodes, graph_edges)
        run = run_problems(graph_nodes, graph_edges)

    assert shape == []
    assert run == []


def test_a_cycle_across_a_long_chain_is_found_without_recursion() -> None:
    graph_nodes, graph_edges = chain(MAX_NODES)
    last = graph_nodes[-1].name
    closing = GraphEdge(f"edges[{len(graph_edges)}]", last, "n1")

    with recursion_headroom(150):
        problems = shape_problems(graph_nodes, [*graph_edges, closing])

    assert len(problems) == 1
    field, reason = problems[0]
    assert field == f"edges[{len(graph_edges)}].target"
    loop = reason.removeprefix("this edge closes a cycle: ").split(" -> ")
    assert loop == [f"n{index}" for index in range(1, MAX_NODES)] + ["n1"]


def test_run_problems_need_a_trigger() -> None:
    assert run_problems(nodes("a", "b"), edges(("a", "b"))) == [
        ("nodes", "a workflow needs exactly one trigger node; there is none")
    ]


def test_run_problems_name_every_unreachable_node() -> None:
    graph_nodes = nodes(TRIGGER, "a", "lonely", "c", "d")
    graph_edges = edges(("start", "a"), ("c", "d"))

    assert shape_problems(graph_nodes, graph_edges) == []
    assert run_problems(graph_nodes, graph_edges) == [
        ("nodes[2]", "node 'lonely' cannot be reached from the trigger node"),
        ("nodes[3]", "node 'c' cannot be reached from the trigger node"),
        ("nodes[4]", "node 'd' cannot be reached from the trigger node"),
    ]


def test_run_problems_report_shape_problems_first_and_alone() -> None:
    graph_nodes = nodes("a", "a", "lonely")

    assert run_problems(graph_nodes, []) == [
        ("nodes[1].name", "another node is named 'a'; names are unique")
    ]


def test_an_empty_graph_has_no_shape_but_cannot_run() -> None:
    assert shape_problems([], []) == []
    assert run_problems([], []) == [
        ("nodes", "a workflow needs exactly one trigger node; there is none")
    ]


def test_a_workflow_has_at_most_max_nodes() -> None:
    at_limit = nodes(*(f"n{index}" for index in range(MAX_NODES)))
    over = nodes(*(f"n{index}" for index in range(MAX_NODES + 1)))

    assert shape_problems(at_limit, []) == []
    assert shape_problems(over, []) == [("nodes", f"a workflow has at most {MAX_NODES} nodes")]


def test_a_workflow_has_at_most_max_edges() -> None:
    graph_nodes = nodes(*(f"n{index}" for index in range(100)))
    # Every pair once, from the earlier node to the later one: no duplicates, no cycle.
    pairs = list(combinations((item.name for item in graph_nodes), 2))
    assert len(pairs) > MAX_EDGES

    at_limit = edges(*pairs[:MAX_EDGES])
    over = edges(*pairs[: MAX_EDGES + 1])

    assert shape_problems(graph_nodes, at_limit) == []
    assert shape_problems(graph_nodes, over) == [
        ("edges", f"a workflow has at most {MAX_EDGES} edges")
    ]


# == Regressions: bugs found by review and fixed =========================================


def test_a_template_that_passes_the_check_renders() -> None:
    template = "{{ a }}}"
    check_templates(template, "config.prompt")  # accepted when the graph is saved

    assert render(template, {"a": 1}) == "1}"


@pytest.mark.parametrize(
    "call",
    [
        lambda: valid_name("fetch\n"),
        lambda: parse_node_config("condition", branches(("yes\n", "x"))),
        lambda: parse_tool_config("python", {"callable": "pkg.mod:func\n"}),
        lambda: parse_tool_config("http", http(headers={"X-Trace\n": "v"})),
    ],
    ids=["valid_name", "branch-name", "python-callable", "http-header-name"],
)
def test_a_trailing_newline_is_not_part_of_a_valid_name(call: Callable[[], object]) -> None:
    # valid_name raises ValueError; the parsers raise FieldValidationError, a ValueError.
    with pytest.raises(ValueError, match=r"must be|is not a valid header name"):
        call()


def _parses(expression: str) -> bool:
    try:
        parse_expression(expression, "f")
    except FieldValidationError:
        return False
    return True


def test_every_accepted_expression_evaluates_without_recursion_error() -> None:
    candidates = ["|".join(["a"] * count) for count in range(50, 501, 25)]
    accepted = [expression for expression in candidates if _parses(expression)]
    assert accepted

    for expression in accepted:
        assert evaluate(expression, {"a": 1}) is None


# == Rules added by the runtime's review =================================================


@pytest.mark.parametrize(
    "url",
    [
        "http://{{ parameters.region }}.api.example.com/v1",
        "https://api.example.com{{ parameters.path }}",
        "{{ parameters.scheme }}://api.example.com/",
        "https://api.example.com:{{ parameters.port }}/",
        "https://{{ host }}/path",
    ],
)
def test_templates_may_not_fill_an_http_tools_scheme_host_or_port(url: str) -> None:
    with pytest.raises(
        FieldValidationError, match=r"not the scheme, host or port|absolute URL"
    ) as caught:
        parse_tool_config("http", http(url=url))
    assert caught.value.field == "config.url"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/quotes/{{ variables.symbol }}",
        "https://api.example.com?q={{ parameters.q }}",
        "https://api.example.com#{{ parameters.f }}",
    ],
)
def test_templates_may_fill_an_http_tools_path_query_or_fragment(url: str) -> None:
    assert isinstance(parse_tool_config("http", http(url=url)), HttpToolConfig)


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "bearer", "token": "abc\n"},
        {"type": "bearer", "token": "a\rb"},
        {"type": "header", "name": "X-Api-Key", "value": "v\x01"},
        {"type": "header", "name": "X-Api-Key", "value": "v\x7f"},
    ],
)
def test_auth_that_goes_into_a_header_has_no_control_characters(raw: dict[str, str]) -> None:
    with pytest.raises(FieldValidationError, match="control characters") as caught:
        parse_auth_config(raw)
    assert "abc" not in str(caught.value)
