"""Objects their owner may share (tools, agents: `owner_id` and `is_public`): everyone reads
and uses a public one, only its owner changes it, and a private one of someone else's is
unknown (404). One home for these rules, for every shared kind."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.api.errors import ConflictError, ForbiddenError, NotFoundError
from app.db.repository import hide_deleted

M = TypeVar("M")


def usable_by(model: Any, user_id: uuid.UUID) -> ColumnElement[bool]:
    """The rows `user_id` may read and use: their own and everyone's public ones."""
    condition: ColumnElement[bool] = or_(model.owner_id == user_id, model.is_public.is_(True))
    return condition


def usable(model: type[M], user_id: uuid.UUID) -> Select[Any]:
    """SELECT the live objects of `model` that `user_id` may read and use."""
    return hide_deleted(select(model).where(usable_by(model, user_id)), model)


async def require_usable(
    session: AsyncSession, model: type[M], user_id: uuid.UUID, object_id: uuid.UUID, kind: str
) -> M:
    """The live object if the user owns it or it is public; 404 otherwise."""
    found: M | None = await session.scalar(usable(model, user_id).where(_id(model) == object_id))
    if found is None:
        raise NotFoundError(f"{kind} not found")
    return found


async def require_owned(
    session: AsyncSession,
    model: type[M],
    user_id: uuid.UUID,
    object_id: uuid.UUID,
    kind: str,
    *,
    include_deleted: bool = False,
) -> M:
    """The user's own object, to change; 403 for someone else's public one, else 404."""
    statement: Select[Any] = select(model).where(_id(model) == object_id)
    if not include_deleted:
        statement = hide_deleted(statement, model)
    found: Any = await session.scalar(statement.where(usable_by(model, user_id)))
    if found is None:
        raise NotFoundError(f"{kind} not found")
    if found.owner_id != user_id:
        if include_deleted and found.deleted_at is not None:
            raise NotFoundError(f"{kind} not found")
        raise ForbiddenError(f"Only its owner can change this {kind.lower()}")
    owned_object: M = found
    return owned_object


async def delete_owned(
    session: AsyncSession, model: type[M], user_id: uuid.UUID, object_id: uuid.UUID, kind: str
) -> None:
    """Soft-delete the user's own object (403 / 404 as `require_owned`)."""
    found: Any = await require_owned(session, model, user_id, object_id, kind)
    found.soft_delete()
    await session.flush()


async def restore_owned(
    session: AsyncSession, model: type[M], user_id: uuid.UUID, object_id: uuid.UUID, kind: str
) -> M:
    """Undelete the user's own object; 409 when it is not deleted."""
    found: Any = await require_owned(session, model, user_id, object_id, kind, include_deleted=True)
    if not found.is_deleted:
        raise ConflictError(f"{kind} is not deleted")
    found.restore()
    await session.flush()
    restored: M = found
    return restored


def _id(model: Any) -> InstrumentedAttribute[uuid.UUID]:
    column: InstrumentedAttribute[uuid.UUID] = model.id
    return column
