"""SCIM 2.0 user provisioning for an organization (RFC 7643/7644), at Langfuse's paths
(``/api/public/scim/...``) as langfuse 5.x's ``api.scim`` and identity providers (Okta, Entra ID)
call them, with an organization-scoped API key (Basic auth).

A provisioned user is an account and a membership of the key's organization, with the role
``TRACEHOUSE_SCIM_ROLE`` (NONE by default: an admin gives project roles, or single sign-on's
groups do). No password is made: people sign in with single sign-on, or set one through a reset
link. Deleting a user, or deactivating it (``active: false``, as identity providers do when
someone leaves), takes the person out of the organization and of its projects at once; the
account stays, as in Langfuse. Only ``userName eq "..."`` filters are supported, as Langfuse.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from query_api.admin import STORE_KEY
from query_api.auth import USERS_KEY
from query_api.langfuse_api import PREFIX, LangfuseError
from query_api.org_admin_api import key_organization
from query_api.provisioning import PROVISIONING_KEY, grant_default_access
from storage import Store
from storage.users import User, Users
from tracehouse.errors import Conflict, InvalidInput, NotFound
from tracehouse.roles import Role

__all__ = ["scim_routes"]

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BASE = PREFIX + "/scim"
MOST_RESULTS = 100
_FILTER = re.compile(r'^\s*userName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc), status=status, content_type="application/scim+json")


def _error(exc: ScimError) -> web.Response:
    doc: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(exc.status), "detail": exc.detail}
    if exc.scim_type:
        doc["scimType"] = exc.scim_type
    return _json(doc, exc.status)


def _route(fn: Any) -> Any:
    """An organization key's request, answered in SCIM's shapes (errors included)."""

    async def wrapped(request: web.Request) -> web.Response:
        try:
            try:
                organization = await key_organization(request)
            except LangfuseError as exc:
                raise ScimError(exc.status, exc.message) from None
            response: web.Response = await fn(request, request.app[STORE_KEY], organization)
            return response
        except ScimError as exc:
            return _error(exc)
        except InvalidInput as exc:
            return _error(ScimError(400, exc.message, "invalidValue"))
        except NotFound as exc:
            return _error(ScimError(404, exc.message))
        except Conflict as exc:
            return _error(ScimError(409, exc.message, "uniqueness"))

    return wrapped


def _user_json(user: User, active: bool = True) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA],
        "id": user.id,
        "userName": user.email,
        "name": {"formatted": user.name},
        "emails": [{"primary": True, "value": user.email, "type": "work"}],
        "displayName": user.name,
        "active": active,
        "meta": {"resourceType": "User", "location": f"/api/public/scim/Users/{user.id}"},
    }


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ScimError(400, "the body is not JSON", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    return body


async def _member(store: Store, users: Users, organization: str, user_id: str) -> User:
    """A person of this organization; anyone else is not found (another tenant's people too)."""
    if user_id not in {m.user_id for m in await store.organizations.members(organization)}:
        raise ScimError(404, f"User {user_id} not found")
    user = await users.get(user_id)
    if user is None:
        raise ScimError(404, f"User {user_id} not found")
    return user


def _int_param(request: web.Request, name: str, default: int) -> int:
    try:
        value = int(request.query.get(name, str(default)))
    except ValueError:
        raise ScimError(400, f"{name} must be an integer", "invalidValue") from None
    return value


async def list_users(request: web.Request, store: Store, organization: str) -> web.Response:
    users: Users = request.app[USERS_KEY]
    start = max(1, _int_param(request, "startIndex", 1))  # RFC 7644 3.4.2.4: below 1 is 1
    count = min(MOST_RESULTS, max(0, _int_param(request, "count", MOST_RESULTS)))
    wanted = None
    if (expression := request.query.get("filter")) is not None:
        match = _FILTER.match(expression)
        if match is None:
            raise ScimError(400, 'only filters of the form userName eq "value" are supported', "invalidFilter")
        wanted = match.group(1).replace('\\"', '"').strip().lower()
    members = {m.user_id for m in await store.organizations.members(organization)}
    if wanted is not None:  # identity providers look each person up by userName before creating them
        found = await users.find(wanted)
        people = [found] if found is not None and found.id in members else []
    else:
        people = list((await users.get_many(members)).values())
    people.sort(key=lambda u: (u.email, u.id))
    page = people[start - 1 : start - 1 + count]
    return _json(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(people),
            "startIndex": start,
            "itemsPerPage": len(page),
            "Resources": [_user_json(u) for u in page],
        }
    )


def _email_of(body: dict[str, Any]) -> str:
    name = body.get("userName")
    if not isinstance(name, str) or not name.strip():
        raise ScimError(400, "userName (the person's email) is required", "invalidValue")
    return name.strip().lower()


def _display_name(body: dict[str, Any], email: str) -> str:
    name = body.get("name")
    if isinstance(name, dict):
        formatted = name.get("formatted")
        if isinstance(formatted, str) and formatted.strip():
            return formatted.strip()
        parts = [name.get("givenName"), name.get("familyName")]
        joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
        if joined:
            return joined
    display = body.get("displayName")
    return display.strip() if isinstance(display, str) and display.strip() else email


async def create_user(request: web.Request, store: Store, organization: str) -> web.Response:
    body = await _body(request)
    email = _email_of(body)
    if body.get("active") is False:
        raise ScimError(400, "a user is created active; deactivate it afterwards", "invalidValue")
    users: Users = request.app[USERS_KEY]
    members = {m.user_id for m in await store.organizations.members(organization)}
    user = await users.find(email)
    if user is not None and user.id in members:
        raise ScimError(409, f"User with userName {email} already exists in this organization", "uniqueness")
    created = user is None
    if user is None:
        # No usable password: single sign-on, or a reset link, gives the person one (Langfuse's
        # "password" field is accepted and ignored, as identity providers send a placeholder).
        user = await users.create(email, _display_name(body, email), None)
    config = request.app.get(PROVISIONING_KEY)
    await store.organizations.set_role(organization, user.id, config.scim_role if config else Role.NONE)
    if created:
        await grant_default_access(request.app, store, user.id)
    return _json(_user_json(user), 201)


async def get_user(request: web.Request, store: Store, organization: str) -> web.Response:
    user = await _member(store, request.app[USERS_KEY], organization, request.match_info["user_id"])
    return _json(_user_json(user))


async def _leave(request: web.Request, store: Store, organization: str, user: User) -> None:
    try:
        await store.organizations.remove_member(organization, user.id)
    except Conflict as exc:  # the last owner
        raise ScimError(409, exc.message, "mutability") from None


async def delete_user(request: web.Request, store: Store, organization: str) -> web.Response:
    user = await _member(store, request.app[USERS_KEY], organization, request.match_info["user_id"])
    await _leave(request, store, organization, user)
    # RFC 7644 says 204, but langfuse 5.x's client reads a JSON body from any 2xx (its
    # EmptyResponse): an empty object with 200 serves both it and identity providers.
    return _json({})


def _active_in_patch(body: dict[str, Any]) -> bool | None:
    """The ``active`` a PatchOp sets (Okta: path "active"; Entra ID: a value object), or None."""
    if PATCH_SCHEMA not in (body.get("schemas") or []) or not isinstance(body.get("Operations"), list):
        raise ScimError(400, f"a PATCH body is a {PATCH_SCHEMA} with Operations", "invalidSyntax")
    active = None
    for op in body["Operations"]:
        if not isinstance(op, dict) or str(op.get("op", "")).lower() not in ("replace", "add"):
            raise ScimError(400, "only replace and add operations are supported", "invalidSyntax")
        path, value = op.get("path"), op.get("value")
        if isinstance(path, str) and path.lower() == "active":
            active = value
        elif path is None and isinstance(value, dict) and "active" in value:
            active = value["active"]
        else:
            continue  # other attributes (names, emails) are the account's, kept as they are
        if isinstance(active, str) and active.lower() in ("true", "false"):
            active = active.lower() == "true"  # Entra ID sends "False" as text
        if not isinstance(active, bool):
            raise ScimError(400, "active must be true or false", "invalidValue")
    return active


async def patch_user(request: web.Request, store: Store, organization: str) -> web.Response:
    """Deactivation (``active: false``) takes the person out of the organization; other changes
    are accepted and leave the account as it is."""
    user = await _member(store, request.app[USERS_KEY], organization, request.match_info["user_id"])
    if _active_in_patch(await _body(request)) is False:
        await _leave(request, store, organization, user)
        return _json(_user_json(user, active=False))
    return _json(_user_json(user))


async def replace_user(request: web.Request, store: Store, organization: str) -> web.Response:
    user = await _member(store, request.app[USERS_KEY], organization, request.match_info["user_id"])
    body = await _body(request)
    if _email_of(body) != user.email:
        raise ScimError(400, "userName cannot change: it is the person's email and account", "mutability")
    if body.get("active") is False:
        await _leave(request, store, organization, user)
        return _json(_user_json(user, active=False))
    return _json(_user_json(user))


def _meta(kind: str, location: str) -> dict[str, str]:
    return {"resourceType": kind, "location": location}


async def service_provider_config(request: web.Request, store: Store, organization: str) -> web.Response:
    return _json(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "",
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": MOST_RESULTS},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": False},
            "authenticationSchemes": [
                {
                    "name": "HTTP Basic",
                    "description": "An organization-scoped API key: its public key as the user name, its secret "
                    "as the password",
                    "specUri": "https://www.rfc-editor.org/rfc/rfc7617",
                    "type": "httpbasic",
                    "primary": True,
                }
            ],
            "meta": _meta("ServiceProviderConfig", "/api/public/scim/ServiceProviderConfig"),
        }
    )


async def resource_types(request: web.Request, store: Store, organization: str) -> web.Response:
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A person of the organization",
        "schema": USER_SCHEMA,
        "schemaExtensions": [],
        "meta": _meta("ResourceType", "/api/public/scim/ResourceTypes/User"),
    }
    return _json({"schemas": [LIST_SCHEMA], "totalResults": 1, "Resources": [user]})


def _attribute(name: str, kind: str, description: str, required: bool = False, **extra: Any) -> dict[str, Any]:
    common = {"multiValued": False, "caseExact": False, "mutability": "readWrite", "returned": "default"}
    return {"name": name, "type": kind, "description": description, "required": required, "uniqueness": "none",
            **common, **extra}  # fmt: skip


async def schemas(request: web.Request, store: Store, organization: str) -> web.Response:
    user = {
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A person of the organization",
        "attributes": [
            _attribute("userName", "string", "The person's email: their account", True, uniqueness="server"),
            _attribute("name", "complex", "The person's name (formatted, or given and family names)"),
            _attribute("displayName", "string", "The person's name as shown"),
            _attribute("emails", "complex", "The person's email", multiValued=True),
            _attribute("active", "boolean", "false takes the person out of the organization"),
        ],
        "meta": _meta("Schema", f"/api/public/scim/Schemas/{USER_SCHEMA}"),
    }
    return _json({"schemas": [LIST_SCHEMA], "totalResults": 1, "Resources": [user]})


def scim_routes() -> list[web.RouteDef]:
    """Register before the Langfuse catch-all."""
    users = BASE + "/Users"
    return [
        web.get(BASE + "/ServiceProviderConfig", _route(service_provider_config)),
        web.get(BASE + "/ResourceTypes", _route(resource_types)),
        web.get(BASE + "/Schemas", _route(schemas)),
        web.get(users, _route(list_users)),
        web.post(users, _route(create_user)),
        web.get(users + "/{user_id}", _route(get_user)),
        web.put(users + "/{user_id}", _route(replace_user)),
        web.patch(users + "/{user_id}", _route(patch_user)),
        web.delete(users + "/{user_id}", _route(delete_user)),
    ]
