"""The audit log: every successful change made through the API, recorded by a middleware, and read
by a project's or an organization's admins (MANAGE_MEMBERS).

An entry names who (a person, a key pair's public key, the instance's admin token, or the local
open mode), the route and method, the route's parameters (ids and names, never a secret or a
body), the project and organization, and when. Data itself (ingestion, scores sent by SDKs,
media, comments, dataset items, annotations) is not a change of the project and is not logged;
nor are sign-ins and personal preferences.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from pydantic import Field

from credentials import basic_pair
from query_api.access import CREDENTIALS_KEY, LOOPBACK_BIND_KEY, caller_for, session_user
from query_api.admin import ADMIN_TOKEN_KEY, STORE_KEY
from query_api.audit_scope import AuditScope, noted_scope
from query_api.middleware import Handler
from query_api.requests import is_local
from query_api.responses import json_response
from query_api.rest import Query, parse_query
from storage import Store
from storage.audit import AuditEntry
from storage.cursors import decode_cursor, encode_cursor
from storage.timestamps import epoch_us
from tracehouse.errors import Forbidden, NotFound, TracehouseError
from tracehouse.roles import Permission, Role, allowed

__all__ = ["audit_middleware", "audit_routes"]

log = logging.getLogger(__name__)

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Routes whose calls are data or personal, not changes to a project or organization. Content
# that clients send item by item (dataset items, comments, run items) is data too: an entry costs
# its request ~10 ms, and its deletion is logged. Prometheus's API takes its queries by POST too
# (Grafana's default): reads, not changes.
_UNAUDITED = re.compile(
    r"^/api/public/(ingestion|scores|otel/.*|media.*|comments|dataset-items|dataset-run-items)$"
    r"|^/api/v1/auth/.*"
    r"|^/api/v1/(playground|llm-connections/test)$"
    r"|^/prometheus/.*"
    r"|/annotate$"
)
# Parameter names that may carry a secret (an invitation's token): never written down.
_SECRET = re.compile(r"token|secret|password|code", re.IGNORECASE)
_MOST_TARGET = 20


@dataclass(frozen=True)
class _Actor:
    kind: str
    id: str
    name: str = ""


def _actor(request: web.Request) -> _Actor | None:
    """Who made the change: the person the handler found (its session, or a link's), else the
    request's key pair, the admin token, or this machine's open mode; without failing (a wrong
    credential is the handler's to refuse, and then nothing is recorded)."""
    if (named := noted_scope(request).actor) is not None:
        return _Actor("user", *named)
    header = request.headers.get("Authorization", "")
    try:
        if header.partition(" ")[0].lower() == "basic":
            return _Actor("api_key", basic_pair(header)[0])
    except TracehouseError:
        return None
    token = request.app.get(ADMIN_TOKEN_KEY)
    # As bytes: compare_digest refuses str with characters beyond ASCII (a garbage header).
    if token and hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode()):
        return _Actor("admin_token", "")
    if request.app.get(LOOPBACK_BIND_KEY, False) and is_local(request):
        return _Actor("local", "")
    return None


async def _scope(request: web.Request, store: Store, actor: _Actor) -> AuditScope:
    scope = noted_scope(request)
    if not scope.project_id and not scope.organization_id:
        scope.organization_id = request.match_info.get("organization", "")
    if not scope.project_id and not scope.organization_id:
        ref = request.match_info.get("project") or request.match_info.get("ref") or request.query.get("project")
        if ref:
            scope.project_id = ref
        elif actor.kind == "api_key":
            credentials = request.app[CREDENTIALS_KEY]
            header = request.headers.get("Authorization", "")
            try:
                scope.project_id = await credentials.key_project(header)
            except TracehouseError:  # an organization's key (the middleware names it so)
                scope.organization_id = await credentials.key_organization(header)
    if scope.project_id and not scope.organization_id:
        try:
            project = await store.projects.get_project(scope.project_id)
            scope.project_id, scope.organization_id = project.id, project.organization_id
        except TracehouseError:
            pass  # a deleted project: its id as given
    return scope


# What an answer may say of the thing a change made (its top-level fields of these names): a
# prompt's name and version, a connection's provider, a dataset's name. Never anything else.
_NAMING_FIELDS = ("name", "version", "provider", "email", "role", "public_key", "publicKey", "datasetName", "userName")
_MOST_ANSWER_BYTES = 64 * 1024


def _answer_details(response: web.StreamResponse) -> dict[str, str]:
    if not isinstance(response, web.Response) or not response.content_type.endswith("json"):
        return {}
    body = response.body
    if not isinstance(body, bytes) or len(body) > _MOST_ANSWER_BYTES:
        return {}
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: str(doc[k]) for k in _NAMING_FIELDS if isinstance(doc.get(k), str | int) and doc.get(k) != ""}


def _target(request: web.Request, details: dict[str, str]) -> dict[str, str]:
    parameters = {k: v for k, v in request.match_info.items() if k != "prefix"}
    named = {**parameters, **{k: v for k, v in request.query.items() if k != "project"}, **details}
    return {k: str(v)[:200] for k, v in list(named.items())[:_MOST_TARGET] if not _SECRET.search(k)}


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record each successful change (a 2xx answer to a method that is not a read)."""
    resource = request.match_info.route.resource
    # Langfuse's routes take any path prefix (a proxy's): the route is named without it.
    route = (resource.canonical if resource is not None else request.path).replace("/{prefix}", "/", 1)
    if request.method in _READ_METHODS or _UNAUDITED.search(route):
        return await handler(request)
    response = await handler(request)
    if not 200 <= response.status < 300 or (actor := _actor(request)) is None:
        return response
    try:
        store: Store = request.app[STORE_KEY]
        scope = await _scope(request, store, actor)
        kind = "organization_key" if actor.kind == "api_key" and not scope.project_id else actor.kind
        await store.audit.record(
            AuditEntry(scope.organization_id, scope.project_id, kind, actor.id, actor.name, request.method, route,
                       _target(request, {**_answer_details(response), **scope.details}), response.status)
        )  # fmt: skip
    except Exception:  # the change is made: a failure to log it must not turn its answer into an error
        log.exception("the audit log could not record %s %s", request.method, route)
    return response


class AuditQuery(Query):
    organization: str | None = Field(None, max_length=200, description="An organization's whole log.")
    actor: str | None = Field(None, max_length=200, description="Text in who made the change: an email, a public key.")
    action: list[str] = Field(
        default_factory=list, max_length=50, description='Changes of these kinds only, each "METHOD route".'
    )
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=200, description="The next_cursor of the page before.")


def _entry_json(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "timestamp": e.timestamp.isoformat(),
        "organizationId": e.organization_id,
        "projectId": e.project_id or None,
        "actor": {"kind": e.actor_kind, "id": e.actor_id or None, "name": e.actor_name or None},
        "method": e.method,
        "route": e.route,
        "target": e.target,
        "status": e.status,
    }


async def audit_log(request: web.Request) -> web.Response:
    """``GET /api/v1/audit-log``: a project's entries (``project``), or with ``organization`` the
    organization's own and all its projects', newest first, a page at a time."""
    store: Store = request.app[STORE_KEY]
    query = parse_query(AuditQuery, request)
    before = None
    if query.cursor:
        at_us, last_id = decode_cursor(query.cursor, (int, str))
        before = (at_us, last_id)
    if query.organization is not None:
        user = await session_user(request)
        if user is None:
            caller = await caller_for(request, store)  # a key pair, or open mode on this machine
            if not caller.open_mode:
                raise Forbidden("an organization's audit log is read by its admins, signed in")
        try:
            org = await store.organizations.get_organization(query.organization)
        except NotFound:
            raise Forbidden(f"no access to organization {query.organization!r}") from None
        role = Role.OWNER
        if user is not None:
            role = (await request.app[CREDENTIALS_KEY].roles(user)).organizations.get(org.id, Role.NONE)
        if not allowed(role, Permission.MANAGE_MEMBERS):
            raise Forbidden(f"no access to organization {query.organization!r}'s audit log")
        organization_id, project_id = org.id, None
    else:
        caller = await caller_for(request, store)
        caller.require(Permission.MANAGE_MEMBERS, "read the audit log")
        project = await store.projects.get_project(caller.project_id)
        organization_id, project_id = project.organization_id, project.id
    found = await store.audit.entries(organization_id, project_id, query.limit + 1, before, query.actor, query.action)
    page = found[: query.limit]
    last = page[-1] if len(found) > query.limit else None
    next_cursor = encode_cursor([epoch_us(last.timestamp), last.id]) if last else None
    return json_response({"items": [_entry_json(e) for e in page], "next_cursor": next_cursor})


def audit_routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/audit-log", audit_log)]
