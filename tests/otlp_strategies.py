"""Hypothesis strategies for OTLP: export requests with every attribute type, and hostile bodies."""

from __future__ import annotations

import json
import time

from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

MAX_NS = (1 << 63) - 1

keys = st.text(min_size=1, max_size=20)
texts = st.text(max_size=60)


def any_values(max_leaves: int = 12) -> st.SearchStrategy[AnyValue]:
    """AnyValue of every kind, arrays and kvlists nested."""
    leaves = st.one_of(
        texts.map(lambda v: AnyValue(string_value=v)),
        st.booleans().map(lambda v: AnyValue(bool_value=v)),
        st.integers(-(2**63), 2**63 - 1).map(lambda v: AnyValue(int_value=v)),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda v: AnyValue(double_value=v)),
        st.binary(max_size=20).map(lambda v: AnyValue(bytes_value=v)),
    )

    def nest(children: st.SearchStrategy[AnyValue]) -> st.SearchStrategy[AnyValue]:
        def array(values: list[AnyValue]) -> AnyValue:
            v = AnyValue()
            v.array_value.values.extend(values)
            return v

        def kvlist(pairs: dict[str, AnyValue]) -> AnyValue:
            v = AnyValue()
            v.kvlist_value.values.extend(KeyValue(key=k, value=x) for k, x in pairs.items())
            return v

        return st.one_of(
            st.lists(children, max_size=4).map(array), st.dictionaries(keys, children, max_size=4).map(kvlist)
        )

    return st.recursive(leaves, nest, max_leaves=max_leaves)


def attribute_lists(max_size: int = 6) -> st.SearchStrategy[list[KeyValue]]:
    return st.dictionaries(keys, any_values(), max_size=max_size).map(
        lambda d: [KeyValue(key=k, value=v) for k, v in d.items()]
    )


NOW_NS = time.time_ns()
DAY_NS = 86_400 * 10**9
# Mostly recent times (a partition per day: a hundred random dates would make a hundred partitions),
# and the edges of what can be stored.
valid_times = st.one_of(st.integers(NOW_NS - 3 * DAY_NS, NOW_NS + DAY_NS), st.sampled_from([0, 1, MAX_NS - 10**12]))


@st.composite
def export_requests(
    draw: st.DrawFn, valid_ids: bool = False, max_spans: int = 6, times: st.SearchStrategy[int] = valid_times
) -> ExportTraceServiceRequest:
    """A request of 1-3 resources with spans whose ids, times and content vary freely (or, with
    ``valid_ids``, spans the receiver must accept: 16/8-byte non-zero ids, end >= start)."""
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 3))):
        rs = request.resource_spans.add()
        rs.resource.attributes.extend(draw(attribute_lists()))
        ss = rs.scope_spans.add()
        ss.scope.name = draw(texts)
        ss.scope.version = draw(st.text(max_size=8))
        ss.scope.attributes.extend(draw(attribute_lists(3)))
        for _ in range(draw(st.integers(0 if not valid_ids else 1, max_spans))):
            span = ss.spans.add()
            if valid_ids:
                span.trace_id = draw(st.binary(min_size=16, max_size=16).filter(any))
                span.span_id = draw(st.binary(min_size=8, max_size=8).filter(any))
                span.parent_span_id = draw(st.one_of(st.just(b""), st.binary(min_size=8, max_size=8).filter(any)))
                start = draw(times)
                span.start_time_unix_nano = start
                span.end_time_unix_nano = start + draw(st.integers(0, 10**12))
            else:
                span.trace_id = draw(st.binary(max_size=20))
                span.span_id = draw(st.binary(max_size=10))
                span.parent_span_id = draw(st.binary(max_size=10))
                span.start_time_unix_nano = draw(st.integers(0, 2**64 - 1))
                span.end_time_unix_nano = draw(st.integers(0, 2**64 - 1))
            span.name = draw(texts)
            span.kind = draw(st.integers(0, 5))
            span.trace_state = draw(st.text(max_size=10))
            span.attributes.extend(draw(attribute_lists()))
            span.dropped_attributes_count = draw(st.integers(0, 2**32 - 1))
            span.status.code = draw(st.integers(0, 2))
            span.status.message = draw(st.text(max_size=10))
            for _ in range(draw(st.integers(0, 2))):
                event = span.events.add()
                event.time_unix_nano = draw(st.integers(0, MAX_NS))
                event.name = draw(texts)
                event.attributes.extend(draw(attribute_lists(3)))
            for _ in range(draw(st.integers(0, 1))):
                link = span.links.add()
                link.trace_id = draw(st.binary(min_size=16, max_size=16))
                link.span_id = draw(st.binary(min_size=8, max_size=8))
                link.attributes.extend(draw(attribute_lists(2)))
    return request


@st.composite
def mutated(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` with bytes flipped, cut, spliced or repeated: what a broken client or network sends."""
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "repeat"]))
        if not data:
            data = bytearray(draw(st.binary(min_size=1, max_size=16)))
            continue
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=15,
)


@st.composite
def hostile_json_requests(draw: st.DrawFn) -> bytes:
    """OTLP/JSON whose fields hold values of any JSON type, where the skeleton is right or not."""

    def maybe(value: object) -> object:
        return draw(st.one_of(st.just(value), json_values))

    attribute = {
        "key": maybe("k"),
        "value": maybe(
            {
                draw(
                    st.sampled_from(
                        [
                            "stringValue",
                            "intValue",
                            "doubleValue",
                            "boolValue",
                            "arrayValue",
                            "kvlistValue",
                            "bytesValue",
                        ]
                    )
                ): draw(json_values)
            }
        ),
    }
    span = {
        "traceId": maybe("5b8efff798038103d269b633813fc60c"),
        "spanId": maybe("eee19b7ec3c1b174"),
        "parentSpanId": maybe(""),
        "name": maybe("op"),
        "kind": maybe(1),
        "startTimeUnixNano": maybe("1544712660000000000"),
        "endTimeUnixNano": maybe("1544712661000000000"),
        "attributes": maybe([attribute]),
        "events": maybe([{"timeUnixNano": maybe("1"), "name": maybe("e"), "attributes": maybe([attribute])}]),
        "status": maybe({"code": maybe(2), "message": maybe("m")}),
    }
    body = {
        "resourceSpans": maybe(
            [
                {
                    "resource": maybe({"attributes": maybe([attribute])}),
                    "scopeSpans": maybe([{"scope": maybe({"name": "s"}), "spans": maybe([span])}]),
                }
            ]
        )
    }
    text = json.dumps(body, allow_nan=False)
    return text.encode()


@st.composite
def hostile_json_logs(draw: st.DrawFn) -> bytes:
    """OTLP/JSON logs requests whose fields hold values of any JSON type."""

    def maybe(value: object) -> object:
        return draw(st.one_of(st.just(value), json_values))

    attribute = {"key": maybe("k"), "value": maybe({"stringValue": maybe("v")})}
    record = {
        "timeUnixNano": maybe("1544712660000000000"),
        "observedTimeUnixNano": maybe("1544712660000000001"),
        "severityNumber": maybe(9),
        "severityText": maybe("INFO"),
        "body": maybe(
            {draw(st.sampled_from(["stringValue", "kvlistValue", "arrayValue", "intValue"])): draw(json_values)}
        ),
        "attributes": maybe([attribute]),
        "traceId": maybe("5b8efff798038103d269b633813fc60c"),
        "spanId": maybe("eee19b7ec3c1b174"),
        "eventName": maybe("gen_ai.client.inference.operation.details"),
        "flags": maybe(1),
    }
    body = {
        "resourceLogs": maybe(
            [
                {
                    "resource": maybe({"attributes": maybe([attribute])}),
                    "scopeLogs": maybe([{"scope": maybe({"name": "s"}), "logRecords": maybe([record])}]),
                }
            ]
        )
    }
    return json.dumps(body, allow_nan=False).encode()


@st.composite
def hostile_json_metrics(draw: st.DrawFn) -> bytes:
    """OTLP/JSON metrics requests of every kind whose fields hold values of any JSON type."""

    def maybe(value: object) -> object:
        return draw(st.one_of(st.just(value), json_values))

    point = {
        "timeUnixNano": maybe("1544712660000000000"),
        "startTimeUnixNano": maybe("1544712600000000000"),
        "asDouble": maybe(1.5),
        "asInt": maybe("3"),
        "count": maybe("4"),
        "sum": maybe(2.5),
        "bucketCounts": maybe(["1", "3"]),
        "explicitBounds": maybe([1.0]),
        "scale": maybe(0),
        "zeroCount": maybe("0"),
        "positive": maybe({"offset": maybe(0), "bucketCounts": maybe(["1"])}),
        "quantileValues": maybe([{"quantile": maybe(0.5), "value": maybe(1.0)}]),
        "attributes": maybe([{"key": maybe("k"), "value": maybe({"stringValue": "v"})}]),
    }
    kind = draw(st.sampled_from(["gauge", "sum", "histogram", "exponentialHistogram", "summary"]))
    metric = {
        "name": maybe("m.x"),
        "unit": maybe("s"),
        kind: maybe({"dataPoints": maybe([point]), "aggregationTemporality": maybe(2), "isMonotonic": maybe(True)}),
    }
    body = {"resourceMetrics": maybe([{"scopeMetrics": maybe([{"metrics": maybe([metric])}])}])}
    return json.dumps(body, allow_nan=False).encode()
