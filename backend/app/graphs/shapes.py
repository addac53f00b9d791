"""Strict configuration shapes and the one way their errors are named."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from app.core.errors import FieldValidationError, error_path
from app.core.json_values import check_json_value

S = TypeVar("S", bound=BaseModel)


class StrictShape(BaseModel):
    """A configuration object: unknown keys refused, no type coercion, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _reason(error: Mapping[str, Any], what: str) -> str:
    if error["type"] == "extra_forbidden":
        return f"unknown key for {what}"
    if error["type"] == "missing":
        return f"required for {what}"
    return str(error["msg"]).removeprefix("Value error, ")


def parse_shape(model: type[S], raw: object, field: str, what: str) -> S:
    """`raw` validated as `model`; FieldValidationError naming `field.key` and the reason.

    `what` completes "unknown key for ..." (e.g. "an http tool").
    """
    if not isinstance(raw, Mapping):
        raise FieldValidationError(field, "must be a JSON object")
    check_json_value(raw, field)
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        errors = [
            (error_path(field, tuple(error["loc"])), _reason(error, what)) for error in exc.errors()
        ]
        raise FieldValidationError(errors[0][0], errors[0][1], errors=errors) from None
