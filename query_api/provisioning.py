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
  their next sign-in, and someone who left it gets back the role they had before (or leaves the
  organization or project, if the group brought them there). A role someone changed after the
  group gave it is theirs and stays; the provider saying nothing of groups (no claim) changes
  nothing.
A project role is set only where it gives more than the person's organization role there.
An organization or project named but not there is logged and skipped: the sign-in goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from storage import Project, Store
from storage.organizations import GroupGrant, Roles
from tracehouse.errors import Conflict, InvalidInput, NotFound
from tracehouse.roles import RANK, GroupRole, Role

__all__ = ["PROVISIONING_KEY", "Provisioning", "apply_group_roles", "grant_default_access", "provisioned_here"]

log = logging.getLogger(__name__)

ORGANIZATION, PROJECT = "organization", "project"  # a GroupGrant's scope


@dataclass(frozen=True)
class Provisioning:
    """The organization and project (each by id or name) new accounts join and their roles there,
    and the roles single sign-on's groups give."""

    organization: str | None = None
    organization_role: Role = Role.VIEWER
    project: str | None = None
    project_role: Role = Role.VIEWER
    group_roles: tuple[GroupRole, ...] = ()
    scim_role: Role = Role.NONE  # the role in the key's organization of people SCIM provisions

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
) -> list[GroupGrant]:
    """Give the person at least these roles; higher ones they have stay. What was raised, each
    with the role before (the organizations a project's role made them a member of, as NONE)."""
    roles = await store.organizations.roles_of(user_id)
    raised = []
    for org_id, role in organizations.items():
        before = roles.organizations.get(org_id)
        if RANK.index(role) > RANK.index(before or Role.NONE):
            await store.organizations.set_role(org_id, user_id, role)
            roles.organizations[org_id] = role
            raised.append(GroupGrant(ORGANIZATION, org_id, role, before))
    for project, role in projects.values():
        in_org = roles.organizations.get(project.organization_id)
        here = roles.projects.get(project.id, in_org) or Role.NONE
        if RANK.index(role) <= RANK.index(here):
            continue
        if in_org is None:  # a member of the project only, as an invitation to one project makes them
            await store.organizations.set_role(project.organization_id, user_id, Role.NONE)
            roles.organizations[project.organization_id] = Role.NONE
            raised.append(GroupGrant(ORGANIZATION, project.organization_id, Role.NONE, None))
        await store.organizations.set_project_role(project.id, user_id, role)
        raised.append(GroupGrant(PROJECT, project.id, role, roles.projects.get(project.id)))
    return raised


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


async def apply_group_roles(app: web.Application, store: Store, user_id: str, groups: tuple[str, ...] | None) -> None:
    """At a single sign-on: at least the roles the person's groups give (the highest where several
    do), and back what their groups gave before and give no more. ``groups`` None: the provider
    did not say (no groups claim), so nothing changes."""
    config = app.get(PROVISIONING_KEY)
    if config is None or not config.group_roles or groups is None:
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
    # An organization a project's role needs a membership in (NONE, as for a project invitation).
    needed = {p.organization_id: Role.NONE for p, _ in projects.values()}
    wanted = {
        ORGANIZATION: {**needed, **organizations},
        PROJECT: {project_id: role for project_id, (_, role) in projects.items()},
    }
    try:
        kept = await _take_back(store, user_id, wanted)
        for grant in await _raise_roles(store, user_id, organizations, projects):
            earlier = kept.get((grant.scope, grant.target_id))
            before = earlier.before if earlier is not None else grant.before
            await store.organizations.record_group_grant(
                user_id, GroupGrant(grant.scope, grant.target_id, grant.given, before)
            )
    except (Conflict, InvalidInput) as exc:
        log.warning("group roles not given in full: %s", exc)


async def _take_back(
    store: Store, user_id: str, wanted: dict[str, dict[str, Role]]
) -> dict[tuple[str, str], GroupGrant]:
    """Give back what the groups gave and give no more (or give less): the role before, or the
    lower one the groups still give. A role someone changed since the groups gave it is theirs and
    stays. Returns the grants that still stand, by place."""
    grants = await store.organizations.group_grants(user_id)
    roles = await store.organizations.roles_of(user_id)
    standing: dict[tuple[str, str], GroupGrant] = {}
    # Projects first: an organization's NONE membership goes only once no project role is left.
    for grant in sorted(grants, key=lambda g: g.scope != PROJECT):
        still = wanted[grant.scope].get(grant.target_id)
        if still is not None and RANK.index(still) >= RANK.index(grant.given):
            standing[(grant.scope, grant.target_id)] = grant
            continue
        if grant.scope == PROJECT:
            current = roles.projects.get(grant.target_id)
        else:
            current = roles.organizations.get(grant.target_id)
        if current != grant.given:  # changed by someone since: their choice stands
            await store.organizations.forget_group_grant(user_id, grant)
            continue
        back = grant.before if still is None else _higher(grant.before, still)
        try:
            if grant.scope == PROJECT:
                await store.organizations.set_project_role(grant.target_id, user_id, back)
                if back is None:
                    roles.projects.pop(grant.target_id, None)
            elif back is not None:
                await store.organizations.set_role(grant.target_id, user_id, back)
            elif not await _project_roles_in(store, roles, grant.target_id):
                await store.organizations.remove_member(grant.target_id, user_id)
        except Conflict as exc:  # the last owner stays one: the grant is kept, to try again
            log.warning("a role the groups gave was not taken back: %s", exc)
            standing[(grant.scope, grant.target_id)] = grant
            continue
        if back is not None and back != grant.before:  # the groups still give this much: still theirs
            lower = GroupGrant(grant.scope, grant.target_id, back, grant.before)
            await store.organizations.record_group_grant(user_id, lower)
            standing[(grant.scope, grant.target_id)] = lower
        else:
            await store.organizations.forget_group_grant(user_id, grant)
    return standing


async def _project_roles_in(store: Store, roles: Roles, organization_id: str) -> bool:
    """Whether the person has a project role in any of the organization's projects."""
    return any(p.id in roles.projects for p in await store.organizations.projects_of(organization_id))


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
