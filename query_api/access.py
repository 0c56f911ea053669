"""Which project a query-API request may read.

Scripts authenticate with an API key pair (``Authorization: Basic base64(pk:sk)``). On a
loopback bind with no API key yet (open mode), the request reads the project named by
``?project=`` or the default one.
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from query_api.requests import is_local
from storage import Store
from tracehouse.errors import Unauthenticated

__all__ = ["LOOPBACK_BIND_KEY", "project_for"]

LOOPBACK_BIND_KEY = web.AppKey("loopback_bind", bool)


async def project_for(request: web.Request, store: Store) -> str:
    """The project id this request reads, or Unauthenticated."""
    from query_api.auth import session_user

    if await session_user(request) is not None:
        # Signed-in people see every project of the (single) organization; they pick one.
        return (await store.projects.get_project(request.query.get("project", "default"))).id
    header = request.headers.get("Authorization", "")
    kind, _, value = header.partition(" ")
    if kind.lower() == "basic":
        try:
            public, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed Basic credentials") from None
        project = await store.projects.verify(public, secret) if sep else None
        if project is None:
            raise Unauthenticated("invalid or revoked API key")
        return project
    if header:
        raise Unauthenticated("use 'Authorization: Basic base64(public_key:secret_key)'")
    if request.app.get(LOOPBACK_BIND_KEY, False) and is_local(request) and not await store.projects.has_keys():
        ref = request.query.get("project", "default")
        return (await store.projects.get_project(ref)).id
    raise Unauthenticated("missing credentials: send 'Authorization: Basic base64(public_key:secret_key)'")
