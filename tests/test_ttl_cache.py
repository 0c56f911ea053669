"""The cache of the store's answers about keys and projects (query API and receiver)."""

import pytest

from tracehouse.ttl_cache import TtlCache


class Loads:
    """Counts how often the cache asked the store (a stand-in for the store's answer)."""

    def __init__(self, value: object) -> None:
        self.value = value
        self.calls = 0

    async def __call__(self) -> object:
        self.calls += 1
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


async def test_an_answer_is_reused_within_its_ttl_and_forgotten_on_clear() -> None:
    cache = TtlCache(ttl_s=60)
    load = Loads("project-a")
    assert [await cache.get("key", "d1", load) for _ in range(3)] == ["project-a"] * 3
    assert load.calls == 1
    assert await cache.get("key", "d2", load) == "project-a"  # another key is asked for
    assert load.calls == 2
    cache.clear()
    await cache.get("key", "d1", load)
    assert load.calls == 3


async def test_a_refusal_is_cached_but_an_error_is_not() -> None:
    cache = TtlCache(ttl_s=60)
    refused = Loads(None)
    await cache.get("key", "wrong", refused)
    await cache.get("key", "wrong", refused)
    assert refused.calls == 1
    failing = Loads(RuntimeError("store down"))
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await cache.get("project", "p", failing)
    assert failing.calls == 2


async def test_a_zero_ttl_asks_every_time_and_the_cache_stays_bounded() -> None:
    uncached = TtlCache(ttl_s=0)
    load = Loads(True)
    await uncached.get("has_keys", "", load)
    await uncached.get("has_keys", "", load)
    assert load.calls == 2
    cache = TtlCache(ttl_s=60)
    for i in range(10_050):
        await cache.get("key", str(i), Loads(None))
    assert len(cache._entries) <= 10_001


async def test_concurrent_misses_share_one_load_and_a_clear_drops_the_load_under_way() -> None:
    import asyncio

    cache = TtlCache(ttl_s=60)
    gate = asyncio.Event()
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return f"answer-{calls}"

    waiting = [asyncio.create_task(cache.get("snapshot", "", slow)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == ["answer-1"] * 5
    assert calls == 1

    gate.clear()
    cache.clear()
    first = asyncio.create_task(cache.get("snapshot", "", slow))
    await asyncio.sleep(0)
    cache.clear()  # the data changed while the store was being asked: that answer is stale
    gate.set()
    assert await first == "answer-2"
    assert await cache.get("snapshot", "", slow) == "answer-3"


async def test_many_answers_at_once_ask_only_for_those_not_kept() -> None:
    cache = TtlCache(ttl_s=60)
    asked: list[list[str]] = []

    async def load(keys: list[str]) -> dict[str, object]:
        asked.append(keys)
        return {k: k.upper() for k in keys if k != "unknown"}

    assert await cache.get_many("t", ["a", "unknown"], load) == {"a": "A", "unknown": None}
    assert await cache.get_many("t", ["a", "b", "unknown"], load) == {"a": "A", "b": "B", "unknown": None}
    assert asked == [["a", "unknown"], ["b"]]  # an unknown key's answer (none) is kept too
    assert await cache.get_many("other", ["a"], load) == {"a": "A"} and asked[-1] == ["a"]  # kinds apart

    async def cleared_meanwhile(keys: list[str]) -> dict[str, object]:
        cache.clear()  # a change while the store was read: this answer is not kept
        return {k: "stale" for k in keys}

    assert await cache.get_many("t", ["c"], cleared_meanwhile) == {"c": "stale"}
    assert await cache.get_many("t", ["c"], load) == {"c": "C"}
