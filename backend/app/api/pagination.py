"""Keyset pagination: newest first by (created_at, id), with an opaque cursor."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, UnaryExpression, tuple_
from sqlalchemy.orm import InstrumentedAttribute, QueryableAttribute

from app.api.errors import InvalidInputError

T = TypeVar("T")
# A column as a model attribute (Schedule.created_at) or as a Core expression.
Column = ColumnElement[Any] | QueryableAttribute[Any]
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


class Page(BaseModel, Generic[T]):
    """A page of a list; pass `next_cursor` back as `cursor` for the next one (null: no more)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(moment: datetime, row_id: uuid.UUID) -> str:
    """An opaque cursor for the position after (moment, id)."""
    raw = json.dumps([moment.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MAX_CURSOR_LENGTH = 200


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position in a cursor; 422 naming `cursor` for anything that is not one of ours."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded))
        if not (isinstance(decoded, list) and len(decoded) == 2):
            raise ValueError("not a position")
        moment_text, row_id = decoded
        if not (isinstance(moment_text, str) and isinstance(row_id, str)):
            raise ValueError("not a position")
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment.astimezone(UTC), uuid.UUID(row_id)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise InvalidInputError(
            "Invalid cursor", [("cursor", "not a cursor returned by this API")]
        ) from None


def after_position(order: Column, row_id: Column, after: Any, after_id: Any) -> ColumnElement[bool]:
    """Rows past a cursor's (moment, id) in newest-first order: a row comparison, which an
    index on (..., order, id) serves directly. `after` may be a value or a bind parameter."""
    return tuple_(order, row_id) < tuple_(after, after_id)


def newest_first(order: Column, row_id: Column) -> tuple[UnaryExpression[Any], ...]:
    """The ORDER BY of every keyset page: (`order`, id) descending."""
    return order.desc(), row_id.desc()


def paginate(
    statement: Select[Any],
    order: InstrumentedAttribute[Any],
    row_id: InstrumentedAttribute[uuid.UUID],
    cursor: str | None,
    limit: int,
) -> Select[Any]:
    """Order newest first by (`order`, id) and start after `cursor`; fetches one extra row
    to know whether more follow."""
    if cursor is not None:
        statement = statement.where(after_position(order, row_id, *decode_cursor(cursor)))
    return statement.order_by(*newest_first(order, row_id)).limit(limit + 1)


def page_of(rows: list[Any], limit: int, order: str = "created_at") -> tuple[list[Any], str | None]:
    """Trim the extra row and compute the next cursor from the last row's (`order`, id)."""
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(getattr(last, order), last.id)
