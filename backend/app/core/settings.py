"""Application settings, read from environment variables (and an optional `.env`).

Plain values only: the composition roots (`app.main`, `python -m app.scheduler`) build
the database and firing engines from them.
"""

from __future__ import annotations

import logging
import secrets
from functools import lru_cache

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.database_url import to_async_url

MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """Runtime configuration; every field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        description="PostgreSQL URL; a plain postgresql:// URL is given the asyncpg driver.",
    )
    # Enough for one connection per request in flight; fewer means overflow connections
    # opened and closed under load.
    database_pool_size: int = Field(default=20, ge=1)
    database_echo: bool = False
    jwt_secret: SecretStr | None = Field(
        default=None, description="Signs access tokens; a random one is made when unset (dev)."
    )
    access_token_minutes: int = Field(default=60, ge=1)
    auth_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a token holder is known to be live."
    )
    scheduler_enabled: bool = True
    scheduler_batch_size: int = Field(default=1000, ge=1, le=10_000)
    scheduler_poll_interval: float = Field(default=0.5, gt=0, le=1.0)
    scheduler_reconcile_interval: float = Field(default=30.0, gt=0)
    scheduler_log_fires: bool = True
    log_level: str = "INFO"

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _development_secret(self) -> Settings:
        if self.jwt_secret is None:
            logging.getLogger(__name__).warning(
                "JWT_SECRET is not set: using a random secret; tokens die with this process"
            )
            self.jwt_secret = SecretStr(secrets.token_urlsafe(32))
        return self

    @property
    def jwt_secret_value(self) -> str:
        """The signing secret."""
        assert self.jwt_secret is not None
        return self.jwt_secret.get_secret_value()

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return to_async_url(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
