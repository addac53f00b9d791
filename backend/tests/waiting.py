"""Waiting for a condition instead of sleeping a fixed time (backend/tests/README.md).

A loaded machine makes everything slower, so a test waits for what it needs (a row, a
log line, a pass of the engine) and fails only after a generous deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE_SECONDS = 60.0
POLL_SECONDS = 0.05


async def until(
    check: Callable[[], Awaitable[T]],
    what: str,
    *,
    within: float = DEADLINE_SECONDS,
) -> T:
    """Poll `check()` until it returns a truthy value, and return that value.

    Fails the test, naming `what` was awaited, after `within` seconds.
    """
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {within:.0f} s in vain for {what}"
        await asyncio.sleep(POLL_SECONDS)
