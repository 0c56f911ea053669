"""Langfuse's administration API for organization-scoped keys, as langfuse 5.x's
``api.organizations`` and ``api.projects`` call it: the organization's projects (create, rename,
set retention, delete), their API keys, and the roles of its people in it and in each project.

An organization key (made by an owner under Organization settings) administers one
organization and reads or writes no traces; a project's key gets 403 here, as in Langfuse.
Roles map onto Tracehouse's (tracehouse.roles): a project membership is a project role that
overrides the organization role there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from query_api.access import CREDENTIALS_KEY
from query_api.admin import ERASE_WAIT_S, STORE_KEY, notify_changed
from query_api.auth import USERS_KEY
from query_api.langfuse_api import PREFIX, LangfuseError, langfuse_error, langfuse_json
from query_api.requests import read_model
from storage import Store
from storage.projects import Project
from storage.users import Users
from tracehouse.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from tracehouse.roles import Role, parse_role

__all__ = ["key_organization", "org_admin_routes"]

Handler = Callable[[web.Request, Store, str], Awaitable[web.Response]]


class ProjectBody(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    retention: int | None = Field(None, ge=0, le=36500)
    metadata: dict[str, Any] | None = None


class ProjectUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    retention: int | None = Field(None, ge=0, le=36500)
    metadata: dict[str, Any] | None = None


class KeyBody(BaseModel):
    note: str | None = Field(None, max_length=200)
    name: str | None = Field(None, max_length=200)
    publicKey: str | None = None
    secretKey: str | None = None


class MembershipBody(BaseModel):
    userId: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=20)


class MembershipDelete(BaseModel):
    userId: str = Field(min_length=1, max_length=200)


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


async def key_organization(request: web.Request) -> str:
    """The organization of the request's organization key; LangfuseError 401 for no valid key,
    403 for a project's key."""
    credentials = request.app[CREDENTIALS_KEY]
    authorization = request.headers.get("Authorization", "")
    try:
        return str(await credentials.key_organization(authorization))
    except Unauthenticated as exc:
        try:
            await credentials.key_project(authorization)
        except Unauthenticated:
            raise LangfuseError(401, "Unauthorized", exc.message) from None
        raise LangfuseError(
            403, "AccessDeniedError", "this API needs an organization-scoped API key, not a project's"
        ) from None


def _org_route(fn: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A handler for an organization key's organization, answering in Langfuse's shapes."""

    async def wrapped(request: web.Request) -> web.Response:
        try:
            organization = await key_organization(request)
            return await fn(request, request.app[STORE_KEY], organization)
        except LangfuseError as exc:
            return langfuse_json({"error": exc.error, "message": exc.message}, exc.status)
        except (InvalidInput, NotFound, Conflict) as exc:
            return langfuse_error(exc)

    return wrapped


async def _project_of(store: Store, organization: str, project_id: str) -> Project:
    """A project of this organization; another organization's is not found, as a missing one."""
    found = [p for p in await store.projects.find_projects(project_id) if p.id == project_id]
    project = found[0] if found else None
    if project is None or project.organization_id != organization:
        raise NotFound(f"Project not found: {project_id}")
    return project


def _role(value: str, project: bool) -> Role:
    try:
        role = parse_role(value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if role == Role.NONE or (project and role == Role.OWNER):
        raise InvalidInput("role: OWNER, ADMIN, MEMBER or VIEWER (OWNER only for the organization)")
    return role


async def _person(users: Users, user_id: str) -> tuple[str, str]:
    user = await users.get(user_id)
    if user is None:
        raise NotFound(f"User not found: {user_id}")
    return user.email, user.name


async def _project_json(store: Store, project: Project) -> dict[str, Any]:
    org = next((o for o in await store.organizations.list_organizations() if o.id == project.organization_id), None)
    return {
        "id": project.id,
        "name": project.name,
        "organization": {"id": project.organization_id, "name": org.name if org else project.organization_id},
        "metadata": {},
        "retentionDays": project.retention_days or None,
    }


# -- the organization ---------------------------------------------------------------------


async def organization_projects(request: web.Request, store: Store, organization: str) -> web.Response:
    projects = await store.organizations.projects_of(organization)
    return langfuse_json({"projects": [
        {"id": p.id, "name": p.name, "metadata": {}, "createdAt": _iso(p.created_at), "updatedAt": _iso(p.created_at)}
        for p in projects
    ]})  # fmt: skip


async def organization_keys(request: web.Request, store: Store, organization: str) -> web.Response:
    keys = await store.organizations.keys(organization)
    return langfuse_json({"apiKeys": [
        {"id": k.public_key, "createdAt": _iso(k.created_at), "expiresAt": None, "lastUsedAt": None, "note": k.note,
         "publicKey": k.public_key, "displaySecretKey": k.secret_hint}
        for k in keys if k.revoked_at is None
    ]})  # fmt: skip


async def organization_memberships(request: web.Request, store: Store, organization: str) -> web.Response:
    users: Users = request.app[USERS_KEY]
    out = []
    for m in await store.organizations.members(organization):
        email, name = await _person(users, m.user_id)
        out.append({"userId": m.user_id, "role": m.role.value, "email": email, "name": name})
    return langfuse_json({"memberships": out})


async def put_organization_membership(request: web.Request, store: Store, organization: str) -> web.Response:
    body: MembershipBody = await read_model(request, MembershipBody)
    email, name = await _person(request.app[USERS_KEY], body.userId)
    role = _role(body.role, project=False)
    await store.organizations.set_role(organization, body.userId, role)
    notify_changed(request)
    return langfuse_json({"userId": body.userId, "role": role.value, "email": email, "name": name})


async def delete_organization_membership(request: web.Request, store: Store, organization: str) -> web.Response:
    body: MembershipDelete = await read_model(request, MembershipDelete)
    await store.organizations.remove_member(organization, body.userId)
    notify_changed(request)
    return langfuse_json({"message": "Membership deleted", "userId": body.userId})


# -- its projects ---------------------------------------------------------------------------


async def create_project(request: web.Request, store: Store, organization: str) -> web.Response:
    body: ProjectBody = await read_model(request, ProjectBody)
    project = await store.projects.create_project(body.name, organization, retention_days=body.retention or 0)
    notify_changed(request)
    return langfuse_json(await _project_json(store, project), 201)


async def update_project(request: web.Request, store: Store, organization: str) -> web.Response:
    project = await _project_of(store, organization, request.match_info["project_id"])
    body: ProjectUpdate = await read_model(request, ProjectUpdate)
    if body.name is not None and body.name != project.name:
        project = await store.projects.rename_project(project.id, body.name)
    if body.retention is not None and body.retention != project.retention_days:
        await store.lifecycle.set_retention(project.id, body.retention)
        project = await store.projects.get_project(project.id)
    notify_changed(request)
    return langfuse_json(await _project_json(store, project))


async def delete_project(request: web.Request, store: Store, organization: str) -> web.Response:
    project = await _project_of(store, organization, request.match_info["project_id"])
    _, erase = await store.lifecycle.start_project_delete(project.id)
    request.app[CREDENTIALS_KEY].invalidate()
    notify_changed(request)  # its keys refused everywhere now, not after the erase
    erased = await store.lifecycle.erased_within(erase, ERASE_WAIT_S)
    done = "deleted with its data" if erased else "deleted; its data is being erased"
    return langfuse_json({"success": True, "message": f"Project {done}; its keys are revoked"}, 202)


async def project_keys(request: web.Request, store: Store, organization: str) -> web.Response:
    project = await _project_of(store, organization, request.match_info["project_id"])
    keys = [k for k in await store.projects.list_keys(project.id) if k.active]
    return langfuse_json({"apiKeys": [
        {"id": k.public_key, "createdAt": _iso(k.created_at), "expiresAt": None, "lastUsedAt": None, "note": k.note,
         "publicKey": k.public_key, "displaySecretKey": k.secret_hint}
        for k in keys
    ]})  # fmt: skip


async def create_project_key(request: web.Request, store: Store, organization: str) -> web.Response:
    project = await _project_of(store, organization, request.match_info["project_id"])
    body: KeyBody = await read_model(request, KeyBody) if request.can_read_body else KeyBody()
    if body.publicKey or body.secretKey:
        raise InvalidInput("keys of your own are not accepted: Tracehouse makes the pair and shows the secret once")
    pair = await store.projects.create_key(project.id, body.note or body.name or "")
    request.app[CREDENTIALS_KEY].invalidate()  # open mode ends with the first key
    notify_changed(request)
    key = next(k for k in await store.projects.list_keys(project.id) if k.public_key == pair.public_key)
    return langfuse_json({"id": pair.public_key, "createdAt": _iso(key.created_at), "expiresAt": None,
                          "publicKey": pair.public_key, "secretKey": pair.secret_key,
                          "displaySecretKey": key.secret_hint, "note": key.note}, 201)  # fmt: skip


async def delete_project_key(request: web.Request, store: Store, organization: str) -> web.Response:
    project = await _project_of(store, organization, request.match_info["project_id"])
    key_id = request.match_info["key_id"]
    if not any(k.public_key == key_id for k in await store.projects.list_keys(project.id)):
        raise NotFound(f"API key not found: {key_id}")
    await store.projects.revoke_key(key_id)
    request.app[CREDENTIALS_KEY].invalidate()
    notify_changed(request)
    return langfuse_json({"success": True})


async def project_memberships(request: web.Request, store: Store, organization: str) -> web.Response:
    project = await _project_of(store, organization, request.match_info["project_id"])
    users: Users = request.app[USERS_KEY]
    out = []
    for user_id, role in (await store.organizations.project_roles(project.id)).items():
        if role == Role.NONE:
            continue
        email, name = await _person(users, user_id)
        out.append({"userId": user_id, "role": role.value, "email": email, "name": name})
    return langfuse_json({"memberships": out})


async def put_project_membership(request: web.Request, store: Store, organization: str) -> web.Response:
    project = await _project_of(store, organization, request.match_info["project_id"])
    body: MembershipBody = await read_model(request, MembershipBody)
    email, name = await _person(request.app[USERS_KEY], body.userId)
    if body.userId not in {m.user_id for m in await store.organizations.members(organization)}:
        # Langfuse: a project member is a member of its organization first (here with no role of its own).
        await store.organizations.set_role(organization, body.userId, Role.NONE)
    role = _role(body.role, project=True)
    await store.organizations.set_project_role(project.id, body.userId, role)
    notify_changed(request)
    return langfuse_json({"userId": body.userId, "role": role.value, "email": email, "name": name})


async def delete_project_membership(request: web.Request, store: Store, organization: str) -> web.Response:
    project = await _project_of(store, organization, request.match_info["project_id"])
    body: MembershipDelete = await read_model(request, MembershipDelete)
    if body.userId not in await store.organizations.project_roles(project.id):
        raise NotFound(f"Project membership not found: {body.userId}")
    await store.organizations.set_project_role(project.id, body.userId, None)
    notify_changed(request)
    return langfuse_json({"message": "Membership deleted", "userId": body.userId})


def org_admin_routes() -> list[web.RouteDef]:
    """Register before the Langfuse catch-all (and after ``GET /projects``, which project keys use)."""
    r = _org_route
    o, p = PREFIX + "/organizations", PREFIX + "/projects/{project_id}"
    return [
        web.get(o + "/projects", r(organization_projects)),
        web.get(o + "/apiKeys", r(organization_keys)),
        web.get(o + "/memberships", r(organization_memberships)),
        web.put(o + "/memberships", r(put_organization_membership)),
        web.delete(o + "/memberships", r(delete_organization_membership)),
        web.post(PREFIX + "/projects", r(create_project)),
        web.put(p, r(update_project)),
        web.delete(p, r(delete_project)),
        web.get(p + "/apiKeys", r(project_keys)),
        web.post(p + "/apiKeys", r(create_project_key)),
        web.delete(p + "/apiKeys/{key_id}", r(delete_project_key)),
        web.get(p + "/memberships", r(project_memberships)),
        web.put(p + "/memberships", r(put_project_membership)),
        web.delete(p + "/memberships", r(delete_project_membership)),
    ]
