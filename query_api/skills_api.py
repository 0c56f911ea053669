"""Skill management over HTTP: Langfuse's skills API (key pairs, as the 5.2 SDKs and the CLI call
it) and the UI's routes (signed-in people, with roles), both on ``prompts.skills.SkillService``.

Langfuse's routes answer in its shapes: 400 ``{"message": "Invalid request data", "error":
[issues]}``, 404 ``LangfuseNotFoundError``, 409 with ``Retry-After`` when a concurrent create took
the version number.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from prompts.rules import PROTECTED_LABELS, PromptRuleError, check_labels, pick_version
from prompts.skills import SkillService, parse_new_skill
from query_api.access import Caller, caller_for
from query_api.admin import STORE_KEY
from query_api.langfuse_api import PREFIX, langfuse_json
from query_api.prompts_api import langfuse_rules_route, name_in_path, positive_int, usage_by_version
from query_api.requests import read_json
from query_api.responses import json_response
from storage import Store
from tracehouse.errors import InvalidInput
from tracehouse.roles import Permission

__all__ = ["SKILLS_KEY", "SkillService", "skill_routes"]

SKILLS_KEY = web.AppKey("skills", SkillService)
MAX_LIMIT = 100
DAY_NS = 86_400 * 10**9


def _service(request: web.Request) -> SkillService:
    return request.app[SKILLS_KEY]


def _time(value: str | None, field: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PromptRuleError(field, "expected an ISO-8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _flag(value: str | None, field: str) -> bool:
    if value is None or value.lower() in ("", "false", "0"):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise PromptRuleError(field, "expected true or false")


# -- Langfuse's API (key pairs) ----------------------------------------------------------------


async def list_skills(request: web.Request, project: str) -> web.Response:
    q = request.query
    page = positive_int(q.get("page"), "page") or 1
    limit = positive_int(q.get("limit"), "limit") or 50
    if limit > MAX_LIMIT:
        raise PromptRuleError("limit", f"at most {MAX_LIMIT}")
    name, tag, search = q.get("name"), q.get("tag"), (q.get("search") or "").lower()
    since, until = _time(q.get("fromUpdatedAt"), "fromUpdatedAt"), _time(q.get("toUpdatedAt"), "toUpdatedAt")
    out = []
    for meta in await _service(request).summaries(project):
        newest = meta.pop("_versions")[-1]
        if name is not None and meta["name"] != name:
            continue
        if tag is not None and tag not in meta["tags"]:
            continue
        if search and search not in meta["name"].lower() and search not in meta["description"].lower():
            continue
        if (since is not None and newest.updated_at < since) or (until is not None and newest.updated_at >= until):
            continue
        out.append(meta)
    total = len(out)
    pages = -(-total // limit)
    meta_doc = {"page": page, "limit": limit, "totalItems": total, "totalPages": pages, "hasNextPage": page < pages}
    return langfuse_json({"data": out[(page - 1) * limit : page * limit], "meta": meta_doc})


async def create_skill(request: web.Request, project: str) -> web.Response:
    doc = await _service(request).create(project, parse_new_skill(await read_json(request)), "API")
    return langfuse_json(doc, 201)


async def get_skill(request: web.Request, project: str) -> web.Response:
    q = request.query
    version = positive_int(q.get("version"), "version")
    label = q.get("label") or None
    if version is not None and label is not None:
        raise PromptRuleError("version", "give either version or label, not both")
    include = _flag(q.get("includeContent"), "includeContent")
    service = _service(request)
    v, versions = await service.find(project, name_in_path(request), version, label)
    return langfuse_json(await service.document(v, versions, include))


async def update_skill(request: web.Request, project: str) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict) or "tags" not in body:
        raise PromptRuleError("tags", "expected {tags: [...]}")
    return langfuse_json(await _service(request).set_tags(project, name_in_path(request), body["tags"]))


async def set_labels(request: web.Request, project: str) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("labels"), list):
        raise PromptRuleError("labels", "expected a list of labels")
    labels = check_labels(body["labels"], "labels")
    version = positive_int(request.match_info["version"], "version")
    assert version is not None
    return langfuse_json(await _service(request).set_labels(project, name_in_path(request), version, labels))


async def delete_version(request: web.Request, project: str) -> web.Response:
    version = positive_int(request.match_info["version"], "version")
    assert version is not None
    await _service(request).delete_version(project, name_in_path(request), version)
    return langfuse_json({"deleted": True})


async def file_contents(request: web.Request, project: str) -> web.Response:
    raw = request.query.get("sha256Hashes", "")
    # A '+' of base64 sent unencoded arrives as a space, which base64 never holds.
    hashes = [h.replace(" ", "+").strip() for h in raw.split(",") if h.strip()]
    return langfuse_json({"data": await _service(request).contents(project, hashes)})


# -- the UI's routes (people and roles) -----------------------------------------------------------


async def _caller(request: web.Request) -> tuple[Store, Caller]:
    store: Store = request.app[STORE_KEY]
    return store, await caller_for(request, store)


def _ui(fn: Callable[[web.Request], Awaitable[web.Response]]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A UI route: a broken rule is the UI's 400, with its field."""

    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await fn(request)
        except PromptRuleError as exc:
            raise InvalidInput(f"{exc.path}: {exc.message}") from None

    return wrapped


def _permissions(caller: Caller) -> list[str]:
    return sorted(p.name for p in caller.permissions)


async def ui_list(request: web.Request) -> web.Response:
    """Every skill of the project: its newest version's description, its labels and tags."""
    _, caller = await _caller(request)
    caller.require(Permission.VIEW_DATA, "read skills")
    service = _service(request)
    items = []
    for meta in await service.summaries(caller.project_id):
        versions = meta.pop("_versions")
        meta["versions"] = [v.version for v in versions]
        meta["labels"] = sorted({label for v in versions for label in service.labels_of(v, versions)})
        items.append(meta)
    return json_response({"items": items, "permissions": _permissions(caller)})


async def ui_skill(request: web.Request) -> web.Response:
    """All versions of one skill, newest first; the chosen one (default the newest) with its texts.
    A name this project does not hold has none (``selected`` null), and a version it does not hold
    (deleted, or an agent's own) is named in ``missingVersion`` beside the newest: traces link to
    whatever an agent reported, and the page shows what reported it rather than an error."""
    _, caller = await _caller(request)
    caller.require(Permission.VIEW_DATA, "read skills")
    name = request.query.get("name", "")
    service = _service(request)
    wanted = positive_int(request.query.get("version"), "version")
    versions = await service.versions(caller.project_id, name)
    chosen = pick_version(versions, wanted, None if wanted else "latest")
    missing = wanted if chosen is None and versions else None
    if missing is not None:
        chosen = pick_version(versions, None, "latest")
    docs = [await service.document(v, versions) for v in reversed(versions)]
    return json_response(
        {
            "name": name,
            "versions": docs,
            "selected": await service.document(chosen, versions, include_content=True) if chosen else None,
            "missingVersion": missing,
            "protectedLabels": sorted(PROTECTED_LABELS),
            "permissions": _permissions(caller),
        }
    )


def _created_by(caller: Caller) -> str:
    return caller.user.email if caller.user is not None else "API"


async def ui_create(request: web.Request) -> web.Response:
    _, caller = await _caller(request)
    caller.require(Permission.WRITE_CONTENT, "create skills")
    new = parse_new_skill(await read_json(request), labels_allowed=True)
    if set(new.labels) & PROTECTED_LABELS:
        caller.require(Permission.MANAGE_PROTECTED_LABELS, "set protected labels (production)")
    doc = await _service(request).create(caller.project_id, new, _created_by(caller))
    return json_response(doc, status=201)


async def ui_labels(request: web.Request) -> web.Response:
    _, caller = await _caller(request)
    caller.require(Permission.WRITE_CONTENT, "change skill labels")
    name = request.query.get("name", "")
    version = positive_int(request.query.get("version"), "version")
    if version is None:
        raise InvalidInput("version: required")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise PromptRuleError("labels", "expected {labels: [...]}")
    labels = check_labels(body.get("labels"), "labels")
    service = _service(request)
    current, versions = await service.find(caller.project_id, name, version=version)
    holders = {label for v in versions if v.version != version for label in v.labels}
    touched = (set(current.labels) ^ set(labels)) | (set(labels) & holders)
    if touched & PROTECTED_LABELS:
        caller.require(Permission.MANAGE_PROTECTED_LABELS, "move protected labels (production)")
    return json_response(await service.set_labels(caller.project_id, name, version, labels))


async def ui_tags(request: web.Request) -> web.Response:
    _, caller = await _caller(request)
    caller.require(Permission.WRITE_CONTENT, "change skill tags")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise PromptRuleError("tags", "expected {tags: [...]}")
    return json_response(
        await _service(request).set_tags(caller.project_id, request.query.get("name", ""), body.get("tags"))
    )


async def ui_delete(request: web.Request) -> web.Response:
    """One version of a skill deleted, or (no ``version``) the whole skill."""
    _, caller = await _caller(request)
    caller.require(Permission.WRITE_CONTENT, "delete skill versions")
    name = request.query.get("name", "")
    version = positive_int(request.query.get("version"), "version")
    service = _service(request)
    if version is None:
        doomed = await service.versions(caller.project_id, name)
    else:
        doomed = [(await service.find(caller.project_id, name, version=version))[0]]
    if any(set(v.labels) & PROTECTED_LABELS for v in doomed):
        caller.require(Permission.MANAGE_PROTECTED_LABELS, "delete a version with a protected label")
    return json_response({"deleted": await service.delete_version(caller.project_id, name, version)})


async def ui_observations(request: web.Request) -> web.Response:
    """The newest observations that reported the skill as available, with the version each named."""
    store, caller = await _caller(request)
    caller.require(Permission.VIEW_DATA, "read skills")
    days = positive_int(request.query.get("days"), "days") or 30
    limit = min(positive_int(request.query.get("limit"), "limit") or 50, 500)
    since = time.time_ns() - min(days, 3650) * DAY_NS
    rows = await store.skills.reported(caller.project_id, request.query.get("name", ""), since, limit)
    return json_response({"days": days, "items": rows})


async def ui_metrics(request: web.Request) -> web.Response:
    """Per version the observations reported: their count, latency p50/p95, tokens, cost and mean
    scores (to compare versions)."""
    store, caller = await _caller(request)
    caller.require(Permission.VIEW_DATA, "read skills")
    days = positive_int(request.query.get("days"), "days") or 30
    since = time.time_ns() - min(days, 3650) * DAY_NS
    usage, scores = await store.skills.usage(caller.project_id, request.query.get("name", ""), since)
    return json_response({"days": days, "versions": usage_by_version(usage, scores)})


def skill_routes() -> list[web.RouteDef]:
    """Langfuse's skills API and the UI's skill routes."""
    base = f"{PREFIX}/skills"
    return [
        web.get(base, langfuse_rules_route(list_skills)),
        web.post(base, langfuse_rules_route(create_skill)),
        web.get(base + "/files/content", langfuse_rules_route(file_contents)),
        web.patch(base + r"/{name}/versions/{version:\d+}", langfuse_rules_route(set_labels)),
        web.delete(base + r"/{name}/versions/{version:\d+}", langfuse_rules_route(delete_version)),
        web.get(base + "/{name}", langfuse_rules_route(get_skill)),
        web.patch(base + "/{name}", langfuse_rules_route(update_skill)),
        web.get("/api/v1/skills", ui_list),
        web.post("/api/v1/skills", _ui(ui_create)),
        web.get("/api/v1/skill", _ui(ui_skill)),
        web.put("/api/v1/skill/labels", _ui(ui_labels)),
        web.put("/api/v1/skill/tags", _ui(ui_tags)),
        web.delete("/api/v1/skill", _ui(ui_delete)),
        web.get("/api/v1/skill/observations", _ui(ui_observations)),
        web.get("/api/v1/skill/metrics", _ui(ui_metrics)),
    ]
