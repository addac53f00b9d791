"""Settings and database URLs."""

from __future__ import annotations

import pytest

from app.core.database_url import to_async_url, with_database
from app.core.settings import Settings, get_settings


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@/db?host=/tmp/s", "postgresql+asyncpg://u@/db?host=%2Ftmp%2Fs"),
    ],
)
def test_plain_postgresql_url_gets_the_async_driver(given: str, expected: str) -> None:
    assert to_async_url(given) == expected


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="DATABASE_URL: expected a postgresql"):
        to_async_url("sqlite:///x.db")


def test_with_database() -> None:
    assert with_database("postgresql+asyncpg://u@h/a", "b") == "postgresql+asyncpg://u@h/b"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://me@db.internal/pt")
    monkeypatch.setenv("SCHEDULER_ENABLED", "false")
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.database_url == "postgresql+asyncpg://me@db.internal/pt"
        assert settings.scheduler_enabled is False
    finally:
        get_settings.cache_clear()


def test_missing_database_url_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ValueError, match="database_url"):
        Settings(_env_file=None)  # type: ignore[call-arg]
