"""Random PromQL, mostly of the supported subset, against query and query_range: each answer is
200 or 400, never a server error."""

from __future__ import annotations

import random
import time

from tests.otlp_data import request
from tests.test_prometheus import prom
from tracehouse.server import Running

METRICS = [
    "tracehouse_llm_requests_total",
    "tracehouse_llm_tokens_total",
    "tracehouse_llm_cost_usd_total",
    "tracehouse_llm_request_duration_seconds_bucket",
    "tracehouse_llm_request_duration_seconds_sum",
    "tracehouse_llm_request_duration_seconds_count",
    "tracehouse_spans_total",
    "traces_service_graph_request_total",
    "traces_service_graph_request_server_seconds_bucket",
    "traces_spanmetrics_calls_total",
    "tracehouse_span_errors_total",
    "gen_ai_client_token_usage_bucket",
    "nope_metric",
]
LABELS = ["model", "provider", "service", "type", "le", "project", "x", "__name__", "client", "server", "span_kind"]
VALS = ['"gpt-4o"', '""', '".*"', '"(("', '"a|b"', '"\\u0000"', '"0.5"', '"+Inf"']
RANGES = ["[5m]", "[1h]", "[0s]", "[1ms]", "[100y]", "[1d]"]
NUMS = ["1", "0", "-1", "0.99", "1e308", "NaN", "Inf", "-Inf", "2"]


def sel(r: random.Random) -> str:
    m = r.choice(METRICS)
    if r.random() < 0.5:
        m += (
            "{"
            + ",".join(
                f"{r.choice(LABELS)}{r.choice(['=', '!=', '=~', '!~'])}{r.choice(VALS)}" for _ in range(r.randint(1, 2))
            )
            + "}"
        )
    return m


def expr(r: random.Random, d: int = 0) -> str:
    x = r.random()
    if d > 2 or x < 0.2:
        return r.choice([sel(r), r.choice(NUMS)])
    if x < 0.45:
        return f"{r.choice(['rate', 'increase', 'sum_over_time', 'count_over_time'])}({sel(r)}{r.choice(RANGES)})"
    if x < 0.65:
        agg = r.choice(["sum", "avg", "min", "max", "count"])
        by = (
            f" by ({', '.join(r.sample(LABELS, 2))})"
            if r.random() < 0.6
            else (f" without ({r.choice(LABELS)})" if r.random() < 0.3 else "")
        )
        return f"{agg}{by} ({expr(r, d + 1)})"
    if x < 0.75:
        return f"histogram_quantile({r.choice(NUMS)}, {expr(r, d + 1)})"
    if x < 0.82:
        return f"{r.choice(['topk', 'bottomk'])}({r.choice(NUMS)}, {expr(r, d + 1)})"
    op = r.choice(["+", "-", "*", "/", ">", "<", "==", "!=", ">=", "> bool", "%", "^", "and", "or", "unless"])
    return f"({expr(r, d + 1)}) {op} ({expr(r, d + 1)})"


async def test_random_promql_never_fails_the_server(live: Running) -> None:
    now = time.time_ns()
    spans = [
        {
            "name": "chat",
            "start": now - 10**9,
            "attrs": {
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 3,
                "gen_ai.operation.name": "chat",
            },
        }
    ]
    await live.ingest.ingest(request(spans).SerializeToString(), "protobuf", None)
    r = random.Random(7)
    seen: dict[int, int] = {}
    NOW = now // 10**9
    for n in range(400):
        q = expr(r)
        if n % 2:
            status, doc = await prom(
                live,
                "query_range",
                query=q,
                start=str(NOW - 3600),
                end=str(NOW),
                step=r.choice(["60", "15", "3600", "0.001", "1e-9"]),
            )
        else:
            status, doc = await prom(live, "query", query=q, time=str(NOW))
        seen[status] = seen.get(status, 0) + 1
        assert status in (200, 400), (q, status, doc)
    assert seen.get(200, 0) > 80, seen  # many reached the evaluation
