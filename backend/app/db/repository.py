"""Queries every feature repository shares: objects scoped to their owner, deleted rows hidden.

The one place that applies soft-delete filtering to owned objects (after polar's
soft-deletion repository mixin); repositories never write `deleted_at IS NULL` themselves.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from app.models import Base, SoftDeleteMixin

M = TypeVar("M", bound=Base)
Owner = ColumnElement[Any] | QueryableAttribute[Any]


def owned(
    model: type[M], owner: Owner, owner_id: uuid.UUID, *, include_deleted: bool
) -> Select[Any]:
    """SELECT the objects of `model` whose `owner` column is `owner_id`, live ones unless
    `include_deleted`."""
    statement: Select[Any] = select(model).where(owner == owner_id)
    return statement if include_deleted else hide_deleted(statement, model)


def hide_deleted(statement: Select[Any], model: type[Any]) -> Select[Any]:
    """`statement` limited to live rows of `model` (as is for a model without soft delete)."""
    if issubclass(model, SoftDeleteMixin):
        return statement.where(model.not_deleted())
    return statement


async def get_owned(
    session: AsyncSession,
    model: type[M],
    owner: Owner,
    owner_id: uuid.UUID,
    object_id: uuid.UUID,
    *,
    include_deleted: bool,
) -> M | None:
    """The owner's object with this id, or None (also when it is someone else's)."""
    statement = owned(model, owner, owner_id, include_deleted=include_deleted)
    id_column: ColumnElement[Any] = model.__table__.c.id
    found: M | None = (await session.execute(statement.where(id_column == object_id))).scalar()
    return found
