"""Errors the domain raises for bad input: each names the field and the reason."""

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
