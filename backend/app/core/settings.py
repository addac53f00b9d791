"""Application settings, read from environment variables (and an optional `.env`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.db.url import to_async_url
from app.scheduler.engine import EngineConfig


class Settings(BaseSettings):
    """Runtime configuration; every field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        description="PostgreSQL URL; a plain postgresql:// URL is given the asyncpg driver.",
    )
    database_pool_size: int = Field(default=10, ge=1)
    database_echo: bool = False
    scheduler_enabled: bool = True
    scheduler_batch_size: int = Field(default=1000, ge=1, le=10_000)
    scheduler_poll_interval: float = Field(default=0.5, gt=0, le=1.0)
    scheduler_reconcile_interval: float = Field(default=30.0, gt=0)
    scheduler_log_fires: bool = True
    log_level: str = "INFO"

    def engine_config(self) -> EngineConfig:
        """The scheduler engine's settings."""
        return EngineConfig(
            batch_size=self.scheduler_batch_size,
            poll_interval=self.scheduler_poll_interval,
            reconcile_interval=self.scheduler_reconcile_interval,
            log_fires=self.scheduler_log_fires,
        )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return to_async_url(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
