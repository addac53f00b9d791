"""Base classes of every feature's bodies: read models built one safe way, and PATCH bodies
where a missing or null field means "unchanged"."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar, Self

from pydantic import BaseModel
from sqlalchemy import RowMapping

from app.models import Base

Source = Base | Mapping[str, Any] | RowMapping


class ReadModel(BaseModel):
    """A response body built only by `of()`, from an ORM object's column values or a Core row.

    Fields are looked up by column name (never by attribute), so a field called `metadata`
    gets the `metadata` column, not SQLAlchemy's `MetaData`. Fields that are not columns
    are named in `computed` and filled by `values_of`.
    """

    computed: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def columns_of(cls, source: Source) -> dict[str, Any]:
        """The model's fields that `source` holds, by column name."""
        values: Mapping[str, Any] | RowMapping = (
            source.column_values() if isinstance(source, Base) else source
        )
        return {name: values[name] for name in _column_fields(cls)}

    @classmethod
    def values_of(cls, source: Source) -> dict[str, Any]:
        """All the model's fields as a plain dict; models with computed fields extend this."""
        return cls.columns_of(source)

    @classmethod
    def of(cls, source: Source) -> Self:
        """The read model of an ORM object or a Core row (validated)."""
        return cls.model_validate(cls.values_of(source))


@cache
def _column_fields(model: type[ReadModel]) -> tuple[str, ...]:
    """A read model's column fields, worked out once (lists build a read model per row)."""
    return tuple(name for name in model.model_fields if name not in model.computed)


class PatchModel(BaseModel):
    """A PATCH body: fields left out, or given as null, stay as they are.

    Fields named in `clearable` are the exception: null clears them.
    """

    clearable: ClassVar[frozenset[str]] = frozenset()

    def changes(self) -> dict[str, Any]:
        """{field: new value} for what the request changes."""
        given = self.model_dump(exclude_unset=True)
        return {
            name: value
            for name, value in given.items()
            if value is not None or name in self.clearable
        }
