"""The error raised for an invalid schedule definition, time zone or run option."""

from __future__ import annotations

from app.core.errors import FieldValidationError


class ScheduleValidationError(FieldValidationError):
    """A schedule's type, config, timezone or metadata is invalid (field and reason named)."""
