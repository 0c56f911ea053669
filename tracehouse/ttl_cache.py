"""A small cache of answers that may be a few seconds stale (keys, projects)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

__all__ = ["CREDENTIALS_TTL_S", "TtlCache"]

# How stale an answer about credentials may be, on every port: a key revoked through another
# process stops working within this. A change through this process clears the caches at once.
CREDENTIALS_TTL_S = 5.0

# Bounded: many distinct wrong credentials must not grow a cache.
MAX_ENTRIES = 10_000


class TtlCache:
    """Answers of ``load()`` functions, each kept for ``ttl_s`` seconds. Errors are not kept.
    Concurrent misses of one key share one load (a burst after expiry asks the store once)."""

    def __init__(self, ttl_s: float = CREDENTIALS_TTL_S) -> None:
        self._ttl = ttl_s
        self._entries: dict[tuple[str, str], tuple[Any, float]] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[Any]] = {}
        self._generation = 0

    def clear(self) -> None:
        """Forget every answer (what they were about changed); loads under way are not kept."""
        self._entries.clear()
        self._loading.clear()
        self._generation += 1

    async def get(self, kind: str, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        """The kept answer for (kind, key), or ``load()``'s, kept from now on."""
        now = time.monotonic()
        hit = self._entries.get((kind, key))
        if hit is not None and hit[1] > now:
            return hit[0]
        running = self._loading.get((kind, key))
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._loading[(kind, key)] = future
        generation = self._generation
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            if self._loading.get((kind, key)) is future:
                del self._loading[(kind, key)]
        future.set_result(value)
        if generation == self._generation:  # not cleared meanwhile: the answer is current
            if len(self._entries) > MAX_ENTRIES:
                self._entries.clear()
            self._entries[(kind, key)] = (value, now + self._ttl)
        return value

    async def get_many(
        self, kind: str, keys: Sequence[str], load: Callable[[list[str]], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """The kept answers for ``keys`` of ``kind``; those not kept from one ``load(missing)``, which
        answers the keys it knows (the others are kept as None)."""
        now = time.monotonic()
        out: dict[str, Any] = {}
        missing = []
        for key in keys:
            hit = self._entries.get((kind, key))
            if hit is not None and hit[1] > now:
                out[key] = hit[0]
            else:
                missing.append(key)
        if missing:
            generation = self._generation
            found = await load(missing)
            if generation == self._generation:  # not cleared meanwhile: the answers are current
                if len(self._entries) + len(missing) > MAX_ENTRIES:
                    self._entries.clear()
                for key in missing:
                    self._entries[(kind, key)] = (found.get(key), now + self._ttl)
            out.update((key, found.get(key)) for key in missing)
        return out
