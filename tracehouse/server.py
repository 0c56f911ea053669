"""Running the processes: ``serve`` (everything, embedded store), ``receiver`` and ``query``."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
from collections.abc import Collection

from aiohttp import web

from query_api import create_app
from storage import Store
from tracehouse import __version__
from tracehouse.errors import ConfigError
from tracehouse.runtime import RuntimeInfo, remove_runtime, write_runtime
from tracehouse.settings import Settings, is_loopback

__all__ = ["Component", "run"]

log = logging.getLogger(__name__)

Component = str  # "api" | "receiver"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


async def _check_bind(settings: Settings, store: Store) -> None:
    """Refuse to listen beyond this machine while anyone could write without a key."""
    if is_loopback(settings.host) or settings.allow_unauthenticated_bind:
        return
    if not await store.projects.has_keys():
        raise ConfigError(
            f"refusing to listen on {settings.host} with no API key yet: anyone who reaches the "
            f"port could write traces. Create a key first (tracehouse keys create --project default), "
            f"or pass --allow-unauthenticated-bind"
        )


async def _serve(settings: Settings, components: Collection[Component], stop: asyncio.Event) -> None:
    store = await Store.open(data_dir=settings.data_dir, clickhouse_url=settings.clickhouse_url)
    runners: list[web.AppRunner] = []
    try:
        await _check_bind(settings, store)
        admin_token = secrets.token_urlsafe(32)
        if "api" in components:
            runner = web.AppRunner(
                create_app(store, admin_token),
                access_log=None,
                shutdown_timeout=settings.shutdown_timeout_s,
            )
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(runner, settings.host, settings.api_port, reuse_address=True)
            await site.start()
            port = runner.addresses[0][1]
            api_url = f"http://{_url_host(settings.host)}:{port}"
            log.info("API and UI listening on %s", api_url)
            if settings.embedded:
                write_runtime(settings.data_dir, RuntimeInfo(os.getpid(), api_url, admin_token))
        where = f"embedded store in {settings.data_dir}" if settings.embedded else "ClickHouse server"
        log.info("Tracehouse %s ready (%s)", __version__, where)
        await stop.wait()
        log.info("shutting down")
    finally:
        if settings.embedded:
            remove_runtime(settings.data_dir)
        for runner in runners:
            await runner.cleanup()
        await store.close()
        log.info("stopped")


def run(settings: Settings, components: Collection[Component]) -> None:
    """Serve until SIGINT or SIGTERM, then finish in-flight work and return."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await _serve(settings, components, stop)

    asyncio.run(main())
