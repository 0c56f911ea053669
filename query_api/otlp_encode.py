"""Stored span rows -> OTLP TracesData (the bytes Tempo's Trace message has), typed values restored."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status, TracesData

from storage.attribute_codec import anyvalue_from_text

__all__ = ["encode_trace", "id_bytes", "trace_by_id_response"]

KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS = {"UNSET": Status.STATUS_CODE_UNSET, "OK": Status.STATUS_CODE_OK, "ERROR": Status.STATUS_CODE_ERROR}
_HEX = re.compile(r"^[0-9a-f]+$")


def id_bytes(value: str, size: int) -> bytes:
    """An id as ``size`` bytes: hex ids as they are; other ids (Langfuse UUIDs, any string) hashed."""
    if len(value) == size * 2 and _HEX.match(value):
        return bytes.fromhex(value)
    if not value:
        return b""
    return hashlib.sha256(value.encode()).digest()[:size]


def _attributes(values: dict[str, str], types: dict[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=anyvalue_from_text(v, types.get(k))) for k, v in values.items()]


def _json_attributes(text: str) -> list[KeyValue]:
    out = []
    for item in orjson.loads(text or "[]"):
        kv = KeyValue()
        json_format.ParseDict(item, kv)
        out.append(kv)
    return out


def encode_trace(rows: list[dict[str, Any]], log_events: list[dict[str, Any]] | None = None) -> TracesData:
    """The spans of one trace, grouped by resource and scope as they were sent. ``log_events``:
    the trace's event log records (storage.logs), added to their spans as span events, which is
    how the OTel data model relates the two (a GenAI instrumentation in EVENT_ONLY mode sends its
    messages that way)."""
    by_span: dict[str, list[dict[str, Any]]] = {}
    for record in log_events or ():
        if record["event_name"] and record["span_id"]:
            by_span.setdefault(record["span_id"], []).append(record)
    data = TracesData()
    resources: dict[bytes, Any] = {}
    scopes: dict[tuple[bytes, bytes], Any] = {}
    for row in rows:
        resource_attrs = dict(row["resource_attributes"])
        # OTLP spans come back with the resource they were sent with; Langfuse observations have
        # no OTLP resource, so they get one naming their service for Grafana.
        if row.get("source") != "otlp" and "service.name" not in resource_attrs and row["service_name"]:
            resource_attrs["service.name"] = row["service_name"]
        r_key = orjson.dumps([resource_attrs, row["resource_attribute_types"]], option=orjson.OPT_SORT_KEYS)
        if r_key not in resources:
            rs = data.resource_spans.add()
            rs.resource.attributes.extend(_attributes(resource_attrs, row["resource_attribute_types"]))
            resources[r_key] = rs
        s_key = (
            r_key,
            orjson.dumps(
                [row["scope_name"], row["scope_version"], row["scope_attributes"]], option=orjson.OPT_SORT_KEYS
            ),
        )
        if s_key not in scopes:
            ss = resources[r_key].scope_spans.add()
            ss.scope.name = row["scope_name"]
            ss.scope.version = row["scope_version"]
            ss.scope.attributes.extend(_attributes(row["scope_attributes"], row["scope_attribute_types"]))
            scopes[s_key] = ss
        span: Span = scopes[s_key].spans.add()
        span.trace_id = id_bytes(row["trace_id"], 16)
        span.span_id = id_bytes(row["span_id"], 8)
        span.parent_span_id = id_bytes(row["parent_span_id"], 8)
        span.trace_state = row["trace_state"]
        span.flags = row["flags"]
        span.name = row["name"]
        span.kind = KINDS.index(row["kind"]) if row["kind"] in KINDS else 0
        span.start_time_unix_nano = row["start_time"]
        span.end_time_unix_nano = row["end_time"]
        span.attributes.extend(_attributes(row["span_attributes"], row["span_attribute_types"]))
        span.dropped_attributes_count = row["dropped_attributes_count"]
        for time_ns, name, attrs in zip(row["event_times"], row["event_names"], row["event_attributes"], strict=True):
            event = span.events.add()
            event.time_unix_nano = time_ns
            event.name = name
            event.attributes.extend(_json_attributes(attrs))
        for record in by_span.get(row["span_id"], ()):
            event = span.events.add()
            event.time_unix_nano = record["time"]
            event.name = record["event_name"]
            event.attributes.extend(_attributes(record["log_attributes"], record["log_attribute_types"]))
        span.dropped_events_count = row["dropped_events_count"]
        for trace_id, span_id, state, attrs in zip(
            row["link_trace_ids"], row["link_span_ids"], row["link_trace_states"], row["link_attributes"], strict=True
        ):
            link = span.links.add()
            link.trace_id = id_bytes(trace_id, 16)
            link.span_id = id_bytes(span_id, 8)
            link.trace_state = state
            link.attributes.extend(_json_attributes(attrs))
        span.dropped_links_count = row["dropped_links_count"]
        span.status.code = STATUS.get(row["status_code"], Status.STATUS_CODE_UNSET)
        span.status.message = row["status_message"]
    return data


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def trace_by_id_response(trace: TracesData) -> bytes:
    """tempopb.TraceByIDResponse{trace = 1} around the Trace (TracesData) bytes."""
    body = trace.SerializeToString()
    return b"\x0a" + _varint(len(body)) + body
