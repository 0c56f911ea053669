"""Which project a query-API request may read.

Scripts authenticate with an API key pair (``Authorization: Basic base64(pk:sk)``). On a
loopback bind with no API key yet (open mode), the request reads the project named by
``?project=`` or the default one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from aiohttp import web

from query_api.requests import is_local
from storage import Store
from storage.projects import DEFAULT_PROJECT_ID
from tracehouse.errors import Forbidden, NotFound, Unauthenticated
from tracehouse.roles import Permission
from tracehouse.ttl_cache import TtlCache

__all__ = ["ACCESS_CACHE_KEY", "LOOPBACK_BIND_KEY", "project_for"]

LOOPBACK_BIND_KEY = web.AppKey("loopback_bind", bool)

# The store's recent answers about keys and projects: without them every API request, a
# Grafana panel or a UI call, cost two queries before its own.
ACCESS_CACHE_KEY = web.AppKey("access_cache", TtlCache)


async def _project_id(store: Store, cache: TtlCache, ref: str) -> str:
    async def load() -> str:
        return (await store.projects.get_project(ref)).id

    return str(await cache.get("project", ref, load))


async def project_for(request: web.Request, store: Store) -> str:
    """The project id this request reads, or Unauthenticated."""
    from query_api.auth import session_user

    cache = request.app.get(ACCESS_CACHE_KEY) or TtlCache(ttl_s=0)
    user = await session_user(request)
    if user is not None:
        # Signed-in people read the projects their roles open (tracehouse.roles); they pick one.
        from query_api.organizations_api import roles_for

        roles = await roles_for(store, user)
        ref = request.query.get("project")
        if ref is None:
            visible = [p for p in await store.projects.list_projects() if roles.may(p, Permission.VIEW_DATA)]
            if not visible:
                raise Forbidden("no project is open to you: ask an organization admin to add you")
            return next((p.id for p in visible if p.id == DEFAULT_PROJECT_ID), visible[0].id)
        try:
            project = await store.projects.get_project(ref)
        except NotFound:
            raise Forbidden(f"no access to project {ref!r}") from None
        if not roles.may(project, Permission.VIEW_DATA):
            raise Forbidden(f"no access to project {ref!r}")
        return project.id
    header = request.headers.get("Authorization", "")
    kind, _, value = header.partition(" ")
    if kind.lower() == "basic":
        try:
            public, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed Basic credentials") from None
        digest = hashlib.sha256(f"{public}:{secret}".encode()).hexdigest()  # no secret kept in memory
        project = await cache.get("key", digest, lambda: store.projects.verify(public, secret)) if sep else None
        if project is None:
            raise Unauthenticated("invalid or revoked API key")
        return project
    if header:
        raise Unauthenticated("use 'Authorization: Basic base64(public_key:secret_key)'")
    if (
        request.app.get(LOOPBACK_BIND_KEY, False)
        and is_local(request)
        and not await cache.get("has_keys", "", store.projects.has_keys)
    ):
        return await _project_id(store, cache, request.query.get("project", "default"))
    raise Unauthenticated("missing credentials: send 'Authorization: Basic base64(public_key:secret_key)'")
