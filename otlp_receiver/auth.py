"""Who is sending: credentials -> project.

Accepted: ``Authorization: Basic base64(public:secret)``, ``Authorization: Bearer <secret>``,
and an ``api_key`` header (Phoenix and Arize clients) holding a secret or ``public:secret``.
With no credentials the request is allowed only in open mode (a loopback bind while no
API key exists); its spans then go to the default project or to the project a resource
attribute names.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from storage.projects import Projects
from tracehouse.errors import Unauthenticated
from tracehouse.ttl_cache import CREDENTIALS_TTL_S, TtlCache

__all__ = ["Authenticator"]


class Authenticator:
    def __init__(self, projects: Projects, loopback: bool, cache_ttl_s: float = CREDENTIALS_TTL_S) -> None:
        self._projects = projects
        self._loopback = loopback
        self._cache = TtlCache(cache_ttl_s)  # verified keys only: a refusal is asked again

    def invalidate(self) -> None:
        """Forget cached verifications (after keys change in this process)."""
        self._cache.clear()

    async def _open(self) -> bool:
        if not self._loopback:
            return False
        return not await self._cache.get("has_keys", "", self._projects.has_keys)

    async def _verify(self, credential: str) -> str | None:
        kind, _, value = credential.partition(" ")
        kind = kind.lower()
        if kind == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            public, sep, secret = decoded.partition(":")
            return await self._projects.verify(public, secret) if sep else None
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
            if await self._open():
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
