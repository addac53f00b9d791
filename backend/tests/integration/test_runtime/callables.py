"""Python tools the tests allow-list."""

from __future__ import annotations

import asyncio
import os  # noqa: F401  (a hostile tool reaches for callables:os.getcwd)


def add(a: int, b: int) -> dict[str, int]:
    """A sync tool (runs in a thread)."""
    return {"sum": a + b}


async def wait_and_say(word: str) -> str:
    """An async tool returning a bare value (wrapped as {"result": ...})."""
    await asyncio.sleep(0)
    return word


def not_json() -> dict[str, object]:
    """A tool whose result is not JSON."""
    return {"value": object()}
