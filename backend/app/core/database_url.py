"""PostgreSQL URLs: normalised for the async driver, pointed at another database."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

ASYNC_DRIVER = "postgresql+asyncpg"


def to_async_url(url: str | URL) -> str:
    """Return `url` with the asyncpg driver; `postgresql://` and `postgres://` are accepted.

    Raises ValueError for a URL that is not PostgreSQL: this backend runs on nothing else.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "postgres"):
        raise ValueError(f"DATABASE_URL: expected a postgresql:// URL, got {backend!r}")
    return parsed.set(drivername=ASYNC_DRIVER).render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    """Return `url` pointing at another database on the same server."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)
