"""One place where errors become HTTP responses for our own JSON APIs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from tracehouse.errors import TracehouseError

__all__ = ["error_body", "error_middleware", "json_error"]

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(error_body(code, message), status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render TracehouseError as ``{"error": {"code", "message"}}``; hide internals of anything else."""
    try:
        return await handler(request)
    except TracehouseError as exc:
        headers = {}
        if (seconds := exc.retry_after()) is not None:
            headers["Retry-After"] = str(seconds)
        return json_error(exc.http_status, exc.code, exc.message, headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.text or exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal", "internal error; the server log has the details")
