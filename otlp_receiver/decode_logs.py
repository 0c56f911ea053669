"""OTLP logs request -> log rows (Arrow) for ``logs``, plus the scores its GenAI evaluation events carry.

Pure: protobuf in, Arrow out, no I/O. Records with invalid ids or times are rejected one by one
and counted; the rest of the request is kept.

GenAI events (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-events/) are log records
named by ``event_name`` (or the older ``event.name`` attribute). Message events get their
messages normalized here into the spans' message format (``genai_input``/``genai_output``), so
readers fill the span's empty input or output from them without knowing any convention.
``gen_ai.evaluation.result`` becomes a score on its span.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from otlp_receiver.decode import GENAI_EVENTS, MAX_NS, DecodeContext, parse_protobuf, resource_project
from otlp_receiver.mapping import messages
from storage.attribute_codec import read_attributes, typed_text
from storage.tables import LOGS, SCORES

__all__ = ["EVALUATION_EVENT", "LogsDecodeResult", "decode_logs", "decode_logs_bytes", "parse_protobuf_logs"]

EVALUATION_EVENT = "gen_ai.evaluation.result"
LOG_SCHEMA = LOGS.arrow_schema()
SCORE_SCHEMA = SCORES.arrow_schema()
_WRITER_FILLED = ("ingested_at",)
_MAPS = ("resource_attributes", "scope_attributes", "log_attributes")


@dataclass
class LogsDecodeResult:
    logs: pa.Table | None
    scores: pa.Table | None
    accepted: int
    rejected: int
    message: str = ""

    @property
    def tables(self) -> dict[str, pa.Table]:
        """What to commit, by batcher lane."""
        return {lane: t for lane, t in (("logs", self.logs), ("scores", self.scores)) if t is not None}


def parse_protobuf_logs(body: bytes) -> ExportLogsServiceRequest:
    return parse_protobuf(ExportLogsServiceRequest(), body)


def _check(record: Any) -> str | None:
    if record.trace_id and len(record.trace_id) != 16:
        return "trace_id must be empty or 16 bytes (32 hex characters)"
    if record.span_id and len(record.span_id) != 8:
        return "span_id must be empty or 8 bytes (16 hex characters)"
    if record.time_unix_nano > MAX_NS or record.observed_time_unix_nano > MAX_NS:
        return "timestamps must be before the year 2262 (ClickHouse DateTime64(9) range)"
    return None


def _genai_messages(name: str, attrs: dict[str, Any], body: Any) -> tuple[str, str]:
    """(input, output) messages JSON of one GenAI message event ("" where it has none)."""
    if name not in GENAI_EVENTS:
        return "", ""
    # Per-message events (semconv 1.28-1.36) carry the message in the body; newer ones in attributes.
    # A body of text is what Python's logging sends: Semantic Kernel logs each message as its JSON
    # (``{"role": "user", "content": ...}``, a choice as ``{"message": ..., "finish_reason": ...}``).
    if isinstance(body, str) and body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        body = parsed if isinstance(parsed, dict) else {"content": body}
    fields = {**attrs, **body} if isinstance(body, dict) else dict(attrs)
    raw_in, raw_out = messages.from_events([(name, fields)])
    return raw_in or "", raw_out or ""


def _score(record_id: str, project: str, time_ns: int, trace: str, span: str, attrs: dict[str, Any]) -> dict | None:
    name = attrs.get("gen_ai.evaluation.name")
    value = attrs.get("gen_ai.evaluation.score.value")
    label = attrs.get("gen_ai.evaluation.score.label")
    if not isinstance(name, str) or not name or not trace:
        return None
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not numeric and not isinstance(label, str):
        return None
    explanation = attrs.get("gen_ai.evaluation.explanation")
    return {
        "project_id": project,
        "id": f"otel-{record_id}",  # the same record sent again replaces its score, never adds one
        "timestamp": time_ns,
        "trace_id": trace,
        "observation_id": span,
        "session_id": "",
        "name": name,
        "value": float(value) if numeric else 0.0,
        "string_value": label if isinstance(label, str) else "",
        "data_type": "NUMERIC" if numeric else "CATEGORICAL",
        "source": "EVAL",
        "comment": explanation if isinstance(explanation, str) else "",
        "metadata": [],
        "environment": "default",
        "retention_days": 0,
        "is_deleted": 0,
    }


def decode_logs(request: ExportLogsServiceRequest, ctx: DecodeContext, now_ns: int) -> LogsDecodeResult:
    """Decode every log record of ``request``; ``now_ns`` stands in for records with no time."""
    cols: dict[str, list[Any]] = {f.name: [] for f in LOG_SCHEMA if f.name not in _WRITER_FILLED}
    scores: list[dict[str, Any]] = []
    rejected: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    seen: Counter[bytes] = Counter()
    accepted = 0
    for resource_logs in request.resource_logs:
        r_keys: list[str] = []
        r_values: list[str] = []
        r_types: tuple[list[str], list[str]] = ([], [])
        resource = read_attributes(resource_logs.resource.attributes, r_keys, r_values, *r_types)
        project = resource_project(resource, ctx, warnings)
        retention = ctx.retention_days.get(project, 0)
        service = resource.get("service.name")
        service = service if isinstance(service, str) and service else "unknown_service"
        resource_key = resource_logs.resource.SerializeToString(deterministic=True)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope
            s_keys: list[str] = []
            s_values: list[str] = []
            s_types: tuple[list[str], list[str]] = ([], [])
            read_attributes(scope.attributes, s_keys, s_values, *s_types)
            scope_key = scope.SerializeToString(deterministic=True)
            for record in scope_logs.log_records:
                problem = _check(record)
                if problem:
                    rejected[problem] += 1
                    continue
                accepted += 1
                a_keys: list[str] = []
                a_values: list[str] = []
                a_types: tuple[list[str], list[str]] = ([], [])
                attrs = read_attributes(record.attributes, a_keys, a_values, *a_types)
                body, body_text, body_type = typed_text(record.body)
                # The n-th identical record of a request keeps its own id; a retried request maps
                # each record to the id it had the first time.
                digest = hashlib.blake2b(record.SerializeToString(deterministic=True), digest_size=16)
                digest.update(resource_key)
                digest.update(scope_key)
                content = digest.digest()
                seen[content] += 1
                record_id = f"{content.hex()}-{seen[content]}"
                time_ns = record.time_unix_nano or record.observed_time_unix_nano or now_ns
                event = record.event_name or attrs.get("event.name") or ""
                event = event if isinstance(event, str) else ""
                trace, span = record.trace_id.hex(), record.span_id.hex()
                genai_in, genai_out = _genai_messages(event, attrs, body)

                cols["project_id"].append(project)
                cols["timestamp"].append(time_ns)
                cols["observed_timestamp"].append(record.observed_time_unix_nano or time_ns)
                cols["record_id"].append(record_id)
                cols["trace_id"].append(trace)
                cols["span_id"].append(span)
                cols["flags"].append(record.flags)
                cols["severity_number"].append(min(record.severity_number, 255) if record.severity_number > 0 else 0)
                cols["severity_text"].append(record.severity_text)
                cols["body"].append(body_text)
                cols["body_type"].append(body_type)
                cols["event_name"].append(event)
                cols["service_name"].append(service)
                cols["scope_name"].append(scope.name)
                cols["scope_version"].append(scope.version)
                cols["resource_attributes"].append(list(zip(r_keys, r_values, strict=True)))
                cols["resource_attribute_types"].append(list(zip(*r_types, strict=True)))
                cols["scope_attributes"].append(list(zip(s_keys, s_values, strict=True)))
                cols["scope_attribute_types"].append(list(zip(*s_types, strict=True)))
                cols["log_attributes"].append(list(zip(a_keys, a_values, strict=True)))
                cols["log_attribute_types"].append(list(zip(*a_types, strict=True)))
                cols["dropped_attributes_count"].append(record.dropped_attributes_count)
                cols["genai_input"].append(genai_in)
                cols["genai_output"].append(genai_out)
                cols["retention_days"].append(retention)
                if event == EVALUATION_EVENT:
                    score = _score(record_id, project, time_ns, trace, span, attrs)
                    if score is None:
                        warnings["gen_ai.evaluation.result without a trace, a name and a value: kept as a log"] += 1
                    else:
                        scores.append({**score, "retention_days": retention})
    messages_out = [f"{n} log record(s) rejected: {why}" for why, n in rejected.most_common(5)]
    messages_out += [f"{n} log record(s): {why}" for why, n in warnings.most_common(5)]
    logs = _table(cols) if accepted else None
    score_table = _scores(scores) if scores else None
    return LogsDecodeResult(logs, score_table, accepted, sum(rejected.values()), "; ".join(messages_out))


def _table(cols: dict[str, list[Any]]) -> pa.Table:
    arrays, names = [], []
    for f in LOG_SCHEMA:
        if f.name in _WRITER_FILLED:
            continue
        if pa.types.is_timestamp(f.type):
            arrays.append(pa.array(cols[f.name], pa.int64()).cast(f.type))
        else:
            arrays.append(pa.array(cols[f.name], f.type))
        names.append(f.name)
    return pa.Table.from_arrays(arrays, names=names)


def _scores(rows: list[dict[str, Any]]) -> pa.Table:
    fields = [f for f in SCORE_SCHEMA if f.name != "ingested_at"]
    arrays = []
    for f in fields:
        values = [r[f.name] for r in rows]
        if pa.types.is_timestamp(f.type):
            arrays.append(pa.array(values, pa.int64()).cast(f.type))
        else:
            arrays.append(pa.array(values, f.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def decode_logs_bytes(body: bytes, fmt: str, ctx: DecodeContext) -> LogsDecodeResult:
    """Parse and decode a logs request body (``fmt``: "protobuf" or "json"); records without a
    time of their own get the time of decoding."""
    from otlp_receiver.json_decode import parse_json_logs_request

    request = parse_protobuf_logs(body) if fmt == "protobuf" else parse_json_logs_request(body)
    return decode_logs(request, ctx, time.time_ns())
