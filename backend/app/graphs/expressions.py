"""The one expression language of graphs: JMESPath, safe by design (no access to Python
objects, no I/O). Expressions are parsed when a graph is saved; the runtime evaluates the
same parsed form.

In templates, a string that is exactly `{{ expr }}` stands for the expression's value
(any JSON type); `{{ expr }}` inside a longer string stands for the value's text.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import jmespath
from jmespath.exceptions import IncompleteExpressionError, JMESPathError, LexerError, ParseError
from jmespath.functions import Functions, signature
from jmespath.parser import ParsedResult

from app.core.errors import FieldValidationError
from app.core.json_values import check_json_value

MAX_EXPRESSION_LENGTH = 1000
# Deeper syntax trees are not written by people, and evaluating one recurses per level.
MAX_EXPRESSION_DEPTH = 64
TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# The built-in functions and their signatures: calls are checked when a graph is saved.
_FUNCTIONS: dict[str, Any] = Functions().FUNCTION_TABLE
# The most text to_string() may make: a value built of repeated parts can stand for far
# more JSON than the memory it takes.
MAX_TO_STRING_BYTES = 1024 * 1024


class _BoundedFunctions(Functions):  # type: ignore[misc]
    """JMESPath's functions, with to_string() refusing to write out more than a megabyte."""

    @signature({"types": []})  # type: ignore[untyped-decorator]
    def _func_to_string(self, arg: Any) -> str:
        if isinstance(arg, str):
            return arg
        check_json_value(arg, "to_string()", max_bytes=MAX_TO_STRING_BYTES, max_depth=64)
        return json.dumps(arg, separators=(",", ":"), default=str)


_OPTIONS = jmespath.Options(custom_functions=_BoundedFunctions())


@lru_cache(maxsize=4096)
def _compile(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def parse_expression(expression: object, field: str) -> ParsedResult:
    """The parsed JMESPath `expression`; FieldValidationError naming `field` when it is not
    one (or is too long or too deeply nested to be one a person wrote)."""
    if not isinstance(expression, str):
        raise FieldValidationError(field, "must be a JMESPath expression (a string)")
    text = expression.strip()
    if not text:
        raise FieldValidationError(field, "must be a JMESPath expression, not empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise FieldValidationError(
            field, f"longer than {MAX_EXPRESSION_LENGTH} characters; split the logic up"
        )
    try:
        parsed = _compile(text)
        problem = _depth_problem(parsed.parsed) or _call_problem(parsed.parsed)
    except JMESPathError as exc:
        raise FieldValidationError(
            field, f"not a valid JMESPath expression: {_syntax_problem(exc)}"
        ) from None
    except RecursionError:
        raise FieldValidationError(field, "nested too deeply to be parsed") from None
    if problem is not None:
        raise FieldValidationError(field, f"not a valid JMESPath expression: {problem}")
    return parsed


def _syntax_problem(error: JMESPathError) -> str:
    where = getattr(error, "lex_position", None)
    at = f" at character {where}" if isinstance(where, int) else ""
    if isinstance(error, LexerError):
        return f"{error.message}{at}"
    if isinstance(error, IncompleteExpressionError):
        return f"incomplete expression{at}"
    if isinstance(error, ParseError):
        return f"unexpected {error.token_value!r}{at}"
    return str(error).splitlines()[0]


def _depth_problem(tree: dict[str, Any]) -> str | None:
    """Why the syntax tree is too deep to evaluate safely (walked without recursion)."""
    stack: list[tuple[dict[str, Any], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            return f"nested deeper than {MAX_EXPRESSION_DEPTH} levels"
        stack.extend(
            (child, depth + 1) for child in node.get("children", ()) if isinstance(child, dict)
        )
    return None


def _call_problem(node: dict[str, Any]) -> str | None:
    """Why a function call in the syntax tree would fail whatever the data: an unknown
    function, or the wrong number of arguments."""
    if node.get("type") == "function_expression":
        name, arguments = node["value"], node["children"]
        entry = _FUNCTIONS.get(name)
        if entry is None:
            return f"unknown function {name}()"
        signature = entry["signature"]
        variadic = bool(signature) and signature[-1].get("variadic", False)
        expected = len(signature)
        if (variadic and len(arguments) < expected) or (
            not variadic and len(arguments) != expected
        ):
            count = f"at least {expected}" if variadic else str(expected)
            return f"{name}() takes {count} argument(s), {len(arguments)} given"
    for child in node.get("children", ()):
        if isinstance(child, dict) and (problem := _call_problem(child)) is not None:
            return problem
    return None


def template_expressions(value: object, field: str) -> list[tuple[str, str]]:
    """Every `{{ expr }}` in a JSON value, as (field path, expression), in order."""
    found: list[tuple[str, str]] = []
    _collect(value, field, found)
    return found


def _collect(value: object, path: str, found: list[tuple[str, str]]) -> None:
    if isinstance(value, str):
        found.extend((path, match.group(1)) for match in TEMPLATE.finditer(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect(item, f"{path}.{key}", found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _collect(item, f"{path}[{index}]", found)


def check_templates(value: object, field: str) -> None:
    """Parse every template expression in `value`, naming the first bad one's field."""
    for path, expression in template_expressions(value, field):
        parse_expression(expression, path)


def evaluate(expression: str, data: Any) -> Any:
    """The value of `expression` over the JSON value `data`."""
    return _compile(expression.strip()).search(data, options=_OPTIONS)


def render(value: Any, data: Any) -> Any:
    """`value` with its templates replaced over `data` (see the module docstring)."""
    if isinstance(value, str):
        found = list(TEMPLATE.finditer(value))
        if len(found) == 1 and found[0].span() == (0, len(value)):
            return evaluate(found[0].group(1), data)
        return TEMPLATE.sub(lambda match: _as_text(evaluate(match.group(1), data)), value)
    if isinstance(value, dict):
        return {key: render(item, data) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, data) for item in value]
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    check_json_value(value, "template", max_bytes=MAX_TO_STRING_BYTES, max_depth=64)
    return json.dumps(value, separators=(",", ":"))
