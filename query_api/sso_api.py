"""Sign-in through the organization's identity provider (OpenID Connect, credentials.oidc).

``/api/v1/auth/sso/start`` sends the browser to the provider with a state, a nonce and a PKCE
verifier kept in a short-lived signed cookie; ``/api/v1/auth/sso/callback`` checks them, trades
the code for an ID token, and signs the person in: the account with that (verified) email, or a
new one. Invitations pending for that email are accepted at once, so an invited teammate needs
only to sign in. A new account without an invitation has no organization role until someone
gives it one, or the default access does (query_api.provisioning). The first account (the
instance's admin) is never made this way: it is created on the machine Tracehouse runs on, as
without single sign-on.

Failures come back to the sign-in page (``/?sso_error=...``) in words, never as a bare 4xx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from credentials.oidc import OidcClient, OidcError
from query_api.admin import STORE_KEY
from query_api.auth import OIDC_KEY, USERS_KEY, secure_request, start_session
from query_api.invitations_api import join, public_base
from query_api.provisioning import apply_group_roles, grant_default_access
from storage.users import Users
from tracehouse.errors import NotFound

__all__ = ["sso_routes"]

FLOW_COOKIE = "th_sso"
FLOW_PATH = "/api/v1/auth/sso"
FLOW_TTL_S = 600


def _redirect_uri(request: web.Request) -> str:
    return public_base(request) + FLOW_PATH + "/callback"


def _safe_next(value: str) -> str:
    # Only a path of this site: never another host (an open redirect).
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


async def _seal(users: Users, flow: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(orjson.dumps(flow)).decode()
    mac = hmac.new(await users.signing_key(), b"sso:" + body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


async def _open(users: Users, cookie: str) -> dict[str, Any]:
    body, _, mac = cookie.rpartition(".")
    expected = hmac.new(await users.signing_key(), b"sso:" + body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(mac.encode(), expected.encode()):
        raise OidcError("this sign-in was not started here, or its cookie was lost: try again")
    flow: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(body))
    if flow.get("exp", 0) < time.time():
        raise OidcError("this sign-in took too long: try again")
    return flow


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _back(request: web.Request, error: str) -> web.Response:
    """The sign-in page, saying what went wrong."""
    response = _redirect("/?" + urlencode({"sso_error": error}))
    response.del_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


def _client(request: web.Request) -> OidcClient:
    client = request.app.get(OIDC_KEY)
    if client is None:
        raise NotFound("single sign-on is not configured (TRACEHOUSE_OIDC_ISSUER)")
    return client


async def sso_start(request: web.Request) -> web.Response:
    client = _client(request)
    users: Users = request.app[USERS_KEY]
    if await users.count() == 0:
        return _back(request, "create the admin account first, on the machine Tracehouse runs on")
    try:
        start = await client.start(_redirect_uri(request))
    except OidcError as exc:
        return _back(request, exc.message)
    flow = {"state": start.state, "nonce": start.nonce, "verifier": start.verifier,
            "next": _safe_next(request.query.get("next", "/")), "exp": time.time() + FLOW_TTL_S}  # fmt: skip
    response = _redirect(start.url)
    # Lax: the provider sends the browser back with a top-level GET, which carries it.
    response.set_cookie(FLOW_COOKIE, await _seal(users, flow), max_age=FLOW_TTL_S, httponly=True, samesite="Lax",
                        secure=secure_request(request), path=FLOW_PATH)  # fmt: skip
    return response


async def sso_callback(request: web.Request) -> web.Response:
    client = _client(request)
    users: Users = request.app[USERS_KEY]
    store = request.app[STORE_KEY]
    try:
        flow = await _open(users, request.cookies.get(FLOW_COOKIE, ""))
        if not hmac.compare_digest(request.query.get("state", "").encode(), str(flow["state"]).encode()):
            raise OidcError("this sign-in's state does not match: try again")
        if "error" in request.query:
            said = request.query.get("error_description") or request.query["error"]
            raise OidcError(f"the sign-in provider said: {said[:300]}")
        code = request.query.get("code", "")
        if not code:
            raise OidcError("the sign-in provider sent no code")
        identity = await client.finish(code, _redirect_uri(request), flow["nonce"], flow["verifier"])
        if await users.count() == 0:
            raise OidcError("create the admin account first, on the machine Tracehouse runs on")
    except OidcError as exc:
        return _back(request, exc.message)
    user = await users.find(identity.email)
    created = user is None
    if user is None:
        # No password anyone knows: this account signs in through the provider (or a reset link).
        user = await users.create(identity.email, identity.name, None)
    for invitation in await store.invitations.spend_for(identity.email):
        await join(store, user.id, invitation)
    if created:
        await grant_default_access(request.app, store, user.id)
    await apply_group_roles(request.app, store, user.id, identity.groups)
    response = _redirect(flow["next"])
    response.del_cookie(FLOW_COOKIE, path=FLOW_PATH)
    await start_session(request, user, response)
    return response


def sso_routes() -> list[web.RouteDef]:
    return [web.get(FLOW_PATH + "/start", sso_start), web.get(FLOW_PATH + "/callback", sso_callback)]
