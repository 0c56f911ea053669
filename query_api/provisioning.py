"""Access a new account gets without an invitation (``TRACEHOUSE_DEFAULT_ORG`` and friends), as
Langfuse's automated access provisioning gives it: with single sign-on, everyone the provider lets
in can start reading traces without an admin inviting them one by one.

A new account (signed in through the provider, joined by an invitation link, or added by an admin)
gets the default organization's role where it has none there, and the default project's role where
that is more than its organization role gives there: an invitation's or an admin's choice is never
lowered. Only new accounts: someone removed later is not given the defaults again by signing in.
The first account owns the default organization and gets nothing more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from storage import Project, Store
from tracehouse.errors import InvalidInput, NotFound
from tracehouse.roles import Role

__all__ = ["DEFAULT_ACCESS_KEY", "DefaultAccess", "default_role_in", "grant_default_access"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DefaultAccess:
    """The organization and project (each by id or name) new accounts join, and with which roles."""

    organization: str | None = None
    organization_role: Role = Role.VIEWER
    project: str | None = None
    project_role: Role = Role.VIEWER

    @property
    def any(self) -> bool:
        return bool(self.organization or self.project)


DEFAULT_ACCESS_KEY = web.AppKey("default_access", DefaultAccess)
_RANK = (Role.NONE, Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER)


async def _resolve(access: DefaultAccess, store: Store) -> tuple[str | None, Project | None]:
    """The default organization's id and the default project; NotFound or InvalidInput if either
    is named but not there (or the project's name is ambiguous)."""
    org_id = (await store.organizations.get_organization(access.organization)).id if access.organization else None
    project = None
    if access.project:
        project = await store.projects.get_project(
            access.project, visible=None if org_id is None else (lambda p: p.organization_id == org_id)
        )
    return org_id, project


async def default_role_in(
    app: web.Application, store: Store, organization_id: str = "", project_id: str = ""
) -> str | None:
    """The role new accounts get in this organization or project by default, if any: the members
    pages say so, so that an admin knows why newcomers are there."""
    access = app.get(DEFAULT_ACCESS_KEY)
    if access is None or not access.any:
        return None
    try:
        org_id, project = await _resolve(access, store)
    except (NotFound, InvalidInput):
        return None
    if organization_id and organization_id == org_id:
        return access.organization_role.value
    if project_id and project is not None and project_id == project.id:
        return access.project_role.value
    return None


async def grant_default_access(app: web.Application, store: Store, user_id: str) -> None:
    """Give a new account the configured default roles where it has none. A default organization or
    project that does not exist (any more) is logged and skipped: the account is made all the same."""
    access = app.get(DEFAULT_ACCESS_KEY)
    if access is None or not access.any:
        return
    try:
        org_id, project = await _resolve(access, store)
    except (NotFound, InvalidInput) as exc:
        log.warning("no default access given to a new account: %s (TRACEHOUSE_DEFAULT_ORG / _PROJECT)", exc)
        return
    roles = await store.organizations.roles_of(user_id)
    if org_id is not None and roles.organizations.get(org_id) in (None, Role.NONE):
        await store.organizations.set_role(org_id, user_id, access.organization_role)
        roles.organizations[org_id] = access.organization_role
    if project is None or project.id in roles.projects:
        return
    in_org = roles.organizations.get(project.organization_id)
    if _RANK.index(access.project_role) <= _RANK.index(in_org or Role.NONE):
        return  # the organization's role gives as much there already
    if in_org is None:  # a member of the project only, as an invitation to one project makes them
        await store.organizations.set_role(project.organization_id, user_id, Role.NONE)
    await store.organizations.set_project_role(project.id, user_id, access.project_role)
