"""Organizations, projects and API keys.

Key pairs: a public key ``pk-th-...`` (an identifier, safe to show) and a secret key
``sk-th-...`` (256 random bits). The secret is shown once, at creation, and stored
only as its SHA-256: a secret this random cannot be guessed from its hash, so a slow
password hash would add cost without adding safety. Verification compares digests in
constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from storage.api import Backend, Row
from storage.tables import API_KEYS, ORGANIZATIONS, PROJECTS
from tracehouse.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "DEFAULT_ORGANIZATION_ID",
    "DEFAULT_PROJECT_ID",
    "ApiKey",
    "KeyPair",
    "Project",
    "Projects",
    "Versions",
    "check_name",
    "hash_secret",
]

DEFAULT_ORGANIZATION_ID = "default"
DEFAULT_PROJECT_ID = "default"
PUBLIC_PREFIX = "pk-th-"
SECRET_PREFIX = "sk-th-"
MAX_RETENTION_DAYS = 36500
_NAME = re.compile(r"^[^\x00-\x1f]{1,100}$")


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    organization_id: str
    retention_days: int
    created_at: dt.datetime


@dataclass(frozen=True)
class ApiKey:
    """A stored key pair, without its secret."""

    public_key: str
    secret_hint: str
    project_id: str
    note: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class KeyPair:
    """A key pair just created: the only time the secret exists outside its owner."""

    public_key: str
    secret_key: str
    project_id: str


def hash_secret(secret: str) -> str:
    """The stored form of a secret key."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Versions:
    """Strictly increasing version timestamps, so two quick updates of a row never tie."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> dt.datetime:
        now = max(time.time_ns() // 1000, self._last + 1)
        self._last = now
        return dt.datetime.fromtimestamp(now / 1e6, dt.UTC).replace(microsecond=now % 1_000_000)


def check_name(name: str) -> str:
    """A project or organization name, checked; InvalidInput otherwise."""
    name = name.strip()
    if not _NAME.match(name):
        raise InvalidInput("a name must be 1 to 100 characters with no control characters")
    return name


class Projects:
    """Projects and keys in the store. Every change inserts a new version of its row."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._versions = Versions()

    async def _put(self, table: str, schema: pa.Schema, row: dict[str, object]) -> None:
        row = {**row, "updated_at": self._versions.next()}
        await self._backend.insert(table, pa.Table.from_pylist([row], schema=schema))

    # -- organizations and projects -------------------------------------------------

    async def ensure_defaults(self) -> None:
        """Create the default organization and project on first start."""
        orgs = await self._backend.query(
            "SELECT id FROM organizations FINAL WHERE id = {id:String} AND is_deleted = 0",
            {"id": DEFAULT_ORGANIZATION_ID},
        )
        if not orgs:
            await self._put(
                ORGANIZATIONS.name,
                ORGANIZATIONS.arrow_schema(),
                {"id": DEFAULT_ORGANIZATION_ID, "name": "Default", "created_at": _now(), "is_deleted": 0},
            )
        all_projects = await self._backend.query("SELECT count() AS n FROM projects")
        if all_projects[0]["n"] == 0:
            await self._put_project(DEFAULT_PROJECT_ID, "default", DEFAULT_ORGANIZATION_ID, 0, _now())

    async def _put_project(
        self, id: str, name: str, org: str, retention_days: int, created_at: dt.datetime, deleted: bool = False
    ) -> None:
        await self._put(
            PROJECTS.name,
            PROJECTS.arrow_schema(),
            {
                "id": id,
                "organization_id": org,
                "name": name,
                "retention_days": retention_days,
                "created_at": created_at,
                "is_deleted": int(deleted),
            },
        )

    async def list_projects(self) -> list[Project]:
        """Every live project, oldest first."""
        rows = await self._backend.query(
            "SELECT id, name, organization_id, retention_days, created_at FROM projects FINAL "
            "WHERE is_deleted = 0 ORDER BY created_at, id"
        )
        return [Project(**_project_row(r)) for r in rows]

    async def deleted_project_ids(self) -> list[str]:
        """The ids of deleted projects (their rows are erased; see Lifecycle.erase_leftovers)."""
        # Not FINAL: it leaves out the rows whose newest version is a deletion, the ones wanted here.
        rows = await self._backend.query(
            "SELECT id FROM projects GROUP BY id HAVING argMax(is_deleted, updated_at) = 1 ORDER BY id"
        )
        return [r["id"] for r in rows]

    async def find_projects(self, ref: str) -> list[Project]:
        """Live projects whose id or name is ``ref``: the one with that id first, then those with
        that name (names are unique within an organization, not across them). Most callers want
        ``get_project``."""
        rows = await self._backend.query(
            "SELECT id, name, organization_id, retention_days, created_at FROM projects FINAL "
            "WHERE is_deleted = 0 AND (id = {ref:String} OR name = {ref:String}) "
            "ORDER BY id = {ref:String} DESC, created_at, id",
            {"ref": ref},
        )
        return [Project(**_project_row(r)) for r in rows]

    async def get_project(self, ref: str, visible: Callable[[Project], bool] | None = None) -> Project:
        """A live project by id, or else by name, among those ``visible`` (all by default: a
        caller's view keeps other tenants' projects out of the answer); NotFound if none matches,
        InvalidInput if several visible projects have that name."""
        found = [p for p in await self.find_projects(ref) if visible is None or visible(p)]
        if not found:
            raise NotFound(f"no project with id or name {ref!r}")
        if found[0].id == ref or len(found) == 1:
            return found[0]
        ids = ", ".join(p.id for p in found)
        raise InvalidInput(f"several projects are named {ref!r} ({ids}): name the project by its id")

    async def create_project(
        self, name: str, organization_id: str = DEFAULT_ORGANIZATION_ID, retention_days: int = 0
    ) -> Project:
        """Create a project; Conflict if a live project of the organization already has that name."""
        name = check_name(name)
        if not 0 <= retention_days <= MAX_RETENTION_DAYS:
            raise InvalidInput(f"retention_days must be 0 (forever) to {MAX_RETENTION_DAYS}")
        if any(p.name == name and p.organization_id == organization_id for p in await self.list_projects()):
            raise Conflict(f"a project named {name!r} exists already in this organization")
        project = Project(
            id="prj-" + secrets.token_hex(8),
            name=name,
            organization_id=organization_id,
            retention_days=retention_days,
            created_at=_now(),
        )
        await self._put_project(project.id, name, organization_id, retention_days, project.created_at)
        return project

    async def update_retention(self, project_id: str, days: int) -> Project:
        """Record a project's retention (storage.lifecycle applies it to stored rows)."""
        project = await self.get_project(project_id)
        await self._put_project(project.id, project.name, project.organization_id, days, project.created_at)
        return await self.get_project(project.id)

    async def rename_project(self, project_id: str, name: str) -> Project:
        """Give a project a new name; Conflict if another live project of its organization has it."""
        name = check_name(name)
        project = await self.get_project(project_id)
        if any(
            p.name == name and p.id != project.id and p.organization_id == project.organization_id
            for p in await self.list_projects()
        ):
            raise Conflict(f"a project named {name!r} exists already in this organization")
        await self._put_project(project.id, name, project.organization_id, project.retention_days, project.created_at)
        return await self.get_project(project.id)

    async def delete_project(self, ref: str) -> Project:
        """Mark a project deleted and revoke its keys (Lifecycle.delete_project erases its data too)."""
        project = await self.get_project(ref)
        for key in await self.list_keys(project.id):
            if key.active:
                await self.revoke_key(key.public_key)
        await self._put_project(
            project.id,
            project.name,
            project.organization_id,
            project.retention_days,
            project.created_at,
            deleted=True,
        )
        return project

    # -- API keys -------------------------------------------------------------------

    async def create_key(self, project_ref: str, note: str = "") -> KeyPair:
        """Create a key pair for a project. The returned secret is not stored anywhere."""
        project = await self.get_project(project_ref)
        public = PUBLIC_PREFIX + secrets.token_hex(12)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        await self._put(
            API_KEYS.name,
            API_KEYS.arrow_schema(),
            {
                "public_key": public,
                "secret_hash": hash_secret(secret),
                "secret_hint": f"{SECRET_PREFIX}...{secret[-4:]}",
                "project_id": project.id,
                "note": note[:200],
                "revoked_at": None,
                "created_at": _now(),
                "is_deleted": 0,
            },
        )
        return KeyPair(public, secret, project.id)

    async def _key_rows(self, where: str, params: dict[str, object]) -> list[Row]:
        return await self._backend.query(
            "SELECT public_key, secret_hash, secret_hint, project_id, note, created_at, revoked_at "
            f"FROM api_keys FINAL WHERE is_deleted = 0 AND {where} ORDER BY created_at, public_key",
            params,
        )

    async def list_keys(self, project_ref: str | None = None) -> list[ApiKey]:
        """Keys of one project, or of every project; revoked ones included."""
        if project_ref is None:
            rows = await self._key_rows("1", {})
        else:
            project = await self.get_project(project_ref)
            rows = await self._key_rows("project_id = {p:String}", {"p": project.id})
        return [_api_key(r) for r in rows]

    async def revoke_key(self, public_key: str) -> ApiKey:
        """Revoke a key pair at once; NotFound if the public key is unknown."""
        rows = await self._key_rows("public_key = {k:String}", {"k": public_key})
        if not rows:
            raise NotFound(f"no API key {public_key!r}")
        row = rows[0]
        if row["revoked_at"] is None:
            row = {**row, "revoked_at": _now(), "is_deleted": 0}
            await self._put(API_KEYS.name, API_KEYS.arrow_schema(), row)
        return _api_key(row)

    async def verify(self, public_key: str, secret_key: str) -> str | None:
        """The project id of an active key pair, or None (unknown, revoked or wrong secret)."""
        rows = await self._key_rows("public_key = {k:String}", {"k": public_key})
        if not rows or rows[0]["revoked_at"] is not None:
            # Hash anyway so that an unknown key costs the same time as a wrong secret.
            hmac.compare_digest(hash_secret(secret_key), "0" * 64)
            return None
        row = rows[0]
        if not hmac.compare_digest(hash_secret(secret_key), row["secret_hash"]):
            return None
        return str(row["project_id"])

    async def verify_secret(self, secret_key: str) -> str | None:
        """The project id of an active key with this secret (for ``Bearer <secret>``), or None."""
        digest = hash_secret(secret_key)
        rows = await self._key_rows("secret_hash = {h:String}", {"h": digest})
        if not rows or rows[0]["revoked_at"] is not None:
            return None
        return str(rows[0]["project_id"])

    async def project_of_public_key(self, public_key: str) -> str | None:
        """The project of an active public key (``Bearer <public key>`` may send scores), or None."""
        rows = await self._key_rows("public_key = {k:String}", {"k": public_key})
        if not rows or rows[0]["revoked_at"] is not None:
            return None
        return str(rows[0]["project_id"])

    async def has_keys(self) -> bool:
        """True once any active key exists (the receiver then requires authentication)."""
        rows = await self._key_rows("revoked_at IS NULL", {})
        return bool(rows)


def _project_row(row: Row) -> Row:
    return {
        "id": row["id"],
        "name": row["name"],
        "organization_id": row["organization_id"],
        "retention_days": int(row["retention_days"]),
        "created_at": row["created_at"],
    }


def _api_key(row: Row) -> ApiKey:
    return ApiKey(
        public_key=row["public_key"],
        secret_hint=row["secret_hint"],
        project_id=row["project_id"],
        note=row["note"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
