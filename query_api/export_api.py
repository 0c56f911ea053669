"""Export of a trace list: the traces the list's filters and sort select, as CSV or JSON Lines,
streamed a page at a time, with each trace's input and output (its own, else its root's; up to ``IO_CHARS`` each); and
of an observation list, each with its own input and output.

``GET /api/v1/traces/export?format=csv|jsonl&max=N`` and every filter of ``/api/v1/traces``;
``GET /api/v1/spans/export?format=csv|jsonl&max=N`` and every filter of ``/api/v1/spans``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import Field

from query_api.access import project_for
from query_api.admin import STORE_KEY
from query_api.rest import SpanListQuery, TraceListQuery, parse_query, trace_query
from storage import Page, SpanQuery

__all__ = ["export_routes"]

PAGE = 500
# Observations come with whole inputs and outputs from the store (cut here, not in SQL): smaller pages.
OBSERVATION_PAGE = 100
IO_CHARS = 50_000  # of a root's input and output each: a page holds at most 50M characters of them
COLUMNS = ("trace_id", "start_time", "end_time", "latency_ms", "name", "service_name", "user_id", "session_id",
           "environment", "tags", "models", "span_count", "error_count", "input_tokens", "output_tokens",
           "total_tokens", "total_cost", "input", "output")  # fmt: skip
OBSERVATION_COLUMNS = ("trace_id", "span_id", "parent_span_id", "start_time", "end_time", "latency_ms", "name",
                       "observation_type", "model", "level", "status_code", "session_id", "user_id", "input_tokens",
                       "output_tokens", "total_tokens", "total_cost", "model_parameters", "metadata", "input",
                       "output")  # fmt: skip
# A cell a spreadsheet would run as a formula (CSV injection): kept as text by a leading quote.
_FORMULA = re.compile(r"^[=+\-@\t\r]")


class TraceExportQuery(TraceListQuery):
    format: Literal["csv", "jsonl"] = "csv"
    max: int = Field(10_000, ge=1, le=100_000, description="At most this many traces.")


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat().replace("+00:00", "Z")


def _record(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row.get(k) for k in COLUMNS}
    out["start_time"], out["end_time"] = _iso(int(row["start_time"])), _iso(int(row["end_time"]))
    out["total_cost"] = str(row["total_cost"])
    return out


def _cell(value: Any) -> str:
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    text = "" if value is None else str(value)
    return "'" + text if isinstance(value, str) and _FORMULA.match(text) else text


async def _stream(
    request: web.Request,
    kind: str,
    fmt: str,
    columns: tuple[str, ...],
    first: Page,
    records: Callable[[dict[str, Any]], dict[str, Any]],
    next_page: Callable[[str], Awaitable[Page]],
    most: int,
) -> web.StreamResponse:
    """Stream ``first`` and the pages after it (up to ``most`` rows) as a CSV or JSON Lines file."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson",
            "Content-Disposition": f'attachment; filename="{kind}-{stamp}.{fmt}"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    if fmt == "csv":
        await response.write(("\ufeff" + ",".join(columns) + "\r\n").encode())  # the BOM: Excel reads UTF-8
    page, sent = first, 0
    while True:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        chunk = bytearray()
        for row in page.items[: most - sent]:
            record = records(row)
            if fmt == "csv":
                writer.writerow([_cell(record[c]) for c in columns])
            else:
                chunk += orjson.dumps(record) + b"\n"
            sent += 1
        await response.write(buffer.getvalue().encode() if fmt == "csv" else bytes(chunk))
        if sent >= most or page.next_cursor is None:
            break
        page = await next_page(page.next_cursor)
    await response.write_eof()
    return response


async def export_traces(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE_KEY]
    project = await project_for(request, store)
    q: TraceExportQuery = parse_query(TraceExportQuery, request)
    query = replace(trace_query(q), limit=min(PAGE, q.max), cursor=None, previews=True, preview_chars=IO_CHARS)
    first = await store.reader.list_traces(project, query)  # errors (a bad filter) before any byte is sent

    def after(cursor: str) -> Awaitable[Page]:
        return store.reader.list_traces(project, replace(query, cursor=cursor))

    return await _stream(request, "traces", q.format, COLUMNS, first, _record, after, q.max)


class ObservationExportQuery(SpanListQuery):
    format: Literal["csv", "jsonl"] = "csv"
    fields: Literal["all"] = Field("all", description="An export has every field: input, output, metadata.")
    max: int = Field(10_000, ge=1, le=100_000, description="At most this many observations.")


def _observation(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row.get(k) for k in OBSERVATION_COLUMNS}
    out["start_time"], out["end_time"] = _iso(int(row["start_time"])), _iso(int(row["end_time"]))
    out["latency_ms"] = (int(row["end_time"]) - int(row["start_time"])) / 1e6
    out["total_cost"] = str(row["total_cost"])
    for key in ("input", "output"):  # as the trace export cuts a root's
        out[key] = (out[key] or "")[:IO_CHARS]
    out["metadata"] = orjson.dumps(row.get("metadata") or {}).decode()
    return out


async def export_observations(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE_KEY]
    project = await project_for(request, store)
    q: ObservationExportQuery = parse_query(ObservationExportQuery, request)
    start, end = q.window()
    query = SpanQuery(start, end, observation_type=q.observation_type, model=q.model, name=q.name,
                      limit=min(OBSERVATION_PAGE, q.max), observations_only=q.observations_only,
                      search=q.search)  # fmt: skip
    first = await store.reader.list_spans(project, query)

    def after(cursor: str) -> Awaitable[Page]:
        return store.reader.list_spans(project, replace(query, cursor=cursor))

    return await _stream(request, "observations", q.format, OBSERVATION_COLUMNS, first, _observation, after, q.max)


def export_routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/traces/export", export_traces), web.get("/api/v1/spans/export", export_observations)]
