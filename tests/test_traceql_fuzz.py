"""Random TraceQL, mostly well formed, against every Tempo route that takes it: each answer is
200 or 400, never a server error (a compiled query ClickHouse refuses would be a 500)."""

from __future__ import annotations

import random
import time

from tests.otlp_data import request
from tests.test_tempo import get
from tracehouse.server import Running

FIELDS = [
    "name",
    "status",
    "kind",
    "duration",
    "statusMessage",
    "traceDuration",
    "rootName",
    "rootServiceName",
    "nestedSetParent",
    "nestedSetLeft",
    "trace:id",
    "span:id",
    "span:parentID",
    "instrumentation:name",
    "span.gen_ai.request.model",
    "span.gen_ai.usage.input_tokens",
    "span.gen_ai.usage.cost",
    "resource.service.name",
    ".retries",
    ".flag",
    'span."odd key"',
    "span.nope",
]
VALUES = [
    '"gpt-4o"',
    '"x\\" OR 1=1 --"',
    "3",
    "-1",
    "0",
    "2.5",
    "100ms",
    "1s",
    "true",
    "false",
    "error",
    "server",
    "nil",
]
OPS = ["=", "!=", ">", ">=", "<", "<=", "=~", "!~"]
STRUCTURAL = [">", ">>", "<", "<<", "~", "&>", "&>>", "&<", "&<<", "&~", "!>", "!>>", "!<", "!<<", "!~", "&&", "||"]
METRICS = [
    "rate()",
    "count_over_time()",
    "sum_over_time({f})",
    "avg_over_time({f})",
    "min_over_time({f})",
    "max_over_time({f})",
    "quantile_over_time({f}, 0.5, .9)",
    "histogram_over_time({f})",
    "compare({s})",
    "compare({s}, 3)",
]
TOKENS = [
    "{",
    "}",
    "(",
    ")",
    "|",
    ",",
    "&&",
    "||",
    ">>",
    "~",
    "=",
    "rate",
    "by",
    "select",
    "count",
    "with",
    *FIELDS,
    *VALUES,
]


# Comparisons that make sense, so that most queries reach the SQL behind them
SENSIBLE = [
    ("status", ["=", "!="], ["error", "ok", "unset"]),
    ("kind", ["=", "!="], ["server", "client"]),
    ("duration", [">", "<=", "!="], ["100ms", "1s", "3", "-1", "99999999999999999999s"]),
    ("traceDuration", [">", "<"], ["1s", "2m"]),
    ("nestedSetParent", ["<", ">="], ["0"]),
    ("name", ["=", "!=", "=~", "!~"], ['"chat"', '"c.*"', '"x\\" OR 1=1 --"']),
    ("rootServiceName", ["=", "=~"], ['"hand-made"']),
    ("trace:id", ["=", "!="], ['"0101"']),
    ("span.gen_ai.request.model", ["=", "!=", "=~"], ['"gpt-4o"', "nil"]),
    ("span.gen_ai.usage.input_tokens", [">", "<", "="], ["3", "2.5"]),
    (".retries", [">=", "=", "!="], ["2", "nil"]),
    (".flag", ["=", "!="], ["true", "false"]),
    ('span."odd key"', ["=", "!~"], ['"v"']),
]


def condition(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth < 2 and roll < 0.25:
        return f"({condition(rng, depth + 1)} {rng.choice(['&&', '||'])} {condition(rng, depth + 1)})"
    if roll < 0.3:
        return rng.choice(["true", "false"])
    if roll < 0.85:
        field, ops, values = rng.choice(SENSIBLE)
        return f"{field} {rng.choice(ops)} {rng.choice(values)}"
    return f"{rng.choice(FIELDS)} {rng.choice(OPS)} {rng.choice(VALUES)}"


def spanset(rng: random.Random) -> str:
    return "{ }" if rng.random() < 0.2 else "{ " + condition(rng) + " }"


def spansets(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return spanset(rng)
    text = f"{spanset(rng)} {rng.choice(STRUCTURAL)} {spanset(rng)}"
    return f"({text}) || {spanset(rng)}" if rng.random() < 0.3 else text


def search_query(rng: random.Random) -> str:
    q = spansets(rng)
    if rng.random() < 0.3:
        q += f" | {rng.choice(['count()', 'avg(duration)', 'max(.retries)', 'sum(name)'])} > {rng.choice(VALUES)}"
    if rng.random() < 0.4:
        q += " | select(" + ", ".join(rng.sample(FIELDS, 3)) + ")"
    return q


NUMERIC = ["duration", "span.gen_ai.usage.input_tokens", "span.gen_ai.usage.cost", ".retries"]
LABELS = [
    "name",
    "status",
    "kind",
    "rootName",
    "resource.service.name",
    "span.gen_ai.request.model",
    ".retries",
    ".flag",
]


def metrics_query(rng: random.Random) -> str:
    field = rng.choice(NUMERIC) if rng.random() < 0.85 else rng.choice(FIELDS)
    function = rng.choice(METRICS).format(f=field, s=spanset(rng))
    q = f"{spanset(rng) if rng.random() < 0.9 else spansets(rng)} | {function}"
    if rng.random() < 0.5 and not function.startswith("compare"):
        labels = LABELS if rng.random() < 0.85 else FIELDS
        q += " by (" + ", ".join(rng.sample(labels, rng.randint(1, 3))) + ")"
    if rng.random() < 0.3:
        q += rng.choice([" | topk(2)", " | bottomk(1)", " > 0", " <= 1s", " with(sample=true)"])
    return q


def noise(rng: random.Random) -> str:
    return " ".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 12)))


async def test_random_traceql_never_fails_the_server(live: Running) -> None:
    now = time.time_ns()
    spans = [
        {"name": "chat", "start": now - 10**9, "attrs": {"gen_ai.request.model": "gpt-4o", "retries": 2, "flag": True}},
        {"name": "tool", "start": now - 10**9 + 5, "parent_span_id": b"\x01" * 8, "attrs": {"odd key": "v"}},
    ]
    result = await live.ingest.ingest(request(spans).SerializeToString(), "protobuf", None)
    assert result.accepted == 2
    rng = random.Random(19)
    window = {"start": str(now // 10**9 - 3600), "end": str(now // 10**9 + 60)}
    seen: dict[int, int] = {}
    for n in range(240):
        kind = n % 4
        q = (search_query, metrics_query, metrics_query, noise)[kind](rng)
        if kind == 3 and rng.random() < 0.5:
            q = search_query(rng)[: rng.randint(1, 40)]  # cut short, as Grafana sends a query being typed
        path = ["/api/search", "/api/metrics/query_range", "/api/metrics/query", "/api/search"][kind]
        status, body = await get(live, path, q=q, **window)
        assert status in (200, 400), (path, q, status, body[:300])
        seen[status] = seen.get(status, 0) + 1
        tag = rng.choice(FIELDS).replace('"', "")
        status, body = await get(live, f"/api/v2/search/tag/{tag}/values", q=q, **window)
        assert status in (200, 400), (tag, q, status, body[:300])
    # Most of the generated queries are well formed: the SQL behind them ran
    assert seen.get(200, 0) > 100, seen
