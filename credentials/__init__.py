"""Credentials: the one place that reads API keys from a request, verifies them against the
store and remembers the answers briefly. Every port uses it: OTLP (gRPC and HTTP), Langfuse's
ingestion and read APIs, media, the REST, Tempo and Prometheus APIs.

Accepted: ``Authorization: Basic base64(public:secret)``, ``Authorization: Bearer <secret>``,
an ``api_key`` header (Phoenix and Arize clients) holding a secret or ``public:secret``, and,
for Langfuse's score API, ``Authorization: Bearer <public key>`` (scores only). With no
credentials a request is allowed only in open mode (a loopback bind while no API key exists).
Verified keys are cached for a few seconds; refusals never are. ``invalidate`` is the one hook
that forgets them, run when keys or projects change in this process.

People sign in with a session token (storage.users); ``session`` resolves it and ``roles`` gives
the person's organization and project roles (the instance admin owns every organization), so
that every API checks the one permission matrix (tracehouse.roles) from the same answers.
"""

from __future__ import annotations

import base64
import hashlib

from storage import Store
from storage.organizations import Organizations, Roles
from storage.projects import Project, Projects
from storage.users import User, Users
from tracehouse.errors import Unauthenticated
from tracehouse.roles import Permission, Role
from tracehouse.ttl_cache import CREDENTIALS_TTL_S, TtlCache

__all__ = ["Credentials", "basic_pair"]


def basic_pair(authorization: str) -> tuple[str, str]:
    """The (public, secret) of a Basic header; Unauthenticated if it is not one."""
    kind, _, value = authorization.partition(" ")
    if kind.lower() != "basic":
        raise Unauthenticated("send 'Authorization: Basic base64(public_key:secret_key)'")
    try:
        public, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except ValueError:  # not base64 (binascii.Error), not UTF-8, or characters beyond ASCII
        raise Unauthenticated("malformed Basic credentials") from None
    if not sep:
        raise Unauthenticated("malformed Basic credentials: expected public_key:secret_key")
    return public, secret


class Credentials:
    """Keys, sessions and roles of the requests of one process."""

    def __init__(
        self,
        projects: Projects,
        loopback: bool,
        cache_ttl_s: float = CREDENTIALS_TTL_S,
        *,
        users: Users | None = None,
        organizations: Organizations | None = None,
    ) -> None:
        self._projects = projects
        self._users = users
        self._organizations = organizations
        self._loopback = loopback
        self._cache = TtlCache(cache_ttl_s)  # verified keys only: a refusal is asked again

    @classmethod
    def of(cls, store: Store, loopback: bool) -> Credentials:
        """The credentials of a store's keys, people and roles."""
        return cls(store.projects, loopback, users=store.users, organizations=store.organizations)

    def invalidate(self) -> None:
        """Forget cached verifications (after keys change in this process)."""
        self._cache.clear()

    async def open_mode(self) -> bool:
        """A loopback bind while no API key exists: requests without credentials are let in."""
        if not self._loopback:
            return False
        return not await self._cache.get("has_keys", "", self._projects.has_keys)

    async def key_project(self, authorization: str) -> str:
        """The project of a Basic key pair (the only credential Langfuse's APIs take); never
        open mode. Unauthenticated otherwise."""
        public, secret = basic_pair(authorization)

        async def verified() -> str:
            project = await self._projects.verify(public, secret)
            if project is None:
                raise Unauthenticated("invalid or revoked API key")
            return project

        digest = hashlib.sha256(f"basic:{public}:{secret}".encode()).hexdigest()  # no secret kept in memory
        return str(await self._cache.get("key", digest, verified))

    async def key_organization(self, authorization: str) -> str:
        """The organization of an organization-scoped Basic key pair (Langfuse's admin API);
        Unauthenticated otherwise. A project's key is not one."""
        public, secret = basic_pair(authorization)

        async def verified() -> str:
            if self._organizations is None:
                raise Unauthenticated("organization keys are not available here")
            organization = await self._organizations.verify_key(public, secret)
            if organization is None:
                raise Unauthenticated("this API needs an organization-scoped API key (Organization settings)")
            return organization

        digest = hashlib.sha256(f"org:{public}:{secret}".encode()).hexdigest()
        return str(await self._cache.get("org-key", digest, verified))

    async def public_key_project(self, public_key: str) -> str:
        """The project of a public key alone (Langfuse's Bearer scores); Unauthenticated otherwise."""

        async def found() -> str:
            project = await self._projects.project_of_public_key(public_key)
            if project is None:
                raise Unauthenticated("invalid or revoked public key")
            return project

        return str(await self._cache.get("public", public_key, found))

    async def project_id(self, ref: str) -> str:
        """A project's id from its id or name (open mode's ``?project=``); NotFound otherwise."""

        async def load() -> str:
            return (await self._projects.get_project(ref)).id

        return str(await self._cache.get("project", ref, load))

    async def _verify(self, credential: str) -> str | None:
        kind, _, value = credential.partition(" ")
        kind = kind.lower()
        if kind == "basic":
            try:
                public, secret = basic_pair(credential)
            except Unauthenticated:
                return None
            return await self._projects.verify(public, secret)
        if kind == "bearer":
            return await self._projects.verify_secret(value.strip())
        if kind == "api_key":
            public, sep, secret = value.strip().partition(":")
            if sep:
                return await self._projects.verify(public, secret)
            return await self._projects.verify_secret(value.strip())
        return None

    async def authenticate(self, authorization: str | None, api_key: str | None) -> str | None:
        """The project id the credentials belong to; None in open mode without credentials.

        Raises Unauthenticated for missing or bad credentials.
        """
        # Empty values count as absent: Dify's Phoenix exporter sends both headers even with no key.
        if authorization is not None and not authorization.partition(" ")[2].strip():
            authorization = None
        api_key = api_key.strip() if api_key else None
        credential = authorization or (f"api_key {api_key}" if api_key else None)
        if not credential:
            if await self.open_mode():
                return None
            raise Unauthenticated(
                "missing credentials: send 'Authorization: Basic base64(public_key:secret_key)' "
                "(create a key with 'tracehouse keys create')"
            )

        async def verified() -> str:
            project = await self._verify(credential)
            if project is None:
                raise Unauthenticated("invalid or revoked API key")  # not kept: errors are not cached
            return project

        return str(await self._cache.get("key", hashlib.sha256(credential.encode()).hexdigest(), verified))

    async def session(self, token: str) -> User | None:
        """The person a session token belongs to, or None (expired, forged, or the password has
        changed since). Not cached: a password change must end older sessions at once."""
        if self._users is None or not token:
            return None
        return await self._users.check(token)

    async def roles(self, user: User) -> Roles:
        """A person's roles; the instance admin owns every organization."""
        if self._organizations is None:
            return Roles({}, {})
        if user.is_admin:
            everything = {o.id: Role.OWNER for o in await self._organizations.list_organizations()}
            return Roles(everything, {})
        return await self._organizations.roles_of(user.id)

    async def may(self, user: User, project: Project, permission: Permission) -> bool:
        """Whether ``user`` holds ``permission`` on ``project``."""
        return (await self.roles(user)).may(project, permission)
