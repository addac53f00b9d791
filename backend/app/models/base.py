"""Declarative base, naming convention and the mixins every table builds on."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import MetaData, String, event, func, inspect, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column

from app.core.errors import FieldValidationError
from app.models.types import UTCDateTime, require_aware
from app.schedules.clock import utc_now

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Audit columns go after a table's own columns.
_AUDIT_ORDER = 1000


class Base(DeclarativeBase):
    """Declarative base whose metadata names every constraint and index predictably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def column_values(self) -> dict[str, Any]:
        """{column name: value}: the same shape as a Core row of this table."""
        return {
            attribute.columns[0].name: getattr(self, attribute.key)
            for attribute in inspect(type(self)).column_attrs
        }


class UUIDMixin:
    """A UUID primary key, set when the object is created (and by the server for raw SQL)."""

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True,
        default=uuid.uuid4,
        server_default=text("gen_random_uuid()"),
        sort_order=-1,
    )


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


class TimestampMixin:
    """`created_at` and `updated_at`, aware UTC; `updated_at` moves on every ORM update."""

    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime,
        default=utc_now,
        server_default=func.now(),
        sort_order=_AUDIT_ORDER,
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime,
        default=utc_now,
        onupdate=utc_now,
        server_default=func.now(),
        sort_order=_AUDIT_ORDER,
    )


class SoftDeleteMixin:
    """`deleted_at` (NULL = live). Deletion is independent of a model's own `is_active`."""

    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, sort_order=_AUDIT_ORDER)

    @property
    def is_deleted(self) -> bool:
        """True once soft-deleted."""
        return self.deleted_at is not None

    def soft_delete(self, at: datetime | None = None) -> None:
        """Mark the row deleted (at `at`, default now); a second call keeps the first time."""
        if self.deleted_at is None:
            self.deleted_at = at or utc_now()

    def restore(self) -> None:
        """Bring a soft-deleted row back."""
        self.deleted_at = None


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
