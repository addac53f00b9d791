"""JSON object columns whose in-place changes are tracked and validated like assignments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.mutable import MutableDict

T = TypeVar("T")


class ValidatedJSON(MutableDict[str, Any]):
    """A JSON object that asks its owner to validate each in-place change before keeping it.

    The owning model implements `validate_json_change(attribute, new_value)`; if it
    raises, the change is undone and the error propagates.
    """

    def changed(self) -> None:
        """Validate against every owner, then flag the attribute modified."""
        for state, key in list(self._parents.items()):
            owner = state.obj()
            validate = getattr(owner, "validate_json_change", None)
            if validate is not None:
                validate(key, self)
        super().changed()

    def _undoable(self, change: Callable[[], T]) -> T:
        before = dict(self)
        try:
            return change()
        except Exception:
            dict.clear(self)
            dict.update(self, before)
            raise

    def __setitem__(self, key: str, value: Any) -> None:
        self._undoable(lambda: MutableDict.__setitem__(self, key, value))

    def __delitem__(self, key: str) -> None:
        self._undoable(lambda: MutableDict.__delitem__(self, key))

    def update(self, *args: Any, **kwargs: Any) -> None:
        """dict.update, validated."""
        self._undoable(lambda: MutableDict.update(self, *args, **kwargs))

    def pop(self, *args: Any) -> Any:
        """dict.pop, validated."""
        return self._undoable(lambda: MutableDict.pop(self, *args))

    def popitem(self) -> tuple[str, Any]:
        """dict.popitem, validated."""
        return self._undoable(lambda: MutableDict.popitem(self))

    def setdefault(self, key: str, value: Any = None) -> Any:
        """dict.setdefault, validated."""
        return self._undoable(lambda: MutableDict.setdefault(self, key, value))

    def clear(self) -> None:
        """dict.clear, validated."""
        self._undoable(lambda: MutableDict.clear(self))


# Plain JSON objects that track top-level in-place changes.
JSONObject = MutableDict.as_mutable(JSONB)
ValidatedJSONObject = ValidatedJSON.as_mutable(JSONB)
