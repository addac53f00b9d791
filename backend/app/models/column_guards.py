"""Attribute rules every model gets: defaults visible at construction, and values PostgreSQL
would refuse later (naive datetimes, NUL characters) refused at assignment, naming the field."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import String, event, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapper

from app.core.errors import FieldValidationError
from app.models.base import Base
from app.models.types import UTCDateTime, require_aware


@event.listens_for(Base, "init", propagate=True)
def _apply_defaults(target: Base, args: Any, kwargs: dict[str, Any]) -> None:
    """Give a new object its id and scalar defaults at once, not only at INSERT."""
    mapper = inspect(type(target))
    if "id" in mapper.column_attrs and kwargs.get("id") is None:
        kwargs["id"] = uuid.uuid4()
    for attribute in mapper.column_attrs:
        default = attribute.columns[0].default
        if attribute.key not in kwargs and default is not None and default.is_scalar:
            kwargs[attribute.key] = default.arg


def _refuse_naive(target: Any, value: datetime | None, oldvalue: Any, initiator: Any) -> Any:
    return require_aware(value, initiator.key)


def nul_path(value: Any, path: str) -> str | None:
    """Where in a string or JSON value a NUL character hides (PostgreSQL cannot store it)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if "\x00" in str(key):
                return f"{path}.{key!r}"
            if (found := nul_path(item, f"{path}.{key}")) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := nul_path(item, f"{path}[{index}]")) is not None:
                return found
    return None


def _refuse_nul(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
    field = initiator.key.rstrip("_")
    if (where := nul_path(value, field)) is not None:
        raise FieldValidationError(where, "contains a NUL character, which cannot be stored")
    return value


@event.listens_for(Base, "mapper_configured", propagate=True)
def _guard_columns(mapper: Mapper[Any], class_: type[Any]) -> None:
    """Refuse, at assignment and naming the attribute, what PostgreSQL would refuse later:
    naive datetimes, and NUL characters in text and JSON."""
    for attribute in mapper.column_attrs:
        column_type = attribute.columns[0].type
        if isinstance(column_type, UTCDateTime):
            event.listen(attribute, "set", _refuse_naive, retval=True)
        elif isinstance(column_type, (String, JSONB)):
            event.listen(attribute, "set", _refuse_nul, retval=True)
