"""Comments over HTTP, Langfuse's ``/api/public/comments`` (key pairs and signed-in people alike):
create, list by object or author, get one; and delete one's own from the UI. Reading needs
VIEW_DATA, writing SCORE (MEMBER and above)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from aiohttp import web

from query_api.access import caller_for
from query_api.admin import STORE_KEY
from query_api.requests import paged, read_json
from query_api.responses import json_response
from storage import Store
from tracehouse.errors import Forbidden, InvalidInput, NotFound
from tracehouse.roles import Permission

__all__ = ["comment_routes"]

OBJECT_TYPES = ("TRACE", "OBSERVATION", "SESSION", "PROMPT")
MAX_CONTENT = 3000


def _iso(t: Any) -> str:
    if not isinstance(t, dt.datetime):
        t = dt.datetime.fromisoformat(str(t))
    t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def comment_json(project: str, c: dict[str, Any]) -> dict[str, Any]:
    return {"id": c["id"], "projectId": project, "objectType": c["object_type"], "objectId": c["object_id"],
            "content": c["content"], "authorUserId": c["author_user_id"] or None, "createdAt": _iso(c["created_at"]),
            "updatedAt": _iso(c["updated_at"])}  # fmt: skip


async def create_comment(request: web.Request) -> web.Response:
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(Permission.SCORE, "comment")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput("expected a JSON object")
    if body.get("projectId") not in (None, caller.project_id):
        raise Forbidden("projectId is not the project of these credentials")
    object_type = str(body.get("objectType", "")).upper()
    if object_type not in OBJECT_TYPES:
        raise InvalidInput(f"objectType: one of {', '.join(OBJECT_TYPES)}")
    object_id, content = body.get("objectId"), body.get("content")
    if not isinstance(object_id, str) or not object_id:
        raise InvalidInput("objectId: required")
    if not isinstance(content, str) or not content.strip() or len(content) > MAX_CONTENT:
        raise InvalidInput(f"content: 1 to {MAX_CONTENT} characters")
    # A signed-in person is the author; an API key may name one (as Langfuse allows).
    author = caller.user.id if caller.user else str(body.get("authorUserId") or "")
    row = {"id": str(uuid.uuid4()), "object_type": object_type, "object_id": object_id, "content": content,
           "author_user_id": author}  # fmt: skip
    await store.comments.put(caller.project_id, row)
    return json_response({"id": row["id"]})


async def list_comments(request: web.Request) -> web.Response:
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(Permission.VIEW_DATA, "read comments")
    q = request.query
    object_type = q.get("objectType", "").upper() or None
    if object_type is not None and object_type not in OBJECT_TYPES:
        raise InvalidInput(f"objectType: one of {', '.join(OBJECT_TYPES)}")
    rows = await store.comments.list(caller.project_id, object_type, q.get("objectId"), q.get("authorUserId"))
    return json_response(paged(request, [comment_json(caller.project_id, c) for c in rows]))


async def _comment(request: web.Request, store: Store, project: str) -> dict[str, Any]:
    """The comment of the URL in this project; NotFound otherwise."""
    rows = await store.comments.list(project, comment_id=request.match_info["id"])
    if not rows:
        raise NotFound(f"Comment not found: {request.match_info['id']}")
    return rows[0]


async def get_comment(request: web.Request) -> web.Response:
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(Permission.VIEW_DATA, "read comments")
    return json_response(comment_json(caller.project_id, await _comment(request, store, caller.project_id)))


async def delete_comment(request: web.Request) -> web.Response:
    """A person deletes their own comment; an admin any."""
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(Permission.SCORE, "delete comments")
    c = await _comment(request, store, caller.project_id)
    own = caller.user is not None and c["author_user_id"] == caller.user.id
    if not own and Permission.DELETE_DATA not in caller.permissions:
        raise Forbidden("only its author or an admin deletes a comment")
    keep = {k: c[k] for k in ("id", "object_type", "object_id", "content", "author_user_id", "created_at")}
    await store.comments.put(caller.project_id, keep, deleted=True)
    return json_response({"deleted": True})


def comment_routes() -> list[web.RouteDef]:
    return [
        web.post("/api/public/comments", create_comment),
        web.get("/api/public/comments", list_comments),
        web.get("/api/public/comments/{id}", get_comment),
        web.delete("/api/public/comments/{id}", delete_comment),
    ]
