"""Connection deadlines for the HTTP listeners: slow or idle clients cannot hold a socket.

aiohttp has no timeout for a request head: a client that connects and sends nothing, or
sends its headers a byte at a time (slowloris), keeps a connection and its buffers forever.
``HeadDeadline`` gives every connection a deadline for its next request head. The deadline is
armed when the connection opens and again after each response, and cleared when a request
reaches the application. A connection still waiting at the deadline is closed. Request bodies
have their own deadline in the handlers that read them (``read_body``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tracehouse.errors import RequestTimeout

__all__ = ["BODY_TIMEOUT", "DeadlineSite", "HeadDeadline", "read_body"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BODY_TIMEOUT = web.AppKey("body_timeout_s", float)
DEFAULT_BODY_TIMEOUT_S = 60.0


class _Guarded(asyncio.Protocol):
    """Forwards everything to aiohttp's protocol; tells the deadline when the connection opens and closes."""

    def __init__(self, inner: Any, deadline: HeadDeadline) -> None:
        self._inner = inner
        self._deadline = deadline
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._inner.connection_made(transport)
        self._deadline.arm(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._deadline.forget(self._transport)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class HeadDeadline:
    """Closes connections that do not deliver a complete request head in time: ``head_s`` from
    the connection opening, ``idle_s`` from the previous response (a keep-alive connection)."""

    def __init__(self, head_s: float, idle_s: float) -> None:
        self.head_s = head_s
        self.idle_s = idle_s
        self._timers: dict[asyncio.BaseTransport, asyncio.TimerHandle] = {}
        self.closed = 0  # connections closed at their deadline, for tests and metrics

    def protocol_factory(self, factory: Callable[[], Any]) -> Callable[[], asyncio.Protocol]:
        """Wrap aiohttp's protocol factory (the runner's server)."""
        return lambda: _Guarded(factory(), self)

    def arm(self, transport: asyncio.BaseTransport, seconds: float | None = None) -> None:
        self.forget(transport)
        loop = asyncio.get_running_loop()
        self._timers[transport] = loop.call_later(seconds or self.head_s, self._expire, transport)

    def forget(self, transport: asyncio.BaseTransport) -> None:
        timer = self._timers.pop(transport, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, transport: asyncio.BaseTransport) -> None:
        self._timers.pop(transport, None)
        if not transport.is_closing():
            self.closed += 1
            transport.close()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A request head arrived: no deadline while it is served; the next head gets a new one."""
        transport = request.transport
        if transport is not None:
            self.forget(transport)
        try:
            return await handler(request)
        finally:
            if transport is not None and not transport.is_closing():
                self.arm(transport, self.idle_s)


class DeadlineSite(web.TCPSite):
    """A TCP site whose connections are guarded by a HeadDeadline."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, deadline: HeadDeadline) -> None:
        super().__init__(runner, host, port, reuse_address=True)
        self._deadline = deadline

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._deadline.protocol_factory(server),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
        )


async def read_body(request: web.Request) -> bytes:
    """The request body, or RequestTimeout (408) if it does not arrive within the app's body
    timeout (a client dribbling its body cannot hold the connection)."""
    seconds = request.config_dict.get(BODY_TIMEOUT, DEFAULT_BODY_TIMEOUT_S)
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {seconds:g} s") from None
