"""OTLP metrics: the real SDK metric exporters (HTTP and gRPC) with the openai-v2 instrumentation's
GenAI metrics, each metric kind read back through the Prometheus API with the names OpenTelemetry's
Prometheus exporter gives them, retries stored once, garbage refused."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from typing import Any

import aiohttp
import grpc
import openai
import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from otlp_receiver.prometheus_names import metric_name
from tests.fake_openai import fake_openai
from tests.langfuse_helpers import basic, make_key
from tests.otel import exporter, in_thread, provider
from tracehouse.server import Running

SECOND = 1_000_000_000
T0 = 1_790_000_000  # epoch seconds of the hand-made points


async def prom(live: Running, query: str, at: float | None = None) -> list[dict[str, Any]]:
    params = {"query": query, **({"time": str(at)} if at is not None else {})}
    async with (
        aiohttp.ClientSession() as session,
        session.get(live.api_url + "/prometheus/api/v1/query", params=params) as r,
    ):
        doc = await r.json()
        assert r.status == 200 and doc["status"] == "success", doc
        return doc["data"]["result"]


async def post(live: Running, body: bytes, content_type: str = "application/json", **headers: str):
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            live.otlp_http_url + "/v1/metrics", data=body, headers={"Content-Type": content_type, **headers}
        ) as r,
    ):
        return r.status, await r.read()


@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_genai_metrics_of_the_openai_v2_instrumentation_chart_in_prometheus(
    live: Running, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    metric_exporter = (
        GrpcMetricExporter(endpoint=live.otlp_grpc_address, insecure=True)
        if transport == "grpc"
        else HttpMetricExporter(endpoint=live.otlp_http_url + "/v1/metrics")
    )
    results: list[Any] = []
    original = metric_exporter.export

    def export(*args: Any, **kwargs: Any) -> Any:
        results.append(original(*args, **kwargs))
        return results[-1]

    metric_exporter.export = export  # type: ignore[method-assign]
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
    mp = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": "chat-app"}))
    tp = provider(exporter(transport, live), service="chat-app")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tp, meter_provider=mp)
    try:
        async with fake_openai() as base_url:
            with openai.OpenAI(base_url=base_url, api_key="sk-fake") as client:
                for _ in range(2):
                    await in_thread(
                        lambda: client.chat.completions.create(
                            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
                        )
                    )
    finally:
        instrumentor.uninstrument()
        await in_thread(mp.shutdown)  # the final collection, exported once
        tp.shutdown()
    assert results and all(r.name == "SUCCESS" for r in results)

    # gen_ai.client.token.usage ({token}) and gen_ai.client.operation.duration (s), as histograms.
    # (Instant queries resolve to the second: ask a little after the export.)
    at = time.time() + 2
    usage = await prom(live, "sum by (gen_ai_token_type) (gen_ai_client_token_usage_sum)", at)
    assert {r["metric"]["gen_ai_token_type"]: float(r["value"][1]) for r in usage} == {"input": 62.0, "output": 18.0}
    [count] = await prom(live, 'sum(gen_ai_client_operation_duration_seconds_count{job="chat-app"})', at)
    assert float(count["value"][1]) == 2.0
    query = "histogram_quantile(0.95, sum by (le) (gen_ai_client_operation_duration_seconds_bucket))"
    [p95] = await prom(live, query, at)
    assert 0 < float(p95["value"][1]) < 60
    async with (
        aiohttp.ClientSession() as session,
        session.get(live.api_url + "/prometheus/api/v1/label/__name__/values") as r,
    ):
        names = (await r.json())["data"]
    assert "gen_ai_client_token_usage_bucket" in names and "gen_ai_client_operation_duration_seconds_sum" in names


def number(value: float, t: int, start: int = T0 - 60, **attrs: str) -> dict[str, Any]:
    return {
        "timeUnixNano": str(t * SECOND),
        "startTimeUnixNano": str(start * SECOND),
        "asDouble": value,
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
    }


def request(metrics: list[dict[str, Any]], service: str = "app") -> bytes:
    return json.dumps(
        {
            "resourceMetrics": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                    "scopeMetrics": [{"scope": {"name": "tests"}, "metrics": metrics}],
                }
            ]
        }
    ).encode()


# One metric of every kind, each with its points at T0 and after.
EVERY_KIND: list[dict[str, Any]] = [
    {"name": "queue.depth", "unit": "{item}", "gauge": {"dataPoints": [number(5, T0), number(3, T0 + 30)]}},
    {
        "name": "app.requests",
        "unit": "1",
        "sum": {
            "aggregationTemporality": 2,
            "isMonotonic": True,
            # a cumulative counter that restarts after its second point
            "dataPoints": [number(10, T0), number(15, T0 + 30), number(4, T0 + 60, start=T0 + 45)],
        },
    },
    {
        "name": "app.bytes",
        "unit": "By",
        "sum": {
            "aggregationTemporality": 1,
            "isMonotonic": True,
            "dataPoints": [number(100, T0), number(50, T0 + 30)],
        },
    },
    {
        "name": "app.latency",
        "unit": "ms",
        "histogram": {
            "aggregationTemporality": 2,
            "dataPoints": [
                {
                    "timeUnixNano": str(T0 * SECOND),
                    "count": "10",
                    "sum": 450.0,
                    "bucketCounts": ["2", "5", "3"],
                    "explicitBounds": [10.0, 100.0],
                    "attributes": [{"key": "http.route", "value": {"stringValue": "/a"}}],
                }
            ],
        },
    },
    {
        "name": "app.sizes",
        "exponentialHistogram": {
            "aggregationTemporality": 2,
            "dataPoints": [
                {
                    "timeUnixNano": str(T0 * SECOND),
                    "count": "4",
                    "sum": 10.0,
                    "scale": 0,
                    "zeroCount": "1",
                    "positive": {"offset": 0, "bucketCounts": ["1", "2"]},
                }
            ],
        },
    },
    {
        "name": "rpc.time",
        "unit": "s",
        "summary": {
            "dataPoints": [
                {
                    "timeUnixNano": str(T0 * SECOND),
                    "count": "3",
                    "sum": 1.5,
                    "quantileValues": [{"quantile": 0.5, "value": 0.4}, {"quantile": 0.99, "value": 0.9}],
                }
            ]
        },
    },
]


async def test_every_kind_reads_back_through_promql(live: Running) -> None:
    body = request(EVERY_KIND)
    for _ in range(2):  # a retried export is stored once
        status, reply = await post(live, body)
        assert status == 200 and json.loads(reply) == {}
    at = T0 + 90
    assert [float(r["value"][1]) for r in await prom(live, "queue_depth", at)] == [3.0]
    # A last point older than the lookback (15 minutes) is stale, as in Prometheus.
    assert [float(r["value"][1]) for r in await prom(live, "queue_depth", T0 + 30 + 14 * 60)] == [3.0]
    assert await prom(live, "queue_depth", T0 + 30 + 16 * 60) == []
    # Over a range that begins before it: no value before its first point (not a zero).
    params = {"query": "queue_depth", "start": str(T0 - 60), "end": str(T0 + 60), "step": "30"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(live.api_url + "/prometheus/api/v1/query_range", params=params) as r,
    ):
        [series] = (await r.json())["data"]["result"]
    assert [(t - T0, float(v)) for t, v in series["values"]] == [(30, 5.0), (60, 3.0)]
    [requests] = await prom(live, "app_requests_total", at)  # "1" on a counter: no unit word
    assert requests["metric"]["job"] == "app"
    assert float(requests["value"][1]) == 4.0  # the latest value, after the reset
    # Over the range: 5 (10 -> 15; the counter began before the range), then 4 after the reset.
    [increase] = await prom(live, "increase(app_requests_total[2m])", at)
    assert float(increase["value"][1]) == 9.0
    # "app.bytes" already ends with its unit's word: it is not repeated.
    assert [float(r["value"][1]) for r in await prom(live, "app_bytes_total", at)] == [150.0]
    buckets = {r["metric"]["le"]: float(r["value"][1]) for r in await prom(live, "app_latency_milliseconds_bucket", at)}
    assert buckets == {"10": 2.0, "100": 7.0, "+Inf": 10.0}
    [route] = await prom(live, 'app_latency_milliseconds_sum{http_route="/a"}', at)
    assert float(route["value"][1]) == 450.0
    assert [float(r["value"][1]) for r in await prom(live, "app_sizes_count", at)] == [4.0]
    quantiles = {r["metric"]["quantile"]: float(r["value"][1]) for r in await prom(live, "rpc_time_seconds", at)}
    assert quantiles == {"0.5": 0.4, "0.99": 0.9}
    rows = await live.store.backend.query("SELECT count() AS n FROM metric_points FINAL")
    assert rows[0]["n"] == 10  # ten points, each once


async def test_a_counters_increase_within_one_step_restarts_included(live: Running) -> None:
    """Points are reduced to one per series and step in ClickHouse: a counter first seen inside a
    step still counts from its first point, and a restart (a new start time) counts from zero even
    when the new run passes the old value within the same step."""
    points = [number(100, T0 + 10), number(110, T0 + 20), number(5, T0 + 30, start=T0 + 25),
              number(150, T0 + 40, start=T0 + 25)]  # fmt: skip
    body = request([{"name": "jobs.done", "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                                                  "dataPoints": points}}])  # fmt: skip
    assert (await post(live, body))[0] == 200
    [one_step] = await prom(live, "increase(jobs_done_total[60s])", T0 + 60)
    assert float(one_step["value"][1]) == 10 + 5 + 145
    params = {"query": "increase(jobs_done_total[30s])", "start": str(T0 + 30), "end": str(T0 + 60), "step": "30"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(live.api_url + "/prometheus/api/v1/query_range", params=params) as r,
    ):
        [series] = (await r.json())["data"]["result"]
    # [T0, T0+30): 100 -> 110; [T0+30, T0+60): the restart's 5, then 150.
    assert [(t - T0, float(v)) for t, v in series["values"]] == [(30, 10.0), (60, 150.0)]


async def test_the_metrics_page_lists_each_metric_of_the_range_for_its_project_only(live: Running) -> None:
    """``GET /api/v1/metrics/otlp`` (the UI's metrics page): each metric with a point in the range,
    its Prometheus name and type, unit, label names, services and series; another project's key
    sees none; garbage parameters get a 400."""
    assert (await post(live, request(EVERY_KIND)))[0] == 200
    assert (
        await post(
            live,
            request(
                [{"name": "queue.depth", "unit": "{item}", "gauge": {"dataPoints": [number(9, T0, queue="b")]}}],
                "worker",
            ),
        )
    )[0] == 200
    headers = basic(await make_key(live))

    async def listed(params: dict[str, str], headers: dict[str, str] = headers) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(live.api_url + "/api/v1/metrics/otlp", params=params, headers=headers) as r,
        ):
            return r.status, await r.json()

    iso = lambda t: dt.datetime.fromtimestamp(t, dt.UTC).isoformat()  # noqa: E731
    status, doc = await listed({"start": iso(T0 - 60), "end": iso(T0 + 120)})
    assert status == 200
    by_name = {m["name"]: m for m in doc["items"]}
    assert list(by_name) == sorted(by_name)
    assert {name: (m["kind"], m["type"]) for name, m in by_name.items()} == {
        "queue_depth": ("gauge", "gauge"),
        "app_requests_total": ("sum", "counter"),
        "app_bytes_total": ("sum", "counter"),
        "app_latency_milliseconds": ("histogram", "histogram"),
        "app_sizes": ("exponential_histogram", "histogram"),
        "rpc_time_seconds": ("summary", "summary"),
    }
    depth = by_name["queue_depth"]
    assert (depth["otel_name"], depth["unit"], depth["series"]) == ("queue.depth", "{item}", 2)
    assert depth["services"] == ["app", "worker"] and {"job", "queue"} <= set(depth["labels"])
    assert by_name["app_requests_total"]["temporality"] == "cumulative"
    assert by_name["app_bytes_total"]["temporality"] == "delta"
    assert "http_route" in by_name["app_latency_milliseconds"]["labels"]
    assert by_name["queue_depth"]["last_seen"].startswith(iso(T0 + 30)[:19])
    # A range after the points: none of them.
    assert (await listed({"start": iso(T0 + 3600), "end": iso(T0 + 7200)}))[1]["items"] == []
    other = await live.store.projects.create_project("other")
    status, doc = await listed({"start": iso(T0 - 60), "end": iso(T0 + 120)}, basic(await make_key(live, other.id)))
    assert status == 200 and doc["items"] == []
    for params in ({"start": "yesterday"}, {"start": iso(T0), "end": iso(T0 - 1)}, {"metric": "queue_depth"}):
        status, doc = await listed(params)
        assert status == 400 and set(doc["error"]) == {"code", "message"}, params


def test_prometheus_names_follow_the_exporter() -> None:
    assert metric_name("gen_ai.client.token.usage", "{token}", "histogram", False) == "gen_ai_client_token_usage"
    assert metric_name("gen_ai.client.operation.duration", "s", "histogram", False) == (
        "gen_ai_client_operation_duration_seconds"
    )
    assert metric_name("http.server.request.size", "By", "sum", True) == "http_server_request_size_bytes_total"
    assert metric_name("system.cpu.utilization", "1", "gauge", False) == "system_cpu_utilization_ratio"
    assert metric_name("net.io", "By/s", "gauge", False) == "net_io_bytes_per_second"
    assert metric_name("2xx..count", "", "sum", False) == "_2xx_count"
    assert metric_name("requests_total", "", "sum", True) == "requests_total"


async def test_garbage_metrics_are_refused_and_the_good_points_kept(live: Running) -> None:
    assert (await post(live, b"\x0a\xff\xff", "application/x-protobuf"))[0] == 400
    assert (await post(live, b"[1, 2"))[0] == 400
    status, body = await post(live, b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"gauge": 3}]}]}]}')
    assert status == 400 and b"gauge must be an object" in body
    status, body = await post(
        live, request([{"name": "g", "gauge": {"dataPoints": [{"timeUnixNano": "1", "asDouble": "many"}]}}])
    )
    assert status == 400 and b"asDouble must be a number" in body
    assert (await post(live, b"x", "text/plain"))[0] == 415
    bomb = gzip.compress(b"\0" * (live.ingest.settings.max_body_bytes + 1))
    assert (await post(live, bomb, **{"Content-Encoding": "gzip"}))[0] == 413
    mixed = request(
        [
            {"name": "good", "gauge": {"dataPoints": [number(1, T0)]}},
            {"name": "", "gauge": {"dataPoints": [number(2, T0)]}},  # no name
            {"name": "no.time", "gauge": {"dataPoints": [{"asDouble": 3}]}},
        ],
        service="mixed",
    )
    status, body = await post(live, mixed, "application/json")
    reply = json.loads(body)
    assert status == 200 and reply["partialSuccess"]["rejectedDataPoints"] == "2"
    assert "a metric must have a name" in reply["partialSuccess"]["errorMessage"]
    assert [float(r["value"][1]) for r in await prom(live, "good", T0 + 10)] == [1.0]

    channel = grpc.aio.insecure_channel(live.otlp_grpc_address)
    try:
        export = channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await export(b"\x0a\xff\xff")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        reply_bytes = await export(b"")  # an empty request is fine
        assert not ExportMetricsServiceResponse.FromString(reply_bytes).HasField("partial_success")
    finally:
        await channel.close()
