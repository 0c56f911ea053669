"""A small cache of answers that may be a few seconds stale (keys, projects)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["CREDENTIALS_TTL_S", "TtlCache"]

# How stale an answer about credentials may be, on every port: a key revoked through another
# process stops working within this. A change through this process clears the caches at once.
CREDENTIALS_TTL_S = 5.0

# Bounded: many distinct wrong credentials must not grow a cache.
MAX_ENTRIES = 10_000


class TtlCache:
    """Answers of ``load()`` functions, each kept for ``ttl_s`` seconds. Errors are not kept."""

    def __init__(self, ttl_s: float = CREDENTIALS_TTL_S) -> None:
        self._ttl = ttl_s
        self._entries: dict[tuple[str, str], tuple[Any, float]] = {}

    def clear(self) -> None:
        """Forget every answer (what they were about changed)."""
        self._entries.clear()

    async def get(self, kind: str, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        """The kept answer for (kind, key), or ``load()``'s, kept from now on."""
        now = time.monotonic()
        hit = self._entries.get((kind, key))
        if hit is not None and hit[1] > now:
            return hit[0]
        value = await load()
        if len(self._entries) > MAX_ENTRIES:
            self._entries.clear()
        self._entries[(kind, key)] = (value, now + self._ttl)
        return value
