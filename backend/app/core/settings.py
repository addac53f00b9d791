"""Application settings, read from environment variables (and an optional `.env`).

Plain values only: the composition roots (`app.main`, `python -m app.scheduler`) build
the database and firing engines from them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core import dev_secrets
from app.core.database_url import to_async_url
from app.core.secret_box import SecretBox, generate_key, parse_keys

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
    database_statement_timeout_seconds: float = Field(
        default=30.0, gt=0, description="The server cancels any statement running longer."
    )
    database_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    environment: Literal["development", "production"] = Field(
        default="production",
        description="development: secrets made once in DEV_SECRETS_DIR (make run sets it).",
    )
    dev_secrets_dir: Path = dev_secrets.DEFAULT_DIR
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="Signs access tokens; required outside development (32+ characters).",
    )
    encryption_keys: SecretStr | None = Field(
        default=None,
        description=(
            "Fernet keys sealing secrets at rest (tools' auth_config), comma-separated, "
            "newest first: the first seals, all open. Required outside development."
        ),
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
    worker_enabled: bool = Field(
        default=True, description="Run a worker inside the API process (make run)."
    )
    worker_concurrency: int = Field(
        default=10, ge=2, le=1000, description="Executions one worker runs at once."
    )
    worker_stall_seconds: float = Field(
        default=30.0,
        ge=1.0,
        le=3600.0,
        description="How long a silent worker's execution waits before another takes it.",
    )
    worker_max_losses: int = Field(
        default=3, ge=1, le=100, description="Worker losses after which an execution fails."
    )
    worker_shutdown_grace_seconds: float = Field(
        default=30.0, ge=0, le=3600.0, description="SIGTERM: how long running work may finish."
    )
    execution_node_concurrency: int = Field(
        default=8, ge=1, le=256, description="Nodes of one execution running at once."
    )
    node_output_max_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=64 * 1024 * 1024,
        description="Largest node output kept (JSON bytes); beyond it the node fails.",
    )  # fmt: skip
    python_tool_allowlist: list[str] = Field(
        default_factory=list,
        description="module:function patterns (fnmatch) python tools may call; empty: none.",
    )
    shell_tools_enabled: bool = Field(
        default=False, description="Let shell tools run their argv (off: they fail)."
    )
    llm_allowed_base_urls: list[str] = Field(
        default_factory=list,
        description="Base URLs an agent's llm_config may name (the provider key is sent "
        "there); JSON list; empty: only the providers' own endpoints.",
    )
    openai_api_key: SecretStr | None = None
    anthropic_api_key: SecretStr | None = None
    glm_api_key: SecretStr | None = None
    glm_base_url: str = "https://open.bigmodel.cn/api/paas/v4/"
    execution_retention_days: float = Field(
        default=30.0, gt=0, description="Finished executions older than this are pruned."
    )
    execution_retention_keep: int = Field(
        default=100, ge=0, description="Executions per schedule kept whatever their age."
    )
    log_level: str = "INFO"
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # limits' notation ("5/minute"); per client address, and per account for logins.
    login_rate_limit_per_address: str = "20/minute"
    login_rate_limit_per_account: str = "5/minute"
    registration_rate_limit_per_address: str = "10/minute"
    rate_limit_storage_url: str = Field(
        default="memory://",
        description="memory:// (per process) or a shared store, e.g. async+redis://host:6379",
    )

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_keys(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _development_secret(self) -> Settings:
        if self.environment == "development":
            if self.jwt_secret is None:
                secret = dev_secrets.load_or_create("jwt_secret", self.dev_secrets_dir)
                self.jwt_secret = SecretStr(secret)
            if self.encryption_keys is None:
                key = dev_secrets.load_or_create(
                    "encryption_key", self.dev_secrets_dir, generate_key
                )
                self.encryption_keys = SecretStr(key)
        return self

    def sealing_box(self) -> SecretBox:
        """What seals and opens secrets at rest; refuses to start without keys (outside
        development none are made)."""
        if self.encryption_keys is None:
            raise RuntimeError(
                "ENCRYPTION_KEYS is not set: set it to a Fernet key (python -c 'from "
                "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') "
                "or, on a development machine, ENVIRONMENT=development"
            )
        return SecretBox(parse_keys(self.encryption_keys.get_secret_value()))

    def require_jwt_secret(self) -> None:
        """Refuse to serve without a signing secret (outside development none is made)."""
        if self.jwt_secret is None:
            raise RuntimeError(
                "JWT_SECRET is not set: set it (32+ characters) or, on a development "
                "machine, ENVIRONMENT=development"
            )

    @property
    def jwt_secret_value(self) -> str:
        """The signing secret."""
        self.require_jwt_secret()
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
