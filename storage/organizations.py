"""Organizations and who belongs to them: a role per person in an organization, and a role in a
project that overrides it there (tracehouse.roles holds what each role may do).

Every change inserts a new version of its row (ReplacingMergeTree, read with FINAL). An
organization always keeps an owner: the last one can be neither removed nor demoted.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

import pyarrow as pa

from storage.api import Backend
from storage.projects import Project, Projects, Versions, check_name, hash_secret
from storage.tables import GROUP_GRANTS, MEMBERSHIPS, ORGANIZATION_API_KEYS, ORGANIZATIONS, PROJECT_MEMBERSHIPS
from tracehouse.errors import Conflict, InvalidInput, NotFound
from tracehouse.roles import Permission, Role, allowed, effective_role

__all__ = [
    "ORG_PUBLIC_PREFIX",
    "ORG_SECRET_PREFIX",
    "GroupGrant",
    "Member",
    "Organization",
    "OrganizationKey",
    "Organizations",
    "Roles",
]

ORG_PUBLIC_PREFIX = "pk-th-org-"
ORG_SECRET_PREFIX = "sk-th-org-"


@dataclass(frozen=True)
class OrganizationKey:
    """An organization-scoped key pair as listed: never its secret."""

    public_key: str
    secret_hint: str
    organization_id: str
    note: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class Organization:
    id: str
    name: str


@dataclass(frozen=True)
class GroupGrant:
    """A role single sign-on's groups gave a person in an organization or project (``scope``), and
    the role they had there before it (None: not a member, or no project role)."""

    scope: str  # organization | project
    target_id: str
    given: Role
    before: Role | None


@dataclass(frozen=True)
class Member:
    user_id: str
    role: Role


@dataclass(frozen=True)
class Roles:
    """A person's roles: by organization id, and by project id where one overrides."""

    organizations: dict[str, Role]
    projects: dict[str, Role]

    def in_project(self, project: Project) -> Role:
        return effective_role(self.organizations.get(project.organization_id), self.projects.get(project.id))

    def may(self, project: Project, permission: Permission) -> bool:
        return allowed(self.in_project(project), permission)


class Organizations:
    def __init__(self, backend: Backend, projects: Projects) -> None:
        self._backend = backend
        self._projects = projects
        self._versions = Versions()

    async def _put(self, table: pa.Schema, name: str, row: dict[str, object]) -> None:
        now = self._versions.next()
        row = {"created_at": now, "is_deleted": 0, **row, "updated_at": now}
        await self._backend.insert(name, pa.Table.from_pylist([row], schema=table))

    # -- organizations ---------------------------------------------------------------

    async def list_organizations(self) -> list[Organization]:
        rows = await self._backend.query(
            "SELECT id, name FROM organizations FINAL WHERE is_deleted = 0 ORDER BY created_at, id"
        )
        return [Organization(r["id"], r["name"]) for r in rows]

    async def get_organization(self, ref: str) -> Organization:
        """An organization by id, or else by name; NotFound otherwise."""
        for org in await self.list_organizations():
            if org.id == ref:
                return org
        for org in await self.list_organizations():
            if org.name == ref:
                return org
        raise NotFound(f"no organization with id or name {ref!r}")

    async def create_organization(self, name: str, owner_id: str | None = None) -> Organization:
        """Create an organization (Conflict if the name is taken); ``owner_id`` becomes its owner."""
        name = check_name(name)
        if any(o.name == name for o in await self.list_organizations()):
            raise Conflict(f"an organization named {name!r} exists already")
        org = Organization("org-" + secrets.token_hex(8), name)
        await self._put(ORGANIZATIONS.arrow_schema(), ORGANIZATIONS.name, {"id": org.id, "name": name})
        if owner_id is not None:
            await self.set_role(org.id, owner_id, Role.OWNER)
        return org

    async def projects_of(self, organization_id: str) -> list[Project]:
        return [p for p in await self._projects.list_projects() if p.organization_id == organization_id]

    # -- organization-scoped keys -----------------------------------------------------

    async def create_key(self, organization_id: str, note: str = "") -> tuple[str, str]:
        """A key pair (public, secret) that administers one organization; the secret is returned
        once and kept hashed."""
        public = ORG_PUBLIC_PREFIX + secrets.token_hex(12)
        secret = ORG_SECRET_PREFIX + secrets.token_urlsafe(32)
        row: dict[str, object] = {
            "public_key": public,
            "secret_hash": hash_secret(secret),
            "secret_hint": f"{ORG_SECRET_PREFIX}...{secret[-4:]}",
            "organization_id": organization_id,
            "note": note[:200],
            "revoked_at": None,
        }
        await self._put(ORGANIZATION_API_KEYS.arrow_schema(), ORGANIZATION_API_KEYS.name, row)
        return public, secret

    async def _key_rows(self, where: str, params: dict[str, object]) -> list[dict[str, object]]:
        return await self._backend.query(
            "SELECT public_key, secret_hash, secret_hint, organization_id, note, created_at, revoked_at "
            f"FROM organization_api_keys FINAL WHERE is_deleted = 0 AND {where} ORDER BY created_at, public_key",
            params,
        )

    async def keys(self, organization_id: str) -> list[OrganizationKey]:
        """The organization's key pairs, revoked ones included."""
        rows = await self._key_rows("organization_id = {o:String}", {"o": organization_id})
        return [
            OrganizationKey(
                str(r["public_key"]), str(r["secret_hint"]), str(r["organization_id"]), str(r["note"]),
                r["created_at"], r["revoked_at"],  # type: ignore[arg-type]
            )
            for r in rows
        ]  # fmt: skip

    async def revoke_key(self, organization_id: str, public_key: str) -> None:
        """Revoke one of the organization's key pairs at once; NotFound for any other key."""
        rows = await self._key_rows(
            "organization_id = {o:String} AND public_key = {k:String}", {"o": organization_id, "k": public_key}
        )
        if not rows:
            raise NotFound(f"no organization API key {public_key!r}")
        if rows[0]["revoked_at"] is None:
            row = {k: rows[0][k] for k in ("public_key", "secret_hash", "secret_hint", "organization_id", "note")}
            row.update(created_at=rows[0]["created_at"], revoked_at=dt.datetime.now(dt.UTC))
            await self._put(ORGANIZATION_API_KEYS.arrow_schema(), ORGANIZATION_API_KEYS.name, row)

    async def verify_key(self, public_key: str, secret_key: str) -> str | None:
        """The organization of an active organization key pair, or None."""
        if not public_key.startswith(ORG_PUBLIC_PREFIX):
            return None
        rows = await self._key_rows("public_key = {k:String}", {"k": public_key})
        if not rows or rows[0]["revoked_at"] is not None:
            return None
        if not hmac.compare_digest(str(rows[0]["secret_hash"]), hash_secret(secret_key)):
            return None
        return str(rows[0]["organization_id"])

    # -- members ---------------------------------------------------------------------

    async def members(self, organization_id: str) -> list[Member]:
        rows = await self._backend.query(
            "SELECT user_id, role FROM memberships FINAL WHERE organization_id = {o:String} AND is_deleted = 0 "
            "ORDER BY created_at, user_id",
            {"o": organization_id},
        )
        return [Member(r["user_id"], Role(r["role"])) for r in rows]

    async def _owners(self, organization_id: str) -> set[str]:
        return {m.user_id for m in await self.members(organization_id) if m.role == Role.OWNER}

    async def set_role(self, organization_id: str, user_id: str, role: Role) -> None:
        """Give a person a role in an organization (adding them if they are not a member)."""
        if role != Role.OWNER and (await self._owners(organization_id)) == {user_id}:
            raise Conflict("the last owner of an organization cannot be demoted: make someone else owner first")
        await self._put(
            MEMBERSHIPS.arrow_schema(),
            MEMBERSHIPS.name,
            {"organization_id": organization_id, "user_id": user_id, "role": role.value},
        )

    async def remove_member(self, organization_id: str, user_id: str) -> None:
        """Take a person out of an organization and of its projects' roles."""
        current = {m.user_id: m for m in await self.members(organization_id)}
        if user_id not in current:
            raise NotFound(f"{user_id!r} is not a member of this organization")
        if (await self._owners(organization_id)) == {user_id}:
            raise Conflict("the last owner of an organization cannot be removed: make someone else owner first")
        await self._put(
            MEMBERSHIPS.arrow_schema(),
            MEMBERSHIPS.name,
            {
                "organization_id": organization_id,
                "user_id": user_id,
                "role": current[user_id].role.value,
                "is_deleted": 1,
            },
        )
        for project in await self.projects_of(organization_id):
            await self.set_project_role(project.id, user_id, None)

    async def set_project_role(self, project_id: str, user_id: str, role: Role | None) -> None:
        """Set (or with None, clear) the role that overrides a person's organization role in a project."""
        if role == Role.OWNER:
            raise InvalidInput("OWNER is an organization role; a project role is ADMIN, MEMBER, VIEWER or NONE")
        await self._put(
            PROJECT_MEMBERSHIPS.arrow_schema(),
            PROJECT_MEMBERSHIPS.name,
            {
                "project_id": project_id,
                "user_id": user_id,
                "role": (role or Role.NONE).value,
                "is_deleted": int(role is None),
            },
        )

    async def project_roles(self, project_id: str) -> dict[str, Role]:
        """The project roles set in one project, by user id."""
        rows = await self._backend.query(
            "SELECT user_id, role FROM project_memberships FINAL WHERE project_id = {p:String} AND is_deleted = 0",
            {"p": project_id},
        )
        return {r["user_id"]: Role(r["role"]) for r in rows}

    async def group_grants(self, user_id: str) -> list[GroupGrant]:
        """The roles single sign-on's groups gave this person that still stand."""
        rows = await self._backend.query(
            "SELECT scope, target_id, role_given, role_before FROM group_grants FINAL "
            "WHERE user_id = {u:String} AND is_deleted = 0 ORDER BY scope, target_id",
            {"u": user_id},
        )
        return [
            GroupGrant(
                r["scope"], r["target_id"], Role(r["role_given"]), Role(r["role_before"]) if r["role_before"] else None
            )
            for r in rows
        ]

    async def record_group_grant(self, user_id: str, grant: GroupGrant) -> None:
        """Remember a role the groups gave (replacing what was kept for the same place)."""
        await self._put(GROUP_GRANTS.arrow_schema(), GROUP_GRANTS.name, self._grant_row(user_id, grant))

    async def forget_group_grant(self, user_id: str, grant: GroupGrant) -> None:
        """Forget a role the groups gave: it is no one's to take back any more."""
        await self._put(
            GROUP_GRANTS.arrow_schema(), GROUP_GRANTS.name, {**self._grant_row(user_id, grant), "is_deleted": 1}
        )

    @staticmethod
    def _grant_row(user_id: str, grant: GroupGrant) -> dict[str, object]:
        return {"user_id": user_id, "scope": grant.scope, "target_id": grant.target_id,
                "role_given": grant.given.value, "role_before": grant.before.value if grant.before else ""}  # fmt: skip

    async def roles_of(self, user_id: str) -> Roles:
        """Every role of one person."""
        orgs = await self._backend.query(
            "SELECT organization_id, role FROM memberships FINAL WHERE user_id = {u:String} AND is_deleted = 0",
            {"u": user_id},
        )
        projects = await self._backend.query(
            "SELECT project_id, role FROM project_memberships FINAL WHERE user_id = {u:String} AND is_deleted = 0",
            {"u": user_id},
        )
        return Roles(
            {r["organization_id"]: Role(r["role"]) for r in orgs},
            {r["project_id"]: Role(r["role"]) for r in projects},
        )

    async def visible_projects(self, user_id: str) -> list[Project]:
        """The projects a person may read."""
        roles = await self.roles_of(user_id)
        return [p for p in await self._projects.list_projects() if roles.may(p, Permission.VIEW_DATA)]

    async def visible_organizations(self, user_id: str) -> list[Organization]:
        """The organizations a person belongs to, or has a project in."""
        roles = await self.roles_of(user_id)
        ids = {o for o, role in roles.organizations.items() if role != Role.NONE}
        ids |= {p.organization_id for p in await self.visible_projects(user_id)}
        return [o for o in await self.list_organizations() if o.id in ids]
