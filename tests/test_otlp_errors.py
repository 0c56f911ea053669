"""Every way a client can get it wrong, and the store failing under the receiver: clear errors,
the good part of a batch stored, nothing acked lost, nothing counted twice."""

import asyncio
import base64
import gzip
import json
import os
import zlib
from pathlib import Path

import aiohttp
import cramjam
import grpc
import lz4.frame
import pytest
import zstandard
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from storage.api import Backend
from tests.conftest import serving, until
from tests.otlp_data import one_span, request
from tracehouse.errors import StorageUnavailable
from tracehouse.server import Running

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def _streamed_zstd(data: bytes) -> bytes:
    packer = zstandard.ZstdCompressor().compressobj()
    return packer.compress(data) + packer.flush()


# Content-Encoding -> how its body is made: what the OTel SDKs (gzip, deflate) and the
# Collector's otlphttp exporter (those and zlib, zstd, snappy, lz4) send; some clients send deflate raw.
COMPRESSED = {
    "gzip": ("gzip", gzip.compress),
    "deflate": ("deflate", zlib.compress),
    "deflate, raw": ("deflate", _raw_deflate),
    "zlib": ("zlib", zlib.compress),
    "zstd": ("zstd", zstandard.ZstdCompressor().compress),
    "zstd, streamed without its size": ("zstd", _streamed_zstd),
    # The Collector's snappy: golang/snappy's framed format, and its block format (both "snappy").
    "snappy, framed": ("snappy", lambda data: bytes(cramjam.snappy.compress(data))),
    "snappy, block": ("snappy", lambda data: bytes(cramjam.snappy.compress_raw(data))),
    "x-snappy-framed": ("x-snappy-framed", lambda data: bytes(cramjam.snappy.compress(data))),
    "lz4": ("lz4", lz4.frame.compress),
}


async def post(
    live: Running, body: bytes, headers: dict[str, str], path: str = "/v1/traces", base: str | None = None
) -> tuple[int, bytes, dict[str, str]]:
    url = (base or live.otlp_http_url) + path
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as r:
        return r.status, await r.read(), dict(r.headers)


async def count(live: Running, where: str = "1", project: str = "default") -> int:
    rows = await live.store.backend.query(
        f"SELECT count() AS n FROM spans WHERE project_id = {{p:String}} AND {where}", {"p": project}
    )
    return int(rows[0]["n"])


async def test_malformed_protobuf_is_400_with_a_status(live: Running) -> None:
    status, body, headers = await post(live, b"\x0a\xff\xff\xff garbage", PB)
    assert status == 400 and headers["Content-Type"].startswith("application/x-protobuf")
    decoded = status_pb2.Status.FromString(body)
    assert decoded.code == 3 and "not a valid OTLP" in decoded.message


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "must be an object"),
        (b'{"resourceSpans": {"a": 1}}', "resourceSpans must be an array"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}', "integer"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "k", "value": '
            b'{"boolValue": "yes"}}]}]}]}]}',
            "boolValue",
        ),
    ],
)
async def test_malformed_json_is_400(live: Running, body: bytes, needle: str) -> None:
    status, reply, headers = await post(live, body, JS)
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    doc = json.loads(reply)
    assert doc["code"] == 3 and needle in doc["message"]


async def test_json_nested_past_every_encoder_costs_only_its_values(live: Running) -> None:
    """Attribute texts of JSON nested past orjson's depth (254 levels) or past the standard
    library's too (about a thousand) beside a good span in one request: all stored, each attribute
    kept as sent. Metadata that deep failed the whole request (500: every span in it lost)."""
    trace = os.urandom(16)
    deep, deeper = "[" * 300 + "]" * 300, "[" * 1020 + "]" * 1020
    spans = [
        {"trace_id": trace, "name": "good", "attrs": {"gen_ai.request.model": "gpt-4o", "input.value": "hi"}},
        {"trace_id": trace, "name": "deep metadata", "attrs": {"langfuse.observation.metadata": f'{{"a": {deep}}}'}},
        {"trace_id": trace, "name": "deeper metadata", "attrs": {"metadata": f'{{"a": {deeper}}}'}},
        {"trace_id": trace, "name": "deep messages", "attrs": {
            "gen_ai.input.messages": f'[{{"role": "user", "content": "hi", "x": {deep}}}]'}},
    ]  # fmt: skip
    status, reply, _ = await post(live, request(spans).SerializeToString(), PB)
    assert status == 200, reply
    stored = {s["name"]: s for s in await live.store.reader.trace("default", trace.hex())}
    assert set(stored) == {s["name"] for s in spans}
    assert stored["good"]["input"] == "hi"
    for sent in spans[1:]:
        [(key, text)] = sent["attrs"].items()
        assert stored[sent["name"]]["span_attributes"][key] == text, key
    assert json.loads(stored["deep metadata"]["metadata"]["a"]) == json.loads(deep)


async def test_wrong_content_type_is_415(live: Running) -> None:
    status, reply, _ = await post(live, b"hello", {"Content-Type": "text/plain"})
    assert status == 415 and b"application/x-protobuf" in reply


@pytest.mark.parametrize("kind", COMPRESSED)
async def test_each_compression_stores_its_spans_and_a_cut_body_is_400(live: Running, kind: str) -> None:
    encoding, compress = COMPRESSED[kind]
    trace = os.urandom(16)
    packed = compress(request([{"trace_id": trace, "name": kind}] * 3).SerializeToString())
    status, _, _ = await post(live, packed, {**PB, "Content-Encoding": encoding})
    assert status == 200
    assert [s["name"] for s in await live.store.reader.trace("default", trace.hex())] == [kind] * 3
    for cut in (packed[: len(packed) // 2], packed[:-1], b"\x00garbage" + packed):
        status, reply, _ = await post(live, cut, {**PB, "Content-Encoding": encoding})
        assert status == 400 and encoding.encode() in reply, (status, reply)


@pytest.mark.parametrize("encoding", ["gzip", "zstd", "lz4"])
async def test_a_body_in_several_gzip_members_or_zstd_frames_is_stored_whole(live: Running, encoding: str) -> None:
    """Concatenated members (frames) make one body, and protobuf messages one request: every
    span of each part is stored, none dropped after the first; bytes after the end are a 400."""
    compress = COMPRESSED[encoding][1]
    trace = os.urandom(16)
    parts = [request([{"trace_id": trace, "name": f"part {i}"}]).SerializeToString() for i in range(3)]
    packed = b"".join(compress(part) for part in parts)
    assert (await post(live, packed, {**PB, "Content-Encoding": encoding}))[0] == 200
    stored = sorted(s["name"] for s in await live.store.reader.trace("default", trace.hex()))
    assert stored == ["part 0", "part 1", "part 2"]
    for junk in (b"\x00", b"trailing junk"):
        assert (await post(live, packed + junk, {**PB, "Content-Encoding": encoding}))[0] == 400
    assert (await post(live, b"", {**PB, "Content-Encoding": encoding}))[0] == 400


async def test_an_unknown_content_encoding_is_415_and_names_those_taken(live: Running) -> None:
    status, reply, _ = await post(live, one_span().SerializeToString(), {**PB, "Content-Encoding": "br"})
    assert status == 415 and b"use gzip, deflate, zlib, zstd, snappy, x-snappy-framed, lz4 or none" in reply


async def test_partly_bad_batch_stores_the_good_spans(live: Running) -> None:
    trace = os.urandom(16)
    req = request(
        [
            {"trace_id": trace, "name": "good"},
            {"trace_id": b"\x00" * 16, "name": "zero trace id"},
            {"trace_id": trace, "span_id": b"\x01\x02", "name": "short span id"},
            {"trace_id": trace, "name": "good too"},
        ]
    )
    status, body, _ = await post(live, req.SerializeToString(), PB)
    assert status == 200
    partial = ExportTraceServiceResponse.FromString(body).partial_success
    assert partial.rejected_spans == 2 and "trace_id must be 16 bytes" in partial.error_message
    assert sorted(s["name"] for s in await live.store.reader.trace("default", trace.hex())) == ["good", "good too"]


async def test_json_partial_success_and_hex_ids(live: Running) -> None:
    doc = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "upper-case hex",
                                "startTimeUnixNano": 1700000000000000000,
                                "endTimeUnixNano": "1700000000500000000",
                            },
                            {"traceId": "not-hex", "spanId": "eee19b7ec3c1b174", "name": "bad"},
                        ]
                    }
                ]
            }
        ]
    }
    status, reply, _ = await post(live, json.dumps(doc).encode(), JS)
    assert status == 200
    assert json.loads(reply)["partialSuccess"]["rejectedSpans"] == "1"
    [span] = await live.store.reader.trace("default", "5b8efff798038103d269b633813fc60c")
    assert span["span_id"] == "eee19b7ec3c1b174" and span["duration_ns"] == 500_000_000


async def test_retried_export_is_stored_once(live: Running) -> None:
    body = request(
        [{"attrs": {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 100}}]
    ).SerializeToString()
    for _ in range(3):
        status, _, _ = await post(live, body, PB)
        assert status == 200
    rows = await live.store.backend.query(
        "SELECT count() AS n, sum(input_tokens) AS tokens, sum(total_cost) AS cost FROM spans "
        "WHERE service_name = 'hand-made'"
    )
    assert rows[0]["n"] == 1 and rows[0]["tokens"] == 100


async def test_any_path_prefix_and_the_langfuse_path(live: Running) -> None:
    for base, path in [
        (None, "/phoenix/v1/traces"),
        (None, "/api/public/otel/v1/traces"),
        (live.api_url, "/api/public/otel/v1/traces"),
    ]:
        trace = os.urandom(16)
        status, _, _ = await post(live, one_span(trace).SerializeToString(), PB, path=path, base=base)
        assert status == 200, path
        assert len(await live.store.reader.trace("default", trace.hex())) == 1
    status, _, _ = await post(live, b"", PB, path="/v2/logs")
    assert status == 404


async def test_grpc_garbage_is_invalid_argument(live: Running) -> None:
    async with grpc.aio.insecure_channel(live.otlp_grpc_address) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(b"\x0a\xff\xff\xff garbage")
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        reply = await export(one_span().SerializeToString())
        assert ExportTraceServiceResponse.FromString(reply).partial_success.rejected_spans == 0


async def test_resource_attribute_routes_to_a_project_in_open_mode(live: Running) -> None:
    other = await live.store.projects.create_project("phoenix-app")
    live.changed()
    trace = os.urandom(16)
    body = request([{"trace_id": trace}], resource={"openinference.project.name": "phoenix-app"})
    assert (await post(live, body.SerializeToString(), PB))[0] == 200
    assert len(await live.store.reader.trace(other.id, trace.hex())) == 1
    # Dify's Phoenix provider: empty api_key and Bearer headers, a path prefix, the project by name.
    phoenix = request([{"trace_id": os.urandom(16)}], resource={"openinference.project.name": "phoenix-app"})
    status, _, _ = await post(
        live, phoenix.SerializeToString(), {**PB, "api_key": "", "Authorization": "Bearer "}, path="/phoenix/v1/traces"
    )
    assert status == 200
    unknown = request([{"trace_id": trace}], resource={"tracehouse.project": "nope"})
    status, reply, _ = await post(live, unknown.SerializeToString(), PB)
    assert (
        status == 200
        and "unknown project 'nope'" in ExportTraceServiceResponse.FromString(reply).partial_success.error_message
    )
    # A name that projects of two organizations share routes to neither, and says why.
    org = await live.store.organizations.create_organization("elsewhere")
    twin = await live.store.projects.create_project("phoenix-app", org.id)
    live.changed()
    shared = request([{"trace_id": (trace := os.urandom(16))}], resource={"tracehouse.project": "phoenix-app"})
    status, reply, _ = await post(live, shared.SerializeToString(), PB)
    message = ExportTraceServiceResponse.FromString(reply).partial_success.error_message
    assert status == 200 and "several projects are named 'phoenix-app'" in message, message
    assert len(await live.store.reader.trace("default", trace.hex())) == 1
    assert await live.store.reader.trace(other.id, trace.hex()) == []
    assert await live.store.reader.trace(twin.id, trace.hex()) == []
    by_id = request([{"trace_id": (trace := os.urandom(16))}], resource={"tracehouse.project": twin.id})
    assert (await post(live, by_id.SerializeToString(), PB))[0] == 200
    assert len(await live.store.reader.trace(twin.id, trace.hex())) == 1


async def test_authentication(live: Running) -> None:
    project = await live.store.projects.create_project("secure")
    pair = await live.store.projects.create_key(project.id)
    live.changed()
    body = one_span().SerializeToString()
    basic = base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()

    assert (await post(live, body, PB))[0] == 401  # a key exists now: no more open mode
    assert (await post(live, body, {**PB, "Authorization": "Basic " + base64.b64encode(b"pk-th-x:sk-th-y").decode()}))[
        0
    ] == 401
    assert (await post(live, body, {**PB, "Authorization": "Basic !!!"}))[0] == 401
    assert (await post(live, body, {**PB, "Authorization": f"Basic {basic}"}))[0] == 200
    assert (await post(live, body, {**PB, "Authorization": f"Bearer {pair.secret_key}"}))[0] == 200
    assert (await post(live, body, {**PB, "api_key": pair.secret_key}))[0] == 200
    assert await count(live, project=project.id) == 1  # same span three times: stored once

    async with grpc.aio.insecure_channel(live.otlp_grpc_address) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(body)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        await export(one_span().SerializeToString(), metadata=(("authorization", f"Basic {basic}"),))
    assert await count(live, project=project.id) == 2

    await live.store.projects.revoke_key(pair.public_key)
    live.changed()
    assert (await post(live, body, {**PB, "Authorization": f"Basic {basic}"}))[0] == 401


class GatedBackend:
    """The real backend, with inserts held at a gate or failing: a stalled or broken store."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.fail = False
        self.kind = inner.kind
        self.held_spans = 0  # span rows waiting at the gate

    async def insert(self, table, data, settings=None):
        if self.fail:
            raise StorageUnavailable("injected: the store is down")
        held = data.num_rows if table == "spans" and not self.gate.is_set() else 0
        self.held_spans += held
        await self.gate.wait()
        self.held_spans -= held
        return await self.inner.insert(table, data, settings)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@pytest.fixture
async def small(tmp_path: Path):
    async with serving(tmp_path / "data", max_body_bytes=64 * 1024, max_inflight_bytes=4096) as r:
        yield r


async def test_stalled_store_gives_503_and_loses_nothing_acked(small: Running) -> None:
    gated = GatedBackend(small.store.writer._backend)
    small.store.writer._backend = gated
    assert small.ingest is not None
    batcher = small.ingest.batcher
    # Twice what the bound and its waiting room (as large as the bound) hold together.
    bodies = [request([{"trace_id": os.urandom(16)} for _ in range(5)]).SerializeToString() for _ in range(60)]
    assert sum(map(len, bodies)) > 4 * batcher.max_inflight_bytes
    try:
        tasks = [asyncio.create_task(post(small, b, PB)) for b in bodies]
        # Wait on what happens, not on the clock: a slow machine takes longer to reach the bound.
        await until(lambda: any(t.done() and t.result()[0] != 200 for t in tasks))
        # The first refusal comes while the bound is full and the waiting room holds requests.
        assert 0 < batcher.waiting_bytes <= batcher.max_inflight_bytes
        assert batcher.inflight_bytes <= batcher.max_inflight_bytes
        # The waiting room's time runs out while the store stays stalled: every request is answered
        # but those in the hanging insert (5 spans each), which wait for it.
        await until(lambda: batcher.waiting_bytes == 0 and sum(not t.done() for t in tasks) == gated.held_spans // 5)
        answers = [t.result() for t in tasks if t.done()]
        for status, _, headers in answers:
            assert status == 200 or (status == 503 and int(headers["Retry-After"]) >= 1)
        reasons = [status_pb2.Status.FromString(body).message for status, body, _ in answers if status == 503]
        # Requests past the bound and a full waiting room are refused at once, not queued ...
        assert any("in flight and waiting" in r for r in reasons)
        # ... and those in the waiting room are refused when their time there runs out.
        assert any("no room for" in r for r in reasons)
        assert all("in flight and waiting" in r or "no room for" in r for r in reasons), set(reasons)
        # Within the bound, requests behind the hanging insert are answered from the write-ahead log.
        logged = [status for status, _, _ in answers if status == 200]
        assert len(logged) * min(map(len, bodies)) <= batcher.max_inflight_bytes
    finally:
        gated.gate.set()
    results = await asyncio.gather(*tasks)
    acked = [b for b, (status, _, _) in zip(bodies, results, strict=True) if status == 200]
    assert acked and len(acked) < len(bodies)
    await batcher.settled()  # the logged batches go in after the answers
    assert batcher.inflight_bytes == 0
    assert await count(small) == 5 * len(acked)


async def test_failing_store_gives_503_and_grpc_retry_info(small: Running) -> None:
    gated = GatedBackend(small.store.writer._backend)
    gated.fail = True
    small.store.writer._backend = gated
    status, _, headers = await post(small, one_span().SerializeToString(), PB)
    assert status == 503 and "Retry-After" in headers
    async with grpc.aio.insecure_channel(small.otlp_grpc_address) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(one_span().SerializeToString())
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    status_proto = rpc_status.from_call(info.value)
    assert status_proto is not None
    retry = error_details_pb2.RetryInfo()
    assert status_proto.details[0].Unpack(retry) and retry.retry_delay.seconds >= 1
    gated.fail = False
    gated.gate.set()
    await asyncio.sleep(1.1)  # the receiver backs off briefly after a failure
    assert (await post(small, one_span().SerializeToString(), PB))[0] == 200


async def test_oversized_and_gzip_bomb_are_413(small: Running) -> None:
    big = request([{"attrs": {"blob": "x" * 100_000}}]).SerializeToString()
    assert (await post(small, big, PB))[0] == 413
    bomb = gzip.compress(b"\x00" * (8 * 1024 * 1024))  # ~8 KB that inflates to 8 MB
    assert len(bomb) < 64 * 1024
    status, body, _ = await post(small, bomb, {**PB, "Content-Encoding": "gzip"})
    assert status == 413 and b"inflates to more than" in body
    for kind, (encoding, compress) in COMPRESSED.items():
        # Snappy packs at most ~21 to 1: its bomb inflates to 1 MB, the others' to 8 MB.
        bomb = compress(b"\x00" * ((1 if encoding in ("snappy", "x-snappy-framed") else 8) * 1024 * 1024))
        assert len(bomb) < 64 * 1024, kind
        status, body, _ = await post(small, bomb, {**PB, "Content-Encoding": encoding})
        assert status == 413 and b"inflates to more than" in body, kind
    assert (await post(small, one_span().SerializeToString(), PB))[0] == 200  # still healthy


async def test_retry_hint_grows_with_the_outage(small: Running) -> None:
    """SDKs honour Retry-After and give up after a few attempts: during a long outage the hint grows,
    so that they keep retrying until the store is back; once it is, the hint is short again."""
    gated = GatedBackend(small.store.writer._backend)
    gated.fail = True
    small.store.writer._backend = gated
    hints = []
    for _ in range(8):
        status, _, headers = await post(small, one_span().SerializeToString(), PB)
        assert status == 503
        hints.append(int(headers["Retry-After"]))
        await asyncio.sleep(0.5)
    assert hints == sorted(hints) and hints[0] == 1 and hints[-1] >= 3, hints
    gated.fail = False
    gated.gate.set()
    await asyncio.sleep(1.1)  # past the short back-off after the last failure
    assert (await post(small, one_span().SerializeToString(), PB))[0] == 200
    assert small.ingest is not None and small.ingest.batcher.retry_hint() == 1.0
