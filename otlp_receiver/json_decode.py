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
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehouse.errors import InvalidInput

__all__ = ["parse_json_logs_request", "parse_json_metrics_request", "parse_json_request"]

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


def _document(body: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    return _obj(doc, "the request")


def _resource_and_scopes(target: Any, item: Any, where: str, scopes_key: str) -> list[tuple[Any, dict[str, Any], str]]:
    """Fill a Resource* message's resource; return (scope message, scope JSON, where) per scope entry."""
    item = _obj(item, where)
    resource = _obj(item.get("resource"), f"{where}.resource")
    _keyvalues(target.resource.attributes, resource.get("attributes"), f"{where}.resource.attributes")
    target.schema_url = _str(item.get("schemaUrl"), f"{where}.schemaUrl")
    out = []
    for s, scoped_json in enumerate(_list(item.get(scopes_key), f"{where}.{scopes_key}")):
        swhere = f"{where}.{scopes_key}[{s}]"
        scoped_json = _obj(scoped_json, swhere)
        scoped = getattr(target, _SNAKE[scopes_key]).add()
        scope = _obj(scoped_json.get("scope"), f"{swhere}.scope")
        scoped.scope.name = _str(scope.get("name"), f"{swhere}.scope.name")
        scoped.scope.version = _str(scope.get("version"), f"{swhere}.scope.version")
        _keyvalues(scoped.scope.attributes, scope.get("attributes"), f"{swhere}.scope.attributes")
        out.append((scoped, scoped_json, swhere))
    return out


_SNAKE = {"scopeSpans": "scope_spans", "scopeLogs": "scope_logs", "scopeMetrics": "scope_metrics"}


def _log_record(target: Any, r: dict[str, Any], where: str) -> None:
    target.time_unix_nano = _int(r.get("timeUnixNano"), f"{where}.timeUnixNano", 0)
    target.observed_time_unix_nano = _int(r.get("observedTimeUnixNano"), f"{where}.observedTimeUnixNano", 0)
    target.severity_number = _int(r.get("severityNumber"), f"{where}.severityNumber", 0, 24)
    target.severity_text = _str(r.get("severityText"), f"{where}.severityText")
    if r.get("body") is not None:
        _anyvalue(target.body, r.get("body"), f"{where}.body")
    _keyvalues(target.attributes, r.get("attributes"), f"{where}.attributes")
    target.dropped_attributes_count = _int(r.get("droppedAttributesCount"), where, 0, (1 << 32) - 1)
    target.flags = _int(r.get("flags"), f"{where}.flags", 0, (1 << 32) - 1)
    target.trace_id = _hex_id(r.get("traceId"))
    target.span_id = _hex_id(r.get("spanId"))
    target.event_name = _str(r.get("eventName"), f"{where}.eventName")


def parse_json_logs_request(body: bytes) -> ExportLogsServiceRequest:
    """Parse an OTLP/JSON ExportLogsServiceRequest; InvalidInput on malformed input."""
    doc = _document(body)
    request = ExportLogsServiceRequest()
    for r, item in enumerate(_list(doc.get("resourceLogs"), "resourceLogs")):
        for scoped, scoped_json, swhere in _resource_and_scopes(
            request.resource_logs.add(), item, f"resourceLogs[{r}]", "scopeLogs"
        ):
            for i, record in enumerate(_list(scoped_json.get("logRecords"), f"{swhere}.logRecords")):
                where = f"{swhere}.logRecords[{i}]"
                _log_record(scoped.log_records.add(), _obj(record, where), where)
    return request


def _double(value: Any, where: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{where} must be a number")
    return float(value)


def _point_common(target: Any, p: dict[str, Any], where: str) -> None:
    _keyvalues(target.attributes, p.get("attributes"), f"{where}.attributes")
    target.start_time_unix_nano = _int(p.get("startTimeUnixNano"), f"{where}.startTimeUnixNano", 0)
    target.time_unix_nano = _int(p.get("timeUnixNano"), f"{where}.timeUnixNano", 0)
    target.flags = _int(p.get("flags"), f"{where}.flags", 0, (1 << 32) - 1)


def _number_point(target: Any, p: dict[str, Any], where: str) -> None:
    _point_common(target, p, where)
    if p.get("asInt") is not None:
        target.as_int = _int(p.get("asInt"), f"{where}.asInt", hi=(1 << 63) - 1)
    else:
        target.as_double = _double(p.get("asDouble"), f"{where}.asDouble")


def _histogram_totals(target: Any, p: dict[str, Any], where: str) -> None:
    """What both histogram kinds' points have: the common fields, count, sum, min and max."""
    _point_common(target, p, where)
    target.count = _int(p.get("count"), f"{where}.count", 0)
    for name in ("sum", "min", "max"):
        if p.get(name) is not None:
            setattr(target, name, _double(p.get(name), f"{where}.{name}"))


def _histogram_point(target: Any, p: dict[str, Any], where: str) -> None:
    _histogram_totals(target, p, where)
    target.bucket_counts.extend(_int(c, f"{where}.bucketCounts", 0) for c in _list(p.get("bucketCounts"), where))
    target.explicit_bounds.extend(_double(b, f"{where}.explicitBounds") for b in _list(p.get("explicitBounds"), where))


def _exp_point(target: Any, p: dict[str, Any], where: str) -> None:
    _histogram_totals(target, p, where)
    target.scale = _int(p.get("scale"), f"{where}.scale", -(1 << 31), (1 << 31) - 1)
    target.zero_count = _int(p.get("zeroCount"), f"{where}.zeroCount", 0)
    for side in ("positive", "negative"):
        buckets = _obj(p.get(side), f"{where}.{side}")
        out = getattr(target, side)
        out.offset = _int(buckets.get("offset"), f"{where}.{side}.offset", -(1 << 31), (1 << 31) - 1)
        out.bucket_counts.extend(_int(c, f"{where}.{side}", 0) for c in _list(buckets.get("bucketCounts"), where))


def _summary_point(target: Any, p: dict[str, Any], where: str) -> None:
    _point_common(target, p, where)
    target.count = _int(p.get("count"), f"{where}.count", 0)
    target.sum = _double(p.get("sum"), f"{where}.sum")
    for i, q in enumerate(_list(p.get("quantileValues"), f"{where}.quantileValues")):
        q = _obj(q, f"{where}.quantileValues[{i}]")
        item = target.quantile_values.add()
        item.quantile = _double(q.get("quantile"), f"{where}.quantileValues[{i}].quantile")
        item.value = _double(q.get("value"), f"{where}.quantileValues[{i}].value")


# JSON field -> (protobuf field, data point parser)
_METRIC_KINDS = {
    "gauge": ("gauge", _number_point),
    "sum": ("sum", _number_point),
    "histogram": ("histogram", _histogram_point),
    "exponentialHistogram": ("exponential_histogram", _exp_point),
    "summary": ("summary", _summary_point),
}


def _metric(target: Any, m: dict[str, Any], where: str) -> None:
    target.name = _str(m.get("name"), f"{where}.name")
    target.description = _str(m.get("description"), f"{where}.description")
    target.unit = _str(m.get("unit"), f"{where}.unit")
    for key, (field, parse_point) in _METRIC_KINDS.items():
        if key not in m:
            continue
        data_json = _obj(m[key], f"{where}.{key}")
        data = getattr(target, field)
        data.SetInParent()
        fields = data.DESCRIPTOR.fields_by_name  # a field another kind has is unknown here: ignored
        if "aggregationTemporality" in data_json and "aggregation_temporality" in fields:
            data.aggregation_temporality = _int(data_json["aggregationTemporality"], f"{where}.{key}", 0, 2)
        if "isMonotonic" in data_json and "is_monotonic" in fields:
            if not isinstance(data_json["isMonotonic"], bool):
                raise InvalidInput(f"{where}.{key}.isMonotonic must be true or false")
            data.is_monotonic = data_json["isMonotonic"]
        for i, p in enumerate(_list(data_json.get("dataPoints"), f"{where}.{key}.dataPoints")):
            pwhere = f"{where}.{key}.dataPoints[{i}]"
            parse_point(data.data_points.add(), _obj(p, pwhere), pwhere)
        return


def parse_json_metrics_request(body: bytes) -> ExportMetricsServiceRequest:
    """Parse an OTLP/JSON ExportMetricsServiceRequest; InvalidInput on malformed input."""
    doc = _document(body)
    request = ExportMetricsServiceRequest()
    for r, item in enumerate(_list(doc.get("resourceMetrics"), "resourceMetrics")):
        for scoped, scoped_json, swhere in _resource_and_scopes(
            request.resource_metrics.add(), item, f"resourceMetrics[{r}]", "scopeMetrics"
        ):
            for i, metric in enumerate(_list(scoped_json.get("metrics"), f"{swhere}.metrics")):
                where = f"{swhere}.metrics[{i}]"
                _metric(scoped.metrics.add(), _obj(metric, where), where)
    return request
