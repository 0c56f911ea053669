"""Roles and the permission matrix: the one place that says who may do what.

As in Langfuse (shared/reference/langfuse-platform.md, section 4), a person has a role in an
organization and, optionally, a role in one of its projects that overrides it there:

- OWNER: everything, including the organization itself and its owners;
- ADMIN: project settings, keys, members (not owners), prices, deleting data;
- MEMBER: reads everything, scores and annotates, works with prompts and datasets; no configuration;
- VIEWER: reads only;
- NONE: nothing organization-wide (for someone who should see a single project, by a project role).

The API enforces this matrix on every route; the UI only hides what the API would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["MATRIX", "GroupRole", "Permission", "Role", "allowed", "effective_role", "parse_group_roles", "parse_role"]


class Role(StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"
    VIEWER = "VIEWER"
    NONE = "NONE"


class Permission(StrEnum):
    VIEW_DATA = "view data"  # traces, sessions, users, dashboards, logs, scores
    SCORE = "score and annotate"
    WRITE_CONTENT = "write prompts and datasets"
    MANAGE_KEYS = "manage API keys"
    MANAGE_MEMBERS = "manage members"
    MANAGE_SETTINGS = "settings and prices"
    MANAGE_PROTECTED_LABELS = "move protected prompt labels"
    MANAGE_PROJECTS = "create and delete projects"
    DELETE_DATA = "delete data"
    MANAGE_ORGANIZATION = "rename the organization and manage its owners"


_READ = {Permission.VIEW_DATA}
_WORK = _READ | {Permission.SCORE, Permission.WRITE_CONTENT}
_ADMIN = _WORK | {
    Permission.MANAGE_KEYS,
    Permission.MANAGE_MEMBERS,
    Permission.MANAGE_SETTINGS,
    Permission.MANAGE_PROTECTED_LABELS,
    Permission.MANAGE_PROJECTS,
    Permission.DELETE_DATA,
}

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(_ADMIN),
    Role.MEMBER: frozenset(_WORK),
    Role.VIEWER: frozenset(_READ),
    Role.NONE: frozenset(),
}


def parse_role(value: str) -> Role:
    """A role from its name (any case); ValueError naming the choices otherwise."""
    try:
        return Role(value.strip().upper())
    except ValueError:
        raise ValueError(f"unknown role {value!r}: one of {', '.join(r.value for r in Role)}") from None


def effective_role(organization_role: Role | None, project_role: Role | None) -> Role:
    """A person's role in a project: the project role where one is set, else the organization's."""
    if project_role is not None:
        return project_role
    return organization_role if organization_role is not None else Role.NONE


def allowed(role: Role, permission: Permission) -> bool:
    """Whether ``role`` grants ``permission``."""
    return permission in MATRIX[role]


# A higher role includes every permission of a lower one.
RANK = (Role.NONE, Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER)


@dataclass(frozen=True)
class GroupRole:
    """A role that members of a sign-in provider's group get in an organization, or in one of its
    projects (``TRACEHOUSE_OIDC_GROUP_ROLES``). Organizations and projects are named by id or name."""

    group: str
    organization: str
    project: str | None
    role: Role


def parse_group_roles(text: str) -> tuple[GroupRole, ...]:
    """``group=organization:ROLE`` or ``group=organization/project:ROLE`` entries, separated by
    ``;`` or new lines; ValueError saying which entry is wrong and why."""
    out = []
    for entry in (e.strip() for e in text.replace("\n", ";").split(";")):
        if not entry:
            continue
        group, eq, rest = entry.partition("=")
        target, colon, role_name = rest.rpartition(":")
        organization, slash, project = target.partition("/")
        if not (eq and colon and group.strip() and organization.strip()) or (slash and not project.strip()):
            raise ValueError(f"group role {entry!r}: write group=organization:ROLE or group=organization/project:ROLE")
        role = parse_role(role_name)
        if slash and role == Role.OWNER:
            raise ValueError(f"group role {entry!r}: OWNER is an organization role, not a project's")
        out.append(GroupRole(group.strip(), organization.strip(), project.strip() if slash else None, role))
    return tuple(out)
