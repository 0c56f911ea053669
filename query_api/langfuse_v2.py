"""Langfuse's newer read API, as SDK 5's client calls it: ``GET /api/public/v2/observations``
(cursor pages and field groups), ``GET /api/public/v3/scores`` (cursor pages) and
``GET /api/public/v2/metrics`` (its JSON query, compiled by storage.metrics_query). The objects
are those of the v1 API (``langfuse_api``), cut to the field groups asked for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from query_api.langfuse_api import (
    DAY_NS,
    PREFIX,
    LangfuseError,
    LangfuseReadApi,
    _mark_public,
    _time_param,
    iso_ns,
    langfuse_json,
    observation_json,
    score_filters,
    score_json,
    scores_page,
)
from storage import Store
from storage.cursors import decode_cursor, encode_cursor
from storage.metrics_query import MetricsQuery
from tracehouse.errors import InvalidInput

__all__ = ["langfuse_v2_routes"]

# Field groups of an observation (SDK 5's documentation of ``fields``): core is always included.
OBSERVATION_GROUPS: dict[str, tuple[str, ...]] = {
    "core": ("id", "traceId", "startTime", "endTime", "projectId", "parentObservationId", "type"),
    "basic": (
        "name",
        "level",
        "statusMessage",
        "version",
        "environment",
        "bookmarked",
        "public",
        "userId",
        "sessionId",
        "isRootObservation",
    ),
    "time": ("completionStartTime", "createdAt", "updatedAt"),
    "io": ("input", "output"),
    "metadata": ("metadata",),
    "model": ("model", "internalModelId", "modelParameters"),
    "usage": ("usageDetails", "costDetails", "totalCost", "usagePricingTierName"),
    "prompt": ("promptId", "promptName", "promptVersion"),
    "metrics": ("latency", "timeToFirstToken"),
    "trace_context": ("tags", "release", "traceName"),
}
MAX_LIMIT = 1000


def _limit(request: web.Request) -> int:
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise LangfuseError(400, "InvalidRequestError", "limit must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise LangfuseError(400, "InvalidRequestError", f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def _groups(request: web.Request) -> set[str]:
    asked = {g.strip() for g in request.query.get("fields", "core,basic").split(",") if g.strip()}
    unknown = asked - OBSERVATION_GROUPS.keys()
    if unknown:
        raise LangfuseError(
            400, "InvalidRequestError", f"unknown field group(s) {sorted(unknown)}: {', '.join(OBSERVATION_GROUPS)}"
        )
    return asked | {"core"}


# Groups whose fields are a span's heavy columns (storage.reader.HEAVY_SPAN_COLUMNS): without
# them the page reads light rows, at about half the cost (docs/benchmarks.md).
_HEAVY_GROUPS = {"io", "metadata"}
# Groups with fields of the observation's trace (its public, user, session, name, tags, release).
_TRACE_GROUPS = {"basic", "trace_context"}


def _observation_v2(
    row: dict[str, Any], project: str, groups: set[str], trace: dict[str, Any] | None
) -> dict[str, Any]:
    if not groups & _HEAVY_GROUPS:  # light rows: their groups are left out below
        row = {**row, "input": "", "output": "", "metadata": {}}
    full = observation_json(row)
    parent = full["parentObservationId"]
    created = full["startTime"]
    trace = trace or {}
    full.update(
        {
            "projectId": project,
            "bookmarked": False,
            # The trace's, as Langfuse gives them on each observation: an observation sent through
            # the ingestion API has no user or session of its own, its trace has.
            "public": trace.get("public", False),
            "userId": row.get("user_id") or trace.get("user_id") or None,
            "sessionId": row.get("session_id") or trace.get("session_id") or None,
            "isRootObservation": parent is None,
            "createdAt": created,
            "updatedAt": created,
            # Input and output as the raw strings they were sent as (v2 never parses them).
            "input": row["input"] or None,
            "output": row["output"] or None,
            "internalModelId": None,
            "totalCost": full["calculatedTotalCost"],
            "usagePricingTierName": None,
            "tags": sorted(trace.get("tags") or row.get("tags") or []),
            "release": trace.get("release") or row.get("release") or None,
            "traceName": trace.get("name") or row.get("trace_name") or None,
        }
    )
    keys = [k for g in OBSERVATION_GROUPS if g in groups for k in OBSERVATION_GROUPS[g]]
    return {k: full.get(k) for k in keys}


async def list_observations(request: web.Request, store: Store, project: str) -> web.Response:
    q = request.query
    if q.get("parseIoAsJson", "false").lower() == "true":
        raise LangfuseError(
            400, "InvalidRequestError", "parseIoAsJson is no longer supported: input and output are strings"
        )
    limit = _limit(request)
    groups = _groups(request)
    after = None
    if q.get("cursor"):
        try:
            ns, span_id = decode_cursor(q["cursor"], (int, str))
        except InvalidInput as exc:
            raise LangfuseError(400, "InvalidRequestError", exc.message) from None
        after = (ns, span_id)
    environments = q.getall("environment", [])
    parent = q.get("parentObservationId")
    roots = q.get("isRootObservation", "").lower() == "true" or parent == ""
    filters: dict[str, object] = {
        "trace_id": q.get("traceId"),
        "name": q.get("name"),
        "type": q.get("type"),
        "level": q.get("level"),
        "user_id": q.get("userId"),
        "session_id": q.get("sessionId"),
        "parent": parent or None,
        "version": q.get("version"),
        "environments": [e for v in environments for e in v.split(",") if e],
        "roots": roots,
        "filter": q.get("filter") or None,
    }
    start = _time_param(request, "fromStartTime", 0)
    end = _time_param(request, "toStartTime", time.time_ns() + DAY_NS)
    light = not groups & _HEAVY_GROUPS
    try:
        rows = await store.langfuse.observations_after(project, start, end, filters, limit + 1, after, light)
    except InvalidInput as exc:  # a condition of the filter it cannot apply, named
        raise LangfuseError(400, "InvalidRequestError", exc.message) from None
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor([rows[-1]["start_time"], rows[-1]["span_id"]]) if more and rows else None
    traces: dict[str, dict[str, Any]] = {}
    chosen: dict[str, bool] = {}
    if groups & _TRACE_GROUPS:
        ids = sorted({r["trace_id"] for r in rows})
        traces, chosen = await asyncio.gather(
            store.langfuse.trace_contexts(project, ids), store.shares.chosen(project, ids)
        )
    _mark_public(list(traces.values()), chosen)  # the trace reads' rule: Share's choice, else the client's
    data = [_observation_v2(row, project, groups, traces.get(row["trace_id"])) for row in rows]
    return langfuse_json({"data": data, "meta": {"cursor": cursor}})


def _score_v3(row: dict[str, Any], project: str) -> dict[str, Any]:
    score = score_json(row)
    kind = score["dataType"]
    value: Any = score["value"] if kind == "NUMERIC" else score["stringValue"]
    if kind == "BOOLEAN":
        value = bool(score["value"])
    # What the score is about: an observation, else its trace, else a session.
    if score["observationId"]:
        subject = {"kind": "observation", "id": score["observationId"], "traceId": score["traceId"]}
    elif score["traceId"]:
        subject = {"kind": "trace", "id": score["traceId"]}
    elif score["sessionId"]:
        subject = {"kind": "session", "id": score["sessionId"]}
    else:
        subject = None
    return {**score, "projectId": project, "value": value, "subject": subject}


async def list_scores(request: web.Request, store: Store, project: str) -> web.Response:
    q = request.query
    limit = min(_limit(request), 100)  # the score reader pages by at most 100
    page = 1
    if q.get("cursor"):
        try:
            (page,) = decode_cursor(q["cursor"], (int,))
        except InvalidInput as exc:
            raise LangfuseError(400, "InvalidRequestError", exc.message) from None
        if not 1 <= page <= 1_000_000:
            raise LangfuseError(400, "InvalidRequestError", "invalid cursor")
    trace = q.get("traceId")
    rows, total = await scores_page(store, project, trace, page, limit, score_filters(q))
    cursor = encode_cursor([page + 1]) if page * limit < total else None
    return langfuse_json({"data": [_score_v3(r, project) for r in rows], "meta": {"cursor": cursor, "limit": limit}})


def _iso_ns(value: Any, name: str) -> int:
    if not isinstance(value, str):
        raise LangfuseError(400, "InvalidRequestError", f"{name} (an ISO-8601 time) is required")
    return iso_ns(value, name)


def _metrics_query(raw: str, version: int = 2) -> MetricsQuery:
    """Langfuse's query JSON as a MetricsQuery (its fields checked for shape; storage checks names)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise LangfuseError(400, "InvalidRequestError", "query must be a JSON object") from None
    if not isinstance(doc, dict):
        raise LangfuseError(400, "InvalidRequestError", "query must be a JSON object")

    def items(key: str) -> list[dict[str, Any]]:
        value = doc.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise LangfuseError(400, "InvalidRequestError", f"{key} must be a list of objects")
        return value

    time_dimension = doc.get("timeDimension")
    if time_dimension is not None and not isinstance(time_dimension, dict):
        raise LangfuseError(400, "InvalidRequestError", "timeDimension must be an object")
    config = doc.get("config") or {}
    row_limit = config.get("row_limit", 100) if isinstance(config, dict) else 100
    if not isinstance(row_limit, int) or isinstance(row_limit, bool):
        raise LangfuseError(400, "InvalidRequestError", "config.row_limit must be an integer")
    bins = config.get("bins", 10) if isinstance(config, dict) else 10
    if not isinstance(bins, int) or isinstance(bins, bool):
        raise LangfuseError(400, "InvalidRequestError", "config.bins must be an integer")
    return MetricsQuery(
        view=str(doc.get("view", "")),
        start=_iso_ns(doc.get("fromTimestamp"), "fromTimestamp"),
        end=_iso_ns(doc.get("toTimestamp"), "toTimestamp"),
        dimensions=[str(d.get("field", "")) for d in items("dimensions")],
        metrics=[(str(m.get("measure", "")), str(m.get("aggregation", ""))) for m in items("metrics")],
        filters=items("filters"),
        granularity=str(time_dimension.get("granularity", "auto")) if time_dimension else None,
        order_by=[(str(o.get("field", "")), str(o.get("direction", "asc"))) for o in items("orderBy")],
        row_limit=row_limit,
        bins=bins,
        version=version,
    )


def metrics(version: int) -> Callable[[web.Request, Store, str], Awaitable[web.Response]]:
    """The metrics query of Langfuse's API ``version``: 2, or 1 (SDK 4's legacy client), which
    has the traces view too."""

    async def handle(request: web.Request, store: Store, project: str) -> web.Response:
        query = _metrics_query(request.query.get("query", ""), version)
        try:
            rows = await store.metrics_query(project, query)
        except InvalidInput as exc:
            raise LangfuseError(400, "InvalidRequestError", exc.message) from None
        return langfuse_json({"data": rows})

    return handle


def langfuse_v2_routes() -> list[web.RouteDef]:
    h = LangfuseReadApi().handler
    return [
        web.get(PREFIX + "/v2/observations", h(list_observations)),
        web.get(PREFIX + "/v3/scores", h(list_scores)),
        web.get(PREFIX + "/v2/metrics", h(metrics(2))),
        web.get(PREFIX + "/metrics", h(metrics(1))),
    ]
