"""Small request helpers shared by the API handlers."""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from tracehouse.deadlines import read_body
from tracehouse.errors import InvalidInput

__all__ = ["MOST_PAGE", "is_local", "paged", "read_json", "read_model"]


def is_local(request: web.Request) -> bool:
    """True when the request comes from this machine (a loopback address)."""
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


async def read_json(request: web.Request) -> Any:
    """The request's JSON body; InvalidInput (400) if it is not JSON."""
    try:
        return orjson.loads(await read_body(request))
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not valid JSON") from None


async def read_model(request: web.Request, model: type[BaseModel]) -> Any:
    """The JSON body validated as ``model``, or InvalidInput naming the first problem."""
    try:
        return model.model_validate_json(await read_body(request))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(step) for step in first["loc"])
        msg = f"{where}: {first['msg']}" if where else first["msg"]  # which field, not only what
        raise InvalidInput(f"invalid request body: {msg}") from None


# Far past any list: a page number beyond it is a client's mistake (and past JSON's 64-bit ints).
MOST_PAGE = 1_000_000


def paged(request: web.Request, items: list[Any], most_limit: int = 100) -> dict[str, Any]:
    """One page of ``items`` in Langfuse's shape (``data`` and ``meta``), by the query's ``page``
    (from 1) and ``limit`` (1 to ``most_limit``, default 50); InvalidInput otherwise."""
    try:
        page, limit = int(request.query.get("page", "1")), int(request.query.get("limit", "50"))
    except ValueError:
        raise InvalidInput("page and limit are integers") from None
    if not 1 <= page <= MOST_PAGE or not 1 <= limit <= most_limit:
        raise InvalidInput(f"page from 1 to {MOST_PAGE}, limit from 1 to {most_limit}")
    meta = {"page": page, "limit": limit, "totalItems": len(items), "totalPages": -(-len(items) // limit)}
    return {"data": items[(page - 1) * limit : page * limit], "meta": meta}
