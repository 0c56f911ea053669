"""Background upkeep of the store that one process of a deployment does: the rows that reached
deleted projects after their erase are erased in turn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from query_api.admin import STORE_KEY

__all__ = ["LEFTOVERS_EVERY_S", "erase_leftovers_regularly"]

log = logging.getLogger(__name__)

# Often enough that a deleted project's last acknowledged batches (seconds behind its erase) go
# soon; one query per run while no project is deleted, one per table while some are.
LEFTOVERS_EVERY_S = 600.0


async def erase_leftovers_regularly(app: web.Application) -> AsyncIterator[None]:
    """Erase, at start and every ``LEFTOVERS_EVERY_S``, rows of deleted projects (Lifecycle.erase_leftovers)."""

    async def loop() -> None:
        while True:
            try:
                erased = await app[STORE_KEY].lifecycle.erase_leftovers()
                for project, tables in erased.items():
                    log.info("deleted project %s: erased rows that came after its erase (%s)", project, tables)
            except Exception:  # retried next time; it must not stop the server
                log.exception("erasing the rows of deleted projects failed")
            await asyncio.sleep(LEFTOVERS_EVERY_S)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
