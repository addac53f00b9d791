"""Application settings, read from environment variables (and an optional `.env`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.db.url import to_async_url


class Settings(BaseSettings):
    """Runtime configuration; every field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        description="PostgreSQL URL; a plain postgresql:// URL is given the asyncpg driver.",
    )
    database_pool_size: int = Field(default=10, ge=1)
    database_echo: bool = False
    scheduler_enabled: bool = True
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return to_async_url(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
