"""JSON responses for our own API: Decimal money as exact strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

__all__ = ["json_response"]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact on the wire
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(type(value).__name__)


def json_response(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc, default=_default), status=status, content_type="application/json")
