"""Hostile input: whatever a client sends gets a clear 4xx (or is stored), and the server stays
healthy. Property-based (hypothesis) over the decoders and the live ports, plus the named cases:
deep nesting, 10 MB values, invalid UTF-8, NaN and infinities, wrong id lengths, timestamps at
0 and in 2262, truncated, slow and idle connections, Langfuse fields of the wrong type."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import os
import socket
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import cramjam
import grpc
import lz4.frame
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from otlp_receiver.decode import DecodeContext, decode_body
from otlp_receiver.decode_logs import decode_logs_bytes
from otlp_receiver.decode_metrics import decode_metrics_bytes
from tests.conftest import Server, serving
from tests.otlp_data import request
from tests.otlp_strategies import (
    export_requests,
    hostile_json_logs,
    hostile_json_metrics,
    hostile_json_requests,
    mutated,
)
from tracehouse.errors import InvalidInput
from tracehouse.server import Running

CTX = DecodeContext(project_id="default")
CASES: dict[str, int] = {}  # cases run per property, reported by the last test of the module

VALID = request(
    [
        {
            "trace_id": bytes(range(1, 17)),
            "span_id": bytes(range(1, 9)),
            "attrs": {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 5, "n": 1.5, "b": True},
        }
    ]
).SerializeToString()


def decodes_or_refuses(body: bytes, fmt: str) -> tuple[int, int] | None:
    """The decoder's only allowed outcomes: a result, or InvalidInput with a message."""
    try:
        _, accepted, rejected, _ = decode_body(body, fmt, CTX)
    except InvalidInput as exc:
        assert exc.message
        return None
    return accepted, rejected


def decoded_error(body: bytes) -> str:
    try:
        decode_body(body, "protobuf", CTX)
    except InvalidInput as exc:
        return exc.message
    return ""


def count(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


# -- properties over the decoders (in process, thousands of cases) ---------------------------------


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(export_requests())
def test_any_protobuf_request_decodes_or_is_refused(req: ExportTraceServiceRequest) -> None:
    count("generated OTLP protobuf requests")
    spans = sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
    outcome = decodes_or_refuses(req.SerializeToString(), "protobuf")
    if outcome is not None:
        assert sum(outcome) == spans, "every span is either accepted or counted as rejected"


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_protobuf_decodes_or_is_refused(data: st.DataObject) -> None:
    count("mutated OTLP protobuf bodies")
    decodes_or_refuses(data.draw(mutated(VALID)), "protobuf")


@settings(max_examples=300)
@given(st.binary(max_size=512))
def test_random_bytes_decode_or_are_refused(body: bytes) -> None:
    count("random byte bodies (protobuf and JSON)")
    decodes_or_refuses(body, "protobuf")
    decodes_or_refuses(body, "json")


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_json_requests())
def test_json_with_fields_of_any_type_decodes_or_is_refused(body: bytes) -> None:
    count("OTLP/JSON bodies with fields of any type")
    decodes_or_refuses(body, "json")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_json_decodes_or_is_refused(data: st.DataObject) -> None:
    count("mutated OTLP/JSON bodies")
    body = json.dumps(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "5b8efff798038103d269b633813fc60c",
                                    "spanId": "eee19b7ec3c1b174",
                                    "name": "op",
                                    "startTimeUnixNano": "1",
                                    "endTimeUnixNano": 2,
                                    "attributes": [{"key": "a", "value": {"intValue": "7"}}],
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()
    decodes_or_refuses(data.draw(mutated(body)), "json")


# -- the named cases, through the live HTTP and gRPC ports -------------------------------------


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, encoded by hand."""
    size, varint = len(payload), bytearray()
    while True:
        byte = size & 0x7F
        size >>= 7
        varint.append(byte | (0x80 if size else 0))
        if not size:
            break
    return bytes([number << 3 | 2]) + bytes(varint) + payload


def deeply_nested(kind: str, depth: int) -> bytes:
    """A request whose one span has an attribute nested ``depth`` arrays or kvlists deep. Built by
    hand: the protobuf library itself refuses to build messages past its depth limit."""
    value = AnyValue(string_value="leaf").SerializeToString()
    for _ in range(depth):
        if kind == "array":  # AnyValue.array_value (5) -> ArrayValue.values (1)
            value = _field(5, _field(1, value))
        else:  # AnyValue.kvlist_value (6) -> KeyValueList.values (1) -> KeyValue{key (1), value (2)}
            value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))
    span = request([{"trace_id": os.urandom(16)}]).resource_spans[0].scope_spans[0].spans[0]
    span_bytes = span.SerializeToString() + _field(9, _field(1, b"deep") + _field(2, value))
    return _field(1, _field(2, _field(2, span_bytes)))


def named_cases() -> dict[str, bytes]:
    def one(**span: object) -> bytes:
        return request([{"trace_id": os.urandom(16), **span}]).SerializeToString()

    nested = {
        f"{kind} nested {depth} deep": deeply_nested(kind, depth)
        for kind in ("array", "kvlist")
        for depth in (10, 50, 2000)
    }
    invalid_utf8 = bytearray(one(name="ok-name"))
    at = invalid_utf8.find(b"ok-name")
    invalid_utf8[at : at + 2] = b"\xff\xfe"
    return {
        **nested,
        "a 10 MB attribute value": one(attrs={"big": "x" * (10 * 1024 * 1024)}),
        "invalid UTF-8 in a string field": bytes(invalid_utf8),
        "NaN, +inf and -inf doubles": one(attrs={"nan": math.nan, "inf": math.inf, "ninf": -math.inf}),
        "a 3-byte trace id": one(trace_id=b"abc"),
        "a 20-byte span id": one(span_id=os.urandom(20)),
        "all-zero ids": one(trace_id=bytes(16), span_id=bytes(8)),
        "timestamps at 0": one(start=0, end=0),
        "timestamps in 2262": one(start=(1 << 63) - 2, end=(1 << 63) - 1),
        "end before start": one(start=2_000_000_000, end=1_000_000_000),
        "timestamps past 2262": one(start=(1 << 64) - 1, end=(1 << 64) - 1),
        "an empty body": b"",
        "a truncated body": VALID[: len(VALID) // 2],
    }


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def healthy(server: Server) -> None:
    assert server.process.poll() is None, server.log()
    status, body = post(
        server.otlp_http_url + "/v1/traces",
        request([{"trace_id": os.urandom(16)}]).SerializeToString(),
        {"Content-Type": "application/x-protobuf"},
    )
    assert status == 200, body


# -- the logs and metrics decoders, and their endpoints ---------------------------------------------

RECORD_DECODERS = {"logs": decode_logs_bytes, "metrics": decode_metrics_bytes}
HOSTILE_JSON = {"logs": hostile_json_logs, "metrics": hostile_json_metrics}


def _valid_records() -> dict[str, bytes]:
    from otlp_receiver.json_decode import parse_json_logs_request, parse_json_metrics_request

    logs = (
        b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"stringValue":"hi"},'
        b'"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",'
        b'"attributes":[{"key":"a","value":{"intValue":"1"}}]}]}]}]}'
    )
    metrics = (
        b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","unit":"s","histogram":'
        b'{"aggregationTemporality":2,"dataPoints":[{"timeUnixNano":"1","count":"2","sum":1.5,'
        b'"bucketCounts":["1","1"],"explicitBounds":[1.0]}]}}]}]}]}'
    )
    return {
        "logs": parse_json_logs_request(logs).SerializeToString(),
        "metrics": parse_json_metrics_request(metrics).SerializeToString(),
        "logs-json": logs,
        "metrics-json": metrics,
    }


VALID_RECORDS = _valid_records()


def records_decode_or_refuse(signal: str, body: bytes, fmt: str) -> None:
    try:
        result = RECORD_DECODERS[signal](body, fmt, CTX)
    except InvalidInput as exc:
        assert exc.message
        return
    assert result.accepted >= 0 and result.rejected >= 0


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_logs_and_metrics_bodies_decode_or_are_refused(data: st.DataObject) -> None:
    signal = data.draw(st.sampled_from(["logs", "metrics"]))
    kind = data.draw(st.sampled_from(["mutated protobuf", "mutated JSON", "JSON of any type", "random bytes"]))
    count(f"{signal} bodies: {kind}")
    if kind == "mutated protobuf":
        records_decode_or_refuse(signal, data.draw(mutated(VALID_RECORDS[signal])), "protobuf")
    elif kind == "mutated JSON":
        records_decode_or_refuse(signal, data.draw(mutated(VALID_RECORDS[f"{signal}-json"])), "json")
    elif kind == "JSON of any type":
        records_decode_or_refuse(signal, data.draw(HOSTILE_JSON[signal]()), "json")
    else:
        body = data.draw(st.binary(max_size=512))
        records_decode_or_refuse(signal, body, "protobuf")
        records_decode_or_refuse(signal, body, "json")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_logs_and_metrics_over_http_never_get_a_5xx(server: Server, data: st.DataObject) -> None:
    signal = data.draw(st.sampled_from(["logs", "metrics"]))
    count(f"mutated {signal} bodies over HTTP (protobuf, JSON, gzip)")
    kind = data.draw(st.sampled_from(["protobuf", "json", "gzip"]))
    if kind == "json":
        body, headers = data.draw(HOSTILE_JSON[signal]()), {"Content-Type": "application/json"}
    else:
        body, headers = data.draw(mutated(VALID_RECORDS[signal])), {"Content-Type": "application/x-protobuf"}
        if kind == "gzip":
            body = data.draw(mutated(gzip.compress(VALID_RECORDS[signal])))
            headers["Content-Encoding"] = "gzip"
    status, answer = post(f"{server.otlp_http_url}/v1/{signal}", body, headers)
    assert status in (200, 400, 413), f"HTTP {status}: {answer[:200]!r}"
    assert server.process.poll() is None, server.log()


def test_named_hostile_cases_get_a_clear_answer_over_http_and_grpc(server: Server) -> None:
    outcomes = {}
    with grpc.insecure_channel(
        server.otlp_grpc_address, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
    ) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        for name, body in named_cases().items():
            count("named hostile cases (HTTP and gRPC)")
            status, answer = post(server.otlp_http_url + "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            assert status in (200, 400), f"{name}: HTTP {status} {answer[:200]!r}"
            try:
                export(body, timeout=60)
                code = grpc.StatusCode.OK
            except grpc.RpcError as exc:
                code = exc.code()
                assert exc.details(), f"{name}: gRPC {code} without a message"
            assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT), f"{name}: gRPC {code}"
            assert (status == 200) == (code == grpc.StatusCode.OK), f"{name}: HTTP and gRPC disagree"
            outcomes[name] = status
    healthy(server)
    assert outcomes["a 3-byte trace id"] == 200  # rejected one by one, in partial_success
    assert outcomes["NaN, +inf and -inf doubles"] == 200
    assert outcomes["timestamps in 2262"] == 200
    assert outcomes["a 10 MB attribute value"] == 200
    assert outcomes["array nested 10 deep"] == 200 and outcomes["kvlist nested 10 deep"] == 200
    assert outcomes["array nested 2000 deep"] == 400  # past the parser's depth limit
    assert "nests messages deeper" in decoded_error(named_cases()["kvlist nested 2000 deep"])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_bodies_over_http_never_get_a_5xx(server: Server, data: st.DataObject) -> None:
    count("mutated bodies over HTTP (protobuf, JSON, gzip, deflate, zstd, snappy, lz4)")
    kind = data.draw(st.sampled_from(["protobuf", "json", "gzip", "deflate", "zstd", "snappy", "lz4"]))
    if kind == "json":
        body, headers = data.draw(hostile_json_requests()), {"Content-Type": "application/json"}
    else:
        body, headers = data.draw(mutated(VALID)), {"Content-Type": "application/x-protobuf"}
        packers = {
            "gzip": gzip.compress,
            "deflate": zlib.compress,
            "zstd": zstandard.ZstdCompressor().compress,
            "snappy": lambda b: bytes(cramjam.snappy.compress(b)),
            "lz4": lz4.frame.compress,
        }
        if kind in packers:
            body = data.draw(mutated(packers[kind](VALID)))
            headers["Content-Encoding"] = kind
    status, answer = post(server.otlp_http_url + "/v1/traces", body, headers)
    assert status in (200, 400, 413), f"HTTP {status}: {answer[:200]!r}"
    assert server.process.poll() is None, server.log()


def test_server_healthy_after_the_http_properties(server: Server) -> None:
    healthy(server)


# -- slow and idle clients ------------------------------------------------------------------------


@pytest.fixture
async def strict(tmp_path: Path):
    async with serving(tmp_path / "data", request_head_timeout_s=1, request_body_timeout_s=1.5, idle_timeout_s=2) as r:
        yield r


async def closed_within(host: str, port: int, first: bytes, dribble: float, limit: float = 15) -> tuple[float, bytes]:
    """Open a connection, send ``first``, then a byte every ``dribble`` s (0: nothing); the time
    until the server answers or closes, and what it said."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(first)
    await writer.drain()
    started = time.monotonic()
    said = b""
    try:
        while time.monotonic() - started < limit:
            if dribble:
                writer.write(b"a")
                await writer.drain()
            try:
                chunk = await asyncio.wait_for(reader.read(4096), dribble or limit)
            except TimeoutError:
                continue
            if not chunk:
                return time.monotonic() - started, said
            said += chunk
    except ConnectionError:
        return time.monotonic() - started, said
    finally:
        writer.close()
    raise AssertionError(f"the connection was still open after {limit} s")


def hostport(url: str) -> tuple[str, int]:
    host, _, port = url.rpartition("//")[2].rpartition(":")
    return host, int(port)


async def test_idle_and_slow_connections_are_closed(strict: Running) -> None:
    otlp = hostport(strict.otlp_http_url)
    api = hostport(strict.api_url)
    head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
    for name, (host, port), first, dribble, answer in [
        ("idle OTLP connection", otlp, b"", 0, b""),
        ("idle API connection", api, b"", 0, b""),
        ("slowloris headers", otlp, head + b"X-Slow: ", 0.2, b""),
        ("slow body (OTLP)", otlp, head + b"Content-Length: 100000\r\n\r\n", 0.2, b"408 Request Timeout"),
        (
            "slow body (API)",
            api,
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000\r\n\r\n",
            0.2,
            b"408 Request Timeout",
        ),
        (
            "slow body (Langfuse ingestion)",
            otlp,
            b"POST /api/public/ingestion HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000\r\n\r\n",
            0.2,
            b"",  # unauthenticated in open mode is allowed; either a 408 or a close
        ),
    ]:
        count("slow and idle connections")
        _, said = await closed_within(host, port, first, dribble)
        assert answer in said, f"{name}: got {said[:120]!r}"
    # A keep-alive connection that goes quiet after a request is closed too.
    reader, writer = await asyncio.open_connection(*otlp)
    body = request([{"trace_id": os.urandom(16)}]).SerializeToString()
    writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    assert b"200 OK" in await reader.read(4096)
    assert await asyncio.wait_for(reader.read(4096), 10) == b""
    writer.close()
    # gRPC: a connection that never finishes the HTTP/2 handshake is closed.
    grpc_host, grpc_port = strict.otlp_grpc_address.rsplit(":", 1)
    await closed_within(grpc_host, int(grpc_port), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0)
    # And the server still serves.
    status = await asyncio.to_thread(
        post, strict.otlp_http_url + "/v1/traces", body, {"Content-Type": "application/x-protobuf"}
    )
    assert status[0] == 200


def test_truncated_body_with_a_closed_connection_leaves_the_server_healthy(server: Server) -> None:
    host, port = hostport(server.otlp_http_url)
    for _ in range(20):
        count("truncated bodies, connection closed")
        with socket.create_connection((host, port)) as s:
            s.sendall(
                b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                + f"Content-Length: {len(VALID)}\r\n\r\n".encode()
                + VALID[:10]
            )
    healthy(server)


def test_requests_past_the_http_parsers_limits_get_a_400_and_one_log_line(server: Server) -> None:
    """A URL or header past aiohttp's limits, or a broken request line, is answered 400 by the
    parser; the server logs one line for it, not an error with a traceback per request."""
    mark = len(server.log())
    cases = {
        "a 9 KB URL": b"GET /api/public/traces?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "a 9 KB header": b"GET /api/public/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
        "a header without a colon": b"GET /api/public/health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    }
    for url in (server.api_url, server.otlp_http_url):
        for name, raw in cases.items():
            count("requests past the HTTP parser's limits")
            with socket.create_connection(hostport(url), timeout=10) as s:
                s.sendall(raw)
                answer = s.recv(200)
            assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request"), f"{name} to {url}: {answer!r}"
    healthy(server)
    logged = server.log()[mark:]
    assert "Traceback" not in logged and " ERROR " not in logged, logged[-3000:]
    assert logged.count("INFO    aiohttp.server: Error handling request from 127.0.0.1: 400") == 6, logged


# -- Langfuse batches with every field of the wrong type ------------------------------------------

LANGFUSE_BODIES: dict[str, dict[str, object]] = {
    "trace-create": {
        "name": "t",
        "userId": "u",
        "sessionId": "s",
        "input": {"q": 1},
        "output": "o",
        "metadata": {"a": 1},
        "tags": ["x"],
        "release": "r",
        "version": "v",
        "public": False,
        "environment": "prod",
        "timestamp": "2026-11-27T10:00:00Z",
    },
    "generation-create": {
        "name": "g",
        "startTime": "2026-11-27T10:00:00Z",
        "endTime": "2026-11-27T10:00:01Z",
        "completionStartTime": "2026-11-27T10:00:00.5Z",
        "model": "gpt-4o",
        "modelParameters": {"temperature": 0.1},
        "input": [{"role": "user", "content": "hi"}],
        "output": {"role": "assistant", "content": "yo"},
        "usage": {"input": 3, "output": 4, "total": 7, "unit": "TOKENS"},
        "usageDetails": {"input": 3, "output": 4},
        "costDetails": {"input": 0.001},
        "level": "DEFAULT",
        "statusMessage": "",
        "metadata": {"k": "v"},
        "parentObservationId": None,
        "version": "1",
        "promptName": "p",
        "promptVersion": 2,
    },
    "span-update": {"name": "s", "endTime": "2026-11-27T10:00:02Z", "output": "done", "level": "WARNING"},
    "score-create": {"name": "quality", "value": 0.5, "dataType": "NUMERIC", "comment": "ok", "observationId": None},
    "event-create": {"name": "e", "startTime": "2026-11-27T10:00:00Z", "input": "x", "level": "DEBUG"},
}
WRONG_VALUES: list[object] = [
    123,
    -1.5,
    True,
    None,
    [],
    [1, "a"],
    {},
    {"nested": {"deep": [1]}},
    "",
    "not a date",
    "x" * 20_000,
    2**70,
]


async def test_langfuse_fields_of_every_wrong_type_fail_alone(live: Running) -> None:
    from tests.langfuse_helpers import basic, event, ingest, make_key

    headers = basic(await make_key(live))
    for kind, base in LANGFUSE_BODIES.items():
        trace_id = os.urandom(8).hex()
        good = event("trace-create", {"id": trace_id, "name": "the good one"})
        batch = [good]
        for field in ["id", "traceId", *base]:
            for wrong in WRONG_VALUES:
                body = {"id": os.urandom(8).hex(), "traceId": trace_id, **base, field: wrong}
                batch.append(event(kind, body))
                count("Langfuse events with a field of the wrong type")
        # and events whose envelope fields are wrong
        for wrong in WRONG_VALUES:
            batch.append({"id": wrong, "type": kind, "timestamp": "2026-11-27T10:00:00Z", "body": base})
            batch.append({"id": os.urandom(4).hex(), "type": wrong, "timestamp": wrong, "body": wrong})
            count("Langfuse events with a field of the wrong type")
        status, answer = await ingest(live, headers, batch)
        assert status == 207, answer
        statuses = {r["status"] for r in answer["successes"] + answer["errors"]}
        assert statuses <= {200, 201, 400, 404}, f"{kind}: {statuses}"
        assert all(e.get("message") or e.get("error") for e in answer["errors"])
        assert any(s["id"] == good["id"] for s in answer["successes"]), f"{kind}: the good event failed with the bad"
        assert await live.store.reader.trace("default", trace_id), f"{kind}: the good trace was not stored"
    # Envelopes that are not a batch at all.
    for raw in [b"", b"[]", b'{"batch": 5}', b'{"batch": [1, 2]}', b"\xff\xfe", b'{"batch": [' * 500]:
        count("malformed Langfuse envelopes")
        status, _ = await ingest(live, headers, [], raw=raw)
        assert status in (207, 400), (raw[:20], status)


# Numbers no typed column holds, in the attributes and fields the mapping reads as numbers.
OUT_OF_RANGE: list[object] = [math.inf, -math.inf, math.nan, 1e300, -1e300, 2**63 - 1, "1e309", "nan", 2e6]
NUMERIC_KEYS = [
    "gen_ai.usage.input_tokens",
    "llm.token_count.completion",
    "gen_ai.usage.cost",
    "llm.cost.total",
    "gen_ai.response.time_to_first_chunk",
    "ai.response.msToFirstChunk",
]
TEXT_KEYS = {  # JSON or dates whose numbers are out of range
    "langfuse.observation.usage_details": '{"input": 30000000000000000000, "output": 1e300}',
    "langfuse.observation.cost_details": '{"total": 5000000}',
    "langfuse.observation.completion_start_time": "9999-12-31T23:59:59-05:00",
}


JSON_NUMBERS = st.one_of(
    st.integers(-(2**63), 2**64 - 1),  # what orjson gives as int; larger integers come as floats
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 10**15, 10**15 + 1, 999_999.99, 10**6, 1e300]),
    st.text(max_size=25),
    st.sampled_from(["12", "99999999999999999999999", "1e309", " 7 "]),
    st.none(),
    st.booleans(),
)
USAGE_KEYS = ["input", "output", "total", "unit", "promptTokens", "completionTokens", "totalTokens", "inputCost",
              "outputCost", "totalCost", "prompt_tokens", "completion_tokens", "total_tokens", "input_tokens",
              "output_tokens", "cache_read_input_tokens", "reasoning_tokens"]  # fmt: skip
NESTED_USAGE = st.dictionaries(st.sampled_from(USAGE_KEYS), JSON_NUMBERS, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    usage=st.one_of(st.none(), NESTED_USAGE),
    usage_details=st.one_of(
        st.none(),
        NESTED_USAGE,
        st.fixed_dictionaries(
            {"prompt_tokens": JSON_NUMBERS, "completion_tokens": JSON_NUMBERS, "total_tokens": JSON_NUMBERS},
            optional={"prompt_tokens_details": st.dictionaries(st.text(max_size=8), JSON_NUMBERS, max_size=3)},
        ),
    ),
    cost_details=st.one_of(st.none(), st.dictionaries(st.sampled_from(["input", "output", "total"]), JSON_NUMBERS)),
    model=st.sampled_from(["gpt-4o", "", "claude-3-5-sonnet", "unknown-model"]),
)
def test_any_numbers_in_a_langfuse_generation_make_a_row_its_table_takes(
    usage: object, usage_details: object, cost_details: object, model: str
) -> None:
    """Langfuse's nested usage and cost numbers, of any size or type: the observation's row always
    converts to the spans table's columns (a value that did not failed the whole batch)."""
    import pyarrow as pa

    from otlp_receiver.langfuse.entities import merge, observation_row
    from otlp_receiver.langfuse.service import _arrow_value
    from pricing import PriceBook
    from storage import SPAN_SCHEMA

    count("Langfuse generations with any usage and cost numbers")
    body = {"id": "o1", "traceId": "t1", "name": "g", "model": model, "startTime": 1_700_000_000 * 10**9}
    body |= {k: v for k, v in (("usage", usage), ("usageDetails", usage_details), ("costDetails", cost_details)) if v}
    row = observation_row(merge("observation", None, body), "p", 0, PriceBook())
    names = [n for n in SPAN_SCHEMA.names if n in row]
    table = pa.Table.from_pylist(
        [{n: _arrow_value(row[n]) for n in names}], schema=pa.schema([SPAN_SCHEMA.field(n) for n in names])
    )
    assert table.num_rows == 1
    # Each count is at most 10^15, so sums of a few (input with its cache reads) stay exact in
    # JSON; no token columns at all when the usage's unit is not TOKENS.
    assert 0 <= row.get("input_tokens", 0) < 2**53 and abs(row["total_cost"]) < 10**6


async def test_numbers_past_what_a_column_holds_leave_the_field_unknown_not_the_request_lost(live: Running) -> None:
    """A token count, cost or first-token time that is infinite, NaN or past its column's range
    failed the whole request (a 500 for OTLP: its good spans lost with it). Now the span is
    stored, that field unknown (its attribute keeps what was sent), and the rest as usual."""
    from tests.langfuse_helpers import basic, event, ingest, make_key

    trace_id = os.urandom(16)
    good = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10}
    spans: list[dict[str, object]] = [{"trace_id": trace_id, "span_id": os.urandom(8), "name": "good", "attrs": good}]
    cases = [(key, value) for key in NUMERIC_KEYS for value in OUT_OF_RANGE] + list(TEXT_KEYS.items())
    for i, (key, value) in enumerate(cases):
        count("numbers past a column's range (OTLP)")
        attrs = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.output_tokens": 1, key: value}
        spans.append({"trace_id": trace_id, "span_id": os.urandom(8), "name": f"case {i}", "attrs": attrs})
    body = request(spans).SerializeToString()
    status, answer = await asyncio.to_thread(
        post, live.otlp_http_url + "/v1/traces", body, {"Content-Type": "application/x-protobuf"}
    )
    assert status == 200, answer[:300]
    await live.ingest.batcher.settled()
    stored = {row["name"]: row for row in await live.store.reader.trace("default", trace_id.hex())}
    assert len(stored) == len(spans)
    assert stored["good"]["input_tokens"] == 10 and stored["good"]["total_cost"] > 0
    for i, (key, value) in enumerate(cases):
        row = stored[f"case {i}"]
        assert row["output_tokens"] == 1, (key, value)
        assert 0 <= row["input_tokens"] <= 10**15 and 0 <= row["total_cost"] < 10**6, (key, value, row["total_cost"])
        assert key in row["span_attributes"], (key, value)

    # The same numbers through Langfuse's ingestion: the event is stored, its usage or cost unknown.
    headers = basic(await make_key(live))
    lf_trace = os.urandom(8).hex()
    batch = [event("trace-create", {"id": lf_trace, "name": "t"})]
    for wrong in [2**70, 1e300, "99999999999999999999999", 10**15 + 1]:
        for field in ("usage", "usageDetails", "costDetails"):
            count("numbers past a column's range (Langfuse)")
            values = {"input": wrong, "output": 4} if field != "costDetails" else {"total": wrong}
            batch.append(
                event(
                    "generation-create",
                    {"id": os.urandom(8).hex(), "traceId": lf_trace, "name": "g", "model": "gpt-4o", field: values},
                )
            )
    status, answer = await ingest(live, headers, batch)
    assert status == 207 and not answer["errors"], answer
    await live.ingest.batcher.settled()
    rows = [r for r in await live.store.reader.trace("default", lf_trace) if r["name"] == "g"]
    assert len(rows) == len(batch) - 1
    assert all(0 <= r["input_tokens"] <= 10**15 and 0 <= r["total_cost"] < 10**6 for r in rows)


# -- the report --------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def report_cases():
    yield
    out = Path(__file__).resolve().parent.parent / "test-artifacts" / "hostile-input-cases.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(CASES, indent=2))


async def test_text_beyond_ascii_in_credentials_links_and_numbers_gets_a_4xx(live: Running) -> None:
    """Headers, cookies and query values with characters beyond ASCII (a CSRF token, a session
    cookie, a media link's signature and expiry, Tempo's times) and a digit int() refuses ("²",
    which str.isdigit() takes) get a 4xx, never a 500; a stored prompt version of that kind reads
    back as none."""
    import aiohttp

    from tests.langfuse_helpers import basic, make_key
    from tests.otlp_data import one_span
    from tests.test_organizations_api import first_admin

    admin = await first_admin(live)
    headers = basic(await make_key(live))
    try:
        status, _ = await admin.call("GET", "/api/v1/traces")
        assert status == 200
        csrf = next(c.value for c in admin.session.cookie_jar if c.key == "th_csrf")
        async with admin.session.post(live.api_url + "/api/v1/datasets", json={"name": "x"},
                                      headers={"X-CSRF-Token": "\u00e9" + csrf}) as r:  # fmt: skip
            assert r.status == 403, await r.text()
    finally:
        await admin.close()
    async with aiohttp.ClientSession() as s:
        cases = [
            ("GET", "/api/v1/traces", {"Cookie": "th_session=usr-1.\u00b2\u00b3.n.m\u00e1c"}, (401,)),
            ("GET", "/api/v1/traces", {"Cookie": "th_session=usr-1.99999999999.n.m\u00e1c"}, (401,)),
            ("GET", "/api/public/media/m1/content?project=default&expires=\u00b2&sig=x", {}, (403,)),
            ("GET", "/api/public/media/m1/content?project=default&expires=99999999999&sig=\u00e9", {}, (403,)),
            ("GET", "/tempo/api/search?start=\u00b2", headers, (400,)),
        ]
        for method, path, extra, expected in cases:
            async with s.request(method, live.api_url + path, headers=extra) as r:
                assert r.status in expected, (path, extra, r.status, await r.text())
        # A prompt version sent as "²" through OTLP: stored as given, read back by Langfuse's API as none.
        trace_id = os.urandom(16)
        body = one_span(trace_id, **{"langfuse.observation.prompt.version": "\u00b2"}).SerializeToString()
        async with s.post(live.api_url + "/api/public/otel/v1/traces", data=body,
                          headers={**headers, "Content-Type": "application/x-protobuf"}) as r:  # fmt: skip
            assert r.status == 200, await r.text()
        async with s.get(live.api_url + f"/api/public/traces/{trace_id.hex()}", headers=headers) as r:
            assert r.status == 200, await r.text()
            doc = await r.json()
        assert [o["promptVersion"] for o in doc["observations"]] == [None]
        # A token count of "²" through Langfuse's ingestion: no count, the rest stored.
        event = {"id": "e-sup", "type": "generation-create", "timestamp": "2026-12-01T10:00:00Z",
                 "body": {"id": "g-sup", "traceId": "t-sup", "usage": {"input": "\u00b2", "output": 3}}}  # fmt: skip
        async with s.post(live.api_url + "/api/public/ingestion", json={"batch": [event]}, headers=headers) as r:
            assert r.status == 207, await r.text()
            assert (await r.json())["successes"] == [{"id": "e-sup", "status": 201}]
        rows = await live.store.backend.query("SELECT input_tokens, output_tokens FROM spans WHERE span_id = 'g-sup'")
        assert rows == [{"input_tokens": 0, "output_tokens": 3}]


async def test_numbers_out_of_range_in_queries_get_a_4xx(live: Running) -> None:
    """A page number past 64 bits (JSON cannot say it) and an infinite or NaN time (found by
    sending odd values to every GET route's common parameters): 400, never a 500."""
    import aiohttp

    from tests.langfuse_helpers import basic, make_key

    headers = basic(await make_key(live))
    cases = [
        "/api/public/annotation-queues?page=99999999999999999999",
        "/api/public/score-configs?page=99999999999999999999",
        "/api/public/comments?page=99999999999999999999",
        "/api/public/comments?page=1000001",
        "/prometheus/api/v1/label/service/values?start=1e309",
        "/prometheus/api/v1/label/service/values?end=NaN",
        "/prometheus/api/v1/query_range?query=up&start=-inf&end=1&step=15s",
    ]
    async with aiohttp.ClientSession() as s:
        for path in cases:
            async with s.get(live.api_url + path, headers=headers) as r:
                assert r.status == 400, (path, r.status, await r.text())
        async with s.get(live.api_url + "/api/public/comments?page=1000000", headers=headers) as r:
            assert r.status == 200 and (await r.json())["data"] == []
