"""Langfuse's public read API (``/api/public/traces``, ``/observations``, ``/sessions``, ``/scores``,
``/metrics/daily``) with its field names and types, for SDKs and scripts.

Authentication is a Tracehouse key pair in ``Authorization: Basic``, as with Langfuse.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol

import orjson
from aiohttp import web

from query_api.access import CREDENTIALS_KEY
from query_api.admin import STORE_KEY
from storage import Store
from storage.attribute_codec import restore_attributes
from storage.langfuse import TRACE_ORDERS
from storage.observation_ids import sent_observation_id, stored_observation_id
from tracehouse.errors import Conflict, InvalidInput, NotFound, Unauthenticated

__all__ = [
    "PREFIX",
    "LangfuseError",
    "LangfuseReadApi",
    "langfuse_error",
    "langfuse_json",
    "langfuse_read_routes",
    "langfuse_route",
]

PREFIX = r"/{prefix:(?:.*/)?}api/public"
DAY_NS = 86_400 * 10**9
SESSION_PAGE = 1000  # traces read at a time for a session (Langfuse gives all of them)
MAX_DELETE = 10_000  # trace ids in one DELETE /traces


class LangfuseError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def langfuse_json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc, default=_default), status=status, content_type="application/json")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    moment = dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _io(text: str) -> Any:
    if not text:
        return None
    if text[:1] in ("{", "[", '"') or text in ("true", "false", "null") or text[:1].isdigit():
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
    return text


def _metadata(mapping: dict[str, str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (mapping or {}).items():
        try:
            out[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[key] = value
    return out


def iso_ns(value: str, name: str) -> int:
    """An ISO-8601 time (UTC when it names no zone) as epoch ns; Langfuse's 400 otherwise."""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise LangfuseError(400, "InvalidRequestError", f"{name} must be an ISO-8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1e9)


def _time_param(request: web.Request, name: str, default: int) -> int:
    value = request.query.get(name)
    return default if value is None else iso_ns(value, name)


MAX_PAGE = 1_000_000


def _page(request: web.Request) -> tuple[int, int]:
    try:
        page = int(request.query.get("page", "1"))
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise LangfuseError(400, "InvalidRequestError", "page and limit must be integers") from None
    # The offset (page - 1) * limit must fit ClickHouse's UInt64; a million pages is far past any data.
    if not 1 <= page <= MAX_PAGE or not 1 <= limit <= 100:
        raise LangfuseError(400, "InvalidRequestError", f"page must be 1 to {MAX_PAGE} and limit between 1 and 100")
    return page, limit


def _meta(page: int, limit: int, total: int) -> dict[str, int]:
    return {"page": page, "limit": limit, "totalItems": total, "totalPages": math.ceil(total / limit) if total else 0}


# The price table's cost kinds under the usage keys Langfuse prices them by (usageDetails' keys).
_LANGFUSE_COST_KEYS = {
    "cache_read": "input_cached_tokens",
    "cache_write": "input_cache_creation",
    "reasoning": "output_reasoning_tokens",
}


def observation_json(row: dict[str, Any]) -> dict[str, Any]:
    row = restore_attributes(dict(row))
    start, end = row["start_time"], row["end_time"]
    parent = row["parent_span_id"]
    if not parent or (row["source"] == "langfuse" and parent == row["trace_id"]):
        parent = None
    else:
        parent = sent_observation_id(parent, row["trace_id"])
    completion = row["completion_start_time"]
    costs = {_LANGFUSE_COST_KEYS.get(k, k): float(v) for k, v in (row["cost_details"] or {}).items()}
    usage = row["usage_details"] or {}
    return {
        "id": sent_observation_id(row["span_id"], row["trace_id"]),
        "traceId": row["trace_id"],
        "type": row["observation_type"],
        "name": row["name"],
        "startTime": iso(start),
        "endTime": iso(end),
        "completionStartTime": iso(completion),
        "model": row["model"] or None,
        "modelParameters": _io(row["model_parameters"]) or {},
        "input": _io(row["input"]),
        "output": _io(row["output"]),
        "version": row["version"] or None,
        "metadata": _metadata(row["metadata"]),
        "usage": {
            "input": row["input_tokens"],
            "output": row["output_tokens"],
            "total": row["total_tokens"],
            "unit": "TOKENS",
        },
        "level": row["level"],
        "statusMessage": row["status_message"] or None,
        "parentObservationId": parent,
        "promptId": None,
        "promptName": row["prompt_name"] or None,
        "promptVersion": int(v) if (v := row["prompt_version"]).isascii() and v.isdigit() else None,
        "usageDetails": dict(usage),
        "costDetails": costs,
        "environment": row["environment"],
        "modelId": None,
        "inputPrice": None,
        "outputPrice": None,
        "totalPrice": None,
        "calculatedInputCost": costs.get("input"),
        "calculatedOutputCost": costs.get("output"),
        "calculatedTotalCost": float(row["total_cost"]),
        "latency": (end - start) / 1e9,
        "timeToFirstToken": (completion - start) / 1e9 if completion else None,
    }


# Langfuse's score attributes this store does not keep: every score here has them empty, so a
# filter on one of them matches none (answering all would hand back scores the client left out).
_UNKEPT_SCORE_FIELDS = ("configId", "queueId", "authorUserId", "experimentId")
_SCORE_OPERATORS = {"<": "<", ">": ">", "<=": "<=", ">=": ">=", "!=": "!=", "=": "=", "==": "="}


def _number(q: Any, name: str) -> float | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise LangfuseError(400, "InvalidRequestError", f"{name} must be a number") from None
    if not math.isfinite(value):
        raise LangfuseError(400, "InvalidRequestError", f"{name} must be a finite number")
    return value


def score_filters(q: Any) -> dict[str, object]:
    """The score list filters of Langfuse's query parameters (v1, v2 and v3 alike). Every
    parameter Langfuse filters by is applied or refused: none is ignored."""
    filters: dict[str, object] = {
        "filter": q.get("filter") or None,
        "name": q.get("name"),
        "source": q.get("source"),
        "data_type": q.get("dataType"),
        "session_id": q.get("sessionId"),
        "observation_id": q.get("observationId"),
        "user_id": q.get("userId"),
        "from": iso_ns(q["fromTimestamp"], "fromTimestamp") if q.get("fromTimestamp") else None,
        "to": iso_ns(q["toTimestamp"], "toTimestamp") if q.get("toTimestamp") else None,
    }
    environments = q.getall("environment", [])
    if environments:
        filters["environments"] = environments
    tags = q.getall("traceTags", [])
    if tags:
        filters["trace_tags"] = tags
    # v2: scoreIds, comma-separated; v3: id, repeated.
    ids = [i.strip() for raw in q.getall("scoreIds", []) for i in raw.split(",") if i.strip()]
    ids += q.getall("id", [])
    if ids:
        filters["ids"] = ids
    if q.get("datasetRunId"):
        filters["run_ids"] = [q["datasetRunId"]]
    if any(q.get(name) for name in _UNKEPT_SCORE_FIELDS):
        filters["none"] = True
    comparisons: list[tuple[str, float]] = []
    value = _number(q, "value")
    if value is not None:
        operator = q.get("operator", "=")
        if operator not in _SCORE_OPERATORS:
            raise LangfuseError(400, "InvalidRequestError", "operator must be one of <, >, <=, >=, !=, =")
        comparisons.append((_SCORE_OPERATORS[operator], value))
    elif q.get("operator"):
        raise LangfuseError(400, "InvalidRequestError", "operator needs a value")
    for name, operator in (("valueMin", ">="), ("valueMax", "<=")):
        bound = _number(q, name)
        if bound is not None:
            comparisons.append((operator, bound))
    if comparisons:
        filters["value"] = comparisons
    return filters


async def scores_page(
    store: Store, project: str, trace: str | None, page: int, limit: int, filters: dict[str, object]
) -> tuple[list[dict[str, Any]], int]:
    """A page of scores and their count, a filter it cannot apply answered with a 400 naming it."""
    try:
        return await store.langfuse.scores(project, [trace] if trace else None, page, limit, filters)
    except InvalidInput as exc:
        raise LangfuseError(400, "InvalidRequestError", exc.message) from None


def score_json(row: dict[str, Any]) -> dict[str, Any]:
    # Every score but a text one has a number: a category's is its mapping (0 without a config),
    # which SDK 4 and 5 require (a list holding a categorical score without one failed to parse).
    numeric = row["data_type"] != "TEXT"
    return {
        "id": row["id"],
        "traceId": row["trace_id"] or None,
        "sessionId": row["session_id"] or None,
        "observationId": row["observation_id"] or None,
        "datasetRunId": (row["metadata"] or {}).get("$datasetRunId"),
        "name": row["name"],
        "value": row["value"] if numeric else None,
        "stringValue": row["string_value"] or None,  # a boolean's "True" or "False" (storage.tables.SCORE_TEXT)
        "source": row["source"],
        "dataType": row["data_type"],
        "comment": row["comment"] or None,
        "metadata": {k: v for k, v in _metadata(row["metadata"]).items() if k != "$datasetRunId"},
        "configId": None,
        "queueId": None,
        "authorUserId": None,
        "environment": row["environment"],
        "timestamp": iso(row["timestamp"]),
        "createdAt": iso(row["updated_at"]),
        "updatedAt": iso(row["updated_at"]),
    }


# Langfuse's field groups of a trace (``?fields=``): core is always there; without a group its
# fields are left out (io), empty (observations, scores) or -1 (metrics), as Langfuse answers.
FIELD_GROUPS = ("core", "io", "scores", "observations", "metrics")


def _fields(request: web.Request) -> frozenset[str]:
    asked = request.query.get("fields")
    if asked is None or not asked.strip():
        return frozenset(FIELD_GROUPS)
    groups = {g.strip() for g in asked.split(",") if g.strip()}
    unknown = groups - set(FIELD_GROUPS)
    if unknown:
        raise LangfuseError(
            400,
            "InvalidRequestError",
            f"fields: unknown group {sorted(unknown)[0]!r}; one of {', '.join(FIELD_GROUPS)}",
        )
    return frozenset(groups | {"core"})


async def _no_scores() -> tuple[list[Any], int]:
    return [], 0


def _mark_public(rows: list[dict[str, Any]], chosen: dict[str, bool]) -> None:
    """Give each trace row its ``public``: shared from the UI or made private there (``chosen``,
    from ``store.shares``), else as its client said. The UI's choice wins, as in the trace view."""
    for row in rows:
        row["public"] = chosen.get(row["trace_id"], row.get("client_public", False))


def _trace_json(
    row: dict[str, Any], project: str, score_ids: list[str], fields: frozenset[str] = frozenset(FIELD_GROUPS)
) -> dict[str, Any]:
    timestamp = iso(row["start_time"])
    io = "io" in fields
    doc = {
        "id": row["trace_id"],
        "timestamp": timestamp,
        # The trace's own name (langfuse.trace.name) from the newest version of its root, else
        # the root's name, as Langfuse names an OTel trace.
        "name": row.get("root_trace_name") or row["root_name"] or row["name"] or None,
        "input": _io(row["input"]) if io else None,
        "output": _io(row["output"]) if io else None,
        "sessionId": row["session_id"] or None,
        "release": row["release"] or None,
        "version": row["version"] or None,
        "userId": row["user_id"] or None,
        "metadata": _metadata(row["metadata"]) if io else None,
        "tags": sorted(row["tags"]),
        "public": row["public"],
        "bookmarked": False,
        "environment": row["environment"] or "default",
        "projectId": project,
        "createdAt": timestamp,
        "updatedAt": timestamp,
        "htmlPath": f"/project/{project}/traces/{row['trace_id']}",
        "latency": (row["end_time"] - row["start_time"]) / 1e9,
        "totalCost": float(row["total_cost"]),
        "observations": [sent_observation_id(i, row["trace_id"]) for i in row["observation_ids"]],
        "scores": score_ids,
    }
    if "io" not in fields:
        for key in ("input", "output", "metadata"):
            del doc[key]
    if "observations" not in fields:
        doc["observations"] = []
    if "scores" not in fields:
        doc["scores"] = []
    if "metrics" not in fields:
        doc["latency"] = doc["totalCost"] = -1
    return doc


class RuleError(Protocol):
    path: str
    message: str


def langfuse_error(exc: InvalidInput | NotFound | Conflict) -> web.Response:
    """Langfuse's answer to what any handler may raise: 400 ``Invalid request data`` with the
    issue, 404 ``LangfuseNotFoundError``, 409 with ``Retry-After``."""
    if isinstance(exc, InvalidInput):
        issue = {"code": "custom", "path": [], "message": exc.message}
        return langfuse_json({"message": "Invalid request data", "error": [issue]}, 400)
    if isinstance(exc, NotFound):
        return langfuse_json({"error": "LangfuseNotFoundError", "message": exc.message}, 404)
    response = langfuse_json({"error": "ConflictError", "message": exc.message}, 409)
    response.headers["Retry-After"] = str(exc.retry_after() or 1)
    return response


def langfuse_route(
    fn: Callable[[web.Request, str], Awaitable[web.Response]], rule_errors: tuple[type[Exception], ...] = ()
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A handler of Langfuse's API for a key pair's project, answering in Langfuse's shapes: 401
    ``Unauthorized``; 400 ``{"message": "Invalid request data", "error": [issues]}`` for bad input
    (``rule_errors`` name their field); 404 ``LangfuseNotFoundError``; 409 with ``Retry-After``."""

    async def wrapped(request: web.Request) -> web.Response:
        try:
            try:
                project = await request.app[CREDENTIALS_KEY].key_project(request.headers.get("Authorization", ""))
            except Unauthenticated as exc:
                raise LangfuseError(401, "Unauthorized", exc.message) from None
            return await fn(request, project)
        except LangfuseError as exc:
            return langfuse_json({"error": exc.error, "message": exc.message}, exc.status)
        except rule_errors as exc:
            rule: RuleError = exc  # type: ignore[assignment]
            issue = {"code": "custom", "path": [rule.path], "message": rule.message}
            return langfuse_json({"message": "Invalid request data", "error": [issue]}, 400)
        except (InvalidInput, NotFound, Conflict) as exc:
            return langfuse_error(exc)

    return wrapped


class LangfuseReadApi:
    async def _project(self, request: web.Request) -> tuple[Store, str]:
        """The key's project (Langfuse's public API takes key pairs only), in Langfuse's 401 shape."""
        try:
            project = await request.app[CREDENTIALS_KEY].key_project(request.headers.get("Authorization", ""))
        except Unauthenticated as exc:
            raise LangfuseError(401, "Unauthorized", exc.message) from None
        return request.app[STORE_KEY], project

    def handler(self, fn: Any) -> Any:
        async def wrapped(request: web.Request) -> web.Response:
            try:
                store, project = await self._project(request)
                return await fn(request, store, project)
            except LangfuseError as exc:
                return langfuse_json({"error": exc.error, "message": exc.message}, exc.status)

        return wrapped

    async def list_traces(self, request: web.Request, store: Store, project: str) -> web.Response:
        page, limit = _page(request)
        start = _time_param(request, "fromTimestamp", 0)
        end = _time_param(request, "toTimestamp", time.time_ns() + DAY_NS)
        q = request.query
        filters = {
            "user_id": q.get("userId"),
            "session_id": q.get("sessionId"),
            "name": q.get("name"),
            "release": q.get("release"),
            "version": q.get("version"),
            "tags": q.getall("tags", None),
            "environment": q.getall("environment", None),
            "filter": q.get("filter") or None,
        }
        field, _, direction = q.get("orderBy", "timestamp.desc").rpartition(".")
        if field not in TRACE_ORDERS or direction not in ("asc", "desc"):
            orders = ", ".join(TRACE_ORDERS)
            raise LangfuseError(
                400, "InvalidRequestError", f"orderBy must be field.asc or field.desc, the field one of {orders}"
            )
        fields = _fields(request)
        reader = store.langfuse
        try:
            rows, total = await reader.traces(
                project, start, end, filters, page, limit, direction == "asc", io="io" in fields, order_by=field
            )
        except InvalidInput as exc:  # a condition of the filter it cannot apply, named
            raise LangfuseError(400, "InvalidRequestError", exc.message) from None
        ids = [r["trace_id"] for r in rows]
        (scores, _), chosen = await asyncio.gather(
            reader.scores(project, ids, with_total=False) if rows and "scores" in fields else _no_scores(),
            store.shares.chosen(project, ids),
        )
        _mark_public(rows, chosen)
        by_trace: dict[str, list[str]] = {}
        for s in scores:
            by_trace.setdefault(s["trace_id"], []).append(s["id"])
        data = [_trace_json(r, project, by_trace.get(r["trace_id"], []), fields) for r in rows]
        return langfuse_json({"data": data, "meta": _meta(page, limit, total)})

    async def get_trace(self, request: web.Request, store: Store, project: str) -> web.Response:
        trace_id = request.match_info["trace_id"]
        fields = _fields(request)
        reader = store.langfuse
        missing = LangfuseError(404, "LangfuseNotFoundError", f"Trace {trace_id} not found within authorized project")

        if "observations" in fields or "io" in fields:
            # The summary comes from the spans: a trace just written or read again (served from
            # memory, storage.trace_cache) then costs no query of the summaries.
            spans, (scores, _), chosen = await asyncio.gather(
                store.reader.trace(project, trace_id),
                reader.scores(project, [trace_id], with_total=False) if "scores" in fields else _no_scores(),
                store.shares.chosen(project, [trace_id]),
            )
            summary = reader.summary_from(trace_id, spans)
            if summary is None:
                raise missing
            reader.add_root_from(summary, spans)  # the spans are read already: no second read of them
        else:  # neither the spans nor the root's input and output: the summary and the root's light fields
            summary, (scores, _), chosen = await asyncio.gather(
                reader.trace_summary(project, trace_id),
                reader.scores(project, [trace_id], with_total=False) if "scores" in fields else _no_scores(),
                store.shares.chosen(project, [trace_id]),
            )
            if summary is None:
                raise missing
            await reader.add_roots(project, [summary], io=False)
            spans = []
        _mark_public([summary], chosen)
        doc = _trace_json(summary, project, [s["id"] for s in scores], fields)
        if "observations" in fields:
            doc["observations"] = [observation_json(s) for s in spans if s["observation_type"] != "TRACE"]
        if "scores" in fields:
            doc["scores"] = [score_json(s) for s in scores]
        return langfuse_json(doc)

    async def list_observations(self, request: web.Request, store: Store, project: str) -> web.Response:
        page, limit = _page(request)
        q = request.query
        start = _time_param(request, "fromStartTime", 0)
        end = _time_param(request, "toStartTime", time.time_ns() + DAY_NS)
        filters = {
            "trace_id": q.get("traceId"),
            "name": q.get("name"),
            "type": q.get("type"),
            "level": q.get("level"),
            "user_id": q.get("userId"),
            "parent": q.get("parentObservationId"),
            "version": q.get("version"),
            "environment": q.getall("environment", None),
            "filter": q.get("filter") or None,
        }
        try:
            rows, total = await store.langfuse.observations(project, start, end, filters, page, limit)
        except InvalidInput as exc:  # a condition of the filter it cannot apply, named
            raise LangfuseError(400, "InvalidRequestError", exc.message) from None
        return langfuse_json({"data": [observation_json(r) for r in rows], "meta": _meta(page, limit, total)})

    async def get_observation(self, request: web.Request, store: Store, project: str) -> web.Response:
        observation_id = request.match_info["observation_id"]
        row = await store.reader.span(project, observation_id)
        if row is None or row["observation_type"] == "TRACE":
            # An observation whose id is also its trace's (storage.observation_ids).
            row = await store.reader.span(project, stored_observation_id(observation_id, observation_id))
        if row is None or row["observation_type"] == "TRACE":
            raise LangfuseError(404, "LangfuseNotFoundError", f"Observation {observation_id} not found")
        return langfuse_json(observation_json(row))

    async def list_scores(self, request: web.Request, store: Store, project: str) -> web.Response:
        page, limit = _page(request)
        q = request.query
        trace = q.get("traceId")
        rows, total = await scores_page(store, project, trace, page, limit, score_filters(q))
        return langfuse_json({"data": [score_json(r) for r in rows], "meta": _meta(page, limit, total)})

    async def list_sessions(self, request: web.Request, store: Store, project: str) -> web.Response:
        page, limit = _page(request)
        start = _time_param(request, "fromTimestamp", 0)
        end = _time_param(request, "toTimestamp", time.time_ns() + DAY_NS)
        environments = request.query.getall("environment", [])
        rows, total = await store.langfuse.sessions(project, start, end, page, limit, environments)
        data = [
            {
                "id": r["id"],
                "createdAt": iso(r["created_at"]),
                "projectId": project,
                "environment": r["environment"] or "default",
            }
            for r in rows
        ]
        return langfuse_json({"data": data, "meta": _meta(page, limit, total)})

    async def get_session(self, request: web.Request, store: Store, project: str) -> web.Response:
        session_id = request.match_info["session_id"]
        reader = store.langfuse
        # Every trace of the session, as Langfuse gives them (its API does not page them), the
        # oldest first, a thousand at a time.
        end, by_session = time.time_ns() + DAY_NS, {"session_id": session_id}
        rows, total = await reader.traces(project, 0, end, by_session, 1, SESSION_PAGE, True)
        for page in range(2, -(-total // SESSION_PAGE) + 1):
            rows += (await reader.traces(project, 0, end, by_session, page, SESSION_PAGE, True))[0]
        if not rows:
            raise LangfuseError(404, "LangfuseNotFoundError", f"Session {session_id} not found")
        _mark_public(rows, await store.shares.chosen(project, [r["trace_id"] for r in rows]))
        traces = [_trace_json(r, project, []) for r in rows]
        return langfuse_json(
            {
                "id": session_id,
                "createdAt": traces[0]["timestamp"],
                "projectId": project,
                "environment": traces[0]["environment"],
                "traces": traces,
            }
        )

    async def delete_trace(self, request: web.Request, store: Store, project: str) -> web.Response:
        """Langfuse's DELETE /traces/{id}: the trace, its spans, scores and logs, gone from every
        table before the answer (Langfuse queues it); an unknown id answers the same."""
        await store.lifecycle.delete_traces(project, [request.match_info["trace_id"]])
        return langfuse_json({"message": "Trace deleted successfully"})

    async def delete_traces(self, request: web.Request, store: Store, project: str) -> web.Response:
        """Langfuse's DELETE /traces with ``{"traceIds": [...]}``."""
        try:
            body = await request.json()
        except ValueError:
            raise LangfuseError(400, "InvalidRequestError", 'the body is not JSON: send {"traceIds": [...]}') from None
        ids = body.get("traceIds") if isinstance(body, dict) else None
        if not (isinstance(ids, list) and 0 < len(ids) <= MAX_DELETE and all(isinstance(i, str) and i for i in ids)):
            raise LangfuseError(
                400, "InvalidRequestError", f"traceIds: a list of 1 to {MAX_DELETE} trace ids (non-empty strings)"
            )
        await store.lifecycle.delete_traces(project, ids)
        return langfuse_json({"message": "Traces deleted successfully"})

    async def get_score(self, request: web.Request, store: Store, project: str) -> web.Response:
        """Langfuse's GET /scores/{id} and /v2/scores/{id} (SDK 4's ``api.score_v_2.get_by_id``)."""
        score_id = request.match_info["score_id"]
        rows, _ = await store.langfuse.scores(project, None, 1, 1, {"ids": [score_id]}, with_total=False)
        if not rows:
            raise LangfuseError(404, "LangfuseNotFoundError", f"Score not found: {score_id[:200]}")
        return langfuse_json(score_json(rows[0]))

    async def delete_score(self, request: web.Request, store: Store, project: str) -> web.Response:
        """Langfuse's DELETE /scores/{id} (SDK 5's ``api.scores.delete``): 204, or 404 if there is none."""
        score_id = request.match_info["score_id"]
        if not await store.langfuse_writer.delete_score(project, score_id):
            raise LangfuseError(404, "LangfuseNotFoundError", f"Score not found: {score_id[:200]}")
        return web.Response(status=204)

    async def daily_metrics(self, request: web.Request, store: Store, project: str) -> web.Response:
        page, limit = _page(request)
        q = request.query
        start = _time_param(request, "fromTimestamp", 0)
        end = _time_param(request, "toTimestamp", time.time_ns() + DAY_NS)
        filters = {
            "trace_name": q.get("traceName"),
            "user_id": q.get("userId"),
            "tags": q.getall("tags", None),
            "environment": [e for v in q.getall("environment", []) for e in v.split(",") if e] or None,
        }
        rows = await store.langfuse.daily(project, start, end, filters)
        days: dict[str, dict[str, Any]] = {}
        for r in rows:
            day = days.setdefault(
                r["date"], {"date": r["date"], "countTraces": 0, "countObservations": 0, "totalCost": 0.0, "usage": []}
            )
            day["countObservations"] += r["observations"]
            day["countTraces"] = r["day_traces"]
            day["totalCost"] += float(r["total_cost"])
            if r["model"]:
                day["usage"].append(
                    {
                        "model": r["model"],
                        "inputUsage": r["input_usage"],
                        "outputUsage": r["output_usage"],
                        "totalUsage": r["total_usage"],
                        "countObservations": r["observations"],
                        "countTraces": r["traces"],
                        "totalCost": float(r["total_cost"]),
                    }
                )
        data = list(days.values())
        return langfuse_json({"data": data[(page - 1) * limit : page * limit], "meta": _meta(page, limit, len(data))})


# Parts of Langfuse's API that Tracehouse does not offer, with what to do instead.
_NO_DASHBOARDS = "custom dashboards are not offered; the UI's dashboard and the Prometheus API serve metrics"
UNSUPPORTED = {
    "integrations": "blob-storage exports are not offered by Tracehouse; read traces through this API or ClickHouse",
    "unstable/dashboards": _NO_DASHBOARDS,
    "unstable/skills": "the unstable skills API is served as Langfuse's stable one: use /api/public/skills",
    "unstable/dashboard-widgets": _NO_DASHBOARDS,
    "unstable/topics": "topics are not offered by Tracehouse",
    "unstable/topic-facets": "topics are not offered by Tracehouse",
    "organizations/llm-connections": "model connections belong to a project here: use /api/public/llm-connections",
    "feedback": "feedback to Langfuse's makers is not collected by Tracehouse",
}
SERVED = (
    "ingestion, otel/v1/{traces,logs,metrics}, traces (GET, DELETE), observations (v1, v2), sessions, "
    "scores (POST, GET, DELETE, v2, v3), score-configs, annotation-queues, comments, media, "
    "prompts (v1, v2), skills, datasets, dataset-items, dataset-run-items, experiments, experiment-items, "
    "metrics (v1, v2), metrics/daily, v2/evaluators, v2/evaluation-rules, llm-connections, models, "
    "projects, organizations, scim, health"
)


async def unsupported(request: web.Request) -> web.Response:
    """Any other path under /api/public: Langfuse's error shape and a message, never an HTML page."""
    tail = request.match_info.get("tail", "")
    reason = next((why for part, why in UNSUPPORTED.items() if tail == part or tail.startswith(part + "/")), None)
    message = f"Tracehouse does not serve {request.method} /api/public/{tail[:200]}: " + (
        reason or f"this part of Langfuse's API is not implemented. Served: {SERVED}"
    )
    return langfuse_json({"error": "LangfuseNotFoundError", "message": message}, 404)


def langfuse_fallback_routes() -> list[web.RouteDef]:
    """The catch-all under /api/public; register it after every other route."""
    return [web.route("*", PREFIX + "/{tail:.*}", unsupported)]


def langfuse_read_routes() -> list[web.RouteDef]:
    api = LangfuseReadApi()
    h = api.handler
    return [
        web.get(PREFIX + "/traces", h(api.list_traces)),
        web.get(PREFIX + "/traces/{trace_id}", h(api.get_trace)),
        web.delete(PREFIX + "/traces", h(api.delete_traces)),
        web.delete(PREFIX + "/traces/{trace_id}", h(api.delete_trace)),
        web.get(PREFIX + "/observations", h(api.list_observations)),
        web.get(PREFIX + "/observations/{observation_id}", h(api.get_observation)),
        web.get(PREFIX + "/scores", h(api.list_scores)),
        web.get(PREFIX + "/scores/{score_id}", h(api.get_score)),
        web.get(PREFIX + "/v2/scores/{score_id}", h(api.get_score)),
        web.delete(PREFIX + "/scores/{score_id}", h(api.delete_score)),
        web.get(PREFIX + "/v2/scores", h(api.list_scores)),
        web.get(PREFIX + "/sessions", h(api.list_sessions)),
        web.get(PREFIX + "/sessions/{session_id}", h(api.get_session)),
        web.get(PREFIX + "/metrics/daily", h(api.daily_metrics)),
    ]
