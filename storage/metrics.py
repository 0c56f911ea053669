"""Virtual Prometheus metrics computed from spans, per time bucket and label set.

Each metric is a counter of events (spans) or of a value carried by spans (tokens, cost,
duration). ``series`` returns, for one metric, the amount added in each bucket of
``bucket_s`` seconds between ``start`` and ``end`` for every label set, plus the total added
before ``start`` (so that a plain selector can answer the counter's running total).
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.api import Backend

__all__ = ["DURATION_BUCKETS", "METRICS", "Metric", "MetricsReader", "label_values"]

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
LLM_LABELS = {
    "model": "toString(model)",
    "provider": "toString(provider)",
    "service": "toString(service_name)",
    "operation": "toString(operation)",
    "environment": "toString(environment)",
}
SPAN_LABELS = {
    "service": "toString(service_name)",
    "observation_type": "toString(observation_type)",
    "environment": "toString(environment)",
}
LLM_FILTER = "observation_type IN ('GENERATION', 'EMBEDDING')"
SPAN_FILTER = "observation_type != 'TRACE'"


@dataclass(frozen=True)
class Metric:
    name: str
    help: str
    filter: str
    labels: dict[str, str]
    values: dict[str, str]  # value of the extra label (type, le) or "" -> SQL expression
    extra_label: str = ""
    kind: str = "counter"
    # The rows counted: ``spans``, or a subquery with the columns the expressions name (it may
    # use the window's {project}, {start} and {end}); such a counter starts at the window's start.
    source: str = "spans"


def _le(bound: float, column: str = "duration_ns") -> str:
    return f"sum(sign * ({column} <= {int(bound * 1e9)}))"


# What Tempo's metrics-generator writes and Grafana's Tempo data source reads for its Service
# Graph and its service table: span metrics, and the calls between services. Edges join a span to
# its parent when the two are of different services; an LLM call is an edge from its service to
# its provider (Tempo's "virtual node" for a peer that sends no spans).
SPANMETRICS_BUCKETS = (
    0.002,
    0.004,
    0.008,
    0.016,
    0.032,
    0.064,
    0.128,
    0.256,
    0.512,
    1.024,
    2.048,
    4.096,
    8.192,
    16.384,
)
SERVICE_GRAPH_BUCKETS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8)
SPANMETRICS_LABELS = {
    "service": "toString(service_name)",
    "span_name": "toString(name)",
    "span_kind": "concat('SPAN_KIND_', toString(kind))",
    "status_code": "concat('STATUS_CODE_', toString(status_code))",
}
EDGE_LABELS = {"client": "client", "server": "server"}
EDGES = """(
    SELECT child.start_time AS start_time, child.sign AS sign, child.duration_ns AS duration_ns,
           parent.duration_ns AS client_duration_ns, child.status_code AS status_code,
           parent.service AS client, toString(child.service_name) AS server, child.project_id AS project_id
    FROM spans AS child
    INNER JOIN (
        SELECT trace_id, span_id, toString(service_name) AS service, duration_ns FROM spans
        WHERE project_id = {project:String} AND sign = 1 AND observation_type != 'TRACE'
          AND start_time >= toDateTime64({start:Int64} - 86400, 9, 'UTC')
          AND start_time < toDateTime64({end:Int64}, 9, 'UTC')
        LIMIT 1 BY trace_id, span_id
    ) AS parent ON child.trace_id = parent.trace_id AND child.parent_span_id = parent.span_id
    WHERE child.project_id = {project:String} AND child.observation_type != 'TRACE'
      AND child.start_time >= toDateTime64({start:Int64}, 9, 'UTC')
      AND child.start_time < toDateTime64({end:Int64}, 9, 'UTC')
      AND toString(child.service_name) != parent.service
    UNION ALL
    SELECT start_time, sign, duration_ns, duration_ns, status_code, toString(service_name),
           if(provider = '', 'llm', toString(provider)), project_id
    FROM spans
    WHERE project_id = {project:String} AND observation_type IN ('GENERATION', 'EMBEDDING')
      AND start_time >= toDateTime64({start:Int64}, 9, 'UTC') AND start_time < toDateTime64({end:Int64}, 9, 'UTC')
)"""


def _histogram(
    name: str,
    what: str,
    source: str,
    filter_: str,
    labels: dict[str, str],
    buckets: tuple[float, ...],
    column: str = "duration_ns",
) -> list[Metric]:
    """A Prometheus histogram of durations in seconds: its _bucket, _sum and _count series."""
    return [
        Metric(
            f"{name}_bucket",
            f"{what} (histogram buckets).",
            filter_,
            labels,
            {**{repr(b): _le(b, column) for b in buckets}, "+Inf": "sum(sign)"},
            extra_label="le",
            kind="histogram",
            source=source,
        ),
        Metric(
            f"{name}_sum",
            f"{what}: the total in seconds.",
            filter_,
            labels,
            {"": f"sum(sign * {column}) / 1e9"},
            source=source,
        ),
        Metric(f"{name}_count", f"{what}: how many.", filter_, labels, {"": "sum(sign)"}, source=source),
    ]


METRICS = {
    m.name: m
    for m in (
        Metric(
            "tracehouse_llm_requests_total",
            "LLM calls (generation and embedding spans).",
            LLM_FILTER,
            LLM_LABELS,
            {"": "sum(sign)"},
        ),
        Metric(
            "tracehouse_llm_tokens_total",
            "Tokens of LLM calls, by type.",
            LLM_FILTER,
            LLM_LABELS,
            {
                "input": "sum(sign * input_tokens)",
                "output": "sum(sign * output_tokens)",
                "cache_read": "sum(sign * cache_read_tokens)",
                "cache_write": "sum(sign * cache_write_tokens)",
                "reasoning": "sum(sign * reasoning_tokens)",
            },
            extra_label="type",
        ),
        Metric(
            "tracehouse_llm_cost_usd_total",
            "Cost of LLM calls in USD.",
            LLM_FILTER,
            LLM_LABELS,
            {"": "toFloat64(sum(sign * total_cost))"},
        ),
        Metric(
            "tracehouse_llm_request_duration_seconds_bucket",
            "Latency of LLM calls (histogram buckets).",
            LLM_FILTER,
            LLM_LABELS,
            {**{repr(b): _le(b) for b in DURATION_BUCKETS}, "+Inf": "sum(sign)"},
            extra_label="le",
            kind="histogram",
        ),
        Metric(
            "tracehouse_llm_request_duration_seconds_sum",
            "Total latency of LLM calls in seconds.",
            LLM_FILTER,
            LLM_LABELS,
            {"": "sum(sign * duration_ns) / 1e9"},
        ),
        Metric(
            "tracehouse_llm_request_duration_seconds_count",
            "LLM calls measured for latency.",
            LLM_FILTER,
            LLM_LABELS,
            {"": "sum(sign)"},
        ),
        Metric("tracehouse_spans_total", "Spans and observations.", SPAN_FILTER, SPAN_LABELS, {"": "sum(sign)"}),
        Metric(
            "tracehouse_span_errors_total",
            "Spans with an error status or level.",
            SPAN_FILTER,
            SPAN_LABELS,
            {"": "sum(sign * (status_code = 'ERROR' OR level = 'ERROR'))"},
        ),
        Metric(
            "traces_spanmetrics_calls_total",
            "Spans, as Tempo's span metrics.",
            SPAN_FILTER,
            SPANMETRICS_LABELS,
            {"": "sum(sign)"},
        ),
        *_histogram(
            "traces_spanmetrics_latency",
            "Span durations, as Tempo's span metrics",
            "spans",
            SPAN_FILTER,
            SPANMETRICS_LABELS,
            SPANMETRICS_BUCKETS,
        ),
        Metric(
            "traces_service_graph_request_total",
            "Calls from one service to another.",
            "1",
            EDGE_LABELS,
            {"": "sum(sign)"},
            source=EDGES,
        ),
        Metric(
            "traces_service_graph_request_failed_total",
            "Calls between services that failed.",
            "1",
            EDGE_LABELS,
            {"": "sum(sign * (status_code = 'ERROR'))"},
            source=EDGES,
        ),
        *_histogram(
            "traces_service_graph_request_server_seconds",
            "Calls between services, timed by the server",
            EDGES,
            "1",
            EDGE_LABELS,
            SERVICE_GRAPH_BUCKETS,
        ),
        *_histogram(
            "traces_service_graph_request_client_seconds",
            "Calls between services, timed by the client",
            EDGES,
            "1",
            EDGE_LABELS,
            SERVICE_GRAPH_BUCKETS,
            "client_duration_ns",
        ),
    )
}


class MetricsReader:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def label_values(self, project: str, label: str, start: int, end: int) -> list[str]:
        """Values of one label of the virtual metrics over a window (see ``label_values``)."""
        return await label_values(self._backend, project, label, start, end)

    async def series(
        self, project: str, metric: Metric, start: int, end: int, bucket_s: int, with_base: bool
    ) -> tuple[list[dict[str, str]], list[int], list[list[float]], list[float]]:
        """(label sets, bucket starts in s, per label set the amount added per bucket, per label set the
        total added before ``start`` when ``with_base``). Times are epoch seconds."""
        label_exprs = [f"{expr} AS `{name}`" for name, expr in metric.labels.items()]
        value_exprs = [f"{expr} AS v{i}" for i, expr in enumerate(metric.values.values())]
        group = ", ".join(f"`{name}`" for name in metric.labels)
        params = {"project": project, "start": start, "end": end, "step": bucket_s}
        rows = await self._backend.query(
            f"""
SELECT intDiv(toUnixTimestamp(start_time) - {{start:Int64}}, {{step:UInt32}}) AS bucket, {", ".join(label_exprs)},
       {", ".join(value_exprs)}
FROM {metric.source}
WHERE project_id = {{project:String}} AND {metric.filter}
  AND start_time >= toDateTime64({{start:Int64}}, 9, 'UTC') AND start_time < toDateTime64({{end:Int64}}, 9, 'UTC')
GROUP BY bucket, {group}
""",
            params,
        )
        base_rows = []
        if with_base and metric.source == "spans":  # a joined source counts from the window on
            base_rows = await self._backend.query(
                f"""
SELECT {", ".join(label_exprs)}, {", ".join(value_exprs)}
FROM spans
WHERE project_id = {{project:String}} AND {metric.filter} AND start_time < toDateTime64({{start:Int64}}, 9, 'UTC')
GROUP BY {group}
""",
                params,
            )
        buckets = max(1, -(-(end - start) // bucket_s))
        index: dict[tuple[str, ...], int] = {}
        labels: list[dict[str, str]] = []
        values: list[list[float]] = []
        bases: list[float] = []
        extra = list(metric.values)

        def slot(row: dict[str, object], i: int) -> int:
            key = (*(str(row[name]) for name in metric.labels), extra[i])
            if key not in index:
                index[key] = len(labels)
                label_set = {name: str(row[name]) for name in metric.labels}
                if metric.extra_label:
                    label_set[metric.extra_label] = extra[i]
                labels.append(label_set)
                values.append([0.0] * buckets)
                bases.append(0.0)
            return index[key]

        for row in rows:
            for i in range(len(extra)):
                s = slot(row, i)
                b = int(row["bucket"])
                if 0 <= b < buckets:
                    values[s][b] += float(row[f"v{i}"])
        for row in base_rows:
            for i in range(len(extra)):
                bases[slot(row, i)] += float(row[f"v{i}"])
        starts = [start + i * bucket_s for i in range(buckets)]
        return labels, starts, values, bases


async def label_values(backend: Backend, project: str, label: str, start: int, end: int) -> list[str]:
    """Values of one metric label among spans in the window (epoch seconds)."""
    expr = {**LLM_LABELS, **SPAN_LABELS, **SPANMETRICS_LABELS}.get(label)
    if label in EDGE_LABELS:  # a service, or the provider an LLM call went to
        expr = (
            "arrayJoin(if(observation_type IN ('GENERATION', 'EMBEDDING'), "
            "[toString(service_name), if(provider = '', 'llm', toString(provider))], [toString(service_name)]))"
        )
    if expr is None:
        return []
    rows = await backend.query(
        f"""SELECT DISTINCT {expr} AS v FROM spans
WHERE project_id = {{project:String}} AND {SPAN_FILTER}
  AND start_time >= toDateTime64({{start:Int64}}, 9, 'UTC') AND start_time < toDateTime64({{end:Int64}}, 9, 'UTC')
  AND v != ''
ORDER BY v LIMIT 10000""",
        {"project": project, "start": start, "end": end},
    )
    return [r["v"] for r in rows]
