"""Declarative base, naming convention and the mixins every table builds on (docs/data-model.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, MetaData, func, inspect, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.core.clock import utc_now
from app.models.types import UTCDateTime

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

    @classmethod
    def not_deleted(cls) -> ColumnElement[bool]:
        """SQL: the row is live. Every ORM/Core query that hides deleted rows uses this."""
        return cls.deleted_at.is_(None)


def not_deleted_sql(alias: str | None = None) -> str:
    """SQL text of `SoftDeleteMixin.not_deleted()` for partial indexes and text statements."""
    return f"{_prefix(alias)}deleted_at IS NULL"


def live_and_active_sql(alias: str | None = None) -> str:
    """SQL text: the row is enabled (`is_active`) and not deleted, e.g. a schedule that may
    fire or a workflow that may run."""
    return f"{_prefix(alias)}is_active AND {not_deleted_sql(alias)}"


def _prefix(alias: str | None) -> str:
    return f"{alias}." if alias else ""
