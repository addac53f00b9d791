"""Attribute rules every model gets: defaults visible at construction, and values PostgreSQL
would refuse later (naive datetimes, NUL, bad Unicode, non-finite numbers, JSON past its
bounds) refused at assignment, naming the field."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String, event, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapper

from app.core.errors import FieldValidationError
from app.core.json_values import check_json_value, text_problem
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


def _refuse_bad_text(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
    if isinstance(value, str) and (problem := text_problem(value)) is not None:
        raise FieldValidationError(initiator.key.rstrip("_"), problem)
    return value


def _refuse_bad_json(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
    if value is not None:
        check_json_value(value, initiator.key.rstrip("_"))
    return value


def json_attributes(mapper: Mapper[Any]) -> list[str]:
    """The attribute names of a model's JSONB columns."""
    return [a.key for a in mapper.column_attrs if isinstance(a.columns[0].type, JSONB)]


@event.listens_for(Base, "mapper_configured", propagate=True)
def _guard_columns(mapper: Mapper[Any], class_: type[Any]) -> None:
    """Refuse, at assignment and naming the attribute, what PostgreSQL would refuse later
    (naive datetimes, NUL characters, unpaired surrogates, non-finite numbers) and JSON
    beyond the stored-value bounds (`app.core.json_values`)."""
    for attribute in mapper.column_attrs:
        column_type = attribute.columns[0].type
        if isinstance(column_type, UTCDateTime):
            event.listen(attribute, "set", _refuse_naive, retval=True)
        elif isinstance(column_type, String):
            event.listen(attribute, "set", _refuse_bad_text, retval=True)
        elif isinstance(column_type, JSONB):
            event.listen(attribute, "set", _refuse_bad_json, retval=True)
