"""OTLP/JSON to the protobuf request, by hand.

OTLP/JSON differs from proto3's JSON mapping: trace and span ids are hex (protobuf's
json_format would read them as base64 and get wrong bytes), int64 may be a string or a
number, enums are integers, and unknown fields must be ignored. Structural garbage is an
InvalidInput naming where it is; a bad id only spoils its span (the span decoder rejects
ids of the wrong length).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehouse.errors import InvalidInput

__all__ = ["parse_json_request"]

_BAD_ID = b"\xff"  # wrong length on purpose: the span is rejected with a clear message
_UINT64 = (1 << 64) - 1


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{where} must be an array, got {type(value).__name__}")
    return value


def _obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be an object, got {type(value).__name__}")
    return value


def _int(value: Any, where: str, lo: int = -(1 << 63), hi: int = _UINT64) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise InvalidInput(f"{where} must be an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise InvalidInput(f"{where} must be an integer, got {value[:40]!r}") from None
    if not isinstance(value, int):
        raise InvalidInput(f"{where} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise InvalidInput(f"{where} is out of range: {value}")
    return value


def _str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string, got {type(value).__name__}")
    return value


def _hex_id(value: Any) -> bytes:
    if not value:
        return b""
    if not isinstance(value, str):
        return _BAD_ID
    try:
        return binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        return _BAD_ID


def _anyvalue(target: Any, value: Any, where: str, depth: int = 0) -> None:
    if depth > 64:
        raise InvalidInput(f"{where} is nested more than 64 levels deep")
    value = _obj(value, where)
    if "stringValue" in value:
        target.string_value = _str(value["stringValue"], where)
    elif "intValue" in value:
        target.int_value = _int(value["intValue"], where, hi=(1 << 63) - 1)
    elif "doubleValue" in value:
        x = value["doubleValue"]
        if isinstance(x, str) and x in ("NaN", "Infinity", "-Infinity"):
            x = float(x.replace("Infinity", "inf"))
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise InvalidInput(f"{where}.doubleValue must be a number")
        target.double_value = float(x)
    elif "boolValue" in value:
        if not isinstance(value["boolValue"], bool):
            raise InvalidInput(f"{where}.boolValue must be true or false")
        target.bool_value = value["boolValue"]
    elif "arrayValue" in value:
        array = target.array_value
        array.SetInParent()
        for i, item in enumerate(_list(_obj(value["arrayValue"], where).get("values"), where)):
            _anyvalue(array.values.add(), item, f"{where}[{i}]", depth + 1)
    elif "kvlistValue" in value:
        kvlist = target.kvlist_value
        kvlist.SetInParent()
        _keyvalues(kvlist.values, _obj(value["kvlistValue"], where).get("values"), where, depth + 1)
    elif "bytesValue" in value:
        try:
            target.bytes_value = base64.b64decode(_str(value["bytesValue"], where), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"{where}.bytesValue is not base64") from None


def _keyvalues(target: Any, items: Any, where: str, depth: int = 0) -> None:
    for i, item in enumerate(_list(items, where)):
        item = _obj(item, f"{where}[{i}]")
        kv = target.add()
        kv.key = _str(item.get("key"), f"{where}[{i}].key")
        _anyvalue(kv.value, item.get("value"), f"{where}[{i}].value", depth)


def _span(target: Any, s: dict[str, Any], where: str) -> None:
    target.trace_id = _hex_id(s.get("traceId"))
    target.span_id = _hex_id(s.get("spanId"))
    target.parent_span_id = _hex_id(s.get("parentSpanId"))
    target.trace_state = _str(s.get("traceState"), f"{where}.traceState")
    target.flags = _int(s.get("flags"), f"{where}.flags", 0, (1 << 32) - 1)
    target.name = _str(s.get("name"), f"{where}.name")
    target.kind = _int(s.get("kind"), f"{where}.kind", 0, 5)
    target.start_time_unix_nano = _int(s.get("startTimeUnixNano"), f"{where}.startTimeUnixNano", 0)
    target.end_time_unix_nano = _int(s.get("endTimeUnixNano"), f"{where}.endTimeUnixNano", 0)
    _keyvalues(target.attributes, s.get("attributes"), f"{where}.attributes")
    target.dropped_attributes_count = _int(s.get("droppedAttributesCount"), where, 0, (1 << 32) - 1)
    for i, e in enumerate(_list(s.get("events"), f"{where}.events")):
        e = _obj(e, f"{where}.events[{i}]")
        event = target.events.add()
        event.time_unix_nano = _int(e.get("timeUnixNano"), f"{where}.events[{i}].timeUnixNano", 0)
        event.name = _str(e.get("name"), f"{where}.events[{i}].name")
        _keyvalues(event.attributes, e.get("attributes"), f"{where}.events[{i}].attributes")
        event.dropped_attributes_count = _int(e.get("droppedAttributesCount"), where, 0, (1 << 32) - 1)
    target.dropped_events_count = _int(s.get("droppedEventsCount"), where, 0, (1 << 32) - 1)
    for i, link_json in enumerate(_list(s.get("links"), f"{where}.links")):
        link_json = _obj(link_json, f"{where}.links[{i}]")
        link = target.links.add()
        link.trace_id = _hex_id(link_json.get("traceId"))
        link.span_id = _hex_id(link_json.get("spanId"))
        link.trace_state = _str(link_json.get("traceState"), f"{where}.links[{i}].traceState")
        _keyvalues(link.attributes, link_json.get("attributes"), f"{where}.links[{i}].attributes")
        link.flags = _int(link_json.get("flags"), where, 0, (1 << 32) - 1)
    target.dropped_links_count = _int(s.get("droppedLinksCount"), where, 0, (1 << 32) - 1)
    status = _obj(s.get("status"), f"{where}.status")
    if status:
        target.status.message = _str(status.get("message"), f"{where}.status.message")
        target.status.code = _int(status.get("code"), f"{where}.status.code", 0, 2)


def parse_json_request(body: bytes) -> ExportTraceServiceRequest:
    """Parse an OTLP/JSON ExportTraceServiceRequest; InvalidInput on malformed input."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    doc = _obj(doc, "the request")
    request = ExportTraceServiceRequest()
    for r, rs_json in enumerate(_list(doc.get("resourceSpans"), "resourceSpans")):
        where = f"resourceSpans[{r}]"
        rs_json = _obj(rs_json, where)
        rs = request.resource_spans.add()
        resource = _obj(rs_json.get("resource"), f"{where}.resource")
        _keyvalues(rs.resource.attributes, resource.get("attributes"), f"{where}.resource.attributes")
        rs.schema_url = _str(rs_json.get("schemaUrl"), f"{where}.schemaUrl")
        for s, ss_json in enumerate(_list(rs_json.get("scopeSpans"), f"{where}.scopeSpans")):
            swhere = f"{where}.scopeSpans[{s}]"
            ss_json = _obj(ss_json, swhere)
            ss = rs.scope_spans.add()
            scope = _obj(ss_json.get("scope"), f"{swhere}.scope")
            ss.scope.name = _str(scope.get("name"), f"{swhere}.scope.name")
            ss.scope.version = _str(scope.get("version"), f"{swhere}.scope.version")
            _keyvalues(ss.scope.attributes, scope.get("attributes"), f"{swhere}.scope.attributes")
            for i, span_json in enumerate(_list(ss_json.get("spans"), f"{swhere}.spans")):
                _span(ss.spans.add(), _obj(span_json, f"{swhere}.spans[{i}]"), f"{swhere}.spans[{i}]")
    return request
