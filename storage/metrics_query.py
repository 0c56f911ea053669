"""Langfuse's metrics query (``/api/public/v2/metrics``, and v1's ``/api/public/metrics``) compiled to bound SQL.

A query names a view (``observations``, ``scores-numeric``, ``scores-boolean`` or
``scores-categorical``), dimensions, measures with their aggregations (a ``histogram`` among
them), filters, an optional time dimension and a window. Every field, aggregation and
operator is looked up in the tables below, never pasted in; every value is a bound parameter.
Rows are ``{<dimension>: ..., "<aggregation>_<measure>": ..., "time_dimension": ...}``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from storage.api import Backend, Row
from storage.reader import TRACE_SUMMARY, WHOLE_DAYS, WHOLE_HAVING
from tracehouse.errors import InvalidInput

__all__ = ["VIEWS", "VIEWS_V1", "MetricsQuery", "run_metrics_query"]


@dataclass(frozen=True)
class View:
    source: str  # the deduplicated rows of the view, selected in a subquery aliased "s"
    time: str  # the column the window and the time dimension use
    dimensions: dict[str, str]
    filters_only: dict[str, str]  # high-cardinality fields: filters, never groups
    measures: dict[str, str]


_OBSERVATIONS = View(
    source=(
        "SELECT span_id, trace_id, parent_span_id, observation_type, name, level, version, release, model, "
        "prompt_name, prompt_version, environment, start_time, end_time, duration_ns, completion_start_time, "
        "input_tokens, output_tokens, total_tokens, cost_details, total_cost, user_id, session_id, trace_name "
        "FROM spans WHERE project_id = {project:String} AND sign = 1 AND observation_type != 'TRACE' "
        "AND start_time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC') "
        "AND start_time < fromUnixTimestamp64Nano({end:Int64}, 'UTC') "
        "ORDER BY ingested_at DESC LIMIT 1 BY trace_id, span_id"
    ),
    time="s.start_time",
    dimensions={
        "environment": "s.environment",
        "type": "toString(s.observation_type)",
        "name": "s.name",
        "level": "s.level",
        "version": "s.version",
        "release": "s.release",
        "providedModelName": "s.model",
        "promptName": "s.prompt_name",
        "promptVersion": "s.prompt_version",
        "isRootObservation": "(s.parent_span_id = '' OR s.parent_span_id = s.trace_id)",
        "startTimeMonth": "formatDateTime(s.start_time, '%Y-%m')",
        # Langfuse's trace-level names of v1, kept by v2 for older queries.
        "traceName": "s.trace_name",
        "traceRelease": "s.release",
        "traceVersion": "s.version",
    },
    filters_only={
        "id": "s.span_id",
        "traceId": "s.trace_id",
        "userId": "s.user_id",
        "sessionId": "s.session_id",
        "parentObservationId": "s.parent_span_id",
    },
    measures={
        "count": "1",
        "latency": "s.duration_ns / 1e6",
        "streamingLatency": "if(isNull(s.completion_start_time), NULL, "
        "dateDiff('millisecond', assumeNotNull(s.completion_start_time), s.end_time))",
        "timeToFirstToken": "if(isNull(s.completion_start_time), NULL, "
        "dateDiff('millisecond', s.start_time, assumeNotNull(s.completion_start_time)))",
        "inputTokens": "s.input_tokens",
        "outputTokens": "s.output_tokens",
        "totalTokens": "s.total_tokens",
        "outputTokensPerSecond": "if(s.duration_ns = 0, NULL, s.output_tokens / (s.duration_ns / 1e9))",
        "tokensPerSecond": "if(s.duration_ns = 0, NULL, s.total_tokens / (s.duration_ns / 1e9))",
        "inputCost": "toFloat64(s.cost_details['input'])",
        "outputCost": "toFloat64(s.cost_details['output'])",
        "totalCost": "toFloat64(s.total_cost)",
    },
)


def _scores_view(data_types: str, value_dimensions: dict[str, str], measures: dict[str, str]) -> View:
    """A scores view: the scores of some data types in the window, one row per score."""
    return View(
        source=(
            "SELECT id, trace_id, session_id, observation_id, name, source, data_type, value, string_value, "
            "environment, timestamp FROM scores FINAL WHERE project_id = {project:String} AND is_deleted = 0 "
            f"AND data_type IN ({data_types}) "
            "AND timestamp >= fromUnixTimestamp64Nano({start:Int64}, 'UTC') "
            "AND timestamp < fromUnixTimestamp64Nano({end:Int64}, 'UTC')"
        ),
        time="s.timestamp",
        dimensions={
            "environment": "s.environment",
            "name": "s.name",
            "source": "toString(s.source)",
            "dataType": "toString(s.data_type)",
            **value_dimensions,
            "timestampMonth": "formatDateTime(s.timestamp, '%Y-%m')",
            "timestampDay": "formatDateTime(s.timestamp, '%Y-%m-%d')",
        },
        filters_only={
            "id": "s.id",
            "traceId": "s.trace_id",
            "sessionId": "s.session_id",
            "observationId": "s.observation_id",
        },
        measures=measures,
    )


_SCORES = _scores_view("'NUMERIC', 'BOOLEAN'", {"value": "s.value"}, {"count": "1", "value": "s.value"})
# Boolean scores: avg of value is the true-rate.
_BOOLEAN_SCORES = _scores_view(
    "'BOOLEAN'", {"value": "s.value", "booleanValue": "(s.value != 0)"}, {"count": "1", "value": "s.value"}
)
_CATEGORICAL_SCORES = _scores_view("'CATEGORICAL'", {"stringValue": "s.string_value"}, {"count": "1"})

VIEWS = {
    "observations": _OBSERVATIONS,
    "scores-numeric": _SCORES,
    "scores-boolean": _BOOLEAN_SCORES,
    "scores-categorical": _CATEGORICAL_SCORES,
}

# Whole traces that started in the window (v1's ``traces`` view, which v2 dropped): one row per
# trace from the summary table, as the traces list reads it.
_START = "fromUnixTimestamp64Nano(s.start_time, 'UTC')"
_TRACES = View(
    source=(
        f"SELECT {TRACE_SUMMARY} FROM traces AS t WHERE t.project_id = {{project:String}} AND {WHOLE_DAYS} "
        f"GROUP BY t.trace_id HAVING {WHOLE_HAVING}"
    ),
    time=_START,
    dimensions={
        "name": "s.name",
        "environment": "s.environment",
        "release": "s.release",
        "userId": "s.user_id",  # v1 groups by these; v2 refuses them
        "sessionId": "s.session_id",
        "timestampMonth": f"formatDateTime({_START}, '%Y-%m')",
        "timestampDay": f"formatDateTime({_START}, '%Y-%m-%d')",
    },
    filters_only={"id": "s.trace_id"},
    measures={
        "count": "1",
        "observationsCount": "s.span_count",
        "latency": "s.latency_ms",
        "inputTokens": "s.input_tokens",
        "outputTokens": "s.output_tokens",
        "totalTokens": "s.total_tokens",
        "totalCost": "toFloat64(s.total_cost)",
    },
)
# Langfuse's v1 metrics API (``/api/public/metrics``, SDK 4's ``api.legacy.metrics_v1``).
VIEWS_V1 = {**VIEWS, "traces": _TRACES}

AGGREGATIONS = {
    "sum": "sum({x})",
    "avg": "avg({x})",
    "count": "count()",
    "max": "max({x})",
    "min": "min({x})",
    "p50": "quantile(0.5)({x})",
    "p75": "quantile(0.75)({x})",
    "p90": "quantile(0.9)({x})",
    "p95": "quantile(0.95)({x})",
    "p99": "quantile(0.99)({x})",
    # [lower, upper, height] of each of {bins} adaptive bins (ClickHouse's histogram).
    "histogram": "histogram({{bins:UInt8}})(toFloat64({x}))",
}
GRANULARITY_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
MAX_ROWS = 10_000


@dataclass
class MetricsQuery:
    view: str
    start: int  # epoch ns
    end: int
    dimensions: list[str] = field(default_factory=list)
    metrics: list[tuple[str, str]] = field(default_factory=list)  # (measure, aggregation)
    filters: list[dict[str, Any]] = field(default_factory=list)
    granularity: str | None = None
    order_by: list[tuple[str, str]] = field(default_factory=list)  # (output field, asc|desc)
    row_limit: int = 100
    bins: int = 10  # of a histogram
    version: int = 2  # of Langfuse's API: 1 has the traces view too


def _filter(view: View, f: dict[str, Any], params: dict[str, object], n: int) -> str:
    column = f.get("column")
    expr = view.dimensions.get(str(column)) or view.filters_only.get(str(column))
    if expr is None:
        raise InvalidInput(f"cannot filter on {str(column)[:60]!r} in this view")
    op = str(f.get("operator", "")).lower()
    value = f.get("value")
    key = f"f{n}"
    if op in ("any of", "none of"):
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            raise InvalidInput(f"filter {column}: {op!r} takes a list of values")
        params[key] = [str(v) for v in value]
        return f"{'NOT ' if op == 'none of' else ''}has({{{key}:Array(String)}}, toString({expr}))"
    if op in ("=", "!=", "contains", "does not contain", "starts with", "ends with"):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise InvalidInput(f"filter {column}: {op!r} takes one value")
        params[key] = str(value)
        return {
            "=": f"toString({expr}) = {{{key}:String}}",
            "!=": f"toString({expr}) != {{{key}:String}}",
            "contains": f"position(toString({expr}), {{{key}:String}}) > 0",
            "does not contain": f"position(toString({expr}), {{{key}:String}}) = 0",
            "starts with": f"startsWith(toString({expr}), {{{key}:String}})",
            "ends with": f"endsWith(toString({expr}), {{{key}:String}})",
        }[op]
    if op in ("is null", "is not null"):
        empty = f"(isNull({expr}) OR toString({expr}) = '')"
        return empty if op == "is null" else f"NOT {empty}"
    if op == "<>":
        if not isinstance(value, (str, int, float, bool)):
            raise InvalidInput(f"filter {column}: '<>' takes one value")
        params[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return f"toString({expr}) != {{{key}:String}}"
    if op in (">", ">=", "<", "<="):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise InvalidInput(f"filter {column}: {op!r} takes a number")
        params[key] = float(value)
        return f"toFloat64OrNull(toString({expr})) {op} {{{key}:Float64}}"
    raise InvalidInput(f"unknown filter operator {op[:30]!r}")


def compile_query(project: str, q: MetricsQuery) -> tuple[str, dict[str, object], list[tuple[str, str]]]:
    """The SQL, its parameters and the output fields (with their SQL aliases) of a metrics query;
    InvalidInput when any part names something the view does not have."""
    views = VIEWS_V1 if q.version == 1 else VIEWS
    view = views.get(q.view)
    if view is None:
        raise InvalidInput(f"unknown view {q.view[:40]!r}: one of {', '.join(views)}")
    if not q.start < q.end:
        raise InvalidInput("fromTimestamp must be before toTimestamp")
    params: dict[str, object] = {"project": project, "start": q.start, "end": q.end}
    select: list[str] = []
    groups: list[str] = []
    outputs: list[tuple[str, str]] = []
    for i, name in enumerate(q.dimensions):
        if name in view.filters_only:
            raise InvalidInput(f"{name!r} is a high-cardinality field: use it in a filter, not as a dimension")
        expr = view.dimensions.get(name)
        if expr is None:
            raise InvalidInput(f"unknown dimension {name[:60]!r} for view {q.view}")
        select.append(f"{expr} AS d{i}")
        groups.append(f"d{i}")
        outputs.append((name, f"d{i}"))
    if not q.metrics:
        raise InvalidInput("give at least one metric: {measure, aggregation}")
    for i, (measure, aggregation) in enumerate(q.metrics):
        expr = view.measures.get(measure)
        if expr is None:
            raise InvalidInput(f"unknown measure {measure[:60]!r} for view {q.view}")
        template = AGGREGATIONS.get(aggregation)
        if template is None:
            raise InvalidInput(f"unknown aggregation {aggregation[:30]!r}: one of {', '.join(AGGREGATIONS)}")
        select.append(f"{template.format(x=expr)} AS m{i}")
        outputs.append((f"{aggregation}_{measure}", f"m{i}"))
    if q.granularity is not None:
        if q.granularity == "month":
            bucket = f"toStartOfMonth({view.time})"
        else:
            seconds = GRANULARITY_SECONDS.get(q.granularity)
            if q.granularity == "auto":
                seconds = max(60, (q.end - q.start) // 10**9 // 50)
            if seconds is None:
                raise InvalidInput(f"unknown granularity {q.granularity[:20]!r}")
            params["bucket_s"] = seconds
            bucket = f"toStartOfInterval({view.time}, toIntervalSecond({{bucket_s:UInt32}}))"
        select.append(f"toUnixTimestamp({bucket}) AS t")
        groups.append("t")
        outputs.append(("time_dimension", "t"))
    where = [_filter(view, f, params, n) for n, f in enumerate(q.filters)]
    aliases = dict(outputs)
    order = []
    for name, direction in q.order_by:
        if name not in aliases or direction.lower() not in ("asc", "desc"):
            raise InvalidInput(f"orderBy {name[:60]!r} must name an output field, asc or desc")
        order.append(f"{aliases[name]} {direction.upper()}")
    if q.granularity is not None:
        order.append("t ASC")
    if not 1 <= q.row_limit <= MAX_ROWS:
        raise InvalidInput(f"row_limit must be 1 to {MAX_ROWS}")
    params["row_limit"] = q.row_limit
    if any(aggregation == "histogram" for _, aggregation in q.metrics):
        if not 1 <= q.bins <= 100:
            raise InvalidInput("config.bins must be 1 to 100")
        params["bins"] = q.bins
    sql = f"SELECT {', '.join(select)} FROM ({view.source}) AS s"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if groups:
        sql += " GROUP BY " + ", ".join(groups)
    if order:
        sql += " ORDER BY " + ", ".join(order)
    sql += " LIMIT {row_limit:UInt32}"
    return sql, params, outputs


def _plain(value: Any) -> Any:
    """A histogram's bins as [lower, upper, height] lists; anything else as it is."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [list(b.values()) for b in value]
    return value


async def run_metrics_query(backend: Backend, project: str, q: MetricsQuery) -> list[Row]:
    """Run a metrics query of one project: rows keyed by the output fields."""
    sql, params, outputs = compile_query(project, q)
    rows = await backend.query(sql, params)
    out = []
    for r in rows:
        row: Row = {name: _plain(r[alias]) for name, alias in outputs}
        if "time_dimension" in row:
            row["time_dimension"] = dt.datetime.fromtimestamp(int(row["time_dimension"]), dt.UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            )
        out.append(row)
    return out
