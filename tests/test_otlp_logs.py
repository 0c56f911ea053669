"""OTLP logs: the real SDK log exporters (HTTP and gRPC) and the openai-v2 instrumentation in its
event modes; GenAI events filling their spans whichever arrives first; evaluation events as scores;
garbage refused without losing the good records."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import os
import time
import warnings
from typing import Any

import aiohttp
import grpc
import openai
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from tests.fake_openai import fake_openai
from tests.langfuse_helpers import basic, make_key
from tests.otel import exporter, in_thread, provider
from tests.otlp_data import kv, request
from tracehouse.server import Running

SECOND = 1_000_000_000
MESSAGES_ASKED = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}]
EXPECTED_INPUT = [
    {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
    {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
]


class Recording:
    """An exporter that keeps the result of every export, so a test sees the SDK's view."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.results: list[Any] = []

    def __getattr__(self, name: str) -> Any:  # a metric reader asks its exporter for more
        return getattr(self.inner, name)

    def export(self, batch: Any, *args: Any, **kwargs: Any) -> Any:
        result = self.inner.export(batch, *args, **kwargs)
        self.results.append(result)
        return result

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        self.inner.shutdown(*args, **kwargs)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def log_exporter(kind: str, live: Running) -> Recording:
    if kind == "grpc":
        return Recording(GrpcLogExporter(endpoint=live.otlp_grpc_address, insecure=True))
    return Recording(HttpLogExporter(endpoint=live.otlp_http_url + "/v1/logs"))


async def get(live: Running, path: str, headers: dict[str, str] | None = None, **params: str) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.get(live.api_url + path, params=params, headers=headers or {}) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json()


@pytest.mark.parametrize("mode", ["EVENT_ONLY", "SPAN_AND_EVENT"])
@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_openai_v2_events_give_the_generation_its_messages(
    live: Running, mode: str, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", mode)
    tp = provider(exporter(transport, live), service="chat-app")
    logs = log_exporter(transport, live)
    lp = LoggerProvider()
    lp.add_log_record_processor(SimpleLogRecordProcessor(logs))
    # All three signals, to the one endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT sets them up.
    metric_exporter = Recording(
        GrpcMetricExporter(endpoint=live.otlp_grpc_address, insecure=True)
        if transport == "grpc"
        else HttpMetricExporter(endpoint=live.otlp_http_url + "/v1/metrics")
    )
    mp = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)],
        resource=Resource.create({"service.name": "chat-app"}),
    )
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tp, logger_provider=lp, meter_provider=mp)
    try:
        async with fake_openai() as base_url:
            with openai.OpenAI(base_url=base_url, api_key="sk-fake") as client:
                messages = [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Weather in Paris?"},
                ]
                await in_thread(lambda: client.chat.completions.create(model="gpt-4o-mini", messages=messages))
    finally:
        instrumentor.uninstrument()
        tp.force_flush()
        tp.shutdown()
        lp.shutdown()
        await in_thread(mp.shutdown)
    # No exporter of any signal saw an error.
    assert logs.results and all(r.name == "SUCCESS" for r in logs.results)
    assert metric_exporter.results and all(r.name == "SUCCESS" for r in metric_exporter.results)

    rows = await live.store.backend.query("SELECT trace_id, span_id FROM spans WHERE service_name = 'chat-app'")
    [ids] = rows
    # REST: the trace view's spans.
    detail = await get(live, f"/api/v1/traces/{ids['trace_id']}")
    [span] = detail["spans"]
    assert json.loads(span["input"]) == EXPECTED_INPUT
    assert json.loads(span["output"])[0]["parts"] == [{"type": "text", "content": "Paris is sunny, 21°C."}]
    assert (span["input_tokens"], span["output_tokens"]) == (31, 9)
    # The trace list's preview, the span list, Langfuse's observation and trace.
    [item] = (await get(live, "/api/v1/traces"))["items"]
    assert json.loads(item["input"]) == EXPECTED_INPUT
    [listed] = (await get(live, "/api/v1/spans"))["items"]
    assert json.loads(listed["input"]) == EXPECTED_INPUT
    # The trace's log records, and the logs page.
    records = (await get(live, f"/api/v1/traces/{ids['trace_id']}/logs"))["items"]
    assert [r["event_name"] for r in records] == ["gen_ai.client.inference.operation.details"]
    assert records[0]["span_id"] == ids["span_id"]
    page = await get(live, "/api/v1/logs", trace_id=ids["trace_id"])
    assert [r["record_id"] for r in page["items"]] == [records[0]["record_id"]]
    # The GenAI metrics, through the Prometheus API.
    query = "sum by (gen_ai_token_type) (gen_ai_client_token_usage_sum)"
    doc = await get(live, "/prometheus/api/v1/query", query=query, time=str(time.time() + 2))
    assert {r["metric"]["gen_ai_token_type"]: r["value"][1] for r in doc["data"]["result"]} == {
        "input": "31",
        "output": "9",
    }


async def test_a_trace_of_event_only_calls_lists_their_messages(live: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """An app's span around two model calls whose messages come as events only (openai-v2 in
    EVENT_ONLY mode; ADK 2.x sends its so): the trace list and the session show the first call's
    input and the last call's output (they showed none)."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
    tp = provider(exporter("http", live), service="event-app")
    lp = LoggerProvider()
    lp.add_log_record_processor(SimpleLogRecordProcessor(log_exporter("http", live).inner))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tp, logger_provider=lp)
    try:
        async with fake_openai() as base_url:
            with openai.OpenAI(base_url=base_url, api_key="sk-fake") as client:

                def answer() -> None:
                    attributes = {"session.id": "event-session"}
                    with tp.get_tracer("app").start_as_current_span("answer", attributes=attributes):
                        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES_ASKED)
                        follow_up = [*MESSAGES_ASKED, {"role": "user", "content": "And tomorrow?"}]
                        client.chat.completions.create(model="gpt-4o-mini", messages=follow_up)

                await in_thread(answer)
    finally:
        instrumentor.uninstrument()
        tp.shutdown()
        lp.shutdown()
    said = [
        {"role": "assistant", "parts": [{"type": "text", "content": "Paris is sunny, 21°C."}], "finish_reason": "stop"}
    ]
    deadline = time.monotonic() + 60
    while True:  # acked records are listed a moment later
        items = (await get(live, "/api/v1/traces", service="event-app"))["items"]
        if items and items[0]["span_count"] == 3 and items[0]["input"] and items[0]["output"]:
            break
        assert time.monotonic() < deadline, items
        await asyncio.sleep(0.05)
    [item] = items
    assert json.loads(item["input"]) == EXPECTED_INPUT  # the first call's, not the follow-up's
    assert json.loads(item["output"]) == said
    session = await get(live, "/api/v1/sessions/event-session")
    [turn] = session["traces"]
    assert (json.loads(turn["input"]), json.loads(turn["output"])) == (EXPECTED_INPUT, said)


def genai_span(trace_id: bytes, span_id: bytes, start: int, **attrs: Any) -> bytes:
    spans = [
        {
            "trace_id": trace_id,
            "span_id": span_id,
            "name": "chat gpt-4o",
            "start": start,
            "end": start + SECOND,
            "attrs": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", **attrs},
        }
    ]
    return request(spans).SerializeToString()


def anyvalue(value: Any) -> AnyValue:
    v = AnyValue()
    if isinstance(value, dict):
        v.kvlist_value.SetInParent()
        for k, x in value.items():
            v.kvlist_value.values.add(key=k).value.CopyFrom(anyvalue(x))
    elif isinstance(value, list):
        v.array_value.SetInParent()
        for x in value:
            v.array_value.values.add().CopyFrom(anyvalue(x))
    else:
        v.CopyFrom(kv("x", value).value)
    return v


def log_request(records: list[dict[str, Any]], service: str = "events-app") -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", service))
    sl = rl.scope_logs.add()
    sl.scope.name = "tests"
    for r in records:
        record = sl.log_records.add()
        record.time_unix_nano = r.get("time", 0)
        record.observed_time_unix_nano = r.get("observed", 0)
        record.trace_id = r.get("trace_id", b"")
        record.span_id = r.get("span_id", b"")
        record.event_name = r.get("event", "")
        record.severity_number = r.get("severity", 9)
        record.severity_text = r.get("severity_text", "INFO")
        if "body" in r:
            record.body.CopyFrom(anyvalue(r["body"]))
        for k, v in r.get("attrs", {}).items():
            record.attributes.append(kv(k, v) if not isinstance(v, (list, dict)) else _kv_any(k, v))
    return req


def _kv_any(key: str, value: Any) -> Any:
    item = kv(key, "")
    item.value.CopyFrom(anyvalue(value))
    return item


async def post(live: Running, path: str, body: bytes, content_type: str = "application/x-protobuf", **headers: str):
    async with (
        aiohttp.ClientSession() as session,
        session.post(live.otlp_http_url + path, data=body, headers={"Content-Type": content_type, **headers}) as r,
    ):
        return r.status, await r.read()


def details_event(trace_id: bytes, span_id: bytes, time: int) -> dict[str, Any]:
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "time": time,
        "event": "gen_ai.client.inference.operation.details",
        "attrs": {
            "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}],
            "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": "hello"}]}],
            "gen_ai.system_instructions": [{"type": "text", "content": "Be kind."}],
        },
    }


@pytest.mark.parametrize("order", ["event first", "span first", "far apart", "retried"])
async def test_events_fill_their_span_whichever_arrives_first(live: Running, order: str) -> None:
    trace_id, span_id = os.urandom(16), os.urandom(8)
    start = 1_790_000_000 * SECOND
    span_body = genai_span(trace_id, span_id, start)
    # "far apart": the event is stamped 20 minutes after its span (a queued export).
    event_time = start + (1200 * SECOND if order == "far apart" else SECOND // 2)
    log_body = log_request([details_event(trace_id, span_id, event_time)]).SerializeToString()
    sends = [("/v1/logs", log_body), ("/v1/traces", span_body)]
    if order != "event first":
        sends.reverse()
    if order == "retried":
        sends.append(("/v1/logs", log_body))
    for path, body in sends:
        status, _ = await post(live, path, body)
        assert status == 200

    detail = await get(live, f"/api/v1/traces/{trace_id.hex()}")
    [span] = detail["spans"]
    assert json.loads(span["input"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be kind."}]},
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
    ]
    assert json.loads(span["output"]) == [{"role": "assistant", "parts": [{"type": "text", "content": "hello"}]}]
    records = (await get(live, f"/api/v1/traces/{trace_id.hex()}/logs"))["items"]
    assert len(records) == 1  # a retried export is stored once
    # Tempo gives the event back on its span, as the OTel data model relates events to spans.
    tempo = await get(live, f"/tempo/api/traces/{trace_id.hex()}")
    [tempo_span] = [s for b in tempo["batches"] for ss in b["scopeSpans"] for s in ss["spans"]]
    [tempo_event] = tempo_span["events"]
    assert tempo_event["name"] == "gen_ai.client.inference.operation.details"
    assert "gen_ai.output.messages" in {a["key"] for a in tempo_event["attributes"]}
    # Langfuse's read API sees the same messages (a key from now on: that API always needs one).
    lf = await get(live, f"/api/public/observations/{span_id.hex()}", basic(await make_key(live)))
    assert lf["output"] == [{"role": "assistant", "parts": [{"type": "text", "content": "hello"}]}]


async def test_tempo_reads_a_grown_traces_events_in_its_new_bounds(live: Running) -> None:
    """Tempo starts reading a trace's records, in the bounds it had when last read, beside the
    trace index; when the trace has grown since, it reads them again in its new bounds."""
    trace_id, first, later = os.urandom(16), os.urandom(8), os.urandom(8)
    start = 1_790_000_000 * SECOND

    async def tempo_events() -> dict[str, list[str]]:
        doc = await get(live, f"/tempo/api/traces/{trace_id.hex()}")
        spans = [s for b in doc["batches"] for ss in b["scopeSpans"] for s in ss["spans"]]
        return {s["spanId"]: [e["name"] for e in s.get("events", [])] for s in spans}

    assert (await post(live, "/v1/traces", genai_span(trace_id, first, start)))[0] == 200
    for _ in range(2):  # read, then read again from memory, with the bounds kept beside it
        assert list((await tempo_events()).values()) == [[]]
    # Three hours later (past the hour of slack around the old bounds): a span and its event.
    later_start = start + 3 * 3600 * SECOND
    assert (await post(live, "/v1/traces", genai_span(trace_id, later, later_start)))[0] == 200
    event = log_request([details_event(trace_id, later, later_start + SECOND // 2)]).SerializeToString()
    assert (await post(live, "/v1/logs", event))[0] == 200
    events = await tempo_events()
    later_id = base64.b64encode(later).decode()
    assert events[later_id] == ["gen_ai.client.inference.operation.details"], events
    assert sum(len(v) for v in events.values()) == 1


async def test_per_message_events_and_span_content_wins(live: Running) -> None:
    trace_id, span_id, other_span = os.urandom(16), os.urandom(8), os.urandom(8)
    start = 1_790_000_000 * SECOND
    records = [
        {"trace_id": trace_id, "span_id": span_id, "time": start + 1, "event": "gen_ai.system.message",
         "body": {"content": "Be brief."}},
        {"trace_id": trace_id, "span_id": span_id, "time": start + 2, "event": "gen_ai.user.message",
         "body": {"content": "Weather?"}},
        {"trace_id": trace_id, "span_id": span_id, "time": start + 3, "event": "gen_ai.choice",
         "body": {"index": 0, "finish_reason": "stop", "message": {"content": "Sunny."}}},
        # The other span has content of its own: its events do not replace it.
        {"trace_id": trace_id, "span_id": other_span, "time": start + 4, "event": "gen_ai.user.message",
         "body": {"content": "from an event"}},
    ]  # fmt: skip
    status, body = await post(live, "/v1/logs", log_request(records).SerializeToString())
    assert status == 200 and not ExportLogsServiceResponse.FromString(body).HasField("partial_success")
    spans = request(
        [
            {"trace_id": trace_id, "span_id": span_id, "name": "chat", "start": start, "end": start + SECOND,
             "attrs": {"gen_ai.operation.name": "chat"}},
            {"trace_id": trace_id, "span_id": other_span, "parent_span_id": span_id, "name": "chat 2",
             "start": start, "end": start + SECOND,
             "attrs": {"gen_ai.operation.name": "chat", "gen_ai.input.messages": '[{"role":"user","content":"own"}]'}},
        ]
    )  # fmt: skip
    status, _ = await post(live, "/v1/traces", spans.SerializeToString())
    assert status == 200
    by_name = {s["name"]: s for s in (await get(live, f"/api/v1/traces/{trace_id.hex()}"))["spans"]}
    assert [m["role"] for m in json.loads(by_name["chat"]["input"])] == ["system", "user"]
    assert json.loads(by_name["chat"]["input"])[1]["parts"][0]["content"] == "Weather?"
    output = json.loads(by_name["chat"]["output"])
    assert output[0]["parts"][0]["content"] == "Sunny." and output[0]["finish_reason"] == "stop"
    assert "own" in by_name["chat 2"]["input"] and "from an event" not in by_name["chat 2"]["input"]


async def test_messages_logged_as_json_text_fill_their_span(live: Running) -> None:
    """Semantic Kernel logs each message of a call through Python's logging, as JSON text with the
    event's name in the record's attributes, inside the call's span; the OTel SDK's logging handler
    sends them. Their contents are the span's input and output (they came back empty)."""
    import logging

    from opentelemetry.sdk._logs import LoggingHandler

    tp = provider(exporter("http", live), service="kernel-app")
    logs = LoggerProvider(resource=Resource.create({"service.name": "kernel-app"}))
    logs.add_log_record_processor(SimpleLogRecordProcessor(log_exporter("http", live).inner))
    with warnings.catch_warnings():  # deprecated in the SDK, moving to -instrumentation-logging; as SK's guide has it
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(logger_provider=logs)
    logger = logging.getLogger("semantic_kernel.telemetry_test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def call() -> str:
        with tp.get_tracer("sk").start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"})
            for i, (event, message) in enumerate(
                [
                    ("gen_ai.system.message", {"role": "system", "content": "Be brief."}),
                    ("gen_ai.user.message", {"role": "user", "content": "Weather in Paris?"}),
                ]
            ):
                logger.info(json.dumps(message), extra={"event.name": event, "CHAT_MESSAGE_INDEX": i})
            logger.info("OpenAI usage: CompletionUsage(completion_tokens=5)")  # not an event: a log only
            choice = {"message": {"role": "assistant", "content": "Sunny."}, "finish_reason": "stop"}
            logger.info(json.dumps(choice), extra={"event.name": "gen_ai.choice"})
            logger.info("plain text", extra={"event.name": "gen_ai.assistant.message"})
            return format(span.get_span_context().trace_id, "032x")

    try:
        trace_id = await in_thread(call)
    finally:
        logger.removeHandler(handler)
        logs.shutdown()
        tp.shutdown()
    spans: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while not (spans and spans[0]["output"]):  # acked records are visible a moment later
            assert time.monotonic() < deadline, spans
            await asyncio.sleep(0.05)
            async with session.get(f"{live.api_url}/api/v1/traces/{trace_id}") as r:
                spans = (await r.json())["spans"] if r.status == 200 else []
    [span] = spans
    assert json.loads(span["input"]) == [
        *EXPECTED_INPUT,
        {"role": "assistant", "parts": [{"type": "text", "content": "plain text"}]},
    ]
    assert json.loads(span["output"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Sunny."}], "finish_reason": "stop"}
    ]


async def test_evaluation_event_becomes_a_score_once(live: Running) -> None:
    trace_id, span_id = os.urandom(16), os.urandom(8)
    start = 1_790_000_000 * SECOND
    status, _ = await post(live, "/v1/traces", genai_span(trace_id, span_id, start))
    assert status == 200
    evaluation = {
        "trace_id": trace_id,
        "span_id": span_id,
        "time": start + 2 * SECOND,
        "event": "gen_ai.evaluation.result",
        "attrs": {
            "gen_ai.evaluation.name": "relevance",
            "gen_ai.evaluation.score.value": 0.75,
            "gen_ai.evaluation.score.label": "relevant",
            "gen_ai.evaluation.explanation": "answers the question",
        },
    }
    body = log_request([evaluation]).SerializeToString()
    for _ in range(2):  # a retried export
        status, _ = await post(live, "/v1/logs", body)
        assert status == 200
    detail = await get(live, f"/api/v1/traces/{trace_id.hex()}")
    [score] = detail["scores"]
    assert (score["name"], score["value"], score["data_type"]) == ("relevance", 0.75, "NUMERIC")
    assert score["source"] == "EVAL" and score["observation_id"] == span_id.hex()
    assert score["comment"] == "answers the question"


async def test_logs_page_filters_and_json(live: Running) -> None:
    now = 1_790_000_000 * SECOND
    records = [
        {"time": now + i * SECOND, "body": f"request {i} done", "severity": 9 if i % 2 else 17,
         "severity_text": "INFO" if i % 2 else "ERROR", "attrs": {"http.route": f"/r{i % 3}"}}
        for i in range(6)
    ]  # fmt: skip
    status, _ = await post(live, "/v1/logs", log_request(records, service="web").SerializeToString())
    assert status == 200
    # The same records as OTLP/JSON, gzipped, are stored once (identical to the protobuf ones).
    doc = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]},
                "scopeLogs": [
                    {
                        "scope": {"name": "tests"},
                        "logRecords": [
                            {"timeUnixNano": str(now), "severityNumber": 13, "body": {"stringValue": "from json"},
                             "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"},
                            {"timeUnixNano": str(now), "body": {"kvlistValue": {"values": [
                                {"key": "a", "value": {"intValue": "1"}}]}}},
                        ],
                    }
                ],
            }
        ]
    }  # fmt: skip
    status, reply = await post(
        live, "/v1/logs", gzip.compress(json.dumps(doc).encode()), "application/json", **{"Content-Encoding": "gzip"}
    )
    assert status == 200 and json.loads(reply) == {}
    window = {"start": "2026-09-21T00:00:00Z", "end": "2026-09-23T00:00:00Z"}
    page = await get(live, "/api/v1/logs", service="web", **window)
    assert [r["body"] for r in page["items"]] == [f"request {i} done" for i in range(5, -1, -1)]
    errors = await get(live, "/api/v1/logs", min_severity="17", service="web", **window)
    assert [r["body"] for r in errors["items"]] == ["request 4 done", "request 2 done", "request 0 done"]
    found = await get(live, "/api/v1/logs", search="REQUEST 3", attribute="http.route=/r0", **window)
    assert [r["body"] for r in found["items"]] == ["request 3 done"]
    # A JSON body as Python's json.dumps writes it (非 ASCII as \u escapes) is found by what it says.
    logged = log_request([{"time": now, "body": json.dumps({"msg": "订单已发货"})}], service="py-app")
    status, _ = await post(live, "/v1/logs", logged.SerializeToString())
    assert status == 200
    found = await get(live, "/api/v1/logs", search="已发货", **window)
    assert [r["service_name"] for r in found["items"]] == ["py-app"]
    first = await get(live, "/api/v1/logs", limit="4", service="web", **window)
    rest = await get(live, "/api/v1/logs", limit="4", service="web", cursor=first["next_cursor"], **window)
    assert len(first["items"]) == 4 and len(rest["items"]) == 2 and rest["next_cursor"] is None
    json_app = await get(live, "/api/v1/logs", service="json-app", **window)
    kinds = {r["body_type"]: r for r in json_app["items"]}
    assert kinds[""]["trace_id"] == "5b8efff798038103d269b633813fc60c"
    body = {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": "1"}}]}}
    assert json.loads(kinds["kvlist"]["body"]) == body


async def test_garbage_logs_are_refused_and_the_good_records_kept(live: Running) -> None:
    status, body = await post(live, "/v1/logs", b"\x0a\xff\xff\xff")
    assert status == 400 and b"ExportLogsServiceRequest" in body
    status, body = await post(live, "/v1/logs", b"{not json", "application/json")
    assert status == 400
    status, body = await post(live, "/v1/logs", b'{"resourceLogs": 3}', "application/json")
    assert status == 400 and b"resourceLogs must be an array" in body
    status, _ = await post(live, "/v1/logs", b"x", "text/plain")
    assert status == 415
    bomb = gzip.compress(b"\0" * (live.ingest.settings.max_body_bytes + 1))
    status, _ = await post(live, "/v1/logs", bomb, **{"Content-Encoding": "gzip"})
    assert status == 413
    good = {"time": 1_790_000_000 * SECOND, "body": "kept"}
    bad = [{"trace_id": b"\x01" * 3, "body": "bad trace id"}, {"span_id": b"\x01" * 5, "body": "bad span id"}]
    status, body = await post(live, "/v1/logs", log_request([good, *bad], service="mixed").SerializeToString())
    reply = ExportLogsServiceResponse.FromString(body)
    assert status == 200 and reply.partial_success.rejected_log_records == 2
    assert "trace_id must be empty or 16 bytes" in reply.partial_success.error_message
    page = await get(live, "/api/v1/logs", service="mixed", start="2026-09-21T00:00:00Z", end="2026-09-23T00:00:00Z")
    assert [r["body"] for r in page["items"]] == ["kept"]

    channel = grpc.aio.insecure_channel(live.otlp_grpc_address)
    try:
        export = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await export(b"\x0a\xff\xff\xff")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await channel.close()
