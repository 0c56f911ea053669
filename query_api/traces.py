"""``/api/v1/traces``: read traces (the UI's API grows here)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from query_api.access import project_for
from query_api.admin import STORE_KEY
from tracehouse.errors import NotFound

__all__ = ["json_response", "trace_routes"]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact on the wire
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(type(value).__name__)


def json_response(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc, default=_default), status=status, content_type="application/json")


async def get_trace(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    project = await project_for(request, store)
    trace_id = request.match_info["trace_id"]
    spans = await store.reader.trace(project, trace_id.lower() if len(trace_id) == 32 else trace_id)
    if not spans:
        raise NotFound(f"no trace {trace_id!r} in this project")
    return json_response({"trace_id": spans[0]["trace_id"], "project_id": project, "spans": spans})


def trace_routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/traces/{trace_id}", get_trace)]
