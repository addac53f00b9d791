"""GroupCommit: calls that arrive together are served together; a failure stays its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.runtime.batch import GroupCommit, Outcome


class Recorder:
    """A `serve` that doubles numbers, remembers its batches, and refuses `poison`."""

    def __init__(self, poison: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.poison = poison

    async def __call__(self, items: Sequence[int]) -> list[Outcome[int]]:
        self.batches.append(list(items))
        await asyncio.sleep(0.01)  # a round trip
        if self.poison in items:
            raise RuntimeError("the statement failed")
        return [ValueError(f"odd {item}") if item < 0 else item * 2 for item in items]


async def test_a_lone_call_is_served_at_once_on_its_own() -> None:
    recorder = Recorder()
    batch = GroupCommit(recorder)
    assert await batch(21) == 42
    assert recorder.batches == [[21]]


async def test_calls_made_together_are_served_in_one_batch_in_order() -> None:
    recorder = Recorder()
    batch = GroupCommit(recorder)
    assert await asyncio.gather(*(batch(n) for n in range(10))) == [2 * n for n in range(10)]
    assert recorder.batches == [list(range(10))]


async def test_calls_arriving_during_a_batch_go_in_the_next_one() -> None:
    recorder = Recorder()
    batch = GroupCommit(recorder)
    first = asyncio.create_task(batch(1))
    await asyncio.sleep(0.005)  # the first batch is being served
    later = await asyncio.gather(batch(2), batch(3))
    assert (await first, later) == (2, [4, 6])
    assert recorder.batches == [[1], [2, 3]]


class Gate:
    """A `serve` that holds each batch until released, counting batches served at once."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.at_once = 0
        self.most_at_once = 0

    async def __call__(self, items: Sequence[int]) -> list[Outcome[int]]:
        self.batches.append(list(items))
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        await self.release.wait()
        self.at_once -= 1
        return [item * 2 for item in items]


@pytest.mark.parametrize("max_batches", [1, 2])
async def test_up_to_max_batches_are_served_at_once(max_batches: int) -> None:
    gate = Gate()
    batch = GroupCommit(gate, max_batches=max_batches)
    first = asyncio.create_task(batch(1))
    await asyncio.sleep(0.01)  # the first batch is held
    second = asyncio.create_task(batch(2))
    third = asyncio.create_task(batch(3))
    await asyncio.sleep(0.01)
    served_while_held = list(gate.batches)
    gate.release.set()
    assert await asyncio.gather(first, second, third) == [2, 4, 6]
    if max_batches == 1:
        assert served_while_held == [[1]]
        assert gate.batches == [[1], [2, 3]]
    else:  # the calls that came while one batch was held went at once, together
        assert served_while_held == [[1], [2, 3]]
    assert gate.most_at_once == max_batches


async def test_a_call_made_as_both_batches_end_is_still_served() -> None:
    """Both servers get their answers in the same tick and end; a caller woken later in
    that tick must start a server, not wait for ones that are gone."""
    gate = Gate()
    batch = GroupCommit(gate, max_batches=2)
    first = asyncio.create_task(batch(1))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(batch(2))
    await asyncio.sleep(0.01)

    async def after_the_gate() -> int:
        await gate.release.wait()
        return await batch(3)

    third = asyncio.create_task(after_the_gate())
    await asyncio.sleep(0.01)
    gate.release.set()
    assert await asyncio.wait_for(asyncio.gather(first, second, third), timeout=2) == [2, 4, 6]


async def test_batches_are_at_most_max_size() -> None:
    recorder = Recorder()
    batch = GroupCommit(recorder, max_size=4)
    await asyncio.gather(*(batch(n) for n in range(10)))
    assert [len(one) for one in recorder.batches] == [4, 4, 2]


async def test_an_item_s_own_outcome_is_raised_to_its_caller_only() -> None:
    batch = GroupCommit(Recorder())
    results = await asyncio.gather(batch(1), batch(-1), batch(2), return_exceptions=True)
    assert results[0] == 2
    assert results[2] == 4
    assert isinstance(results[1], ValueError)
    assert str(results[1]) == "odd -1"


async def test_a_batch_that_fails_is_served_again_one_by_one() -> None:
    recorder = Recorder(poison=3)
    batch = GroupCommit(recorder)
    results = await asyncio.gather(*(batch(n) for n in range(1, 5)), return_exceptions=True)
    assert results[:2] == [2, 4]
    assert results[3] == 8
    assert isinstance(results[2], RuntimeError)
    assert recorder.batches == [[1, 2, 3, 4], [1], [2], [3], [4]]


async def test_a_caller_cancelled_while_waiting_does_not_stop_the_others() -> None:
    recorder = Recorder()
    batch = GroupCommit(recorder)
    cancelled = asyncio.create_task(batch(1))
    kept = asyncio.create_task(batch(2))
    await asyncio.sleep(0)
    cancelled.cancel()
    assert await kept == 4
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert recorder.batches == [[1, 2]]
