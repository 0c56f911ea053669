"""Fidelity: any OTLP request, stored and read back through Tempo's trace-by-id protobuf, gives
back the spans that were sent: ids, times, kinds, statuses, events, links, resource and scope,
and every attribute with its type (int, double incl. NaN and infinities, bool, bytes, arrays and
kvlists nested)."""

from __future__ import annotations

import math
import os
from typing import Any

import aiohttp
from hypothesis import HealthCheck, assume, given, settings
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.helpers import read_twice
from tests.otlp_strategies import export_requests
from tests.test_tempo import unwrap_v2
from tracehouse.server import Running

EXAMPLES = 80
RUN = {"examples": 0, "spans": 0, "attributes": 0}


def value(v: AnyValue) -> Any:
    """An AnyValue as comparable Python: typed, NaN made equal to itself, order kept for arrays."""
    which = v.WhichOneof("value")
    if which is None:
        return ("empty",)
    if which == "array_value":
        return ("array", [value(x) for x in v.array_value.values])
    if which == "kvlist_value":
        return ("kvlist", sorted((kv.key, value(kv.value)) for kv in v.kvlist_value.values))
    raw = getattr(v, which)
    if which == "double_value" and math.isnan(raw):
        return (which, "nan")
    return (which, raw)


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in kvs}


def spans_of(resource_spans: Any) -> dict[tuple[bytes, bytes], dict[str, Any]]:
    out = {}
    for rs in resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                out[(s.trace_id, s.span_id)] = {
                    "resource": attributes(rs.resource.attributes),
                    "scope": (ss.scope.name, ss.scope.version, attributes(ss.scope.attributes)),
                    "ids": (s.trace_id, s.parent_span_id, s.trace_state),
                    "name": s.name,
                    "kind": s.kind,
                    "times": (s.start_time_unix_nano, s.end_time_unix_nano),
                    "status": (s.status.code, s.status.message),
                    "attributes": attributes(s.attributes),
                    "dropped": (s.dropped_attributes_count, s.dropped_events_count, s.dropped_links_count),
                    "events": [(e.time_unix_nano, e.name, attributes(e.attributes)) for e in s.events],
                    "links": [(ln.trace_id, ln.span_id, ln.trace_state, attributes(ln.attributes)) for ln in s.links],
                }
    return out


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(req=export_requests(valid_ids=True, max_spans=4))
async def test_any_request_reads_back_equal_through_tempo(live: Running, req: ExportTraceServiceRequest) -> None:
    # Fresh trace ids for every example (the same ids again would be a retry, stored once), and
    # span ids unique within the request.
    fresh: dict[bytes, bytes] = {}
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                span.trace_id = fresh.setdefault(span.trace_id, os.urandom(16))
    keys = [(s.trace_id, s.span_id) for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assume(len(set(keys)) == len(keys))
    sent = spans_of(req.resource_spans)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            live.otlp_http_url + "/v1/traces",
            data=req.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
        ) as r:
            assert r.status == 200, await r.text()
        got: dict[tuple[bytes, bytes], dict[str, Any]] = {}
        for trace_id in {s["ids"][0] for s in sent.values()}:
            async with session.get(
                f"{live.api_url}/tempo/api/v2/traces/{trace_id.hex()}", headers={"Accept": "application/protobuf"}
            ) as r:
                assert r.status == 200, await r.text()
                got.update(spans_of(unwrap_v2(await r.read()).resource_spans))
    assert set(got) == set(sent)
    for trace_id in {s["ids"][0] for s in sent.values()}:  # served from memory, as ClickHouse has them
        await read_twice(live.store, "default", trace_id.hex())
    for key, want in sent.items():
        for part, expected in want.items():
            assert got[key][part] == expected, f"span {key[1].hex()}: {part} differs"
    RUN["examples"] += 1
    RUN["spans"] += len(sent)
    RUN["attributes"] += sum(len(s["attributes"]) + len(s["resource"]) for s in sent.values())
