"""Organizations, their projects and their members, for signed-in people, under
``/api/v1/organizations`` and ``/api/v1/projects/{project}/members``.

Every route checks the permission matrix (tracehouse.roles) against the caller's roles. The
instance admin (the first account) acts as an owner of every organization, so that one made
with the CLI is never out of reach. An ADMIN manages members but not owners: granting,
changing or removing OWNER takes an owner.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from query_api.access import CREDENTIALS_KEY, session_user
from query_api.admin import STORE_KEY, notify_changed, project_json
from query_api.audit_scope import note_detail, note_scope
from query_api.auth import USERS_KEY
from query_api.provisioning import grant_default_access, provisioned_here
from query_api.requests import read_model
from query_api.responses import json_response
from storage import Store
from storage.organizations import Organization, Roles
from storage.projects import Project
from storage.users import User, Users
from tracehouse.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from tracehouse.roles import MATRIX, Permission, Role, allowed, effective_role, parse_role

__all__ = ["caller_in_organization", "check_grant", "organization_routes", "parse_role_or_400", "roles_for"]


class NewOrganization(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class NewProjectInOrganization(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    retention_days: int = Field(0, ge=0, le=36500)


class NewMember(BaseModel):
    email: str = Field(min_length=3, max_length=400)
    role: str = Field("MEMBER")
    name: str = Field("", max_length=200)
    password: str | None = Field(None, description="Initial password, for someone without an account yet.")


class RoleChange(BaseModel):
    role: str | None = Field(description="A role, or null to clear a project role.")


async def _caller(request: web.Request) -> tuple[Store, User]:
    user = await session_user(request)
    if user is None:
        raise Unauthenticated("sign in to manage organizations and members")
    return request.app[STORE_KEY], user


async def roles_for(request: web.Request, user: User) -> Roles:
    """A person's roles, from the credentials module (one answer for every API)."""
    return await request.app[CREDENTIALS_KEY].roles(user)


def _organization_role(roles: Roles, org: Organization) -> Role:
    return roles.organizations.get(org.id, Role.NONE)


def _permissions(role: Role) -> list[str]:
    return sorted(p.name for p in MATRIX[role])


def _require(role: Role, permission: Permission, what: str) -> None:
    if not allowed(role, permission):
        raise Forbidden(f"your role ({role.value}) may not {what}")


def parse_role_or_400(value: str) -> Role:
    """A role from a request body; InvalidInput (400) naming the choices otherwise."""
    try:
        return parse_role(value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


async def _user_json(users: Users, user_id: str, role: Role, known: dict[str, User] | None = None) -> dict[str, Any]:
    """A member as the API gives one; ``known``: accounts read already (a list reads them at once)."""
    user = known.get(user_id) if known is not None else await users.get(user_id)
    return {
        "user_id": user_id,
        "email": user.email if user else "",
        "name": user.name if user else "",
        "role": role.value,
    }


async def list_organizations(request: web.Request) -> web.Response:
    store, user = await _caller(request)
    roles = await roles_for(request, user)
    visible = {p.id for p in await store.projects.list_projects() if roles.may(p, Permission.VIEW_DATA)}
    out = []
    for org in await store.organizations.list_organizations():
        projects = [p for p in await store.organizations.projects_of(org.id) if p.id in visible]
        role = _organization_role(roles, org)
        if role == Role.NONE and not projects:
            continue
        out.append(
            {
                "id": org.id,
                "name": org.name,
                "role": role.value,
                # What the role allows, so that the UI hides what the API would refuse.
                "permissions": _permissions(role),
                "projects": [
                    {
                        **project_json(p),
                        "role": roles.in_project(p).value,
                        "permissions": _permissions(roles.in_project(p)),
                    }
                    for p in projects
                ],
            }
        )
    return json_response({"data": out})


async def create_organization(request: web.Request) -> web.Response:
    store, user = await _caller(request)
    body = await read_model(request, NewOrganization)
    org = await store.organizations.create_organization(body.name, owner_id=user.id)
    note_scope(request, organization_id=org.id)
    note_detail(request, name=org.name)
    notify_changed(request)
    return json_response({"id": org.id, "name": org.name, "role": Role.OWNER.value, "projects": []}, status=201)


async def _organization(request: web.Request, store: Store, user: User) -> tuple[Organization, Role]:
    org = await store.organizations.get_organization(request.match_info["organization"])
    role = _organization_role(await roles_for(request, user), org)
    if role == Role.NONE:
        raise NotFound(f"no organization {request.match_info['organization']!r} that you belong to")
    return org, role


async def caller_in_organization(request: web.Request) -> tuple[Store, User, Organization, Role]:
    """The signed-in caller, the organization of the URL and the caller's role in it."""
    store, user = await _caller(request)
    org, role = await _organization(request, store, user)
    return store, user, org, role


async def create_project(request: web.Request) -> web.Response:
    store, user = await _caller(request)
    org, role = await _organization(request, store, user)
    _require(role, Permission.MANAGE_PROJECTS, "create projects")
    body = await read_model(request, NewProjectInOrganization)
    project = await store.projects.create_project(body.name, org.id, retention_days=body.retention_days)
    note_scope(request, project.id, org.id)
    note_detail(request, name=project.name)
    notify_changed(request)
    return json_response(project_json(project), status=201)


async def list_members(request: web.Request) -> web.Response:
    store, user = await _caller(request)
    org, _ = await _organization(request, store, user)
    users: Users = request.app[USERS_KEY]
    listed = await store.organizations.members(org.id)
    known = await users.get_many(m.user_id for m in listed)
    members = [await _user_json(users, m.user_id, m.role, known) for m in listed]
    provisioned = await provisioned_here(request.app, store, organization_id=org.id)
    return json_response({"data": members, **provisioned})


def check_grant(caller: Role, old: Role | None, new: Role | None) -> None:
    _require(caller, Permission.MANAGE_MEMBERS, "manage members")
    if Role.OWNER in (old, new):
        _require(caller, Permission.MANAGE_ORGANIZATION, "grant, change or remove an owner")


async def add_member(request: web.Request) -> web.Response:
    store, user = await _caller(request)
    org, caller = await _organization(request, store, user)
    body = await read_model(request, NewMember)
    role = parse_role_or_400(body.role)
    users: Users = request.app[USERS_KEY]
    member = await users.find(body.email)
    current = {m.user_id: m.role for m in await store.organizations.members(org.id)}
    check_grant(caller, current.get(member.id) if member else None, role)
    created = member is None
    if member is None:
        if not body.password:
            raise InvalidInput(f"{body.email} has no account yet: give an initial password (8+ characters)")
        member = await users.create(body.email, body.name or body.email, body.password)
    await store.organizations.set_role(org.id, member.id, role)
    note_detail(request, email=member.email, role=role.value)
    if created:
        await grant_default_access(request.app, store, member.id)
    return json_response(await _user_json(users, member.id, role), status=201)


async def change_member(request: web.Request) -> web.Response:
    store, user = await _caller(request)
    org, caller = await _organization(request, store, user)
    body = await read_model(request, RoleChange)
    if body.role is None:
        raise InvalidInput("an organization role is required; to remove someone, DELETE the member")
    role = parse_role_or_400(body.role)
    user_id = request.match_info["user_id"]
    current = {m.user_id: m.role for m in await store.organizations.members(org.id)}
    if user_id not in current:
        raise NotFound(f"{user_id!r} is not a member of this organization")
    check_grant(caller, current[user_id], role)
    await store.organizations.set_role(org.id, user_id, role)
    note_detail(request, role=role.value, was=current[user_id].value)
    return json_response(await _user_json(request.app[USERS_KEY], user_id, role))


async def remove_member(request: web.Request) -> web.Response:
    store, user = await _caller(request)
    org, caller = await _organization(request, store, user)
    user_id = request.match_info["user_id"]
    current = {m.user_id: m.role for m in await store.organizations.members(org.id)}
    check_grant(caller, current.get(user_id), None)
    await store.organizations.remove_member(org.id, user_id)
    return web.Response(status=204)


async def _readable_project(request: web.Request) -> tuple[Store, Project, Roles]:
    """The caller, the project of the URL (404 unless the caller may read it) and the caller's roles."""
    store, user = await _caller(request)
    ref = request.match_info["project"]
    roles = await roles_for(request, user)
    try:
        project = await store.projects.get_project(ref, lambda p: roles.may(p, Permission.VIEW_DATA))
    except NotFound:
        raise NotFound(f"no project {ref!r} that you may read") from None
    return store, project, roles


async def set_project_role(request: web.Request) -> web.Response:
    store, project, roles = await _readable_project(request)
    _require(roles.in_project(project), Permission.MANAGE_MEMBERS, "manage members")
    body = await read_model(request, RoleChange)
    role = parse_role_or_400(body.role) if body.role is not None else None
    await store.organizations.set_project_role(project.id, request.match_info["user_id"], role)
    note_scope(request, project.id, project.organization_id)
    note_detail(request, role=role.value if role else "")
    return json_response({"project_id": project.id, "user_id": request.match_info["user_id"], "role": body.role})


async def list_project_members(request: web.Request) -> web.Response:
    """The people of a project: its organization's members, each with the role that holds here."""
    store, project, _ = await _readable_project(request)
    users: Users = request.app[USERS_KEY]
    overrides = await store.organizations.project_roles(project.id)
    listed = await store.organizations.members(project.organization_id)
    known = await users.get_many([*(m.user_id for m in listed), *overrides])
    out = []
    for member in listed:
        override = overrides.pop(member.user_id, None)
        entry = await _user_json(users, member.user_id, effective_role(member.role, override), known)
        out.append({**entry, "organization_role": member.role.value, "project_role": override and override.value})
    for user_id, override in overrides.items():  # a project role with no organization role
        entry = await _user_json(users, user_id, override, known)
        out.append({**entry, "organization_role": None, "project_role": override.value})
    provisioned = await provisioned_here(request.app, store, project_id=project.id)
    return json_response({"data": out, **provisioned})


class NewOrganizationKey(BaseModel):
    note: str = Field("", max_length=200)


async def _key_owner(request: web.Request) -> tuple[Store, Organization]:
    """Organization keys administer everything in the organization: only its owners manage them."""
    store, user = await _caller(request)
    org, role = await _organization(request, store, user)
    _require(role, Permission.MANAGE_ORGANIZATION, "manage organization API keys")
    return store, org


def _org_key_json(k: Any) -> dict[str, Any]:
    return {
        "public_key": k.public_key,
        "secret_hint": k.secret_hint,
        "note": k.note,
        "created_at": k.created_at.isoformat(),
        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
    }


async def list_organization_keys(request: web.Request) -> web.Response:
    store, org = await _key_owner(request)
    return json_response({"data": [_org_key_json(k) for k in await store.organizations.keys(org.id)]})


async def create_organization_key(request: web.Request) -> web.Response:
    """A new organization-scoped key pair; its secret is in this answer and nowhere else."""
    store, org = await _key_owner(request)
    body = await read_model(request, NewOrganizationKey)
    public, secret = await store.organizations.create_key(org.id, body.note)
    note_detail(request, public_key=public)
    return json_response({"public_key": public, "secret_key": secret, "note": body.note}, status=201)


async def revoke_organization_key(request: web.Request) -> web.Response:
    store, org = await _key_owner(request)
    await store.organizations.revoke_key(org.id, request.match_info["public_key"])
    request.app[CREDENTIALS_KEY].invalidate()
    notify_changed(request)
    return json_response({"revoked": request.match_info["public_key"]})


def organization_routes() -> list[web.RouteDef]:
    base = "/api/v1/organizations"
    return [
        web.get(base, list_organizations),
        web.post(base, create_organization),
        web.post(base + "/{organization}/projects", create_project),
        web.get(base + "/{organization}/members", list_members),
        web.get(base + "/{organization}/api-keys", list_organization_keys),
        web.post(base + "/{organization}/api-keys", create_organization_key),
        web.delete(base + "/{organization}/api-keys/{public_key}", revoke_organization_key),
        web.post(base + "/{organization}/members", add_member),
        web.put(base + "/{organization}/members/{user_id}", change_member),
        web.delete(base + "/{organization}/members/{user_id}", remove_member),
        web.get("/api/v1/projects/{project}/members", list_project_members),
        web.put("/api/v1/projects/{project}/members/{user_id}", set_project_role),
    ]
