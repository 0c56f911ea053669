"""Traces shared by a public link, as Langfuse shares them.

A trace is public when someone with WRITE_CONTENT made it so from the UI (``PUT
/api/v1/traces/{trace_id}/share``) or, never set there, when its client said so (the Langfuse
SDKs' ``public=True``: the trace's ``public`` field, or the ``langfuse.trace.public`` attribute).
Anyone with its link then reads it without signing in, at ``GET
/api/v1/public/traces/{project}/{trace_id}``: its spans and scores, nothing else of the project.
Any other trace there, existing or not, is the same 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StrictBool

from query_api.access import caller_for
from query_api.admin import STORE_KEY
from query_api.media_api import read_links
from query_api.requests import read_model
from query_api.responses import json_response
from query_api.rest import read_trace, trace_detail, trace_id_of
from storage import Store
from storage.langfuse import client_said_public
from tracehouse.errors import NotFound
from tracehouse.roles import Permission

__all__ = ["share_routes"]


class ShareChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public: StrictBool


async def _is_public(store: Store, project: str, trace_id: str, spans: list[dict[str, Any]]) -> tuple[bool, bool]:
    """(public, as its client said): the UI's choice wins over the client's."""
    chosen = await store.shares.get(project, trace_id)
    by_client = client_said_public(spans)
    return (by_client if chosen is None else chosen), by_client


async def get_share(request: web.Request) -> web.Response:
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(Permission.VIEW_DATA, "see whether a trace is shared")
    trace_id = trace_id_of(request)
    spans = await store.reader.trace(caller.project_id, trace_id)
    if not spans:
        raise NotFound(f"no trace {trace_id!r} in this project")
    public, by_client = await _is_public(store, caller.project_id, trace_id, spans)
    return json_response({"public": public, "by_client": by_client})


async def put_share(request: web.Request) -> web.Response:
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(Permission.WRITE_CONTENT, "share traces")
    change: ShareChange = await read_model(request, ShareChange)
    trace_id = trace_id_of(request)
    spans = await store.reader.trace(caller.project_id, trace_id)
    if not spans:
        raise NotFound(f"no trace {trace_id!r} in this project")
    await store.shares.set(caller.project_id, trace_id, change.public, caller.user.id if caller.user else "API")
    return json_response({"public": change.public, "by_client": client_said_public(spans)})


async def public_trace(request: web.Request) -> web.Response:
    """A public trace, to anyone with its link: no credentials asked or used."""
    store: Store = request.app[STORE_KEY]
    project, trace_id = request.match_info["project"], trace_id_of(request)
    absent = NotFound("no public trace here: it may not exist, or it is not shared")
    if not 0 < len(project) <= 200:
        raise absent
    spans, scores = await read_trace(store, project, trace_id)
    if not spans or not (await _is_public(store, project, trace_id, spans))[0]:
        raise absent
    # Its files (images, audio, PDFs the SDK uploaded), by signed links: the reader has no session.
    media = await read_links(request, project, await store.media.of_trace(project, trace_id))
    return json_response({**trace_detail(project, spans, scores).model_dump(mode="json"), "media": media})


def share_routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/traces/{trace_id}/share", get_share),
        web.put("/api/v1/traces/{trace_id}/share", put_share),
        web.get("/api/v1/public/traces/{project}/{trace_id}", public_trace),
    ]
