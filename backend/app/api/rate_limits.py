"""Rate limits on login and registration, per client address and per account (`limits`).

In memory by default (each process counts on its own); RATE_LIMIT_STORAGE_URL names a
shared store (e.g. `async+redis://host:6379`, with `limits[async-redis]` installed) so
that several processes and machines count together.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from app.api.errors import ApiError
from app.core.settings import Settings


class TooManyRequestsError(ApiError):
    """Too many attempts from one address or at one account; retry after the window."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class RateLimits:
    """The limits in force and the store that counts the attempts."""

    limiter: MovingWindowRateLimiter
    login_per_address: RateLimitItem
    login_per_account: RateLimitItem
    registration_per_address: RateLimitItem

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        """Limits and store as the settings give them."""
        url = settings.rate_limit_storage_url
        if url == "memory://":
            url = "async+memory://"
        return cls(
            MovingWindowRateLimiter(storage_from_string(url)),
            parse(settings.login_rate_limit_per_address),
            parse(settings.login_rate_limit_per_account),
            parse(settings.registration_rate_limit_per_address),
        )

    async def hit(self, limit: RateLimitItem, *key: str) -> None:
        """Count one attempt under `key`; 429 with the seconds to wait once over `limit`."""
        if await self.limiter.hit(limit, *key):
            return
        stats = await self.limiter.get_window_stats(limit, *key)
        raise TooManyRequestsError(max(1, math.ceil(stats.reset_time - time.time())))


def client_address(request: Request) -> str:
    """The caller's address as the server saw it (behind a proxy, configure uvicorn's
    --forwarded-allow-ips so this is the client's, not the proxy's)."""
    return request.client.host if request.client else "unknown"
