"""Column types shared by the models: aware UTC timestamps, enums as checked VARCHAR, JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import DateTime, Dialect
from sqlalchemy import Enum as SAEnum
from sqlalchemy.types import TypeDecorator

from app.core.errors import FieldValidationError

E = TypeVar("E", bound=Enum)


class NaiveDatetimeError(FieldValidationError):
    """A naive datetime was written where an aware instant is required."""

    def __init__(self, field: str) -> None:
        super().__init__(field, "naive datetime refused; give a timezone-aware datetime")


def require_aware(value: datetime | None, field: str) -> datetime | None:
    """Return `value` converted to UTC; raise NaiveDatetimeError when it has no timezone."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise FieldValidationError(field, f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(field)
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """`timestamp with time zone` that refuses naive datetimes.

    Values come back aware in UTC as they are: asyncpg decodes timestamptz to UTC itself,
    whatever the session's TimeZone (no per-value result processing on hot reads).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive values rather than guess their zone."""
        return require_aware(value, "timestamp")


def enum_type(enum: type[E], name: str, length: int = 50) -> SAEnum:
    """A VARCHAR column holding `enum`'s values, with a CHECK constraint named `name`."""
    return SAEnum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


def coerce_enum(
    enum: type[E], value: Any, field: str, error: type[FieldValidationError] = FieldValidationError
) -> E:
    """Return `value` as a member of `enum`; `error` naming `field` when it is not one."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in enum)
        raise error(field, f"{value!r} is not one of {allowed}") from None
