"""Settings for admins under ``/api/v1/settings``: projects (with retention), API keys, model prices.

Allowed to a signed-in admin, and in open mode (a loopback bind with no API key and no
account yet). Everyone else gets 403 (signed in, not admin) or 401.
"""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web
from pydantic import BaseModel, Field

from otlp_receiver.pricing import BUILTIN_PRICES
from query_api.access import LOOPBACK_BIND_KEY
from query_api.admin import STORE_KEY, NewKey, NewProject, key_json, notify_changed, project_json
from query_api.auth import USERS_KEY, session_user
from query_api.requests import is_local, read_model
from query_api.responses import json_response
from storage import Store
from tracehouse.errors import Forbidden, Unauthenticated

__all__ = ["settings_routes"]


class NewPrice(BaseModel):
    project: str = Field(min_length=1)
    model_name: str = Field(min_length=1, max_length=200)
    match_pattern: str = Field(min_length=1, max_length=500)
    prices: dict[str, Decimal]


async def _admin(request: web.Request) -> Store:
    store: Store = request.app[STORE_KEY]
    user = await session_user(request)
    if user is not None:
        if not user.is_admin:
            raise Forbidden("settings are for admins")
        return store
    open_mode = (
        request.app.get(LOOPBACK_BIND_KEY, False)
        and is_local(request)
        and not await store.projects.has_keys()
        and await request.app[USERS_KEY].count() == 0
    )
    if not open_mode:
        raise Unauthenticated("sign in as an admin")
    return store


async def list_projects(request: web.Request) -> web.Response:
    store = await _admin(request)
    return json_response({"items": [project_json(p) for p in await store.projects.list_projects()]})


async def create_project(request: web.Request) -> web.Response:
    store = await _admin(request)
    body = await read_model(request, NewProject)
    project = await store.projects.create_project(body.name, retention_days=body.retention_days)
    notify_changed(request)
    return json_response(project_json(project), status=201)


async def delete_project(request: web.Request) -> web.Response:
    store = await _admin(request)
    project = await store.projects.delete_project(request.match_info["project"])
    notify_changed(request)
    return json_response(project_json(project))


async def list_keys(request: web.Request) -> web.Response:
    store = await _admin(request)
    keys = await store.projects.list_keys(request.query.get("project"))
    return json_response({"items": [key_json(k) for k in keys]})


async def create_key(request: web.Request) -> web.Response:
    store = await _admin(request)
    body = await read_model(request, NewKey)
    pair = await store.projects.create_key(body.project, body.note)
    notify_changed(request)
    host = f"{request.scheme}://{request.host}"
    return json_response(
        {"public_key": pair.public_key, "secret_key": pair.secret_key, "project_id": pair.project_id, "host": host},
        status=201,
    )


async def revoke_key(request: web.Request) -> web.Response:
    store = await _admin(request)
    key = await store.projects.revoke_key(request.match_info["public_key"])
    notify_changed(request)
    return json_response(key_json(key))


async def list_prices(request: web.Request) -> web.Response:
    store = await _admin(request)
    ref = request.query.get("project")
    project_id = (await store.projects.get_project(ref)).id if ref else None
    builtin = [
        {
            "model_name": e.price.name,
            "match_pattern": e.pattern.pattern,
            "prices_per_1m_tokens_usd": {k: str(v) for k, v in e.price.per_million().items()},
        }
        for e in BUILTIN_PRICES
    ]
    overrides = [
        {
            "id": o.id,
            "project_id": o.project_id,
            "model_name": o.model_name,
            "match_pattern": o.match_pattern,
            "prices_per_1m_tokens_usd": {k: str(v) for k, v in o.prices.items()},
        }
        for o in await store.prices.list_overrides(project_id)
    ]
    return json_response({"builtin": builtin, "overrides": overrides})


async def create_price(request: web.Request) -> web.Response:
    store = await _admin(request)
    body = await read_model(request, NewPrice)
    project = await store.projects.get_project(body.project)
    override = await store.prices.add_override(project.id, body.model_name, body.match_pattern, dict(body.prices))
    notify_changed(request)
    return json_response({"id": override.id, "project_id": override.project_id}, status=201)


async def delete_price(request: web.Request) -> web.Response:
    store = await _admin(request)
    project = await store.projects.get_project(request.query.get("project", "default"))
    await store.prices.delete_override(project.id, request.match_info["price_id"])
    notify_changed(request)
    return json_response({"ok": True})


class Retention(BaseModel):
    days: int = Field(ge=0, le=36500)


async def set_retention(request: web.Request) -> web.Response:
    store = await _admin(request)
    body = await read_model(request, Retention)
    project = await store.lifecycle.set_retention(request.match_info["project"], body.days)
    notify_changed(request)
    return json_response(project_json(project))


async def delete_data(request: web.Request) -> web.Response:
    """Delete a trace, or every trace of a session or user (GDPR requests), from every table."""
    store = await _admin(request)
    kinds = {"traces": "trace", "sessions": "session", "users": "user"}
    kind = kinds.get(request.match_info["kind"])
    if kind is None:
        raise web.HTTPNotFound()
    project = request.query.get("project", "default")
    deleted = await store.lifecycle.delete(project, kind, request.match_info["id"])
    return json_response({"deleted_traces": deleted})


def settings_routes() -> list[web.RouteDef]:
    base = "/api/v1/settings"
    return [
        web.get(base + "/projects", list_projects),
        web.post(base + "/projects", create_project),
        web.delete(base + "/projects/{project}", delete_project),
        web.get(base + "/keys", list_keys),
        web.post(base + "/keys", create_key),
        web.post(base + "/keys/{public_key}/revoke", revoke_key),
        web.get(base + "/prices", list_prices),
        web.post(base + "/prices", create_price),
        web.delete(base + "/prices/{price_id}", delete_price),
        web.post(base + "/projects/{project}/retention", set_retention),
        web.delete(base + "/data/{kind}/{id}", delete_data),
    ]
