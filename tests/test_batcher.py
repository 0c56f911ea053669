"""The batcher's admission: past the in-flight bound a request waits for room in a bounded waiting
room, first come first served, and is refused when the room is full or its wait runs out. No bytes
are lost from the accounting whatever the client does while it waits."""

from __future__ import annotations

import asyncio

import pytest

from otlp_receiver.batcher import Batcher
from tracehouse.errors import Overloaded, StorageUnavailable

BOUND = 100


def batcher() -> Batcher:
    return Batcher({}, max_inflight_bytes=BOUND)  # admission needs no flusher


async def test_waiters_go_in_first_come_first_served() -> None:
    b = batcher()
    first = b.reserve(60)
    order: list[str] = []

    async def wait(tag: str, nbytes: int) -> None:
        reservation = await b.admit(nbytes)
        order.append(tag)
        reservation.release()

    big = asyncio.create_task(wait("big", 50))
    await asyncio.sleep(0)
    small = asyncio.create_task(wait("small", 30))  # would fit now, but must not pass "big"
    await asyncio.sleep(0.05)
    assert order == [] and b.waiting_bytes == 80
    with pytest.raises(Overloaded):
        b.reserve(1)  # a newcomer does not pass the waiters either
    first.release()
    await asyncio.gather(big, small)
    assert order == ["big", "small"]
    assert b.inflight_bytes == 0 and b.waiting_bytes == 0


async def test_the_waiting_room_is_bounded() -> None:
    b = batcher()
    held = b.reserve(BOUND)
    waiting = asyncio.create_task(b.admit(60))
    await asyncio.sleep(0)
    with pytest.raises(Overloaded) as refused:
        await b.admit(50)  # 60 + 50 waiting would pass the bound: refused at once
    assert refused.value.retry_after() is not None
    assert b.waiting_bytes == 60
    held.release()
    (await waiting).release()
    assert b.inflight_bytes == 0 and b.waiting_bytes == 0


async def test_a_wait_that_runs_out_is_refused_with_a_hint() -> None:
    b = batcher()
    held = b.reserve(BOUND)
    with pytest.raises(Overloaded) as refused:
        await b.admit(10, wait_s=0.05)
    assert "no room" in str(refused.value) and refused.value.retry_after() is not None
    assert b.inflight_bytes == BOUND and b.waiting_bytes == 0
    held.release()
    assert b.inflight_bytes == 0
    b.reserve(10).release()  # nothing left queued in front of a newcomer


async def test_a_client_that_leaves_while_waiting_holds_nothing() -> None:
    b = batcher()
    held = b.reserve(BOUND)
    gone = asyncio.create_task(b.admit(40))
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert b.waiting_bytes == 0
    # Granted and cancelled in the same instant: the granted bytes are given back.
    late = asyncio.create_task(b.admit(40))
    await asyncio.sleep(0)
    held.release()  # grants "late" ...
    late.cancel()  # ... which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await late
    assert b.inflight_bytes == 0 and b.waiting_bytes == 0


async def test_waiters_are_turned_away_when_the_server_stops() -> None:
    b = batcher()
    held = b.reserve(BOUND)
    waiting = asyncio.create_task(b.admit(10))
    await asyncio.sleep(0)
    await b.close()
    with pytest.raises(StorageUnavailable):
        await waiting
    held.release()
    assert b.inflight_bytes == 0 and b.waiting_bytes == 0
