"""Validation of a schedule's free-form `metadata` (schedule-semantics.md, "metadata")."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.schedules.errors import ScheduleValidationError, error_path

METADATA_FIELD = "metadata"
DEFAULT_MISFIRE_GRACE_SECONDS = 60

_CREDENTIAL_WORDS = frozenset(
    {"password", "passwd", "secret", "token", "credential", "credentials"}
)
_CREDENTIAL_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key")})
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


class Notification(BaseModel):
    """Who hears about a run's outcome."""

    model_config = ConfigDict(extra="forbid", strict=True)

    on_success: bool | None = None
    on_failure: bool | None = None
    channels: list[str] | None = None


class ScheduleMetadata(BaseModel):
    """The known metadata keys, strictly typed; other keys are kept as given."""

    model_config = ConfigDict(extra="allow", strict=True)

    priority: Literal["low", "normal", "high"] | None = None
    tags: list[str] | None = Field(default=None)
    notification: Notification | None = None
    max_instances: int | None = Field(default=None, ge=1)
    coalesce: bool | None = None
    misfire_grace_time: int | None = Field(default=None, ge=0)

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


MAX_TAG_LENGTH = 64


def key_words(key: str) -> list[str]:
    """Split a key into lower-case words at `_`, `-` and case changes (`accessKey`: access key)."""
    return [word.lower() for part in re.split(r"[_\-\s]+", key) for word in _WORD.findall(part)]


def names_credential(key: str) -> bool:
    """True when `key` names a secret (password, token, api key, ...) that must not be stored."""
    words = key_words(key)
    if any(word in _CREDENTIAL_WORDS or word == "apikey" for word in words):
        return True
    return any(pair in _CREDENTIAL_PAIRS for pair in itertools.pairwise(words))


def _find_credential(value: object, path: str) -> str | None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}"
            if names_credential(str(key)):
                return here
            if (found := _find_credential(item, here)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _find_credential(item, f"{path}[{index}]")) is not None:
                return found
    return None


def parse_metadata(raw: object) -> ScheduleMetadata:
    """Validate `raw` as schedule metadata; raises ScheduleValidationError naming the key."""
    if not isinstance(raw, Mapping):
        raise ScheduleValidationError(METADATA_FIELD, "must be a JSON object")
    if (secret := _find_credential(raw, METADATA_FIELD)) is not None:
        raise ScheduleValidationError(
            secret, "looks like a credential; secrets do not belong in metadata"
        )
    try:
        parsed = ScheduleMetadata.model_validate(dict(raw))
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
