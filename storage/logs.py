"""Reading OTLP log records: a trace's records, a project's records by time and filter, and the
GenAI messages that event records give their spans.

A GenAI instrumentation in ``EVENT_ONLY`` mode sends a span with no input or output and log
records with the messages (normalized by the receiver into ``genai_input``/``genai_output``).
``fill_messages`` puts them on the spans as they are read, whichever arrived first: a span's
own content (from its attributes) wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from storage import escapes
from storage.api import Backend, Row
from storage.cursors import decode_cursor, encode_cursor
from storage.traceql_sql import attribute_equals
from tracehouse.errors import InvalidInput

__all__ = ["LogQuery", "LogReader", "merge_messages"]

# Events may be stamped a little before their span starts or after it ends (clock of another
# process, a queue): they are looked for this far around the trace's bounds.
EVENT_SLACK_NS = 3600 * 1_000_000_000
MAX_PAGE = 1000
GENAI_TYPES = ("GENERATION", "EMBEDDING")

_COLUMNS = """toUnixTimestamp64Nano(timestamp) AS time, toUnixTimestamp64Nano(observed_timestamp) AS observed_time,
       record_id, trace_id, span_id, flags, severity_number, severity_text, body, body_type, event_name,
       service_name, scope_name, scope_version, resource_attributes, resource_attribute_types,
       log_attributes, log_attribute_types"""

_MESSAGES_SQL = """
SELECT trace_id, span_id, genai_input, genai_output
FROM logs
WHERE project_id = {project:String} AND trace_id IN {trace_ids:Array(String)}
  AND timestamp >= fromUnixTimestamp64Nano({lo:Int64}, 'UTC')
  AND timestamp <= fromUnixTimestamp64Nano({hi:Int64}, 'UTC')
  AND (genai_input != '' OR genai_output != '')
ORDER BY timestamp, record_id
LIMIT 1 BY record_id
"""

_TRACE_LOGS_SQL = f"""
SELECT {_COLUMNS}
FROM logs
WHERE project_id = {{project:String}} AND trace_id = {{trace_id:String}}
  AND timestamp >= fromUnixTimestamp64Nano({{lo:Int64}}, 'UTC')
  AND timestamp <= fromUnixTimestamp64Nano({{hi:Int64}}, 'UTC')
ORDER BY timestamp, record_id
LIMIT 1 BY record_id
LIMIT {{limit:UInt32}}
"""


@dataclass
class LogQuery:
    """Filters of the logs page: time range (epoch ns, end exclusive), lowest severity number,
    text in the body (case-insensitive), attribute key = value pairs, service, trace id."""

    start: int
    end: int
    min_severity: int = 0
    search: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    service: str | None = None
    trace_id: str | None = None
    limit: int = 100
    cursor: str | None = None


def merge_messages(parts: Sequence[str]) -> str:
    """One messages JSON array from several (events each carrying some messages), in order."""
    if len(parts) == 1:
        return parts[0]
    merged: list[Any] = []
    for part in parts:
        try:
            value = orjson.loads(part)
        except orjson.JSONDecodeError:
            value = part
        merged.extend(value if isinstance(value, list) else [value])
    return orjson.dumps(merged).decode()


class LogReader:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def fill_messages(self, project: str, spans: list[Row]) -> list[Row]:
        """Give spans with no input (or no output) the messages of their GenAI event records."""
        # Only GenAI spans sent over OTLP can have event records: the rest (tools, chains, Langfuse
        # observations) cost no query, so most trace reads make none.
        wanting = [
            s
            for s in spans
            if s.get("span_id")
            and (not s.get("input") or not s.get("output"))
            and s.get("source", "otlp") == "otlp"
            and (s.get("operation") or s.get("observation_type") in GENAI_TYPES)
        ]
        if not wanting:
            return spans
        records, inputs, outputs = await self._messages_by_span(project, wanting)
        if not records:
            return spans
        for span in wanting:
            if not span.get("input") and span["span_id"] in inputs:
                span["input"] = merge_messages(inputs[span["span_id"]])
            if not span.get("output") and span["span_id"] in outputs:
                span["output"] = merge_messages(outputs[span["span_id"]])
        return spans

    async def trace_messages(self, project: str, traces: Sequence[Row]) -> dict[str, tuple[str, str]]:
        """Per trace (rows with ``trace_id``, ``start_time``, ``end_time``), the messages its GenAI
        event records give: the input of the first span to have some and the output of the last
        (by the records' time); a trace whose spans all send their messages as events."""
        if not traces:
            return {}
        records, inputs, outputs = await self._messages_by_span(project, traces)
        first_in: dict[str, str] = {}
        last_out: dict[str, str] = {}
        for r in records:  # oldest first
            if r["genai_input"]:
                first_in.setdefault(r["trace_id"], r["span_id"])
            if r["genai_output"]:
                last_out[r["trace_id"]] = r["span_id"]
        return {
            trace: (
                merge_messages(inputs[first_in[trace]]) if trace in first_in else "",
                merge_messages(outputs[last_out[trace]]) if trace in last_out else "",
            )
            for trace in {r["trace_id"] for r in records}
        }

    async def _messages_by_span(
        self, project: str, rows: Sequence[Row]
    ) -> tuple[list[Row], dict[str, list[str]], dict[str, list[str]]]:
        """The GenAI event records of ``rows``' traces around their bounds (oldest first), and
        their messages by span: the inputs, the outputs."""
        records = await self._backend.query(
            _MESSAGES_SQL,
            {
                "project": project,
                "trace_ids": sorted({r["trace_id"] for r in rows}),
                "lo": min(int(r["start_time"]) for r in rows) - EVENT_SLACK_NS,
                "hi": max(int(r["end_time"]) for r in rows) + EVENT_SLACK_NS,
            },
        )
        inputs: dict[str, list[str]] = {}
        outputs: dict[str, list[str]] = {}
        for r in records:
            if r["genai_input"]:
                inputs.setdefault(r["span_id"], []).append(r["genai_input"])
            if r["genai_output"]:
                outputs.setdefault(r["span_id"], []).append(r["genai_output"])
        return records, inputs, outputs

    async def trace_logs(self, project: str, trace_id: str, lo: int, hi: int, limit: int = 1000) -> list[Row]:
        """The log records of one trace (its bounds ``lo``..``hi`` in epoch ns), oldest first."""
        return await self._backend.query(
            _TRACE_LOGS_SQL,
            {
                "project": project,
                "trace_id": trace_id,
                "lo": lo - EVENT_SLACK_NS,
                "hi": hi + EVENT_SLACK_NS,
                "limit": limit,
            },
        )

    async def search(self, project: str, q: LogQuery) -> tuple[list[Row], str | None]:
        """A page of records in [start, end), newest first, matching every filter; the next cursor."""
        if q.end <= q.start:
            raise InvalidInput(f"the time range is empty: end ({q.end}) must be after start ({q.start})")
        if not 1 <= q.limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}, got {q.limit}")
        where = [
            "project_id = {project:String}",
            "timestamp >= fromUnixTimestamp64Nano({start:Int64}, 'UTC')",
            "timestamp < fromUnixTimestamp64Nano({end:Int64}, 'UTC')",
        ]
        params: dict[str, Any] = {"project": project, "start": q.start, "end": q.end, "limit": q.limit + 1}
        if q.min_severity:
            where.append("severity_number >= {severity:UInt8}")
            params["severity"] = q.min_severity
        if q.search:
            where.append(escapes.matches("body", "search"))
            params["search"] = escapes.needles(q.search)
        if q.service:
            where.append("service_name = {service:String}")
            params["service"] = q.service
        if q.trace_id:
            where.append("trace_id = {trace_id:String}")
            params["trace_id"] = q.trace_id
        for i, (key, value) in enumerate(sorted(q.attributes.items())):
            where.append(attribute_equals("log_attributes", f"{{ak{i}:String}}", f"{{av{i}:String}}"))
            params[f"ak{i}"], params[f"av{i}"] = key, value
        if q.cursor:
            c_time, c_id = decode_cursor(q.cursor, [int, str])
            where.append("(timestamp, record_id) < (fromUnixTimestamp64Nano({c_time:Int64}, 'UTC'), {c_id:String})")
            params.update(c_time=c_time, c_id=c_id)
        rows = await self._backend.query(
            f"""SELECT {_COLUMNS} FROM logs WHERE {" AND ".join(where)}
ORDER BY timestamp DESC, record_id DESC LIMIT 1 BY record_id LIMIT {{limit:UInt32}}""",
            params,
        )
        next_cursor = None
        if len(rows) > q.limit:
            rows = rows[: q.limit]
            next_cursor = encode_cursor([rows[-1]["time"], rows[-1]["record_id"]])
        return rows, next_cursor
