"""Building OTLP requests by hand (protobuf messages), including broken ones."""

from __future__ import annotations

import os
import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def kv(key: str, value: Any) -> KeyValue:
    v = AnyValue()
    if isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, int):
        v.int_value = value
    elif isinstance(value, float):
        v.double_value = value
    elif isinstance(value, list):
        v.array_value.values.extend(kv("", item).value for item in value)
    else:
        v.string_value = str(value)
    return KeyValue(key=key, value=v)


def request(spans: list[dict[str, Any]], resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    """One resource, one scope, the given spans: dicts with trace_id/span_id (bytes), name, attrs."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    for k, v in {"service.name": "hand-made", **(resource or {})}.items():
        rs.resource.attributes.append(kv(k, v))
    ss = rs.scope_spans.add()
    ss.scope.name = "tests"
    now = time.time_ns()
    for s in spans:
        span = ss.spans.add()
        span.trace_id = s.get("trace_id", b"\x01" * 16)
        span.span_id = s.get("span_id", os.urandom(8))
        span.parent_span_id = s.get("parent_span_id", b"")
        span.name = s.get("name", "op")
        span.start_time_unix_nano = s.get("start", now)
        span.end_time_unix_nano = s.get("end", now + 1_000_000)
        for k, v in s.get("attrs", {}).items():
            span.attributes.append(kv(k, v))
    return req


def one_span(trace_id: bytes | None = None, **attrs: Any) -> ExportTraceServiceRequest:
    return request([{"trace_id": trace_id or os.urandom(16), "attrs": attrs}])
