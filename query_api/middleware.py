"""One place where errors become HTTP responses for our own JSON APIs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from query_api.error_text import localize_document, preferred_locale
from tracehouse.errors import TracehouseError

__all__ = ["error_body", "error_middleware", "json_error", "localized_errors"]

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


@web.middleware
async def localized_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An error answer's message in the language the request prefers (``Accept-Language``; the UI
    sends the one it shows), whichever of our APIs' error shapes it has; English otherwise."""
    response = await handler(request)
    if response.status < 400 or not isinstance(response, web.Response) or response.content_type != "application/json":
        return response
    locale = preferred_locale(request.headers.get("Accept-Language"))
    if locale is None or not isinstance(response.body, bytes):
        return response
    try:
        doc = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return response
    if localize_document(doc, locale):
        response.body = orjson.dumps(doc)
    return response
