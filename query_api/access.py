"""Which project a query-API request may read.

Scripts authenticate with an API key pair (``Authorization: Basic base64(pk:sk)``), verified by
the credentials module (one cache for every port). Signed-in people read what their roles open.
On a loopback bind with no API key yet (open mode), the request reads the project named by
``?project=`` or the default one.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from credentials import Credentials
from query_api.audit_scope import note_actor, note_scope
from query_api.requests import is_local
from storage import Project, Store
from storage.organizations import Roles
from storage.projects import DEFAULT_PROJECT_ID
from storage.users import User
from tracehouse.errors import Forbidden, NotFound, Unauthenticated
from tracehouse.roles import MATRIX, Permission

EVERYTHING = frozenset(Permission)

__all__ = [
    "CREDENTIALS_KEY",
    "CSRF_COOKIE",
    "LOOPBACK_BIND_KEY",
    "SESSION_COOKIE",
    "Caller",
    "caller_for",
    "project_for",
    "session_user",
]

LOOPBACK_BIND_KEY = web.AppKey("loopback_bind", bool)
CREDENTIALS_KEY = web.AppKey("credentials", Credentials)
SESSION_COOKIE = "th_session"
CSRF_COOKIE = "th_csrf"


async def session_user(request: web.Request) -> User | None:
    """The signed-in user of this request, or None. Enforces CSRF on state-changing methods."""
    user = await request.app[CREDENTIALS_KEY].session(request.cookies.get(SESSION_COOKIE, ""))
    if user is None:
        return None
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        expected = request.cookies.get(CSRF_COOKIE, "")
        given = request.headers.get("X-CSRF-Token", "")
        # As bytes: compare_digest refuses str with characters beyond ASCII (a garbage header).
        if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
            raise Forbidden("missing or wrong X-CSRF-Token header (echo the th_csrf cookie)")
    note_actor(request, user.id, user.email)  # the audit log's "who", without asking again
    return user


@dataclass(frozen=True)
class Caller:
    """Who is asking about which project: the project id, and what they may do there (a key
    pair and open mode may do everything in their project; people what their role grants)."""

    project_id: str
    permissions: frozenset[Permission]
    user: User | None = None
    roles: Roles | None = None  # a person's roles in every project; None for a key or open mode
    open_mode: bool = False

    def require(self, permission: Permission, what: str) -> None:
        """Forbidden unless the caller holds ``permission``."""
        if permission not in self.permissions:
            raise Forbidden(f"your role in this project may not {what}")

    async def other_project(self, store: Store, ref: str, permission: Permission, what: str) -> Project:
        """A second project a request names (by id or name), if the caller holds ``permission``
        there too: a person by their roles, a key pair only in its own project, open mode in any.
        Forbidden otherwise, the same answer whether or not the project exists."""
        # Only the projects the caller sees are looked among, so an ambiguous name never
        # mentions another tenant's project.
        roles = self.roles

        def visible(p: Project) -> bool:
            if p.id == self.project_id or self.open_mode:
                return True
            return roles is not None and roles.may(p, Permission.VIEW_DATA)

        try:
            project: Project | None = await store.projects.get_project(ref, visible)
        except NotFound:
            project = None
        if project is not None and project.id == self.project_id:
            self.require(permission, what)
            return project
        if project is not None and self.open_mode:
            return project
        if project is not None and self.roles is not None and self.roles.may(project, permission):
            return project
        raise Forbidden(f"no project {ref!r} where you may {what}")


async def caller_for(request: web.Request, store: Store) -> Caller:
    """The caller of this request and the project it names (``?project=``); Unauthenticated or
    Forbidden otherwise."""
    credentials = request.app[CREDENTIALS_KEY]
    user = await session_user(request)
    if user is not None:
        # Signed-in people read the projects their roles open (tracehouse.roles); they pick one.
        roles = await credentials.roles(user)
        ref = request.query.get("project")
        if ref is None:
            visible = [p for p in await store.projects.list_projects() if roles.may(p, Permission.VIEW_DATA)]
            if not visible:
                raise Forbidden("no project is open to you: ask an organization admin to add you")
            project = next((p for p in visible if p.id == DEFAULT_PROJECT_ID), visible[0])
        else:
            # A name is looked up among the projects this person sees: another organization
            # may have a project of the same name, and its existence is not theirs to learn.
            try:
                project = await store.projects.get_project(ref, lambda p: roles.may(p, Permission.VIEW_DATA))
            except NotFound:
                raise Forbidden(f"no access to project {ref!r}") from None
        note_scope(request, project.id, project.organization_id)
        return Caller(project.id, MATRIX[roles.in_project(project)], user, roles)
    header = request.headers.get("Authorization", "")
    if header.partition(" ")[0].lower() == "basic":
        project_id = await credentials.key_project(header)
        note_scope(request, project_id)
        return Caller(project_id, EVERYTHING)
    if header:
        raise Unauthenticated("use 'Authorization: Basic base64(public_key:secret_key)'")
    if request.app.get(LOOPBACK_BIND_KEY, False) and is_local(request) and await credentials.open_mode():
        project_id = await credentials.project_id(request.query.get("project", "default"))
        note_scope(request, project_id)
        return Caller(project_id, EVERYTHING, open_mode=True)
    raise Unauthenticated("missing credentials: send 'Authorization: Basic base64(public_key:secret_key)'")


async def project_for(request: web.Request, store: Store) -> str:
    """The project id this request reads, or Unauthenticated."""
    return (await caller_for(request, store)).project_id
