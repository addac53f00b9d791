"""What a stored JSON value or text may hold: finite numbers, valid Unicode without NUL,
bounded depth and size. PostgreSQL refuses NUL, lone surrogates and non-finite numbers in
JSONB; the depth bound sits below every renderer's (orjson stops at 255), so whatever is
stored can be read back; the size bound keeps one field from filling memory or a table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from app.core.errors import FieldValidationError

MAX_JSON_DEPTH = 32
MAX_JSON_BYTES = 64 * 1024
MAX_TEXT_LENGTH = 10_000
# JSONB keeps any number, but readers (orjson, JavaScript) do not: whole numbers stay in
# the signed 64-bit range so that what is stored reads back as it was written.
MAX_JSON_INTEGER = 2**63 - 1

_INVALID_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    found = _INVALID_TEXT.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character, which cannot be stored"
    return "contains an unpaired surrogate, which is not valid Unicode"


def check_json_value(
    value: object, field: str, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> None:
    """Raise FieldValidationError naming where `value` breaks the rules above (with these
    bounds). The walk stops as soon as the size is spent, so a value whose parts repeat
    one another (as an expression can build) costs no more than `max_bytes` to check."""
    budget = [max_bytes, max_bytes, max_depth]
    _check(value, field, 0, budget)


def _spend(budget: list[int], amount: int, field: str) -> None:
    budget[0] -= amount
    if budget[0] < 0:
        limit = budget[1]
        size = f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"
        raise FieldValidationError(field, f"larger than {size} of JSON")


def _check(value: object, path: str, depth: int, budget: list[int]) -> None:
    if depth > budget[2]:
        raise FieldValidationError(path, f"nested deeper than {budget[2]} levels")
    if isinstance(value, Mapping):
        for key, item in value.items():
            key_text = str(key)
            if (problem := text_problem(key_text)) is not None:
                raise FieldValidationError(f"{path}.{key_text!r}", problem)
            _spend(budget, len(key_text) + 4, path)
            _check(item, f"{path}.{key_text}", depth + 1, budget)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _spend(budget, 2, path)
            _check(item, f"{path}[{index}]", depth + 1, budget)
    else:
        _check_scalar(value, path, budget)


def _check_scalar(value: object, path: str, budget: list[int]) -> None:
    if isinstance(value, str):
        _spend(budget, len(value) + 2, path)
        if (problem := text_problem(value)) is not None:
            raise FieldValidationError(path, problem)
    elif isinstance(value, float):
        _spend(budget, 24, path)
        if not math.isfinite(value):
            raise FieldValidationError(path, "must be a finite number (not NaN or Infinity)")
    elif value is None or isinstance(value, bool):
        _spend(budget, 24, path)
    elif isinstance(value, int):
        _spend(budget, 24, path)
        if abs(value) > MAX_JSON_INTEGER:
            raise FieldValidationError(path, "a whole number beyond the signed 64-bit range")
    else:
        raise FieldValidationError(path, f"{type(value).__name__} is not a JSON value")
