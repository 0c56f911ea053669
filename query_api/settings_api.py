"""Settings under ``/api/v1/settings``: projects (with retention), API keys, model prices, deletes.

Each route checks the permission matrix (tracehouse.roles) for the project it touches: keys need
"manage API keys", prices and retention "settings and prices", deletes "delete data". The
instance admin may do everything, as may anyone in open mode (a loopback bind with no API key
and no account yet). Everyone else gets 403 (signed in, not allowed) or 401.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from aiohttp import web
from pydantic import BaseModel, Field

from pricing import BUILTIN_PRICES
from query_api.access import LOOPBACK_BIND_KEY, session_user
from query_api.admin import ERASE_WAIT_S, STORE_KEY, NewKey, NewProject, key_json, notify_changed, project_json
from query_api.audit_scope import note_detail, note_scope
from query_api.auth import USERS_KEY
from query_api.organizations_api import roles_for
from query_api.requests import is_local, read_model
from query_api.responses import json_response
from storage import Project, Store
from storage.organizations import Roles
from tracehouse.errors import Forbidden, NotFound, Unauthenticated
from tracehouse.roles import Permission, Role, allowed

__all__ = ["settings_routes"]


class NewPrice(BaseModel):
    project: str = Field(min_length=1)
    model_name: str = Field(min_length=1, max_length=200)
    match_pattern: str = Field(min_length=1, max_length=500)
    prices: dict[str, Decimal]


@dataclass
class _Caller:
    """Who is changing settings: ``roles`` None means everything is allowed (the instance admin,
    or open mode on this machine before any key or account exists)."""

    store: Store
    roles: Roles | None
    request: web.Request

    def may(self, project: Project, permission: Permission) -> bool:
        return self.roles is None or self.roles.may(project, permission)

    def may_in_organization(self, organization_id: str, permission: Permission) -> bool:
        if self.roles is None:
            return True
        return allowed(self.roles.organizations.get(organization_id, Role.NONE), permission)

    async def project(self, ref: str, permission: Permission) -> Project:
        """The project ``ref``, if the caller holds ``permission`` there; 403 otherwise."""
        # Names are looked up among the projects the caller sees (another organization's
        # project of that name is not theirs to learn of): the same answer as for no such project.
        try:
            project = await self.store.projects.get_project(ref, lambda p: self.may(p, Permission.VIEW_DATA))
        except NotFound:
            if self.roles is None:
                raise
            raise Forbidden(f"no access to project {ref!r}") from None
        if not self.may(project, permission):
            raise Forbidden(f"your role in project {project.name!r} may not {permission.value}")
        note_scope(self.request, project.id, project.organization_id)
        return project

    async def require_any(self, permission: Permission) -> None:
        """403 at once for someone whose roles allow ``permission`` in no project at all."""
        if self.roles is None:
            return
        if permission == Permission.MANAGE_PROJECTS:
            if any(allowed(role, permission) for role in self.roles.organizations.values()):
                return
        elif await self.projects(permission):
            return
        raise Forbidden(f"your roles do not allow {permission.value} in any project: ask an organization admin")

    async def projects(self, permission: Permission) -> list[Project]:
        return [p for p in await self.store.projects.list_projects() if self.may(p, permission)]


async def _caller(request: web.Request, permission: Permission) -> _Caller:
    store: Store = request.app[STORE_KEY]
    user = await session_user(request)
    if user is not None:
        caller = _Caller(store, None if user.is_admin else await roles_for(request, user), request)
        await caller.require_any(permission)
        return caller
    open_mode = (
        request.app.get(LOOPBACK_BIND_KEY, False)
        and is_local(request)
        and not await store.projects.has_keys()
        and await request.app[USERS_KEY].count() == 0
    )
    if not open_mode:
        raise Unauthenticated("sign in to change settings")
    return _Caller(store, None, request)


async def list_projects(request: web.Request) -> web.Response:
    """The projects the caller may configure."""
    caller = await _caller(request, Permission.MANAGE_SETTINGS)
    # With its organization's name: in open mode the UI's organization switcher has no other source.
    names = {o.id: o.name for o in await caller.store.organizations.list_organizations()}
    return json_response(
        {
            "items": [
                {**project_json(p), "organization_name": names.get(p.organization_id, p.organization_id)}
                for p in await caller.projects(Permission.MANAGE_SETTINGS)
            ]
        }
    )


async def create_project(request: web.Request) -> web.Response:
    caller = await _caller(request, Permission.MANAGE_PROJECTS)
    body = await read_model(request, NewProject)
    org = await caller.store.organizations.get_organization(body.organization)
    if not caller.may_in_organization(org.id, Permission.MANAGE_PROJECTS):
        raise Forbidden(f"your role in organization {org.name!r} may not create projects")
    project = await caller.store.projects.create_project(body.name, org.id, retention_days=body.retention_days)
    note_scope(request, project.id, org.id)
    note_detail(request, name=project.name)
    notify_changed(request)
    return json_response(project_json(project), status=201)


async def delete_project(request: web.Request) -> web.Response:
    caller = await _caller(request, Permission.MANAGE_PROJECTS)
    project = await caller.project(request.match_info["project"], Permission.VIEW_DATA)
    if not caller.may_in_organization(project.organization_id, Permission.MANAGE_PROJECTS):
        raise Forbidden(f"your role may not delete project {project.name!r}")
    project, erase = await caller.store.lifecycle.start_project_delete(project.id)
    notify_changed(request)  # its keys refused everywhere now, not after the erase
    erased = await caller.store.lifecycle.erased_within(erase, ERASE_WAIT_S)
    return json_response({**project_json(project), "erased": erased})


async def list_keys(request: web.Request) -> web.Response:
    caller = await _caller(request, Permission.MANAGE_KEYS)
    ref = request.query.get("project")
    if ref:
        project = await caller.project(ref, Permission.MANAGE_KEYS)
        keys = await caller.store.projects.list_keys(project.id)
    else:
        allowed_ids = {p.id for p in await caller.projects(Permission.MANAGE_KEYS)}
        keys = [k for k in await caller.store.projects.list_keys(None) if k.project_id in allowed_ids]
    return json_response({"items": [key_json(k) for k in keys]})


async def create_key(request: web.Request) -> web.Response:
    caller = await _caller(request, Permission.MANAGE_KEYS)
    body = await read_model(request, NewKey)
    project = await caller.project(body.project, Permission.MANAGE_KEYS)
    pair = await caller.store.projects.create_key(project.id, body.note)
    note_detail(request, public_key=pair.public_key)
    notify_changed(request)
    host = f"{request.scheme}://{request.host}"
    return json_response(
        {"public_key": pair.public_key, "secret_key": pair.secret_key, "project_id": pair.project_id, "host": host},
        status=201,
    )


async def revoke_key(request: web.Request) -> web.Response:
    caller = await _caller(request, Permission.MANAGE_KEYS)
    public_key = request.match_info["public_key"]
    owner = next((k for k in await caller.store.projects.list_keys(None) if k.public_key == public_key), None)
    if owner is None:
        raise NotFound(f"no key {public_key!r}")
    await caller.project(owner.project_id, Permission.MANAGE_KEYS)
    key = await caller.store.projects.revoke_key(public_key)
    notify_changed(request)
    return json_response(key_json(key))


async def list_prices(request: web.Request) -> web.Response:
    caller = await _caller(request, Permission.MANAGE_SETTINGS)
    ref = request.query.get("project")
    project_id = (await caller.project(ref, Permission.MANAGE_SETTINGS)).id if ref else None
    allowed_ids = {p.id for p in await caller.projects(Permission.MANAGE_SETTINGS)}
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
        for o in await caller.store.prices.list_overrides(project_id)
        if o.project_id in allowed_ids
    ]
    return json_response({"builtin": builtin, "overrides": overrides})


async def create_price(request: web.Request) -> web.Response:
    caller = await _caller(request, Permission.MANAGE_SETTINGS)
    body = await read_model(request, NewPrice)
    project = await caller.project(body.project, Permission.MANAGE_SETTINGS)
    override = await caller.store.prices.add_override(
        project.id, body.model_name, body.match_pattern, dict(body.prices)
    )
    notify_changed(request)
    return json_response({"id": override.id, "project_id": override.project_id}, status=201)


async def delete_price(request: web.Request) -> web.Response:
    caller = await _caller(request, Permission.MANAGE_SETTINGS)
    project = await caller.project(request.query.get("project", "default"), Permission.MANAGE_SETTINGS)
    await caller.store.prices.delete_override(project.id, request.match_info["price_id"])
    notify_changed(request)
    return json_response({"ok": True})


class Retention(BaseModel):
    days: int = Field(ge=0, le=36500)


class ProjectName(BaseModel):
    name: str = Field(min_length=1, max_length=100)


async def rename_project(request: web.Request) -> web.Response:
    """A project's new name (its id, keys and data stay): for those who may change its settings."""
    caller = await _caller(request, Permission.MANAGE_SETTINGS)
    body = await read_model(request, ProjectName)
    project = await caller.project(request.match_info["project"], Permission.MANAGE_SETTINGS)
    project = await caller.store.projects.rename_project(project.id, body.name)
    note_detail(request, name=project.name)
    notify_changed(request)
    return json_response(project_json(project))


async def set_retention(request: web.Request) -> web.Response:
    caller = await _caller(request, Permission.MANAGE_SETTINGS)
    body = await read_model(request, Retention)
    project = await caller.project(request.match_info["project"], Permission.MANAGE_SETTINGS)
    project = await caller.store.lifecycle.set_retention(project.id, body.days)
    note_detail(request, days=str(body.days))
    notify_changed(request)
    return json_response(project_json(project))


async def delete_data(request: web.Request) -> web.Response:
    """Delete a trace, or every trace of a session or user (GDPR requests), from every table."""
    caller = await _caller(request, Permission.DELETE_DATA)
    kinds = {"traces": "trace", "sessions": "session", "users": "user"}
    kind = kinds.get(request.match_info["kind"])
    if kind is None:
        raise web.HTTPNotFound()
    project = await caller.project(request.query.get("project", "default"), Permission.DELETE_DATA)
    deleted = await caller.store.lifecycle.delete(project.id, kind, request.match_info["id"])
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
        web.post(base + "/projects/{project}/name", rename_project),
        web.delete(base + "/data/{kind}/{id}", delete_data),
    ]
