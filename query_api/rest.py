"""The REST API under ``/api/v1`` (what the UI and scripts use): pydantic models for every query and
response, the OpenAPI 3 document generated from them, errors as ``{"error": {"code", "message"}}``.

Read with an API key pair (Basic), or without one on a loopback bind that has no key yet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from query_api.access import project_for
from query_api.admin import STORE_KEY
from query_api.responses import json_response
from storage import SpanQuery, Store, TraceQuery, trace_io
from storage.langfuse import BOOKKEEPING_ATTRIBUTE
from storage.logs import LogQuery
from storage.otlp_metrics import prometheus_type
from storage.reader import GROUP_BY, SUGGEST
from tracehouse import __version__
from tracehouse.errors import InvalidInput, NotFound
from tracehouse.traceql import Expr, TraceQLError
from tracehouse.traceql import parse as parse_traceql

__all__ = [
    "BOOKKEEPING_ATTRIBUTE",
    "SpanListQuery",
    "TraceListQuery",
    "openapi_document",
    "parse_query",
    "read_trace",
    "rest_routes",
    "span_model",
    "trace_detail",
    "trace_id_of",
    "trace_query",
]

DAY_NS = 86_400 * 10**9


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str | None = Field(
        None, description="Project id or name, for signed-in people; an API key always reads its own project."
    )


class TimeRange(Query):
    start: dt.datetime | None = Field(None, description="Start of the range (ISO 8601); default: 24 h before end.")
    end: dt.datetime | None = Field(None, description="End of the range (ISO 8601, exclusive); default: now.")

    def window(self) -> tuple[int, int]:
        end = _ns(self.end) if self.end else time.time_ns() + 60 * 10**9
        start = _ns(self.start) if self.start else end - DAY_NS
        if end <= start:
            raise InvalidInput("end must be after start")
        return start, end


def _ns(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1_000_000) * 1000


class TraceListQuery(TimeRange):
    name: str | None = None
    service: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    model: str | None = None
    tags: list[str] = Field(default_factory=list, description="Traces carrying every one of these tags.")
    environment: str | None = None
    has_error: bool | None = None
    min_latency_ms: int | None = Field(None, ge=0)
    max_latency_ms: int | None = Field(None, ge=0)
    min_cost: Decimal | None = Field(None, ge=0, le=1_000_000_000)
    max_cost: Decimal | None = Field(None, ge=0, le=1_000_000_000)
    search: str | None = Field(None, max_length=1000, description="Text in any span's input or output.")
    attribute: list[str] = Field(
        default_factory=list, description="Span attribute filters as key=value, each met by any span of the trace."
    )
    score: list[str] = Field(
        default_factory=list,
        description="Score filters as name<op>value, op one of = != < <= > >= (correctness<0.5, tone=rude): "
        "a score of the trace or one of its observations meets each.",
    )
    metadata: list[str] = Field(
        default_factory=list,
        description="Metadata filters as key=value (where Langfuse clients and Dify put it), each met by any span.",
    )
    traceql: str | None = Field(
        None,
        max_length=4000,
        description='A TraceQL spanset, such as { span.gen_ai.request.model = "gpt-4o" && duration > 2s }: '
        "traces with a span matching it (the subset of docs/grafana.md, one spanset).",
    )
    sort: Literal["start_time", "latency", "total_cost", "total_tokens", "span_count"] = "start_time"
    order: Literal["asc", "desc"] = "desc"
    limit: int = Field(50, ge=1, le=1000)
    cursor: str | None = None
    preview: bool = Field(
        True,
        description="Give each trace a preview of its input and output (see TraceSummary). One more read, "
        "of the heaviest columns: a list that shows no previews (the UI's) asks without.",
    )


class TraceSummary(BaseModel):
    trace_id: str
    name: str
    start_time: int = Field(description="Epoch nanoseconds.")
    end_time: int
    latency_ms: int
    service_name: str
    services: list[str]
    models: list[str]
    tags: list[str]
    user_id: str
    session_id: str
    environment: str
    span_count: int
    error_count: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    total_cost: Decimal
    input: str = Field(
        description="A preview of the trace's input (its own, else its root span's, else its first span's "
        "that has one; its output: the last to end with one): of chat messages, the "
        "newest user message and those after it, each cut short, as JSON; else the first 1,000 characters."
    )
    output: str = Field(description="A preview of the trace's output, as for the input.")


class TracePage(BaseModel):
    items: list[TraceSummary]
    next_cursor: str | None


class SpanListQuery(TimeRange):
    observation_type: str | None = None
    model: str | None = None
    name: str | None = None
    observations_only: bool = Field(False, description="Leave out the rows of Langfuse traces themselves (type TRACE).")
    search: str | None = Field(None, max_length=1000, description="Text in the span's input or output.")
    fields: Literal["all", "light"] = Field(
        "all",
        description="light: each span without its attributes, events, links, input, output and metadata "
        "(not read: about half the time of a page)",
    )
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = None


class Span(BaseModel):
    model_config = ConfigDict(extra="allow")
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_time: int
    end_time: int
    observation_type: str
    model: str
    input_tokens: int
    output_tokens: int
    total_cost: Decimal


# The merged Langfuse state kept with a Langfuse-ingested row (ADR 003) is the store's bookkeeping:
# its fields are the row's own columns (metadata, model parameters, ...), so it is not shown twice.
def span_model(row: dict[str, Any]) -> Span:
    """A stored span as the API gives it, without the store's bookkeeping attribute."""
    attrs = row.get("span_attributes")
    if attrs and BOOKKEEPING_ATTRIBUTE in attrs:
        row = {**row, "span_attributes": {k: v for k, v in attrs.items() if k != BOOKKEEPING_ATTRIBUTE}}
    return Span.model_validate(row)


class SpanPage(BaseModel):
    items: list[Span]
    next_cursor: str | None


class Score(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str
    value: float
    string_value: str
    data_type: str


class TraceDetail(BaseModel):
    trace_id: str
    project_id: str
    spans: list[Span]
    scores: list[Score]
    # The input and output its client set for the trace apart from its spans' (Langfuse's
    # set_trace_io); null when it set none (the trace's are then its root span's).
    trace_input: str | None = None
    trace_output: str | None = None
    input: str = Field(
        "",
        description="The trace's input: the one set apart, else its root span's, else its first span's that "
        "has one (a root without its own: an HTTP server's span, OpenLLMetry's LangGraph root).",
    )
    output: str = Field("", description="The trace's output, as for the input (else the last to end with one).")


class PageQuery(TimeRange):
    limit: int = Field(50, ge=1, le=1000)
    page: int = Field(1, ge=1)


class SessionSummary(BaseModel):
    id: str
    created_at: int  # the first trace's start, ns
    last_at: int  # the last end of its traces, ns
    traces: int
    users: list[str]  # up to five
    total_tokens: int
    total_cost: Decimal
    environment: str


class SessionPage(BaseModel):
    items: list[SessionSummary]
    total: int


class SessionQuery(Query):
    limit: int = Field(100, ge=1, le=1000, description="Traces per page, the oldest first.")
    cursor: str | None = Field(None, description="The next_cursor of the page before.")


class SessionDetail(BaseModel):
    id: str
    traces: list[TraceSummary] = Field(description="A page of the session's traces, the oldest first.")
    next_cursor: str | None = Field(None, description="The next page of traces, if there is one.")
    trace_count: int = Field(description="Every trace of the session, not only this page's.")
    created_at: int  # the first trace's start, ns
    last_at: int  # the last end of its traces, ns
    users: list[str]  # up to twenty
    total_cost: Decimal  # of the whole session
    total_tokens: int
    scores: list[Score] = Field([], description="The session's own scores (not its traces'), newest first.")


class UserSummary(BaseModel):
    user_id: str
    traces: int
    total_tokens: int
    total_cost: Decimal
    first_seen: int  # the first trace's start, ns
    last_seen: int  # the last trace's start, ns


class UserPage(BaseModel):
    items: list[UserSummary]
    total: int


class GroupQuery(PageQuery):
    search: str = Field("", max_length=200, description="Only ids that contain this text (any case).")


class UserQuery(GroupQuery):
    sort: Literal["last_seen", "total_cost", "traces", "total_tokens"] = Field(
        "last_seen", description="Order, the most first: last activity (default), cost, traces or tokens."
    )


class TimeseriesQuery(TimeRange):
    interval: int = Field(3600, ge=1, description="Bucket width in seconds.")
    group_by: Literal[tuple(GROUP_BY)] | None = None  # type: ignore[valid-type]
    observation_type: str | None = None


class TimeseriesPoint(BaseModel):
    bucket: int = Field(description="Bucket start, epoch seconds.")
    key: str
    spans: int
    traces: int
    errors: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cache_read_tokens: int
    reasoning_tokens: int
    total_cost: Decimal
    latency_ms: list[float] = Field(description="p50, p90, p95, p99.")
    ttft_ms: float | None = Field(description="Mean time to first token of streamed generations.")


class Timeseries(BaseModel):
    items: list[TimeseriesPoint]


class SuggestQuery(TimeRange):
    prefix: str = Field("", max_length=200)
    limit: int = Field(20, ge=1, le=200)


class Suggestions(BaseModel):
    field: str
    values: list[str]


class ScoreStat(BaseModel):
    name: str
    data_type: str
    count: int
    mean: float
    min: float
    max: float
    top_values: list[str] = Field(description="Most frequent values of categorical scores.")


class ScoreSummary(BaseModel):
    items: list[ScoreStat]


class TraceScoresQuery(Query):
    trace_id: list[str] = Field(min_length=1, max_length=100, description="Trace ids, 100 at most (repeated).")


class TraceScore(BaseModel):
    trace_id: str
    name: str
    data_type: str
    count: int
    value: float = Field(description="The mean value.")
    string_value: str = Field(description="The newest string value (categorical and boolean scores).")


class TraceScores(BaseModel):
    items: list[TraceScore]


class LogListQuery(TimeRange):
    min_severity: int = Field(0, ge=0, le=24, description="Lowest severity number (9 INFO, 13 WARN, 17 ERROR).")
    search: str | None = Field(None, max_length=500, description="Text in the body, case-insensitive.")
    attribute: list[str] = Field(default_factory=list, description="Log attribute filters, key=value.")
    service: str | None = None
    trace_id: str | None = None
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = None


class LogRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    time: int = Field(description="Epoch nanoseconds.")
    observed_time: int
    record_id: str
    trace_id: str
    span_id: str
    severity_number: int
    severity_text: str
    body: str
    body_type: str = Field(description="The body's OTLP type when not a string: int, double, bool, array, kvlist...")
    event_name: str
    service_name: str
    log_attributes: dict[str, str]
    log_attribute_types: dict[str, str]
    resource_attributes: dict[str, str]


class LogPage(BaseModel):
    items: list[LogRecord]
    next_cursor: str | None


class OtlpMetric(BaseModel):
    name: str = Field(description="The Prometheus name to query it by (counters end in _total; histograms: the base).")
    otel_name: str = Field(description="The name the OTLP exporter sent.")
    kind: Literal["gauge", "sum", "histogram", "exponential_histogram", "summary"]
    type: Literal["counter", "gauge", "histogram", "summary"] = Field(description="The Prometheus type.")
    temporality: str = Field(description="cumulative or delta (sums and histograms), else empty.")
    unit: str
    description: str
    labels: list[str] = Field(description="Label names of its series (job, instance and the attributes).")
    services: list[str] = Field(description="Services that sent it (ten at most).")
    series: int
    last_seen: dt.datetime


class OtlpMetrics(BaseModel):
    items: list[OtlpMetric]


class TraceLogs(BaseModel):
    trace_id: str
    items: list[LogRecord]


@dataclass(frozen=True)
class Endpoint:
    path: str
    summary: str
    query: type[BaseModel] | None
    response: type[BaseModel]
    handler: Callable[[web.Request, Store, str, Any], Awaitable[Any]]


def parse_query(model: type[BaseModel], request: web.Request) -> Any:
    raw: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        field = model.model_fields.get(key)
        is_list = field is not None and str(field.annotation).startswith("list")
        raw[key] = values if is_list else values[-1]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "query"
        raise InvalidInput(f"invalid parameter {where}: {first['msg']}") from None


def _attribute_filters(items: list[str], what: str = "attribute") -> dict[str, str]:
    """``key=value`` filters as a dict; InvalidInput names the first one without a key."""
    attributes = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{what} filter {item!r} must be key=value")
        attributes[key] = value
    return attributes


_SCORE_FILTER = re.compile(r"^(.+?)(<=|>=|!=|=|<|>)(.+)$")


def _score_filters(items: list[str]) -> list[tuple[str, str, float | str]]:
    """``name<op>value`` filters: a number compares the value, other text the category."""
    filters: list[tuple[str, str, float | str]] = []
    for item in items:
        found = _SCORE_FILTER.match(item.strip())
        if not found or not found.group(1).strip():
            raise InvalidInput(f"score filter {item!r} must be name<op>value, op one of = != < <= > >=")
        name, operator, text = found.group(1).strip(), found.group(2), found.group(3).strip()
        try:
            value: float | str = float(text)
        except ValueError:
            value = text
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"score filter {item!r}: the value must be a finite number or a category")
        filters.append((name, operator, value))
    return filters


def _traceql(text: str | None) -> Expr | None:
    """A TraceQL spanset as its AST; InvalidInput says where it is wrong."""
    if not text or not text.strip():
        return None
    try:
        return parse_traceql(text)
    except TraceQLError as exc:
        raise InvalidInput(f"invalid TraceQL: {exc.message}") from None


def trace_query(q: TraceListQuery) -> TraceQuery:
    """The reader's query for a trace list's parameters (the list's, and the export's)."""
    start, end = q.window()
    return TraceQuery(
        start,
        end,
        name=q.name,
        service=q.service,
        user_id=q.user_id,
        session_id=q.session_id,
        model=q.model,
        tags=q.tags,
        environment=q.environment,
        has_error=q.has_error,
        min_latency_ms=q.min_latency_ms,
        max_latency_ms=q.max_latency_ms,
        min_cost=q.min_cost,
        max_cost=q.max_cost,
        search=q.search,
        attributes=_attribute_filters(q.attribute),
        metadata=_attribute_filters(q.metadata, "metadata"),
        traceql=_traceql(q.traceql),
        scores=_score_filters(q.score),
        sort=q.sort,
        descending=q.order == "desc",
        limit=q.limit,
        cursor=q.cursor,
        previews=q.preview,
    )


async def list_traces(request: web.Request, store: Store, project: str, q: TraceListQuery) -> TracePage:
    page = await store.reader.list_traces(project, trace_query(q))
    return TracePage(items=[TraceSummary.model_validate(r) for r in page.items], next_cursor=page.next_cursor)


def trace_id_of(request: web.Request) -> str:
    """The path's trace id; a 32-character (OTel hex) one in lower case, as stored."""
    trace_id = request.match_info["trace_id"]
    return trace_id.lower() if len(trace_id) == 32 else trace_id


async def read_trace(store: Store, project: str, trace_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A trace's stored spans and its scores (both empty if it is unknown)."""
    # At once: a point read is a few fixed-cost queries, not much data.
    spans, (scores, _) = await asyncio.gather(
        store.reader.trace(project, trace_id), store.langfuse.scores(project, [trace_id], with_total=False)
    )
    return spans, scores


def trace_detail(project: str, spans: list[dict[str, Any]], scores: list[dict[str, Any]]) -> TraceDetail:
    """A trace as the API gives it (spans without the store's bookkeeping)."""
    trace_input, trace_output = trace_io.from_spans(spans)
    whole_input, whole_output = trace_io.of_spans(spans)
    return TraceDetail(
        trace_id=spans[0]["trace_id"],
        project_id=project,
        spans=[span_model(s) for s in spans],
        scores=[Score.model_validate(s) for s in scores],
        trace_input=trace_input,
        trace_output=trace_output,
        input=whole_input,
        output=whole_output,
    )


async def get_trace(request: web.Request, store: Store, project: str, q: None) -> TraceDetail:
    trace_id = trace_id_of(request)
    spans, scores = await read_trace(store, project, trace_id)
    if not spans:
        raise NotFound(f"no trace {trace_id!r} in this project")
    return trace_detail(project, spans, scores)


async def list_logs(request: web.Request, store: Store, project: str, q: LogListQuery) -> LogPage:
    start, end = q.window()
    attributes = _attribute_filters(q.attribute)
    rows, next_cursor = await store.logs.search(
        project,
        LogQuery(
            start,
            end,
            min_severity=q.min_severity,
            search=q.search,
            attributes=attributes,
            service=q.service,
            trace_id=q.trace_id.lower() if q.trace_id and len(q.trace_id) == 32 else q.trace_id,
            limit=q.limit,
            cursor=q.cursor,
        ),
    )
    return LogPage(items=[LogRecord.model_validate(r) for r in rows], next_cursor=next_cursor)


async def otlp_metrics(request: web.Request, store: Store, project: str, q: TimeRange) -> OtlpMetrics:
    start, end = q.window()
    rows = await store.otlp_metrics.overview(project, start, end)
    return OtlpMetrics(
        items=[
            OtlpMetric(
                name=r["prom_name"],
                otel_name=r["otel_name"],
                kind=r["kind"],
                type=prometheus_type(r["kind"], bool(r["monotonic"])),
                temporality=r["temporality"],
                unit=r["unit"],
                description=r["description"],
                labels=r["label_names"],
                services=[s for s in r["services"] if s],
                series=r["series"],
                last_seen=dt.datetime.fromtimestamp(r["last_ns"] / 1e9, dt.UTC),
            )
            for r in rows
        ]
    )


async def trace_logs(request: web.Request, store: Store, project: str, q: None) -> TraceLogs:
    trace_id = trace_id_of(request)
    # The trace's bounds, not its spans: the UI asks for the spans beside this, at the same time.
    bounds = await store.reader.trace_bounds(project, trace_id)
    if bounds is None:
        raise NotFound(f"no trace {trace_id!r} in this project")
    rows = await store.logs.trace_logs(project, trace_id, bounds.lo, bounds.hi)
    return TraceLogs(trace_id=trace_id, items=[LogRecord.model_validate(r) for r in rows])


async def get_span(request: web.Request, store: Store, project: str, q: None) -> Span:
    span = await store.reader.span(project, request.match_info["span_id"])
    if span is None:
        raise NotFound(f"no span {request.match_info['span_id']!r} in this project")
    return span_model(span)


async def list_spans(request: web.Request, store: Store, project: str, q: SpanListQuery) -> SpanPage:
    start, end = q.window()
    page = await store.reader.list_spans(
        project,
        SpanQuery(
            start,
            end,
            observation_type=q.observation_type,
            model=q.model,
            name=q.name,
            limit=q.limit,
            cursor=q.cursor,
            observations_only=q.observations_only,
            light=q.fields == "light",
            search=q.search,
        ),
    )
    return SpanPage(items=[span_model(s) for s in page.items], next_cursor=page.next_cursor)


async def list_sessions(request: web.Request, store: Store, project: str, q: GroupQuery) -> SessionPage:
    start, end = q.window()
    rows, total = await store.reader.sessions(project, start, end, q.page, q.limit, q.search)
    return SessionPage(items=[SessionSummary.model_validate(r) for r in rows], total=total)


async def get_session(request: web.Request, store: Store, project: str, q: SessionQuery) -> SessionDetail:
    """A page of a session's traces, with the whole session's totals (a session may hold more
    traces than a page: a long-running agent's)."""
    session_id = request.match_info["session_id"]
    query = TraceQuery(
        0, time.time_ns() + DAY_NS, session_id=session_id, descending=False, limit=q.limit, cursor=q.cursor
    )
    page, totals, (scores, _) = await asyncio.gather(
        store.reader.list_traces(project, query),
        store.reader.session_totals(project, session_id),
        store.langfuse.scores(project, None, 1, 100, {"session_id": session_id}, with_total=False),
    )
    if totals is None:
        raise NotFound(f"no session {session_id!r} in this project")
    return SessionDetail(
        scores=[Score.model_validate(s) for s in scores],
        id=session_id,
        traces=[TraceSummary.model_validate(r) for r in page.items],
        next_cursor=page.next_cursor,
        trace_count=totals["traces"],
        created_at=totals["created_at"],
        last_at=totals["last_at"],
        users=totals["users"],
        total_cost=totals["total_cost"],
        total_tokens=totals["total_tokens"],
    )


async def list_users(request: web.Request, store: Store, project: str, q: UserQuery) -> UserPage:
    start, end = q.window()
    rows, total = await store.reader.users(project, start, end, q.page, q.limit, q.sort, q.search)
    return UserPage(items=[UserSummary.model_validate(r) for r in rows], total=total)


async def timeseries(request: web.Request, store: Store, project: str, q: TimeseriesQuery) -> Timeseries:
    start, end = q.window()
    rows = await store.reader.timeseries(project, start, end, q.interval, q.group_by, q.observation_type)
    return Timeseries(items=[TimeseriesPoint.model_validate(r) for r in rows])


async def suggestions(request: web.Request, store: Store, project: str, q: SuggestQuery) -> Suggestions:
    field = request.match_info["field"]
    start, end = q.window()
    return Suggestions(field=field, values=await store.reader.suggest(project, field, q.prefix, start, end, q.limit))


async def scores_summary(request: web.Request, store: Store, project: str, q: TimeRange) -> ScoreSummary:
    start, end = q.window()
    rows = await store.reader.score_summary(project, start, end)
    return ScoreSummary(
        items=[ScoreStat.model_validate({**r, "top_values": [v for v in r["top_values"] if v]}) for r in rows]
    )


async def scores_of_traces(request: web.Request, store: Store, project: str, q: TraceScoresQuery) -> TraceScores:
    rows = await store.reader.trace_scores(project, q.trace_id)
    return TraceScores(items=[TraceScore.model_validate(r) for r in rows])


ENDPOINTS = (
    Endpoint(
        "/api/v1/traces", "List traces, filtered and sorted, a page at a time", TraceListQuery, TracePage, list_traces
    ),
    Endpoint("/api/v1/traces/{trace_id}", "One trace: every span and score", None, TraceDetail, get_trace),
    Endpoint(
        "/api/v1/traces/{trace_id}/logs", "The log records of one trace, oldest first", None, TraceLogs, trace_logs
    ),
    Endpoint(
        "/api/v1/logs", "List log records by time, severity, text and attributes", LogListQuery, LogPage, list_logs
    ),
    Endpoint("/api/v1/spans", "List spans by type, model or name", SpanListQuery, SpanPage, list_spans),
    Endpoint("/api/v1/spans/{span_id}", "One span", None, Span, get_span),
    Endpoint("/api/v1/sessions", "List sessions", GroupQuery, SessionPage, list_sessions),
    Endpoint(
        "/api/v1/sessions/{session_id}",
        "One session: a page of its traces in order, with the whole session's totals",
        SessionQuery,
        SessionDetail,
        get_session,
    ),
    Endpoint("/api/v1/users", "Users with their traces, tokens, cost and activity", UserQuery, UserPage, list_users),
    Endpoint(
        "/api/v1/metrics/timeseries",
        "Counts, tokens, cost, errors and latency quantiles per bucket",
        TimeseriesQuery,
        Timeseries,
        timeseries,
    ),
    Endpoint(
        "/api/v1/metrics/otlp",
        "The metrics received over OTLP in a range: kind, unit, labels, series (query them at /prometheus)",
        TimeRange,
        OtlpMetrics,
        otlp_metrics,
    ),
    Endpoint(
        "/api/v1/scores/summary",
        "Scores by name: count, mean, min, max, top values",
        TimeRange,
        ScoreSummary,
        scores_summary,
    ),
    Endpoint(
        "/api/v1/scores/by-trace",
        "The scores of some traces (the list's page), by trace and name",
        TraceScoresQuery,
        TraceScores,
        scores_of_traces,
    ),
    Endpoint(
        "/api/v1/filters/{field}/values",
        f"Values to suggest for a filter field ({', '.join(sorted(SUGGEST))})",
        SuggestQuery,
        Suggestions,
        suggestions,
    ),
)


def _handler(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        store = request.app[STORE_KEY]
        project = await project_for(request, store)
        query = parse_query(endpoint.query, request) if endpoint.query else None
        result = await endpoint.handler(request, store, project, query)
        return json_response(result.model_dump(mode="json"))

    return handle


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 for /api/v1, from the same pydantic models the handlers use."""
    components: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
    }
    paths: dict[str, Any] = {}
    for ep in ENDPOINTS:
        schema = ep.response.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[ep.response.__name__] = schema
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in (part[1:-1] for part in ep.path.split("/") if part.startswith("{"))
        ]
        if ep.query is not None:
            query_schema = ep.query.model_json_schema()
            for name, prop in query_schema["properties"].items():
                param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": prop}
                if prop.get("type") == "array" or any(o.get("type") == "array" for o in prop.get("anyOf", [])):
                    param.update(style="form", explode=True)
                if "description" in prop:
                    param["description"] = prop["description"]
                parameters.append(param)
        error = {
            "description": "Error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        paths[ep.path] = {
            "get": {
                "summary": ep.summary,
                "operationId": ep.handler.__name__,
                "parameters": parameters,
                "security": [{"basic": []}, {}],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {
                            "application/json": {"schema": {"$ref": f"#/components/schemas/{ep.response.__name__}"}}
                        },
                    },
                    "400": error,
                    "401": error,
                    "404": error,
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tracehouse API", "version": __version__},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
    }


async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


def rest_routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/openapi.json", openapi)] + [web.get(ep.path, _handler(ep)) for ep in ENDPOINTS]
