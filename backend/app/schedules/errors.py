"""The error raised for invalid schedule input."""

from __future__ import annotations

from app.core.errors import FieldValidationError


class ScheduleValidationError(FieldValidationError):
    """A schedule's type, config, timezone or metadata is invalid (field and reason named)."""


# Pydantic names the member of a union that failed (`hour.int`); users know only the key.
_UNION_TAGS = frozenset({"int", "str", "bool", "float", "list", "dict"})


def error_path(root: str, location: tuple[int | str, ...]) -> str:
    """`root.key[index].key` for a pydantic error location, without union-member tags."""
    path = root
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in _UNION_TAGS and "[" not in part:
            path += f".{part}"
    return path
