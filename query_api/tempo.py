"""Grafana Tempo's query API under ``/tempo`` (data source URL ``http://host:3000/tempo``).

Trace by id answers protobuf (what Grafana asks for) or JSON; search, tags and tag values
answer the strict proto-JSON Grafana parses, with only the fields it knows
(shared/reference/grafana.md 1.9). Errors are plain text, as Tempo's are.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse
from typing import Any

import orjson
from aiohttp import web
from google.protobuf import json_format

from query_api.access import project_for
from query_api.admin import STORE_KEY
from query_api.otlp_encode import encode_trace, trace_by_id_response
from query_api.tempo_metrics import BadMetricsRequest, any_value, instant_response, range_response, read_range
from tracehouse import __version__
from tracehouse.errors import TracehouseError
from tracehouse.traceql import DURATION_UNITS, INTRINSICS, Intrinsic, Spanset, TraceQLError, parse, parse_pipeline

__all__ = ["tempo_routes"]

TEMPO_VERSION = "2.9.0"  # the Tempo API generation we follow; Grafana gates features on it
DAY_S = 86_400
_HEX = re.compile(r"^[0-9a-fA-F]{1,32}$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$")
INTRINSIC_TAGS = [
    "duration",
    "event:name",
    "event:timeSinceStart",
    "instrumentation:name",
    "instrumentation:version",
    "kind",
    "name",
    "rootName",
    "rootServiceName",
    "span:duration",
    "span:kind",
    "span:name",
    "span:status",
    "span:statusMessage",
    "status",
    "statusMessage",
    "trace:duration",
    "trace:rootName",
    "trace:rootService",
    "traceDuration",
]
VIRTUAL_VALUES = {
    "status": ["ok", "error", "unset"],
    "kind": ["client", "server", "producer", "consumer", "internal", "unspecified"],
    "duration": [],
    "traceDuration": [],
}


class _BadRequest(Exception):
    pass


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message)


def _json(doc: Any) -> web.Response:
    return web.Response(body=orjson.dumps(doc), content_type="application/json")


def _uint(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):  # isdigit alone takes superscripts int() refuses
        raise _BadRequest(f"invalid {name}: {raw[:40]!r} is not a non-negative integer")
    return int(raw)


def _window(request: web.Request, default_seconds: int = DAY_S) -> tuple[int, int]:
    start, end = _uint(request, "start", 0), _uint(request, "end", 0)
    if start == 0 and end == 0:
        now = int(time.time())
        return (now - default_seconds) * 10**9, (now + 60) * 10**9
    if end <= start:
        raise _BadRequest("invalid start and end: end must be after start")
    return start * 10**9, end * 10**9


def _go_duration(raw: str | None, name: str) -> int | None:
    if not raw:
        return None
    match = _DURATION.match(raw.strip())
    if not match:
        raise _BadRequest(f"invalid {name}: {raw[:40]!r} (use a duration such as 100ms or 1.5s)")
    return int(float(match.group(1)) * DURATION_UNITS[match.group(2)])


def _logfmt(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for match in re.finditer(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)', raw):
        key, value = match.group(1), match.group(2)
        if value.startswith('"'):
            value = value[1:-1]
        if key in out:
            raise _BadRequest(f"invalid tags: duplicate key {key!r}")
        out[key] = value
    return out


class TempoApi:
    def handler(self, fn: Any) -> Any:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                store = request.app[STORE_KEY]
                project = await project_for(request, store)
                return await fn(request, store, project)
            except (_BadRequest, BadMetricsRequest) as exc:
                return _text(400, str(exc))
            except TraceQLError as exc:
                return _text(400, f"invalid TraceQL query: {exc}")
            except TracehouseError as exc:
                return _text(exc.http_status, exc.message)

        return wrapped

    async def trace(self, request: web.Request, store: Any, project: str) -> web.Response:
        raw = request.match_info["trace_id"]
        trace_id = raw.lower().zfill(32) if _HEX.match(raw) else raw
        if request.query.get("start") or request.query.get("end"):
            _window(request)  # validates end > start, as Tempo does
        # The log records need only the trace's bounds. A trace read before has them in memory:
        # its records are read beside the trace index, and kept if the bounds did not change.
        guess = store.reader.cached_bounds(project, trace_id)
        early = asyncio.ensure_future(store.logs.trace_logs(project, trace_id, *guess)) if guess else None
        try:
            bounds = await store.reader.trace_bounds(project, trace_id)
        except BaseException:
            _drop(early)
            raise
        if bounds is None:
            _drop(early)
            return _text(404, f"trace not found: {raw}")
        if early is not None and guess == (bounds.lo, bounds.hi):
            logs = early
        else:
            _drop(early)
            logs = asyncio.ensure_future(store.logs.trace_logs(project, trace_id, bounds.lo, bounds.hi))
        rows, records = await asyncio.gather(store.reader.trace(project, trace_id, bounds), logs)
        if not rows:
            return _text(404, f"trace not found: {raw}")
        data = encode_trace(rows, records)
        v2 = request.path.endswith(f"/api/v2/traces/{raw}")
        if "application/protobuf" in request.headers.get("Accept", ""):
            body = trace_by_id_response(data) if v2 else data.SerializeToString()
            return web.Response(body=body, content_type="application/protobuf")
        doc = json_format.MessageToDict(data)
        if v2:
            return _json({"trace": doc})
        return _json({"batches": doc.get("resourceSpans", [])})

    async def search(self, request: web.Request, store: Any, project: str) -> web.Response:
        q = request.query
        if q.get("q") and q.get("tags"):
            raise _BadRequest("invalid request: can't specify tags and q in the same query")
        limit = _uint(request, "limit", 20)
        spss = _uint(request, "spss", 3)
        if limit == 0:
            raise _BadRequest("invalid limit: must be a positive number")
        limit = min(limit, 1000)
        start, end = _window(request, 3600)
        pipeline = parse_pipeline(q.get("q", ""))
        if pipeline.metrics is not None:
            raise TraceQLError("a metrics query: ask /api/metrics/query_range")
        expr = pipeline.filter
        tags = _logfmt(q["tags"]) if q.get("tags") else {}
        known = {"q", "tags", "limit", "spss", "start", "end", "minDuration", "maxDuration"}
        tags.update({k: v for k, v in q.items() if k not in known and "q" not in q})
        min_d, max_d = (
            _go_duration(q.get("minDuration"), "minDuration"),
            _go_duration(q.get("maxDuration"), "maxDuration"),
        )
        if min_d is not None and max_d is not None and min_d > max_d:
            raise _BadRequest("invalid maxDuration: must be greater than minDuration")
        numbered = any(isinstance(f, Intrinsic) and f.name.startswith("nestedSet") for f in pipeline.select)
        if numbered and pipeline.having:
            raise TraceQLError("aggregates such as count() > 1 do not go with the nested-set numbers")
        if pipeline.structure is not None or numbered:
            if min_d is not None or max_d is not None:
                raise _BadRequest("minDuration and maxDuration go with one spanset: write duration in the spansets")
            structure = pipeline.structure or Spanset(expr)
            rows = await store.tempo.search_structure(
                project, structure, start, end, limit, max(1, spss), pipeline.select
            )
        else:
            rows = await store.tempo.search(
                project, expr, start, end, limit, max(1, spss), min_d, max_d, tags, pipeline.select, pipeline.having
            )
        traces = []
        for row in rows:
            spans = []
            for span_id, name, start_ns, duration, picked in row["spans"]:
                span: dict[str, Any] = {
                    "spanID": span_id.zfill(16) if len(span_id) <= 16 else span_id,
                    "name": name,
                    "startTimeUnixNano": str(start_ns),
                    "durationNanos": str(duration),
                }
                if picked:
                    span["attributes"] = [{"key": k, "value": any_value(v, t)} for k, v, t in picked]
                spans.append(span)
            spanset = {"spans": spans, "matched": int(row["matched"])}
            item: dict[str, Any] = {
                "traceID": row["trace_id"],
                "rootServiceName": row.get("root_service") or "<root span not yet received>",
                "rootTraceName": row.get("root_name") or "",
                "startTimeUnixNano": str(row.get("start_ns", 0)),
                "spanSet": spanset,
                "spanSets": [spanset],
            }
            duration_ms = int(row.get("duration_ns", 0) // 1_000_000)
            if duration_ms:
                item["durationMs"] = duration_ms
            if not item["rootTraceName"]:
                del item["rootTraceName"]
            traces.append(item)
        return _json({"traces": traces, "metrics": {"inspectedTraces": len(traces)}})

    async def metrics_range(self, request: web.Request, store: Any, project: str) -> web.Response:
        expr, metrics, lo, hi, step, exemplars = read_range(request.query, instant=False)
        result = await store.tempo.metrics(project, expr, metrics, lo, hi, step, exemplars)
        return range_response(result, metrics, lo, hi, step, exemplars)

    async def metrics_instant(self, request: web.Request, store: Any, project: str) -> web.Response:
        expr, metrics, lo, hi, step, _ = read_range(request.query, instant=True)
        result = await store.tempo.metrics(project, expr, metrics, lo, hi, step, 0)
        return instant_response(result, metrics)

    async def tags_v2(self, request: web.Request, store: Any, project: str) -> web.Response:
        scope = request.query.get("scope", "")
        if scope not in ("", "all", "none", "resource", "span", "intrinsic", "event", "link", "instrumentation"):
            raise _BadRequest(f"invalid scope {scope!r}")
        start, end = _window(request)
        names = await store.tempo.tag_names(project, start, end, _uint(request, "limit", 5000))
        scopes = [
            {"name": "resource", "tags": names["resource"]},
            {"name": "span", "tags": names["span"]},
            {"name": "intrinsic", "tags": INTRINSIC_TAGS},
            {"name": "event", "tags": []},
            {"name": "link", "tags": []},
            {"name": "instrumentation", "tags": []},
        ]
        if scope not in ("", "all", "none"):
            scopes = [s for s in scopes if s["name"] == scope]
        return _json({"scopes": scopes})

    async def tags_v1(self, request: web.Request, store: Any, project: str) -> web.Response:
        start, end = _window(request)
        names = await store.tempo.tag_names(project, start, end, _uint(request, "limit", 5000))
        return _json({"tagNames": sorted(set(names["span"]) | set(names["resource"]))})

    async def _values(self, request: web.Request, store: Any, project: str) -> list[tuple[str, str]]:
        tag = urllib.parse.unquote(request.match_info["tag"])
        start, end = _window(request)
        limit = _uint(request, "limit", 5000)
        try:
            expr = parse(request.query.get("q", "")) if request.query.get("q") else None
        except TraceQLError:
            expr = None  # Grafana sends the query being edited, often incomplete: ignore it
        if tag in INTRINSICS:
            name = INTRINSICS[tag]
            if name in VIRTUAL_VALUES:
                return [("keyword", v) for v in VIRTUAL_VALUES[name]]
            scope, attr = "intrinsic", name
        elif tag.startswith("resource."):
            scope, attr = "resource", tag[len("resource.") :]
        elif tag.startswith("span."):
            scope, attr = "span", tag[len("span.") :]
        elif tag.startswith("."):
            scope, attr = "", tag[1:]
        else:
            scope, attr = "", tag
        if not attr:
            raise _BadRequest("tag name is not valid intrinsic or scoped attribute")
        try:
            return await store.tempo.tag_values(project, scope, attr, start, end, limit, expr)
        except TraceQLError:
            return await store.tempo.tag_values(project, scope, attr, start, end, limit, None)

    async def tag_values_v2(self, request: web.Request, store: Any, project: str) -> web.Response:
        values = await self._values(request, store, project)
        return _json({"tagValues": [{"type": kind, "value": value} for kind, value in values]})

    async def tag_values_v1(self, request: web.Request, store: Any, project: str) -> web.Response:
        values = await self._values(request, store, project)
        return _json({"tagValues": [value for _, value in values]})


async def echo(request: web.Request) -> web.Response:
    return _text(200, "echo")


async def ready(request: web.Request) -> web.Response:
    return _text(200, "ready")


async def buildinfo(request: web.Request) -> web.Response:
    return _json(
        {
            "version": TEMPO_VERSION,
            "revision": f"tracehouse-{__version__}",
            "branch": "main",
            "buildUser": "tracehouse",
            "buildDate": "",
            "goVersion": "",
        }
    )


def _drop(task: asyncio.Future[Any] | None) -> None:
    """Cancel a read no longer wanted; its error, if it ends with one, is not the answer's."""
    if task is not None:
        task.cancel()
        task.add_done_callback(lambda t: t.cancelled() or t.exception())


def tempo_routes(prefix: str = "/tempo") -> list[web.RouteDef]:
    api = TempoApi()
    h = api.handler
    return [
        web.get(prefix + "/api/echo", echo),
        web.get(prefix + "/ready", ready),
        web.get(prefix + "/api/status/buildinfo", buildinfo),
        web.get(prefix + "/api/v2/traces/{trace_id}", h(api.trace)),
        web.get(prefix + "/api/traces/{trace_id}", h(api.trace)),
        web.get(prefix + "/api/search", h(api.search)),
        web.get(prefix + "/api/metrics/query_range", h(api.metrics_range)),
        web.get(prefix + "/api/metrics/query", h(api.metrics_instant)),
        web.get(prefix + "/api/v2/search/tags", h(api.tags_v2)),
        web.get(prefix + "/api/search/tags", h(api.tags_v1)),
        web.get(prefix + "/api/v2/search/tag/{tag}/values", h(api.tag_values_v2)),
        web.get(prefix + "/api/search/tag/{tag}/values", h(api.tag_values_v1)),
    ]
