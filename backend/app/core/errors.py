"""The error raised for bad input, naming the field and the reason, and how fields are named."""

from __future__ import annotations


class FieldValidationError(ValueError):
    """A field holds an invalid value; the message names the field and the reason.

    `errors` lists every (field, reason) found, the first of which is `field` / `reason`.
    """

    def __init__(
        self, field: str, reason: str, *, errors: list[tuple[str, str]] | None = None
    ) -> None:
        self.field = field
        self.reason = reason
        self.errors = errors or [(field, reason)]
        super().__init__("; ".join(f"{name}: {why}" for name, why in self.errors))


# Pydantic names the member of a union that failed (`hour.int`); users know only the key.
_UNION_TAGS = frozenset(
    {"int", "str", "bool", "float", "list", "dict", "constrained-str", "constrained-int"}
)


def error_path(root: str, location: tuple[int | str, ...]) -> str:
    """`root.key[index].key` for a pydantic error location, without union-member tags."""
    path = root
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in _UNION_TAGS and "[" not in part:
            path += f".{part}"
    return path
