"""Prompt management over HTTP: Langfuse's v2 and legacy v1 prompt API (key pairs, as the SDKs
call it) and the UI's routes (signed-in people, with roles), both on ``prompts.PromptService``.

Langfuse's routes answer in Langfuse's shapes: 400 ``{"message": "Invalid request data",
"error": [issues]}`` for a broken rule, 404 ``{"error": "LangfuseNotFoundError", ...}``, and 409
with ``Retry-After`` when a concurrent create took the version number. GETs carry ``ETag`` and
``Last-Modified`` and answer ``If-None-Match`` with 304, so SDKs polling every 60 s cost little.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web

from prompts import PromptService, parse_new
from prompts.rules import PROTECTED_LABELS, PromptRuleError, check_labels, placeholders, variables
from query_api.access import Caller, caller_for
from query_api.admin import STORE_KEY
from query_api.langfuse_api import PREFIX, langfuse_json, langfuse_route
from query_api.requests import read_json
from query_api.responses import json_response
from storage import Store
from tracehouse.errors import InvalidInput, NotFound
from tracehouse.roles import Permission

__all__ = [
    "PROMPTS_KEY",
    "PromptService",
    "langfuse_rules_route",
    "name_in_path",
    "positive_int",
    "prompt_routes",
    "usage_by_version",
]

PROMPTS_KEY = web.AppKey("prompts", PromptService)
MAX_LIMIT = 100
DAY_NS = 86_400 * 10**9


def _service(request: web.Request) -> PromptService:
    return request.app[PROMPTS_KEY]


def name_in_path(request: web.Request) -> str:
    """The ``{name}`` of the path, as the SDKs sent it."""
    # The SDKs URL-encode the whole name (folders included); aiohttp has decoded the path once.
    return unquote(request.match_info["name"])


def positive_int(value: str | None, field: str) -> int | None:
    """A query parameter that must be a positive integer if given (PromptRuleError otherwise)."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise PromptRuleError(field, "expected an integer") from None
    if number < 1:
        raise PromptRuleError(field, "expected a positive integer")
    return number


async def _json(request: web.Request) -> Any:
    return await read_json(request)


def _conditional(request: web.Request, served: Any, doc: dict[str, Any]) -> web.Response:
    headers = {
        "ETag": served.etag,
        "Last-Modified": served.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        # Clients may keep it briefly; a label move reaches them on their next poll (SDK TTL 60 s).
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if served.etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    response = langfuse_json(doc)
    response.headers.update(headers)
    return response


# -- Langfuse's API (key pairs) ----------------------------------------------------------------


def langfuse_rules_route(
    fn: Callable[[web.Request, str], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A Langfuse route whose broken rules (PromptRuleError) are Langfuse's 400 with the field."""
    return langfuse_route(fn, (PromptRuleError,))


async def get_prompt(request: web.Request, project: str) -> web.Response:
    q = request.query
    version = positive_int(q.get("version"), "version")
    label = q.get("label") or None
    if version is not None and label is not None:
        raise PromptRuleError("version", "give either version or label, not both")
    resolve = q.get("resolve", "true").lower() != "false"
    served = await _service(request).serve(project, name_in_path(request), version, label, resolve)
    return _conditional(request, served, served.doc)


async def list_prompts(request: web.Request, project: str) -> web.Response:
    q = request.query
    page = positive_int(q.get("page"), "page") or 1
    limit = positive_int(q.get("limit"), "limit") or 10
    if limit > MAX_LIMIT:
        raise PromptRuleError("limit", f"at most {MAX_LIMIT}")
    name, label, tag = q.get("name"), q.get("label"), q.get("tag")
    since, until = q.get("fromUpdatedAt"), q.get("toUpdatedAt")
    service = _service(request)
    out = []
    for summary in await service.summaries(project):
        versions = summary.pop("_versions")
        if name is not None and summary["name"] != name:
            continue
        if tag is not None and tag not in summary["tags"]:
            continue
        matching = [
            v
            for v in versions
            if (label is None or label in service.labels_of(v, versions))
            and (since is None or v.updated_at.isoformat() >= _iso_param(since, "fromUpdatedAt"))
            and (until is None or v.updated_at.isoformat() < _iso_param(until, "toUpdatedAt"))
        ]
        if not matching:
            continue
        summary["versions"] = [v.version for v in matching]
        summary["lastConfig"] = orjson.loads(matching[-1].config)
        out.append(summary)
    total = len(out)
    data = out[(page - 1) * limit : page * limit]
    meta = {"page": page, "limit": limit, "totalItems": total, "totalPages": -(-total // limit)}
    return langfuse_json({"data": data, "meta": meta, "pagination": meta})


def _iso_param(value: str, field: str) -> str:
    import datetime as dt

    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PromptRuleError(field, "expected an ISO-8601 time") from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat()


async def create_prompt(request: web.Request, project: str) -> web.Response:
    doc = await _service(request).create(project, parse_new(await _json(request)), "API")
    return langfuse_json(doc, 201)


async def patch_labels(request: web.Request, project: str) -> web.Response:
    body = await _json(request)
    if not isinstance(body, dict) or not isinstance(body.get("newLabels"), list):
        raise PromptRuleError("newLabels", "expected a list of labels")
    labels = check_labels(body["newLabels"], "newLabels")
    version = positive_int(request.match_info["version"], "version")
    assert version is not None
    doc = await _service(request).set_labels(project, name_in_path(request), version, labels)
    return langfuse_json(doc)


async def delete_prompt(request: web.Request, project: str) -> web.Response:
    q = request.query
    version = positive_int(q.get("version"), "version")
    label = q.get("label") or None
    if version is not None and label is not None:
        raise PromptRuleError("version", "give either version or label, not both")
    await _service(request).delete(project, name_in_path(request), version, label)
    return web.Response(status=204)


async def v1_get(request: web.Request, project: str) -> web.Response:
    """Legacy: ``?name=&version=``; without a version, the production version."""
    name = request.query.get("name")
    if not name:
        raise PromptRuleError("name", "a prompt name is required")
    served = await _service(request).serve(project, name, positive_int(request.query.get("version"), "version"), None)
    return _conditional(request, served, served.doc)


async def v1_create(request: web.Request, project: str) -> web.Response:
    """Legacy create: ``isActive: true`` means the production label."""
    body = await _json(request)
    if isinstance(body, dict) and body.get("isActive"):
        body = {**body, "labels": [*(body.get("labels") or []), "production"]}
    doc = await _service(request).create(project, parse_new(body), "API")
    return langfuse_json(doc, 201)


# -- the UI's routes (people and roles) -----------------------------------------------------------


async def _caller(request: web.Request) -> tuple[Store, Caller]:
    store: Store = request.app[STORE_KEY]
    return store, await caller_for(request, store)


def _ui_error(exc: PromptRuleError) -> InvalidInput:
    return InvalidInput(f"{exc.path}: {exc.message}")


async def ui_list(request: web.Request) -> web.Response:
    """Every prompt of the project with its versions, labels and tags (the UI filters)."""
    _, caller = await _caller(request)
    caller.require(Permission.VIEW_DATA, "read prompts")
    items = await _service(request).summaries(caller.project_id)
    for item in items:
        versions = item.pop("_versions")
        item["commitMessage"] = versions[-1].commit_message
        item["createdBy"] = versions[-1].created_by
    return json_response({"items": items, "permissions": sorted(p.name for p in caller.permissions)})


async def ui_prompt(request: web.Request) -> web.Response:
    """All versions of one prompt, newest first, with variables and placeholders of each (none for
    a name this project does not hold: a trace links the prompts its observations used, deleted or
    not)."""
    _, caller = await _caller(request)
    caller.require(Permission.VIEW_DATA, "read prompts")
    name = request.query.get("name", "")
    service = _service(request)
    versions = await service.versions(caller.project_id, name)
    docs = []
    for v in reversed(versions):
        doc = service.document(v, versions)
        doc["variables"] = variables(doc["prompt"])
        doc["placeholders"] = placeholders(doc["prompt"])
        try:
            resolved = await service.resolved(caller.project_id, v)
            doc["resolved"] = resolved.prompt if resolved.graph else None
        except PromptRuleError as exc:  # a referenced prompt was deleted since
            doc["resolved"] = None
            doc["resolveError"] = exc.message
        docs.append(doc)
    return json_response(
        {
            "name": name,
            "versions": docs,
            "protectedLabels": sorted(PROTECTED_LABELS),
            "permissions": sorted(p.name for p in caller.permissions),
        }
    )


def _created_by(caller: Caller) -> str:
    return caller.user.email if caller.user is not None else "API"


async def ui_create(request: web.Request) -> web.Response:
    _, caller = await _caller(request)
    caller.require(Permission.WRITE_CONTENT, "create prompts")
    try:
        new = parse_new(await _json(request))
        if set(new.labels) & PROTECTED_LABELS:
            caller.require(Permission.MANAGE_PROTECTED_LABELS, "set protected labels (production)")
        doc = await _service(request).create(caller.project_id, new, _created_by(caller))
    except PromptRuleError as exc:
        raise _ui_error(exc) from None
    return json_response(doc, status=201)


async def ui_labels(request: web.Request) -> web.Response:
    _, caller = await _caller(request)
    caller.require(Permission.WRITE_CONTENT, "change prompt labels")
    name = request.query.get("name", "")
    service = _service(request)
    try:
        version = positive_int(request.query.get("version"), "version")
        body = await _json(request)
        if not isinstance(body, dict):
            raise PromptRuleError("labels", "expected {labels: [...]}")
        labels = check_labels(body.get("labels"), "labels")
    except PromptRuleError as exc:
        raise _ui_error(exc) from None
    if version is None:
        raise InvalidInput("version: required")
    versions = await service.versions(caller.project_id, name)
    current = next((v for v in versions if v.version == version), None)
    if current is None:
        raise NotFound(f"prompt {name!r} has no version {version}")
    # The UI sends the version's whole label list: labels dropped from it are taken away.
    removed = set(current.labels) - set(labels)
    added = service.protected_changes(versions, version, labels)
    if (removed | added) & PROTECTED_LABELS:
        caller.require(Permission.MANAGE_PROTECTED_LABELS, "move protected labels (production)")
    doc = await service.set_labels(caller.project_id, name, version, labels, replace=True)
    return json_response(doc)


async def ui_tags(request: web.Request) -> web.Response:
    """The prompt's tags, the same on every version, replaced by the body's ``tags``."""
    _, caller = await _caller(request)
    caller.require(Permission.WRITE_CONTENT, "change prompt tags")
    body = await _json(request)
    try:
        doc = await _service(request).set_tags(
            caller.project_id, request.query.get("name", ""), body.get("tags") if isinstance(body, dict) else None
        )
    except PromptRuleError as exc:
        raise _ui_error(exc) from None
    return json_response(doc)


async def ui_delete(request: web.Request) -> web.Response:
    _, caller = await _caller(request)
    caller.require(Permission.WRITE_CONTENT, "delete prompts")
    name = request.query.get("name", "")
    service = _service(request)
    try:
        version = positive_int(request.query.get("version"), "version")
    except PromptRuleError as exc:
        raise _ui_error(exc) from None
    versions = await service.versions(caller.project_id, name)
    doomed = [v for v in versions if version is None or v.version == version]
    if any(set(v.labels) & PROTECTED_LABELS for v in doomed):
        caller.require(Permission.MANAGE_PROTECTED_LABELS, "delete a version with a protected label")
    deleted = await service.delete(caller.project_id, name, version)
    return json_response({"deleted": deleted})


async def ui_metrics(request: web.Request) -> web.Response:
    """Per version: linked observations, latency p50/p95, tokens, cost and mean scores."""
    store, caller = await _caller(request)
    caller.require(Permission.VIEW_DATA, "read prompts")
    name = request.query.get("name", "")
    try:
        days = positive_int(request.query.get("days"), "days") or 30
    except PromptRuleError as exc:
        raise _ui_error(exc) from None
    since = time.time_ns() - min(days, 3650) * DAY_NS
    usage, scores = await store.prompts.usage(caller.project_id, name, since)
    return json_response({"name": name, "days": days, "versions": usage_by_version(usage, scores)})


def usage_by_version(usage: list[dict[str, Any]], scores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A store's usage rows and score means (``used_version`` each) as one entry per version."""
    by_version: dict[str, dict[str, Any]] = {}
    for row in usage:
        version = row.pop("used_version")
        by_version[version] = {**row, "version": version, "scores": {}}
    for row in scores:
        version = row["used_version"]
        entry = by_version.setdefault(version, {"version": version, "scores": {}})
        entry["scores"][row["score_name"]] = {"n": row["n"], "mean": row["mean"]}
    return list(by_version.values())


async def ui_observations(request: web.Request) -> web.Response:
    """The newest observations that used one version of a prompt."""
    store, caller = await _caller(request)
    caller.require(Permission.VIEW_DATA, "read prompts")
    try:
        version = positive_int(request.query.get("version"), "version")
        days = positive_int(request.query.get("days"), "days") or 30
        limit = min(positive_int(request.query.get("limit"), "limit") or 50, 500)
    except PromptRuleError as exc:
        raise _ui_error(exc) from None
    if version is None:
        raise InvalidInput("version: required")
    since = time.time_ns() - min(days, 3650) * DAY_NS
    rows = await store.prompts.linked(caller.project_id, request.query.get("name", ""), version, since, limit)
    return json_response({"items": rows})


def prompt_routes() -> list[web.RouteDef]:
    """Langfuse's prompt API (v2 and legacy v1) and the UI's prompt routes."""
    v2 = f"{PREFIX}/v2/prompts"
    return [
        web.get(v2, langfuse_rules_route(list_prompts)),
        web.post(v2, langfuse_rules_route(create_prompt)),
        web.patch(v2 + r"/{name:.+}/versions/{version:\d+}", langfuse_rules_route(patch_labels)),
        web.get(v2 + "/{name:.+}", langfuse_rules_route(get_prompt)),
        web.delete(v2 + "/{name:.+}", langfuse_rules_route(delete_prompt)),
        web.get(f"{PREFIX}/prompts", langfuse_rules_route(v1_get)),
        web.post(f"{PREFIX}/prompts", langfuse_rules_route(v1_create)),
        web.get("/api/v1/prompts", ui_list),
        web.post("/api/v1/prompts", ui_create),
        web.get("/api/v1/prompt", ui_prompt),
        web.put("/api/v1/prompt/labels", ui_labels),
        web.put("/api/v1/prompt/tags", ui_tags),
        web.delete("/api/v1/prompt", ui_delete),
        web.get("/api/v1/prompt/metrics", ui_metrics),
        web.get("/api/v1/prompt/observations", ui_observations),
    ]
