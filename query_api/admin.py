"""The local admin endpoint: how ``tracehouse projects`` and ``tracehouse keys`` reach a running
server that holds the embedded store (chDB lets one process open a data directory).

Only callers on this machine get in: the request must come from a loopback address and
carry the token the server wrote to ``<data-dir>/server.json`` (mode 0600), so being
able to read the data directory is what grants access.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from query_api.audit_scope import note_detail, note_scope
from query_api.requests import is_local, read_model
from storage import ApiKey, Project, Store
from storage.backup import back_up
from storage.invitations import RESET
from storage.organizations import Organization
from storage.projects import DEFAULT_ORGANIZATION_ID
from storage.users import User
from tracehouse.errors import Forbidden, NotFound, Unauthenticated

__all__ = [
    "ADMIN_TOKEN_KEY",
    "CHANGE_HOOKS_KEY",
    "ERASE_WAIT_S",
    "PUBLIC_URL_KEY",
    "admin_routes",
    "key_json",
    "notify_changed",
    "password_reset",
    "project_json",
    "user_json",
]

ADMIN_TOKEN_KEY = web.AppKey("admin_token", str)
STORE_KEY = web.AppKey("store", Store)
# Called after projects or keys change, so that caches elsewhere in the process (auth,
# ingest routing) see the change at once.
CHANGE_HOOKS_KEY = web.AppKey("change_hooks", list)
# The address people open the UI at (TRACEHOUSE_PUBLIC_URL), for the links we make.
PUBLIC_URL_KEY = web.AppKey("public_url", str)


def notify_changed(request: web.Request) -> None:
    for hook in request.app.get(CHANGE_HOOKS_KEY, []):
        hook()


class NewProject(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    retention_days: int = Field(0, ge=0, le=36500)
    organization: str = Field(DEFAULT_ORGANIZATION_ID, min_length=1, description="Organization id or name.")


class NewOrganization(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class PasswordReset(BaseModel):
    email: str = Field(min_length=3, max_length=400)


class NewKey(BaseModel):
    project: str = Field(min_length=1)
    note: str = Field("", max_length=200)


# How long deleting a project from the UI or Langfuse's API waits for the erase of its rows before
# answering (the erase goes on after; a large project's takes minutes, a small one's a second).
ERASE_WAIT_S = 10.0


def project_json(p: Project) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "organization_id": p.organization_id,
        "retention_days": p.retention_days,
        "created_at": p.created_at.isoformat(),
    }


def organization_json(o: Organization) -> dict[str, Any]:
    return {"id": o.id, "name": o.name}


def key_json(k: ApiKey) -> dict[str, Any]:
    return {
        "public_key": k.public_key,
        "secret_hint": k.secret_hint,
        "project_id": k.project_id,
        "note": k.note,
        "created_at": k.created_at.isoformat(),
        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
    }


def user_json(u: User) -> dict[str, Any]:
    return {"id": u.id, "email": u.email, "name": u.name, "is_admin": u.is_admin}


async def password_reset(store: Store, email: str, base_url: str) -> dict[str, Any]:
    """A one-time link (valid a day) that sets a new password for the account of ``email``: how
    the instance admin gets back in, since nobody else may reset their password."""
    user = await store.users.find(email)
    if user is None:
        raise NotFound(f"no account for {email.strip()!r}: 'tracehouse users list' shows them")
    organizations = sorted((await store.organizations.roles_of(user.id)).organizations)
    # The link's page names an organization; any of the account's does (a reset changes no role).
    organization = (organizations or [DEFAULT_ORGANIZATION_ID])[0]
    token, inv = await store.invitations.create(RESET, organization, user.email, "", "cli")
    return {
        "email": inv.email,
        "url": f"{base_url.rstrip('/')}/invite/{token}",
        "expires_at": inv.expires_at.isoformat(),
        "organization_id": inv.organization_id,
    }


def _authorize(request: web.Request) -> Store:
    if not is_local(request):
        raise Forbidden("the admin endpoint only answers on this machine")
    token = request.app[ADMIN_TOKEN_KEY]
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthenticated("missing or wrong admin token (see server.json in the data directory)")
    return request.app[STORE_KEY]


async def list_projects(request: web.Request) -> web.Response:
    store = _authorize(request)
    return web.json_response({"data": [project_json(p) for p in await store.projects.list_projects()]})


async def create_project(request: web.Request) -> web.Response:
    store = _authorize(request)
    body = await read_model(request, NewProject)
    organization = await store.organizations.get_organization(body.organization)
    project = await store.projects.create_project(body.name, organization.id, retention_days=body.retention_days)
    note_scope(request, project.id, organization.id)
    notify_changed(request)
    return web.json_response(project_json(project), status=201)


async def delete_project(request: web.Request) -> web.Response:
    store = _authorize(request)
    project = await store.lifecycle.delete_project(request.match_info["ref"])
    notify_changed(request)
    return web.json_response(project_json(project))


async def list_keys(request: web.Request) -> web.Response:
    store = _authorize(request)
    keys = await store.projects.list_keys(request.query.get("project"))
    return web.json_response({"data": [key_json(k) for k in keys]})


async def create_key(request: web.Request) -> web.Response:
    store = _authorize(request)
    body = await read_model(request, NewKey)
    pair = await store.projects.create_key(body.project, body.note)
    note_scope(request, pair.project_id)
    notify_changed(request)
    return web.json_response(
        {"public_key": pair.public_key, "secret_key": pair.secret_key, "project_id": pair.project_id},
        status=201,
    )


async def revoke_key(request: web.Request) -> web.Response:
    store = _authorize(request)
    key = await store.projects.revoke_key(request.match_info["public_key"])
    note_scope(request, key.project_id)
    notify_changed(request)
    return web.json_response(key_json(key))


class RetentionChange(BaseModel):
    days: int = Field(ge=0, le=36500)


async def set_retention(request: web.Request) -> web.Response:
    store = _authorize(request)
    body = await read_model(request, RetentionChange)
    project = await store.lifecycle.set_retention(request.match_info["ref"], body.days)
    notify_changed(request)
    return web.json_response(project_json(project))


async def delete_data(request: web.Request) -> web.Response:
    store = _authorize(request)
    project = request.query.get("project", "default")
    deleted = await store.lifecycle.delete(project, request.match_info["kind"], request.match_info["id"])
    return web.json_response({"deleted_traces": deleted})


async def list_organizations(request: web.Request) -> web.Response:
    store = _authorize(request)
    orgs = await store.organizations.list_organizations()
    return web.json_response({"data": [organization_json(o) for o in orgs]})


async def create_organization(request: web.Request) -> web.Response:
    store = _authorize(request)
    body = await read_model(request, NewOrganization)
    org = await store.organizations.create_organization(body.name)
    note_scope(request, organization_id=org.id)
    notify_changed(request)
    return web.json_response(organization_json(org), status=201)


async def list_users(request: web.Request) -> web.Response:
    store = _authorize(request)
    return web.json_response({"data": [user_json(u) for u in await store.users.list_all()]})


async def reset_password(request: web.Request) -> web.Response:
    store = _authorize(request)
    body = await read_model(request, PasswordReset)
    base = request.app.get(PUBLIC_URL_KEY) or f"{request.scheme}://{request.host}"
    reset = await password_reset(store, body.email, base)
    note_scope(request, organization_id=reset["organization_id"])
    note_detail(request, email=reset["email"])
    return web.json_response(reset, status=201)


class BackupRequest(BaseModel):
    to: str = Field(min_length=1, max_length=4096)
    base: str | None = Field(default=None, min_length=1, max_length=4096)  # an earlier backup


async def backup(request: web.Request) -> web.Response:
    """The embedded store copied into a new directory on this machine, while it serves (on
    ``base``, an earlier backup, only what changed since)."""
    store = _authorize(request)
    body = await read_model(request, BackupRequest)
    result = await back_up(store, Path(body.to), Path(body.base) if body.base else None)
    note_detail(request, path=result["path"])
    return web.json_response(result, status=201)


def admin_routes() -> list[web.RouteDef]:
    return [
        web.get("/api/admin/organizations", list_organizations),
        web.post("/api/admin/organizations", create_organization),
        web.get("/api/admin/projects", list_projects),
        web.post("/api/admin/projects", create_project),
        web.delete("/api/admin/projects/{ref}", delete_project),
        web.get("/api/admin/keys", list_keys),
        web.post("/api/admin/keys", create_key),
        web.post("/api/admin/keys/{public_key}/revoke", revoke_key),
        web.post("/api/admin/projects/{ref}/retention", set_retention),
        web.delete(r"/api/admin/data/{kind:trace|session|user}/{id}", delete_data),
        web.get("/api/admin/users", list_users),
        web.post("/api/admin/users/password-reset", reset_password),
        web.post("/api/admin/backup", backup),
    ]
