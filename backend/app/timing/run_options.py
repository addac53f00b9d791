"""Run options: a schedule's free-form `metadata`, with its known keys typed and bounded.

`max_instances`, `coalesce` and `misfire_grace_time` steer the firing engine; `priority`,
`tags` and `notification` are kept for people and later features; other keys are kept as
given. No key may name a credential (`app.core.credentials`). See docs/schedules.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.credentials import find_credential
from app.core.errors import FieldValidationError, error_path
from app.core.json_values import check_json_value
from app.timing.errors import ScheduleValidationError

METADATA_FIELD = "metadata"
DEFAULT_MISFIRE_GRACE_SECONDS = 60
# Upper bounds: a grace beyond a day or more runs than this at once is not a schedule, and
# unbounded values let one schedule make the firing engine's work unbounded.
MAX_MISFIRE_GRACE_SECONDS = 86_400
MAX_INSTANCES = 100
MAX_TAGS = 32
MAX_CHANNELS = 32


class Notification(BaseModel):
    """Who hears about a run's outcome."""

    model_config = ConfigDict(extra="forbid", strict=True)

    on_success: bool | None = None
    on_failure: bool | None = None
    channels: list[str] | None = Field(default=None, max_length=MAX_CHANNELS)


class RunOptions(BaseModel):
    """The known metadata keys, strictly typed; other keys are kept as given."""

    model_config = ConfigDict(extra="allow", strict=True)

    priority: Literal["low", "normal", "high"] | None = None
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    notification: Notification | None = None
    max_instances: int | None = Field(default=None, ge=1, le=MAX_INSTANCES)
    coalesce: bool | None = None
    misfire_grace_time: int | None = Field(default=None, ge=0, le=MAX_MISFIRE_GRACE_SECONDS)

    @property
    def effective_max_instances(self) -> int:
        """`max_instances`, default 1."""
        return 1 if self.max_instances is None else self.max_instances

    @property
    def effective_coalesce(self) -> bool:
        """`coalesce`, default true."""
        return True if self.coalesce is None else self.coalesce

    @property
    def effective_misfire_grace_time(self) -> int:
        """`misfire_grace_time` in seconds, default 60."""
        if self.misfire_grace_time is None:
            return DEFAULT_MISFIRE_GRACE_SECONDS
        return self.misfire_grace_time

    @property
    def misfire_grace(self) -> timedelta:
        """`misfire_grace_time` as a timedelta."""
        return timedelta(seconds=self.effective_misfire_grace_time)


MAX_TAG_LENGTH = 64


def parse_run_options(raw: object) -> RunOptions:
    """Validate `raw` as schedule metadata; raises ScheduleValidationError naming the key."""
    if not isinstance(raw, Mapping):
        raise ScheduleValidationError(METADATA_FIELD, "must be a JSON object")
    try:  # depth and size first: the walks below recurse
        check_json_value(raw, METADATA_FIELD)
    except FieldValidationError as exc:
        raise ScheduleValidationError(exc.field, exc.reason) from None
    if (secret := find_credential(raw, METADATA_FIELD)) is not None:
        raise ScheduleValidationError(
            secret, "looks like a credential; secrets do not belong in metadata"
        )
    try:
        parsed = RunOptions.model_validate(dict(raw))
    except ValidationError as exc:
        errors = [
            (error_path(METADATA_FIELD, error["loc"]), str(error["msg"])) for error in exc.errors()
        ]
        raise ScheduleValidationError(errors[0][0], errors[0][1], errors=errors) from None
    for index, tag in enumerate(parsed.tags or []):
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise ScheduleValidationError(
                f"{METADATA_FIELD}.tags[{index}]",
                f"a tag is a non-empty string of at most {MAX_TAG_LENGTH} characters",
            )
    return parsed
