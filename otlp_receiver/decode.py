"""OTLP request -> columnar span batch (Arrow), ready for ``SpanWriter.write``.

Pure: protobuf in, Arrow out, no I/O. Spans with invalid ids or timestamps are rejected
one by one and counted; the rest of the request is kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otlp_receiver.genai_facts import cost
from otlp_receiver.mapping.apply import MAX_NS, map_span, resource_defaults, span_name
from otlp_receiver.token_count import COUNTED_ATTRIBUTE
from pricing import PriceBook
from storage import DECODED_SPAN_FIELDS
from storage.arrow_ipc import ipc_stream
from storage.attribute_codec import attributes_json, read_attributes, to_python
from tracehouse.errors import InvalidInput

__all__ = [
    "DecodeContext",
    "DecodeResult",
    "decode_body",
    "decode_bytes",
    "decode_request",
    "parse_protobuf",
    "parse_protobuf_request",
    "resource_project",
]

KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS = ("UNSET", "OK", "ERROR")
_CLIENT = KINDS.index("CLIENT")
ROUTING_KEYS = ("tracehouse.project", "openinference.project.name")
GENAI_EVENTS = frozenset(
    {
        "gen_ai.system.message",
        "gen_ai.user.message",
        "gen_ai.assistant.message",
        "gen_ai.tool.message",
        "gen_ai.choice",
        "gen_ai.client.inference.operation.details",
        "gen_ai.content.prompt",
        "gen_ai.content.completion",
    }
)
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_ZERO_COST = Decimal(0)
_NONE: list[Any] = []  # shared by every span without links: Arrow only reads it


@dataclass
class DecodeContext:
    """What decoding needs to know beyond the request itself."""

    project_id: str | None  # from the credentials; None: route by resource attribute
    default_project: str = "default"
    projects_by_name: dict[str, str] = field(default_factory=dict)  # name or id -> id ("" if shared)
    retention_days: dict[str, int] = field(default_factory=dict)
    prices: PriceBook = field(default_factory=PriceBook)


@dataclass
class DecodeResult:
    table: pa.Table | None
    accepted: int
    rejected: int
    message: str = ""  # why spans were rejected, or a warning


def parse_protobuf(message: Any, body: bytes) -> Any:
    """Parse ``body`` into ``message`` (an OTLP Export*ServiceRequest); InvalidInput if it is not one."""
    try:
        message.ParseFromString(body)
    except (DecodeError, RuntimeError, ValueError) as exc:
        if "MaxDepth" in str(exc):
            raise InvalidInput(
                "the request nests messages deeper than the protobuf parser allows (100 levels, "
                "about 45 levels of arrays or kvlists in an attribute value); flatten the attribute"
            ) from None
        name = type(message).__name__
        raise InvalidInput(f"the body is not a valid OTLP {name}: {exc}") from None
    return message


def parse_protobuf_request(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    parse_protobuf(request, body)
    return request


class _Columns:
    """Column lists for one batch; map columns as flat key/value lists plus offsets."""

    MAPS = (
        "resource_attributes",
        "resource_attribute_types",
        "scope_attributes",
        "scope_attribute_types",
        "span_attributes",
        "span_attribute_types",
    )

    def __init__(self) -> None:
        self.lists: dict[str, list[Any]] = {f.name: [] for f in DECODED_SPAN_FIELDS}
        self.maps: dict[str, tuple[list[int], list[str], list[str]]] = {name: ([0], [], []) for name in self.MAPS}
        for name in self.MAPS:
            del self.lists[name]

    def add_map(self, name: str, keys: list[str], values: list[str]) -> None:
        offsets, all_keys, all_values = self.maps[name]
        all_keys.extend(keys)
        all_values.extend(values)
        offsets.append(len(all_keys))

    def table(self) -> pa.Table:
        arrays = []
        names = []
        for f in DECODED_SPAN_FIELDS:
            if f.name in self.maps:
                offsets, keys, values = self.maps[f.name]
                arrays.append(
                    pa.MapArray.from_arrays(
                        pa.array(offsets, pa.int32()), pa.array(keys, pa.string()), pa.array(values, pa.string())
                    )
                )
            elif pa.types.is_timestamp(f.type):
                arrays.append(pa.array(self.lists[f.name], pa.int64()).cast(f.type))
            elif pa.types.is_list(f.type) and pa.types.is_timestamp(f.type.value_type):
                arrays.append(pa.array(self.lists[f.name], pa.list_(pa.int64())).cast(f.type))
            else:
                arrays.append(pa.array(self.lists[f.name], f.type))
            names.append(f.name)
        return pa.Table.from_arrays(arrays, names=names)


def resource_project(native: dict[str, Any], ctx: DecodeContext, warnings: Counter[str]) -> str:
    """The project of a resource's data: the credentials', else the one a routing attribute names."""
    if ctx.project_id is not None:
        return ctx.project_id
    for key in ROUTING_KEYS:
        name = native.get(key)
        if isinstance(name, str) and name:
            project = ctx.projects_by_name.get(name)
            if project:
                return project
            if project is None:
                warnings[f"unknown project {name!r} in {key}: stored in project {ctx.default_project!r}"] += 1
            else:
                warnings[
                    f"several projects are named {name!r} ({key}): stored in project {ctx.default_project!r}; "
                    "route by the project's id"
                ] += 1
            break
    return ctx.default_project


def _check_span(span: Any) -> str | None:
    if len(span.trace_id) != 16 or span.trace_id == _ZERO_TRACE:
        return "trace_id must be 16 bytes (32 hex characters), not all zero"
    if len(span.span_id) != 8 or span.span_id == _ZERO_SPAN:
        return "span_id must be 8 bytes (16 hex characters), not all zero"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return "parent_span_id must be empty or 8 bytes (16 hex characters)"
    if span.start_time_unix_nano > MAX_NS or span.end_time_unix_nano > MAX_NS:
        return "timestamps must be before the year 2262 (ClickHouse DateTime64(9) range)"
    return None


def _exception_message(attributes: Any) -> str:
    """An exception event's ``exception.message``, else its ``exception.type``; "" for neither."""
    found = ""
    for kv in attributes:
        if kv.key in ("exception.message", "exception.type") and kv.value.string_value:
            if kv.key == "exception.message":
                return str(kv.value.string_value)
            found = str(kv.value.string_value)
    return found


def decode_request(request: ExportTraceServiceRequest, ctx: DecodeContext) -> DecodeResult:
    """Decode and map every span of ``request``."""
    cols = _Columns()
    c = cols.lists
    rejected: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    accepted = 0
    for resource_spans in request.resource_spans:
        r_keys: list[str] = []
        r_values: list[str] = []
        r_type_keys: list[str] = []
        r_type_values: list[str] = []
        resource = read_attributes(resource_spans.resource.attributes, r_keys, r_values, r_type_keys, r_type_values)
        project = resource_project(resource, ctx, warnings)
        defaults = resource_defaults(resource)
        retention = ctx.retention_days.get(project, 0)
        service = resource.get("service.name")
        service = service if isinstance(service, str) and service else "unknown_service"
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            s_keys: list[str] = []
            s_values: list[str] = []
            s_type_keys: list[str] = []
            s_type_values: list[str] = []
            read_attributes(scope.attributes, s_keys, s_values, s_type_keys, s_type_values)
            for span in scope_spans.spans:
                problem = _check_span(span)
                if problem:
                    rejected[problem] += 1
                    continue
                accepted += 1
                a_keys: list[str] = []
                a_values: list[str] = []
                a_type_keys: list[str] = []
                a_type_values: list[str] = []
                attrs = read_attributes(span.attributes, a_keys, a_values, a_type_keys, a_type_values)
                start = span.start_time_unix_nano
                end = max(span.end_time_unix_nano, start)
                status_code = STATUS[span.status.code] if 0 <= span.status.code <= 2 else "UNSET"

                event_times: list[int] = _NONE
                event_names: list[str] = _NONE
                event_attrs: list[str] = _NONE
                genai_events: list[tuple[str, dict[str, Any]]] = []
                failure = ""  # the first exception event's message
                events = span.events
                if events:
                    event_times, event_names, event_attrs = [], [], []
                    for event in events:
                        event_times.append(min(event.time_unix_nano, MAX_NS))
                        event_names.append(event.name)
                        event_attrs.append(attributes_json(event.attributes))
                        if event.name in GENAI_EVENTS:
                            genai_events.append((event.name, {kv.key: to_python(kv.value) for kv in event.attributes}))
                        elif event.name == "exception" and not failure:
                            failure = _exception_message(event.attributes)

                error, root, client = status_code == "ERROR", not span.parent_span_id, span.kind == _CLIENT
                m = map_span(attrs, defaults, genai_events, error, start, root, client)
                # An attribute whose text became the input or output column verbatim is stored
                # once: its map value is emptied and its type says where the text is. Readers
                # put it back (storage.reader), so nothing is lost.
                for moved, tag in ((m.pop("input_key"), "input"), (m.pop("output_key"), "output")):
                    if moved is not None:
                        position = len(a_keys) - 1 - a_keys[::-1].index(moved)
                        a_values[position] = ""
                        a_type_keys.append(moved)
                        a_type_values.append(tag)
                counted_with = m.pop("counted_with", None)
                if counted_with is not None:  # tokens counted here, not reported (token_count.py)
                    a_keys.append(COUNTED_ATTRIBUTE)
                    a_values.append(counted_with)

                c["project_id"].append(project)
                c["trace_id"].append(span.trace_id.hex())
                c["span_id"].append(span.span_id.hex())
                c["parent_span_id"].append(span.parent_span_id.hex())
                c["trace_state"].append(span.trace_state)
                c["name"].append(span_name(span.name, attrs))
                c["kind"].append(KINDS[span.kind] if 0 <= span.kind <= 5 else "UNSPECIFIED")
                c["start_time"].append(start)
                c["end_time"].append(end)
                c["duration_ns"].append(end - start)
                c["status_code"].append(status_code)
                # A failed span's message; where its status has none, its exception's (BeeAI, and any
                # instrumentation that records the exception but leaves the status's description empty).
                status_message = m.pop("status_message") or span.status.message
                c["status_message"].append(status_message or (failure if error else ""))
                c["flags"].append(span.flags)
                c["service_name"].append(service)
                c["scope_name"].append(scope.name)
                c["scope_version"].append(scope.version)
                cols.add_map("resource_attributes", r_keys, r_values)
                cols.add_map("resource_attribute_types", r_type_keys, r_type_values)
                cols.add_map("scope_attributes", s_keys, s_values)
                cols.add_map("scope_attribute_types", s_type_keys, s_type_values)
                cols.add_map("span_attributes", a_keys, a_values)
                cols.add_map("span_attribute_types", a_type_keys, a_type_values)
                c["dropped_attributes_count"].append(span.dropped_attributes_count)
                c["dropped_events_count"].append(span.dropped_events_count)
                c["dropped_links_count"].append(span.dropped_links_count)
                c["event_times"].append(event_times)
                c["event_names"].append(event_names)
                c["event_attributes"].append(event_attrs)
                links = span.links
                if links:
                    c["link_trace_ids"].append([link.trace_id.hex() for link in links])
                    c["link_span_ids"].append([link.span_id.hex() for link in links])
                    c["link_trace_states"].append([link.trace_state for link in links])
                    c["link_attributes"].append([attributes_json(link.attributes) for link in links])
                else:  # most spans: four empty lists without walking the links four times
                    c["link_trace_ids"].append(_NONE)
                    c["link_span_ids"].append(_NONE)
                    c["link_trace_states"].append(_NONE)
                    c["link_attributes"].append(_NONE)

                cost_details = cost(ctx.prices, project, m["model"], m, m.pop("provided_cost"))
                total = cost_details.get("total", _ZERO_COST)
                c["cost_details"].append(cost_details)
                c["total_cost"].append(total)
                for key, value in m.items():
                    c[key].append(value)
                c["source"].append("otlp")
                c["retention_days"].append(retention)
    messages = [f"{n} span(s) rejected: {why}" for why, n in rejected.most_common(5)]
    messages += [f"{n} span(s): {why}" for why, n in warnings.most_common(5)]
    table = cols.table() if accepted else None
    return DecodeResult(table, accepted, sum(rejected.values()), "; ".join(messages))


def decode_bytes(body: bytes, fmt: str, ctx: DecodeContext) -> DecodeResult:
    """Parse and decode a request body (``fmt``: "protobuf" or "json")."""
    from otlp_receiver.json_decode import parse_json_request

    request = parse_protobuf_request(body) if fmt == "protobuf" else parse_json_request(body)
    return decode_request(request, ctx)


def decode_body(body: bytes, fmt: str, ctx: DecodeContext) -> tuple[bytes | None, int, int, str]:
    """``decode_bytes`` with the table as Arrow IPC bytes. This is the function decoder
    processes run: everything it takes and returns pickles cheaply."""
    result = decode_bytes(body, fmt, ctx)
    payload = table_to_ipc(result.table).to_pybytes() if result.table is not None else None
    return payload, result.accepted, result.rejected, result.message


def table_to_ipc(table: pa.Table) -> pa.Buffer:
    """``table`` as an Arrow IPC stream, in a buffer (write it as it is; no copy into bytes)."""
    return ipc_stream(table)


def table_from_ipc(payload: bytes | pa.Buffer) -> pa.Table:
    return pa.ipc.open_stream(payload).read_all()
