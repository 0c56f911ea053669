"""Background upkeep of the store that one process of a deployment does, each job at start and
then at its interval: the files of traces that retention dropped are removed, and the rows that
reached deleted projects after their erase are erased in turn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from query_api.admin import STORE_KEY
from storage import Store

__all__ = ["LEFTOVERS_EVERY_S", "MEDIA_SWEEP_EVERY_S", "UPKEEP"]

log = logging.getLogger(__name__)

MEDIA_SWEEP_EVERY_S = 3600.0
# Often enough that a deleted project's last acknowledged batches (seconds behind its erase) go
# soon; one query per run while no project is deleted, one per table while some are.
LEFTOVERS_EVERY_S = 600.0

Job = Callable[[Store], Awaitable[None]]


def _periodically(job: Job, every_s: float, what: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs ``job`` at start and every ``every_s`` seconds while the app runs;
    a failure is logged and the job tried again next time (it must not stop the server)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    await job(app[STORE_KEY])
                except Exception:
                    log.exception("%s failed", what)
                await asyncio.sleep(every_s)

        task = asyncio.create_task(loop())
        yield
        task.cancel()

    return context


async def _sweep_media(store: Store) -> None:
    removed = await store.media.sweep()
    if removed:
        log.info("media: removed %d files no trace holds any more", removed)


async def _erase_leftovers(store: Store) -> None:
    for project, tables in (await store.lifecycle.erase_leftovers()).items():
        log.info("deleted project %s: erased rows that came after its erase (%s)", project, tables)


# The app's cleanup contexts for them.
UPKEEP = (
    _periodically(_sweep_media, MEDIA_SWEEP_EVERY_S, "media sweep"),
    _periodically(_erase_leftovers, LEFTOVERS_EVERY_S, "erasing the rows of deleted projects"),
)
