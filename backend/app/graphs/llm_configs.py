"""An agent's model configuration. API keys never live here: they come from settings, per
provider, so a key-like key or value is refused."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, FiniteFloat, field_validator

from app.core.credentials import find_credential
from app.core.errors import FieldValidationError
from app.graphs.shapes import StrictShape, parse_shape
from app.graphs.tool_configs import check_url

LLM_FIELD = "llm_config"
# Provider key formats (OpenAI sk-..., Anthropic sk-ant-..., and long opaque tokens).
_KEY_LIKE = re.compile(
    r"^(sk-|sk_|xai-|AIza)[A-Za-z0-9_\-]{16,}$|^[A-Za-z0-9]{32,}\.[A-Za-z0-9]{8,}$"
)
_KEY_RULE = "API keys come from settings (OPENAI_API_KEY, ANTHROPIC_API_KEY, GLM_API_KEY)"


class LLMConfig(StrictShape):
    """Which model answers and how."""

    provider: Literal["anthropic", "openai", "glm"]
    model: str = Field(min_length=1, max_length=200)
    temperature: FiniteFloat | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    base_url: str | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)


def parse_llm_config(raw: object, field: str = LLM_FIELD) -> LLMConfig:
    """`raw` validated as an agent's model configuration, credentials refused."""
    if isinstance(raw, Mapping):
        if (found := find_credential(raw, field)) is not None:
            raise FieldValidationError(found, f"names a credential; {_KEY_RULE}")
        for key, value in raw.items():
            if isinstance(value, str) and _KEY_LIKE.fullmatch(value):
                raise FieldValidationError(f"{field}.{key}", f"looks like an API key; {_KEY_RULE}")
    parsed = parse_shape(LLMConfig, raw, field, "llm_config")
    assert isinstance(parsed, LLMConfig)
    return parsed
