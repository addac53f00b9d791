"""Group commit: calls that arrive while a batch is being written are written together.

A worker runs many executions at once, each doing the same few writes (claim, start a wave
of node runs, finish). Written one by one, a storm costs a round trip and a commit per
write per execution; here the first call after a quiet spell is served at once, and the
calls that arrive while it is served wait and go in the next batch (or, with
`max_batches=2`, in a second batch served beside it), so a burst costs a few statements
per batch and a lone call waits for nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar, Union

logger = logging.getLogger("app.runtime")

Item = TypeVar("Item")
Result = TypeVar("Result")

# What `serve` gives for each item: its result, or the exception its caller is to raise.
Outcome = Union[Result, BaseException]  # noqa: UP007 (a generic alias)


class GroupCommit(Generic[Item, Result]):
    """Serves `await batch(item)` calls in batches of at most `max_size` by one call of
    `serve(items)`, which returns one outcome per item, in order. When a batch of several
    fails as a whole, its items are served again one by one, so that an item that breaks
    the batch (or a deadlock between batches) fails only its own caller."""

    def __init__(
        self,
        serve: Callable[[Sequence[Item]], Awaitable[Sequence[Outcome[Result]]]],
        *,
        max_size: int = 64,
        max_batches: int = 1,
    ) -> None:
        self._serve = serve
        self._max_size = max_size
        self._max_batches = max_batches
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._servers: set[asyncio.Task[None]] = set()
        self._starting = 0  # servers that have not taken their first batch yet

    async def __call__(self, item: Item) -> Result:
        """`item`'s result, served with whatever else arrives meanwhile."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if not self._starting and len(self._servers) < self._max_batches:
            self._starting += 1
            self._servers.add(asyncio.create_task(self._drain()))
        # A caller cancelled while waiting cancels only its future, not the batch: its item
        # may still be written (as a single call cancelled after its statement was sent may
        # be), and its outcome is dropped.
        return await future

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let the callers woken with this one arrive
        self._starting -= 1
        try:
            await self._serve_waiting()
        finally:
            # At once, not in a done callback a tick later: a call made meanwhile would
            # count this server as busy and wait for nobody.
            if (task := asyncio.current_task()) is not None:
                self._servers.discard(task)

    async def _serve_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_size]
            del self._waiting[: self._max_size]
            try:
                await self._settle(batch)
            except Exception as exc:
                if len(batch) == 1:
                    self._fail(batch, exc)
                    continue
                logger.warning("a batch of %d failed (%s); serving them one by one",
                               len(batch), type(exc).__name__)  # fmt: skip
                for one in batch:
                    try:
                        await self._settle([one])
                    except Exception as single:
                        self._fail([one], single)
            except BaseException as exc:  # cancelled (the loop is ending): nobody is served
                self._fail(batch + self._waiting, exc)
                self._waiting.clear()
                raise

    async def _settle(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        outcomes = await self._serve([item for item, _ in batch])
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    @staticmethod
    def _fail(batch: list[tuple[Item, asyncio.Future[Result]]], exc: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)
