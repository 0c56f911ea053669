"""Score configs and annotation queues over HTTP, Langfuse's paths (``/api/public/score-configs``,
``/api/public/annotation-queues``), for key pairs and for signed-in people alike. Reading needs
VIEW_DATA; writing configs and queues WRITE_CONTENT; scoring a queue item SCORE. Scores people give
are written through the ingest path with source ANNOTATION and the person's id."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import orjson
from aiohttp import web

from query_api.access import Caller, caller_for
from query_api.admin import STORE_KEY, notify_changed
from query_api.requests import paged, read_json
from query_api.responses import json_response
from storage import Store
from storage.annotations import ScoreConfig
from tracehouse.errors import InvalidInput, NotFound
from tracehouse.roles import Permission

__all__ = ["SCORE_SINK_KEY", "annotation_routes"]

SCORE_SINK_KEY = web.AppKey("score_sink", object)
PREFIX = "/api/public"
DATA_TYPES = ("NUMERIC", "CATEGORICAL", "BOOLEAN")
OBJECT_TYPES = ("TRACE", "OBSERVATION", "SESSION")
BOOLEAN_CATEGORIES = [{"label": "True", "value": 1}, {"label": "False", "value": 0}]


def _iso(t: Any) -> str | None:
    if t is None:
        return None
    if not isinstance(t, dt.datetime):
        t = dt.datetime.fromisoformat(str(t))
    t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _body(request: web.Request) -> Any:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput("expected a JSON object")
    return body


async def _caller(request: web.Request, permission: Permission, what: str) -> tuple[Store, Caller]:
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(permission, what)
    return store, caller


# -- score configs ----------------------------------------------------------------------------------


def config_json(c: ScoreConfig) -> dict[str, Any]:
    return {
        "id": c.id, "name": c.name, "dataType": c.data_type, "isArchived": c.is_archived, "minValue": c.min_value,
        "maxValue": c.max_value, "categories": orjson.loads(c.categories) if c.categories else None,
        "description": c.description or None, "projectId": c.project_id, "createdAt": _iso(c.created_at),
        "updatedAt": _iso(c.updated_at),
    }  # fmt: skip


def _number(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidInput(f"{field}: a number")
    return float(value)


def _description(body: dict[str, Any]) -> str:
    """A body's optional description: text (InvalidInput otherwise), trimmed."""
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        raise InvalidInput("description: text of at most 2000 characters")
    return (description or "").strip()


def _config_fields(body: dict[str, Any], data_type: str) -> tuple[float | None, float | None, str]:
    lo, hi = _number(body.get("minValue"), "minValue"), _number(body.get("maxValue"), "maxValue")
    categories = body.get("categories")
    if data_type == "NUMERIC":
        if lo is not None and hi is not None and lo >= hi:
            raise InvalidInput("minValue must be below maxValue")
        return lo, hi, ""
    if data_type == "BOOLEAN":
        if categories is not None and categories != BOOLEAN_CATEGORIES:
            raise InvalidInput("a BOOLEAN config has exactly the categories True = 1 and False = 0")
        return None, None, orjson.dumps(BOOLEAN_CATEGORIES).decode()
    if (
        not isinstance(categories, list)
        or not categories
        or not all(
            isinstance(c, dict)
            and isinstance(c.get("label"), str)
            and c["label"]
            and isinstance(c.get("value"), (int, float))
            for c in categories
        )
    ):
        raise InvalidInput("categories: a non-empty list of {label, value}")
    labels = [c["label"] for c in categories]
    if len(set(labels)) != len(labels) or len({c["value"] for c in categories}) != len(labels):
        raise InvalidInput("categories: labels and values must be unique")
    return None, None, orjson.dumps([{"label": c["label"], "value": c["value"]} for c in categories]).decode()


async def create_config(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.WRITE_CONTENT, "create score configs")
    body = await _body(request)
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 35:
        raise InvalidInput("name: 1 to 35 characters")
    data_type = str(body.get("dataType", "")).upper()
    if data_type not in DATA_TYPES:
        raise InvalidInput(f"dataType: one of {', '.join(DATA_TYPES)}")
    lo, hi, categories = _config_fields(body, data_type)
    now = dt.datetime.now(dt.UTC)
    config = ScoreConfig(caller.project_id, str(uuid.uuid4()), name.strip(), data_type, lo, hi, categories,
                         _description(body), False, now, now)  # fmt: skip
    await store.annotations.put_config(config)
    notify_changed(request)  # the receiver checks scores against configs from a short cache
    return json_response(config_json(config))


async def _config(store: Store, project: str, config_id: str) -> ScoreConfig:
    for c in await store.annotations.configs(project):
        if c.id == config_id:
            return c
    raise NotFound(f"Score config not found: {config_id}")


async def list_configs(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.VIEW_DATA, "read score configs")
    return json_response(paged(request, [config_json(c) for c in await store.annotations.configs(caller.project_id)]))


async def get_config(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.VIEW_DATA, "read score configs")
    return json_response(config_json(await _config(store, caller.project_id, request.match_info["id"])))


async def patch_config(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.WRITE_CONTENT, "change score configs")
    c = await _config(store, caller.project_id, request.match_info["id"])
    body = await _body(request)
    changes: dict[str, Any] = {}
    if "isArchived" in body:
        if not isinstance(body["isArchived"], bool):
            raise InvalidInput("isArchived: true or false")
        changes["is_archived"] = body["isArchived"]
    if "name" in body:
        if not isinstance(body["name"], str) or not 1 <= len(body["name"].strip()) <= 35:
            raise InvalidInput("name: 1 to 35 characters")
        changes["name"] = body["name"].strip()
    if "description" in body:
        changes["description"] = _description(body)
    if {"minValue", "maxValue", "categories"} & set(body):
        merged = {"minValue": c.min_value, "maxValue": c.max_value,
                  "categories": orjson.loads(c.categories) if c.categories else None, **body}  # fmt: skip
        lo, hi, categories = _config_fields(merged, c.data_type)
        changes.update(min_value=lo, max_value=hi, categories=categories)
    updated = ScoreConfig(**{**c.__dict__, **changes, "updated_at": dt.datetime.now(dt.UTC)})
    await store.annotations.put_config(updated)
    notify_changed(request)
    return json_response(config_json(updated))


# -- annotation queues ------------------------------------------------------------------------------

# A queue's items listed, or their objects named, at most this many at once.
MOST_ITEMS_AT_ONCE = 1000


def queue_json(q: dict[str, Any]) -> dict[str, Any]:
    return {"id": q["id"], "name": q["name"], "description": q["description"] or None,
            "scoreConfigIds": list(q["score_config_ids"]), "assignees": list(q["assignees"]),
            "createdAt": _iso(q["created_at"]), "updatedAt": _iso(q["updated_at"])}  # fmt: skip


def item_json(i: dict[str, Any]) -> dict[str, Any]:
    return {"id": i["id"], "queueId": i["queue_id"], "objectId": i["object_id"], "objectType": i["object_type"],
            "traceId": i["trace_id"] or None, "status": i["status"], "completedAt": _iso(i["completed_at"]),
            "completedBy": i["completed_by"] or None, "createdAt": _iso(i["created_at"]),
            "updatedAt": _iso(i["updated_at"])}  # fmt: skip


async def _queue(store: Store, project: str, queue_id: str) -> dict[str, Any]:
    for q in await store.annotations.queues(project):
        if q["id"] == queue_id:
            return q
    raise NotFound(f"Annotation queue not found: {queue_id}")


async def _queue_fields(store: Store, project: str, body: dict[str, Any]) -> dict[str, Any]:
    """A queue's name, description and score configs from a body, each checked (InvalidInput)."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name: required")
    ids = body.get("scoreConfigIds")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidInput("scoreConfigIds: at least one score config id")
    known = {c.id for c in await store.annotations.configs(project)}
    if set(ids) - known:
        raise InvalidInput(f"scoreConfigIds: unknown {', '.join(sorted(set(ids) - known))}")
    return {"name": name.strip(), "description": _description(body), "score_config_ids": list(dict.fromkeys(ids))}


async def create_queue(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.WRITE_CONTENT, "create annotation queues")
    fields = await _queue_fields(store, caller.project_id, await _body(request))
    row = {"id": str(uuid.uuid4()), **fields, "assignees": []}
    await store.annotations.put_queue(caller.project_id, row)
    return json_response(queue_json(await _queue(store, caller.project_id, row["id"])))


async def change_queue(request: web.Request) -> web.Response:
    """A queue renamed, described or given other score configs from the UI (Langfuse's API has no
    such call). Its items stay; scores given in it stay, whatever configs it offers from now on."""
    store, caller = await _caller(request, Permission.WRITE_CONTENT, "change annotation queues")
    queue = await _queue(store, caller.project_id, request.query.get("id", ""))
    fields = await _queue_fields(store, caller.project_id, await _body(request))
    row = {"id": queue["id"], "assignees": queue["assignees"], "created_at": queue["created_at"], **fields}
    await store.annotations.put_queue(caller.project_id, row)
    return json_response(queue_json(await _queue(store, caller.project_id, queue["id"])))


async def delete_queue(request: web.Request) -> web.Response:
    """A queue deleted from the UI (Langfuse's API has no such call): its items go with it, the
    scores given in it stay."""
    store, caller = await _caller(request, Permission.WRITE_CONTENT, "delete annotation queues")
    queue = await _queue(store, caller.project_id, request.query.get("id", ""))
    row = {k: queue[k] for k in ("id", "name", "description", "score_config_ids", "assignees", "created_at")}
    await store.annotations.put_queue(caller.project_id, row, deleted=True)
    return json_response({"deleted": True})


async def list_queues(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.VIEW_DATA, "read annotation queues")
    queues = await store.annotations.queues(caller.project_id)
    counts = await store.annotations.item_counts(caller.project_id)
    data = []
    for q in queues:
        items, done = counts.get(q["id"], (0, 0))
        data.append({**queue_json(q), "items": items, "completed": done})
    return json_response(paged(request, data))


async def get_queue(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.VIEW_DATA, "read annotation queues")
    return json_response(queue_json(await _queue(store, caller.project_id, request.match_info["id"])))


async def list_items(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.VIEW_DATA, "read annotation queues")
    await _queue(store, caller.project_id, request.match_info["id"])
    items = await store.annotations.items(caller.project_id, request.match_info["id"])
    status = request.query.get("status")
    # Up to 1,000 a page (Langfuse's own clients ask for 50 or 100): the UI reads a whole queue.
    listed = [item_json(i) for i in items if status is None or i["status"] == status]
    return json_response(paged(request, listed, MOST_ITEMS_AT_ONCE))


async def add_item(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.SCORE, "add to annotation queues")
    queue = await _queue(store, caller.project_id, request.match_info["id"])
    body = await _body(request)
    object_id, object_type = body.get("objectId"), str(body.get("objectType", "TRACE")).upper()
    if not isinstance(object_id, str) or not object_id:
        raise InvalidInput("objectId: required")
    if object_type not in OBJECT_TYPES:
        raise InvalidInput(f"objectType: one of {', '.join(OBJECT_TYPES)}")
    trace_id = object_id if object_type == "TRACE" else ""
    if object_type == "OBSERVATION":
        trace_id = await store.annotations.trace_of(caller.project_id, object_id) or ""
        if not trace_id:
            raise NotFound(f"Observation not found: {object_id}")
    existing = await store.annotations.items(caller.project_id, queue["id"], object_id=object_id)
    if existing:
        return json_response(item_json(existing[0]))  # an object is in a queue once
    row = {"id": str(uuid.uuid4()), "queue_id": queue["id"], "object_id": object_id, "object_type": object_type,
           "trace_id": trace_id, "status": str(body.get("status", "PENDING")).upper(), "completed_by": "",
           "completed_at": None}  # fmt: skip
    if row["status"] not in ("PENDING", "COMPLETED"):
        raise InvalidInput("status: PENDING or COMPLETED")
    await store.annotations.put_item(caller.project_id, row)
    (item,) = await store.annotations.items(caller.project_id, queue["id"], item_id=row["id"])
    return json_response(item_json(item))


async def _item(store: Store, project: str, queue_id: str, item_id: str) -> dict[str, Any]:
    await _queue(store, project, queue_id)  # a deleted queue's items went with it
    for i in await store.annotations.items(project, queue_id, item_id=item_id):
        return i
    raise NotFound(f"Annotation queue item not found: {item_id}")


async def get_item(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.VIEW_DATA, "read annotation queues")
    return json_response(
        item_json(await _item(store, caller.project_id, request.match_info["id"], request.match_info["item"]))
    )


async def patch_item(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.SCORE, "annotate")
    item = await _item(store, caller.project_id, request.match_info["id"], request.match_info["item"])
    body = await _body(request)
    status = str(body.get("status", item["status"])).upper()
    if status not in ("PENDING", "COMPLETED"):
        raise InvalidInput("status: PENDING or COMPLETED")
    who = caller.user.id if caller.user else "API"
    done = status == "COMPLETED"
    row = {k: item[k] for k in ("id", "queue_id", "object_id", "object_type", "trace_id", "created_at")}
    row.update(status=status, completed_by=who if done else "", completed_at=dt.datetime.now(dt.UTC) if done else None)
    await store.annotations.put_item(caller.project_id, row)
    return json_response(item_json(await _item(store, caller.project_id, item["queue_id"], item["id"])))


async def delete_item(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.SCORE, "change annotation queues")
    item = await _item(store, caller.project_id, request.match_info["id"], request.match_info["item"])
    row = {k: item[k] for k in ("id", "queue_id", "object_id", "object_type", "trace_id", "status", "completed_by",
                                "completed_at", "created_at")}  # fmt: skip
    await store.annotations.put_item(caller.project_id, row, deleted=True)
    return json_response({"success": True, "message": "Item removed from the queue"})


def _score_events(
    caller: Caller,
    configs: dict[str, ScoreConfig],
    body: dict[str, Any],
    object_type: str,
    object_id: str,
    trace_id: str,
    score_id: Any,
    extra: dict[str, Any],
) -> list[dict[str, Any]]:
    """The score-create events of a person's ``body`` ({scores: {configId: value}, comment}) on one
    object, each value checked against its config (one of ``configs``: InvalidInput otherwise)."""
    scores = body.get("scores")
    if not isinstance(scores, dict):
        raise InvalidInput("scores: {configId: value}")
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput("comment: text")
    who = caller.user.id if caller.user else "API"
    now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    events = []
    for config_id, value in scores.items():
        config = configs.get(config_id)
        if config is None:
            raise InvalidInput(f"{config_id} is not a score config of this project")
        problem = config.problem(value, None)
        if problem:
            raise InvalidInput(problem)
        score: dict[str, Any] = {
            "id": score_id(config_id),
            "traceId": trace_id,
            "name": config.name,
            "source": "ANNOTATION",
            "dataType": config.data_type,
            "configId": config_id,
            "comment": comment or None,
            "metadata": {"annotatedBy": who},
            "value": value,
            **extra,
        }
        if object_type == "OBSERVATION":
            score["observationId"] = object_id
        elif object_type == "SESSION":
            score["sessionId"] = object_id
        events.append({"id": str(uuid.uuid4()), "type": "score-create", "timestamp": now, "body": score})
    return events


async def _write_scores(request: web.Request, caller: Caller, events: list[dict[str, Any]]) -> None:
    sink = request.app.get(SCORE_SINK_KEY)
    if sink is None:
        raise InvalidInput("annotating needs an ingest path in this process (`tracehouse serve` or `query`)")
    if events:
        await sink(caller.project_id, events)  # type: ignore[operator]


async def annotate_object(request: web.Request) -> web.Response:
    """A person's scores on a trace, one of its observations, or a session, straight from their
    pages (no queue): one per person, config and object, so scoring again replaces it."""
    store, caller = await _caller(request, Permission.SCORE, "annotate")
    body = await _body(request)
    session_id = body.get("sessionId")
    if session_id is not None:  # a session's own score, from its page
        if not isinstance(session_id, str) or not session_id or "traceId" in body:
            raise InvalidInput("sessionId: the session's id (and no traceId)")
        if await store.reader.session_totals(caller.project_id, session_id) is None:
            raise NotFound(f"no session {session_id!r} in this project")
        object_type, object_id, trace_id = "SESSION", session_id, ""
    else:
        trace_id, observation_id = body.get("traceId"), body.get("observationId") or ""
        if not isinstance(trace_id, str) or not trace_id or not isinstance(observation_id, str):
            raise InvalidInput("traceId: the trace's id (and observationId: one of its observations, or none)")
        if await store.reader.trace_bounds(caller.project_id, trace_id) is None:
            raise NotFound(f"no trace {trace_id!r} in this project")
        # The score names both: one of another trace would show on neither's page.
        if observation_id and await store.annotations.trace_of(caller.project_id, observation_id) != trace_id:
            raise NotFound(f"no observation {observation_id!r} in trace {trace_id!r}")
        object_type, object_id = ("OBSERVATION", observation_id) if observation_id else ("TRACE", trace_id)
    configs = {c.id: c for c in await store.annotations.configs(caller.project_id)}
    who = caller.user.id if caller.user else "API"

    def score_id(config_id: str) -> str:
        key = f"{object_type}\n{object_id}\n{config_id}\n{who}".encode()
        return "ann-" + hashlib.sha256(key).hexdigest()[:32]

    events = _score_events(caller, configs, body, object_type, object_id, trace_id, score_id, {})
    await _write_scores(request, caller, events)
    return json_response({"scores": len(events)}, status=201)


async def delete_annotation(request: web.Request) -> web.Response:
    """A score a person gave deleted (from the trace view); scores of the API or a judge are not."""
    store, caller = await _caller(request, Permission.SCORE, "delete scores people gave")
    score_id = request.query.get("id", "")[:200]
    rows, _ = await store.langfuse.scores(caller.project_id, None, 1, 1, {"ids": [score_id]}, with_total=False)
    if not score_id or not rows:
        raise NotFound(f"no score {score_id!r} in this project")
    if rows[0]["source"] != "ANNOTATION":
        raise InvalidInput("only scores people gave are deleted here: delete others through the API")
    await store.langfuse_writer.delete_score(caller.project_id, score_id)
    return json_response({"deleted": True})


def _item_score_id(item_id: str, config_id: str) -> str:
    """One score per queue item and config: scoring again replaces it."""
    return f"ann-{item_id}-{config_id}"


async def item_scores(request: web.Request) -> web.Response:
    """The scores given on a queue item, by config, with their comment: the UI shows them when
    the item is opened again."""
    store, caller = await _caller(request, Permission.VIEW_DATA, "read annotation queues")
    queue = await _queue(store, caller.project_id, request.match_info["id"])
    item = await _item(store, caller.project_id, queue["id"], request.match_info["item"])
    ids = {_item_score_id(item["id"], c): c for c in queue["score_config_ids"]}
    rows, _ = await store.langfuse.scores(caller.project_id, None, 1, len(ids), {"ids": list(ids)}, with_total=False)
    return json_response({"scores": [
        {"configId": ids[r["id"]], "value": r["value"], "stringValue": r["string_value"] or None,
         "comment": r["comment"] or None}
        for r in rows if r["id"] in ids
    ]})  # fmt: skip


async def item_names(request: web.Request) -> web.Response:
    """The names of a queue's objects (traces and observations; a session's id is its name) on one
    page of its items (``page`` from 1, ``limit`` up to 1,000, as the items list pages them), for
    the UI's list of the queue's items: ``{"names": {objectId: name}}``, the unnamed left out."""
    store, caller = await _caller(request, Permission.VIEW_DATA, "read annotation queues")
    queue = await _queue(store, caller.project_id, request.match_info["id"])
    items = paged(request, await store.annotations.items(caller.project_id, queue["id"]), MOST_ITEMS_AT_ONCE)["data"]
    of = {kind: [i["object_id"] for i in items if i["object_type"] == kind] for kind in ("TRACE", "OBSERVATION")}
    return json_response(
        {"names": await store.annotations.object_names(caller.project_id, of["TRACE"], of["OBSERVATION"])}
    )


async def annotate(request: web.Request) -> web.Response:
    """The UI's scores for one queue item, each checked against its config, written with source
    ANNOTATION and the person's id; then the item is completed."""
    store, caller = await _caller(request, Permission.SCORE, "annotate")
    queue = await _queue(store, caller.project_id, request.match_info["id"])
    item = await _item(store, caller.project_id, queue["id"], request.match_info["item"])
    body = await _body(request)
    configs = {c.id: c for c in await store.annotations.configs(caller.project_id)}
    offered = {i: c for i, c in configs.items() if i in queue["score_config_ids"]}
    for config_id in body.get("scores") or {} if isinstance(body.get("scores"), dict) else {}:
        if config_id not in offered:
            raise InvalidInput(f"{config_id} is not a score config of this queue")
    # One score per (item, config): scoring again replaces it.
    events = _score_events(
        caller, offered, body, item["object_type"], item["object_id"], item["trace_id"],
        lambda config_id: _item_score_id(item["id"], config_id), {"queueId": queue["id"]},
    )  # fmt: skip
    await _write_scores(request, caller, events)
    if body.get("complete", True):
        row = {k: item[k] for k in ("id", "queue_id", "object_id", "object_type", "trace_id", "created_at")}
        row.update(status="COMPLETED", completed_by=caller.user.id if caller.user else "API",
                   completed_at=dt.datetime.now(dt.UTC))  # fmt: skip
        await store.annotations.put_item(caller.project_id, row)
    return json_response({"scores": len(events), "completed": bool(body.get("complete", True))})


async def _assign(request: web.Request, add: bool) -> web.Response:
    store, caller = await _caller(request, Permission.MANAGE_MEMBERS, "assign annotation queues")
    queue = await _queue(store, caller.project_id, request.match_info["id"])
    body = await _body(request)
    user_id = body.get("userId")
    if not isinstance(user_id, str) or await store.users.get(user_id) is None:
        raise InvalidInput("userId: the id of a person of this instance")
    assignees = [a for a in queue["assignees"] if a != user_id] + ([user_id] if add else [])
    row = {k: queue[k] for k in ("id", "name", "description", "score_config_ids", "created_at")}
    await store.annotations.put_queue(caller.project_id, {**row, "assignees": assignees})
    if add:
        return json_response({"userId": user_id, "projectId": caller.project_id, "queueId": queue["id"]})
    return json_response({"success": True})


async def assign(request: web.Request) -> web.Response:
    return await _assign(request, True)


async def unassign(request: web.Request) -> web.Response:
    return await _assign(request, False)


def annotation_routes() -> list[web.RouteDef]:
    q = f"{PREFIX}/annotation-queues"
    return [
        web.post(f"{PREFIX}/score-configs", create_config),
        web.get(f"{PREFIX}/score-configs", list_configs),
        web.get(f"{PREFIX}/score-configs/{{id}}", get_config),
        web.patch(f"{PREFIX}/score-configs/{{id}}", patch_config),
        web.post(q, create_queue),
        web.get(q, list_queues),
        web.get(f"{q}/{{id}}", get_queue),
        web.get(f"{q}/{{id}}/items", list_items),
        web.post(f"{q}/{{id}}/items", add_item),
        web.get(f"{q}/{{id}}/items/{{item}}", get_item),
        web.patch(f"{q}/{{id}}/items/{{item}}", patch_item),
        web.delete(f"{q}/{{id}}/items/{{item}}", delete_item),
        web.post(f"{q}/{{id}}/items/{{item}}/annotate", annotate),
        web.post("/api/v1/annotate", annotate_object),  # data, as a queue item's: not audited
        web.delete("/api/v1/annotations", delete_annotation),
        web.delete("/api/v1/annotation-queues", delete_queue),
        web.put("/api/v1/annotation-queues", change_queue),
        web.get("/api/v1/annotation-queues/{id}/items/{item}/scores", item_scores),
        web.get("/api/v1/annotation-queues/{id}/item-names", item_names),
        web.post(f"{q}/{{id}}/assignments", assign),
        web.delete(f"{q}/{{id}}/assignments", unassign),
    ]
