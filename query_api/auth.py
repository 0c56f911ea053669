"""Sign-in for people (the UI): first-run admin account, login, logout, who am I.

The session is a signed token in an HttpOnly, SameSite=Lax cookie (Secure when served over
TLS). State-changing calls made with that cookie must echo the ``th_csrf`` cookie in an
``X-CSRF-Token`` header (double submit), so that another site cannot make them.
"""

from __future__ import annotations

import secrets
from typing import Any, NamedTuple

from aiohttp import web
from pydantic import BaseModel, Field

from credentials.oidc import OidcClient
from query_api.access import CSRF_COOKIE, LOOPBACK_BIND_KEY, SESSION_COOKIE, session_user
from query_api.admin import STORE_KEY
from query_api.requests import is_local, read_model
from storage.projects import DEFAULT_ORGANIZATION_ID
from storage.users import SESSION_TTL_S, User, Users
from tracehouse.errors import Forbidden, Unauthenticated
from tracehouse.roles import Role

__all__ = [
    "CSRF_COOKIE",
    "OIDC_KEY",
    "OTLP_PORTS_KEY",
    "SESSION_COOKIE",
    "STANDARD_OTLP_PORTS",
    "USERS_KEY",
    "OtlpPorts",
    "auth_routes",
    "refuse_passwords",
    "secure_request",
    "session_user",
    "start_session",
]

USERS_KEY = web.AppKey("users", Users)
OIDC_KEY = web.AppKey("oidc", OidcClient)  # single sign-on, when configured (query_api.sso_api)


class OtlpPorts(NamedTuple):
    """Where this deployment's OTLP receiver listens: the UI's snippets name these ports."""

    http: int
    grpc: int


OTLP_PORTS_KEY = web.AppKey("otlp_ports", OtlpPorts)
STANDARD_OTLP_PORTS = OtlpPorts(http=4318, grpc=4317)  # OTLP's own defaults, and ours


class Credentials(BaseModel):
    email: str = Field(min_length=3, max_length=400)
    password: str = Field(min_length=1, max_length=1000)


class NewAccount(Credentials):
    name: str = Field("", max_length=200)


class Preferences(BaseModel):
    locale: str = Field(max_length=10)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=1, max_length=1000)


def _users(request: web.Request) -> Users:
    return request.app[USERS_KEY]


def secure_request(request: web.Request) -> bool:
    """Whether the browser reached this over TLS (itself, or a proxy that says so): Secure cookies."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "is_admin": user.is_admin}


async def start_session(request: web.Request, user: User, response: web.Response | None = None) -> web.Response:
    """``response`` (by default, the user as JSON) with a new session's cookies for ``user``."""
    response = response if response is not None else web.json_response({"user": _user_json(user)})
    token = await _users(request).issue(user)
    secure = secure_request(request)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=SESSION_TTL_S, httponly=True, samesite="Lax", secure=secure, path="/"
    )
    response.set_cookie(
        CSRF_COOKIE,
        secrets.token_urlsafe(24),
        max_age=SESSION_TTL_S,
        httponly=False,
        samesite="Lax",
        secure=secure,
        path="/",
    )
    return response


async def me(request: web.Request) -> web.Response:
    """Who is signed in. Not signed in is an answer, not an error: ``user`` is null, with whether
    the first account is still to be created and whether data is readable without one (open mode).
    ``otlp``: the receiver's ports, for the UI's snippets."""
    users = _users(request)
    user = await session_user(request)
    oidc = request.app.get(OIDC_KEY)
    # The sign-in page's button; ``only``: no password form.
    sso = {"name": oidc.config.name, "only": oidc.config.only} if oidc is not None else None
    ports = request.app.get(OTLP_PORTS_KEY, STANDARD_OTLP_PORTS)
    otlp = {"http_port": ports.http, "grpc_port": ports.grpc}
    if user is not None:
        profile = {**_user_json(user), "locale": await users.locale(user.id)}
        return web.json_response({"user": profile, "setup_required": False, "open": False, "sso": sso, "otlp": otlp})
    store = request.app[STORE_KEY]
    no_users = await users.count() == 0
    open_mode = (
        request.app.get(LOOPBACK_BIND_KEY, False)
        and is_local(request)
        and no_users
        and not await store.projects.has_keys()
    )
    return web.json_response({"user": None, "setup_required": no_users, "open": open_mode, "sso": sso, "otlp": otlp})


async def setup(request: web.Request) -> web.Response:
    """Create the first account (the admin). Only while no account exists, and only from this machine."""
    users = _users(request)
    if await users.count() > 0:
        raise Forbidden("the admin account exists already; sign in instead")
    if not is_local(request):
        raise Forbidden("create the first account from the machine Tracehouse runs on")
    body = await read_model(request, NewAccount)
    user = await users.create(body.email, body.name, body.password)
    # The first person owns the default organization (and its existing projects), as in Langfuse.
    await request.app[STORE_KEY].organizations.set_role(DEFAULT_ORGANIZATION_ID, user.id, Role.OWNER)
    return await start_session(request, user)


def refuse_passwords(request: web.Request) -> None:
    """Forbidden when single sign-on is the only way in (``TRACEHOUSE_PASSWORD_LOGIN=false``)."""
    oidc = request.app.get(OIDC_KEY)
    if oidc is not None and oidc.config.only:
        raise Forbidden(f"sign in with {oidc.config.name}: signing in with a password is turned off here")


async def login(request: web.Request) -> web.Response:
    refuse_passwords(request)
    body = await read_model(request, Credentials)
    user = await _users(request).authenticate(body.email, body.password)
    return await start_session(request, user)


async def logout(request: web.Request) -> web.Response:
    if await session_user(request) is None:
        raise Unauthenticated("not signed in")
    # The token itself ends, not just the cookie: a copy of it is refused from now on.
    await _users(request).end(request.cookies.get(SESSION_COOKIE, ""))
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")
    return response


async def change_password(request: web.Request) -> web.Response:
    """The signed-in person's new password: every other session of theirs ends; this one goes on."""
    user = await session_user(request)
    if user is None:
        raise Unauthenticated("sign in to change your password")
    body = await read_model(request, PasswordChange)
    await _users(request).change_password(user, body.current_password, body.new_password)
    return await start_session(request, user)


async def preferences(request: web.Request) -> web.Response:
    """The signed-in person's own settings: the UI's language, kept with the account."""
    user = await session_user(request)
    if user is None:
        raise Unauthenticated("sign in to keep preferences")
    body = await read_model(request, Preferences)
    await _users(request).set_locale(user.id, body.locale)
    return web.json_response({"locale": body.locale})


def auth_routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/auth/me", me),
        web.post("/api/v1/auth/setup", setup),
        web.post("/api/v1/auth/login", login),
        web.post("/api/v1/auth/logout", logout),
        web.post("/api/v1/auth/password", change_password),
        web.put("/api/v1/auth/preferences", preferences),
    ]
