"""Access people get without an invitation: by default for every new account
(``TRACEHOUSE_DEFAULT_ORG`` and friends, as Langfuse's automated access provisioning), and by the
groups their single sign-on provider lists (``TRACEHOUSE_OIDC_GROUP_ROLES``), so that everyone the
provider lets in can work without an admin inviting them one by one.

Both only ever raise a role: someone gets at least the role named, in the organization or project
named, and keeps a higher one they were given (by an invitation, an admin or an earlier rule).
- The defaults apply once, to a new account (signed in through the provider, joined by an
  invitation link, or added by an admin); someone removed later is not given them again. The
  first account owns the default organization and gets nothing more.
- The group roles apply at each single sign-on, so a person added to a group gets its role at
  their next sign-in. Leaving a group takes nothing away: remove the person here too.
A project role is set only where it gives more than the person's organization role there.
An organization or project named but not there is logged and skipped: the sign-in goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from storage import Project, Store
from tracehouse.errors import Conflict, InvalidInput, NotFound
from tracehouse.roles import RANK, GroupRole, Role

__all__ = ["PROVISIONING_KEY", "Provisioning", "apply_group_roles", "grant_default_access", "provisioned_here"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Provisioning:
    """The organization and project (each by id or name) new accounts join and their roles there,
    and the roles single sign-on's groups give."""

    organization: str | None = None
    organization_role: Role = Role.VIEWER
    project: str | None = None
    project_role: Role = Role.VIEWER
    group_roles: tuple[GroupRole, ...] = ()

    @property
    def defaults(self) -> bool:
        return bool(self.organization or self.project)


PROVISIONING_KEY = web.AppKey("provisioning", Provisioning)


async def _target(store: Store, organization: str | None, project: str | None) -> tuple[str | None, Project | None]:
    """An organization's id and a project (in that organization if one is named); NotFound or
    InvalidInput if either is named but not there (or the project's name is ambiguous)."""
    org_id = (await store.organizations.get_organization(organization)).id if organization else None
    found = None
    if project:
        found = await store.projects.get_project(
            project, visible=None if org_id is None else (lambda p: p.organization_id == org_id)
        )
    return org_id, found


async def _raise_roles(
    store: Store, user_id: str, organizations: dict[str, Role], projects: dict[str, tuple[Project, Role]]
) -> None:
    """Give the person at least these roles; higher ones they have stay."""
    roles = await store.organizations.roles_of(user_id)
    for org_id, role in organizations.items():
        if RANK.index(role) > RANK.index(roles.organizations.get(org_id) or Role.NONE):
            await store.organizations.set_role(org_id, user_id, role)
            roles.organizations[org_id] = role
    for project, role in projects.values():
        in_org = roles.organizations.get(project.organization_id)
        here = roles.projects.get(project.id, in_org) or Role.NONE
        if RANK.index(role) <= RANK.index(here):
            continue
        if in_org is None:  # a member of the project only, as an invitation to one project makes them
            await store.organizations.set_role(project.organization_id, user_id, Role.NONE)
        await store.organizations.set_project_role(project.id, user_id, role)


def _higher(a: Role | None, b: Role) -> Role:
    return b if a is None or RANK.index(b) > RANK.index(a) else a


async def grant_default_access(app: web.Application, store: Store, user_id: str) -> None:
    """Give a new account at least the configured default roles."""
    config = app.get(PROVISIONING_KEY)
    if config is None or not config.defaults:
        return
    try:
        org_id, project = await _target(store, config.organization, config.project)
    except (NotFound, InvalidInput) as exc:
        log.warning("no default access given to a new account: %s (TRACEHOUSE_DEFAULT_ORG / _PROJECT)", exc)
        return
    organizations = {org_id: config.organization_role} if org_id else {}
    projects = {project.id: (project, config.project_role)} if project else {}
    try:
        await _raise_roles(store, user_id, organizations, projects)
    except (Conflict, InvalidInput) as exc:
        log.warning("default access not given in full to a new account: %s", exc)


async def apply_group_roles(app: web.Application, store: Store, user_id: str, groups: tuple[str, ...]) -> None:
    """At a single sign-on: at least the roles the person's groups give (the highest where several do)."""
    config = app.get(PROVISIONING_KEY)
    if config is None or not config.group_roles or not groups:
        return
    mine = set(groups)
    organizations: dict[str, Role] = {}
    projects: dict[str, tuple[Project, Role]] = {}
    for rule in config.group_roles:
        if rule.group not in mine:
            continue
        try:
            org_id, project = await _target(store, rule.organization, rule.project)
        except (NotFound, InvalidInput) as exc:
            log.warning("group %r gives no role: %s (TRACEHOUSE_OIDC_GROUP_ROLES)", rule.group, exc)
            continue
        if project is not None:
            projects[project.id] = (project, _higher(projects.get(project.id, (project, None))[1], rule.role))
        elif org_id is not None:
            organizations[org_id] = _higher(organizations.get(org_id), rule.role)
    try:
        await _raise_roles(store, user_id, organizations, projects)
    except (Conflict, InvalidInput) as exc:
        log.warning("group roles not given in full: %s", exc)


async def provisioned_here(
    app: web.Application, store: Store, organization_id: str = "", project_id: str = ""
) -> dict[str, object]:
    """What new accounts get in this organization or project by default (``default_role``), and
    which groups give which role here (``group_roles``): the members pages say so, so that an admin
    knows why people are there."""
    config = app.get(PROVISIONING_KEY)
    out: dict[str, object] = {"default_role": None, "group_roles": []}
    if config is None:
        return out
    if config.defaults:
        try:
            org_id, project = await _target(store, config.organization, config.project)
        except (NotFound, InvalidInput):
            org_id, project = None, None
        if organization_id and organization_id == org_id:
            out["default_role"] = config.organization_role.value
        if project_id and project is not None and project_id == project.id:
            out["default_role"] = config.project_role.value
    here = []
    for rule in config.group_roles:
        if bool(rule.project) != bool(project_id):
            continue
        try:
            org_id, project = await _target(store, rule.organization, rule.project)
        except (NotFound, InvalidInput):
            continue
        if (project_id and project is not None and project.id == project_id) or (
            organization_id and not project_id and org_id == organization_id
        ):
            here.append({"group": rule.group, "role": rule.role.value})
    out["group_roles"] = here
    return out
