"""Export of a trace list: the traces the list's filters and sort select, as CSV or JSON Lines,
streamed a page at a time, with each trace's root input and output (up to ``IO_CHARS`` each).

``GET /api/v1/traces/export?format=csv|jsonl&max=N`` and every filter of ``/api/v1/traces``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import replace
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import Field

from query_api.access import project_for
from query_api.admin import STORE_KEY
from query_api.rest import TraceListQuery, parse_query, trace_query

__all__ = ["export_routes"]

PAGE = 500
IO_CHARS = 50_000  # of a root's input and output each: a page holds at most 50M characters of them
COLUMNS = ("trace_id", "start_time", "end_time", "latency_ms", "name", "service_name", "user_id", "session_id",
           "environment", "tags", "models", "span_count", "error_count", "input_tokens", "output_tokens",
           "total_tokens", "total_cost", "input", "output")  # fmt: skip
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


async def export_traces(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE_KEY]
    project = await project_for(request, store)
    q: TraceExportQuery = parse_query(TraceExportQuery, request)
    query = replace(trace_query(q), limit=min(PAGE, q.max), cursor=None, previews=True, preview_chars=IO_CHARS)
    first = await store.reader.list_traces(project, query)  # errors (a bad filter) before any byte is sent
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8" if q.format == "csv" else "application/x-ndjson",
            "Content-Disposition": f'attachment; filename="traces-{stamp}.{q.format}"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    if q.format == "csv":
        await response.write(("\ufeff" + ",".join(COLUMNS) + "\r\n").encode())  # the BOM: Excel reads UTF-8
    page, sent = first, 0
    while True:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        chunk = bytearray()
        for row in page.items[: q.max - sent]:
            record = _record(row)
            if q.format == "csv":
                writer.writerow([_cell(record[c]) for c in COLUMNS])
            else:
                chunk += orjson.dumps(record) + b"\n"
            sent += 1
        await response.write(buffer.getvalue().encode() if q.format == "csv" else bytes(chunk))
        if sent >= q.max or page.next_cursor is None:
            break
        page = await store.reader.list_traces(project, replace(query, cursor=page.next_cursor))
    await response.write_eof()
    return response


def export_routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/traces/export", export_traces)]
