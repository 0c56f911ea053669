"""Test data builders."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import aiohttp
import pyarrow as pa

from bench.workload import Workload
from storage import SPAN_SCHEMA, Store
from storage.reader import TraceReader

if TYPE_CHECKING:
    from tracehouse.server import Running

NOW_NS = time.time_ns()
SECOND = 1_000_000_000


def span_table(rows: list[dict[str, Any]]) -> pa.Table:
    """An Arrow batch for ``SpanWriter.write`` holding only the columns the rows name."""
    names = [f.name for f in SPAN_SCHEMA if any(f.name in r for r in rows)]
    schema = pa.schema([SPAN_SCHEMA.field(n) for n in names])
    return pa.Table.from_pylist([{n: r.get(n) for n in names} for r in rows], schema=schema)


def span(
    trace_id: str,
    span_id: str,
    parent: str = "",
    start: int = NOW_NS,
    duration_ms: int = 100,
    project: str = "default",
    **fields: Any,
) -> dict[str, Any]:
    return {
        "project_id": project,
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": fields.pop("name", f"span {span_id}"),
        "start_time": start,
        "end_time": start + duration_ms * 1_000_000,
        "duration_ns": duration_ms * 1_000_000,
        **fields,
    }


async def add_score(
    backend: Any,
    trace_id: str,
    value: float = 1.0,
    name: str = "q",
    score_id: str | None = None,
    project: str = "default",
    session: str = "",
) -> None:
    """Insert one numeric score straight into storage."""
    from storage.tables import SCORES

    row = {
        "project_id": project,
        "id": score_id or f"score-{trace_id}-{name}-{value}",
        "timestamp": NOW_NS,
        "trace_id": trace_id,
        "observation_id": "",
        "session_id": session,
        "name": name,
        "value": float(value),
        "string_value": "",
        "data_type": "NUMERIC",
        "source": "API",
        "comment": "",
        "metadata": [],
        "environment": "default",
        "retention_days": 0,
        "ingested_at": NOW_NS // 1000,
        "is_deleted": 0,
    }
    await backend.insert("scores", pa.Table.from_pylist([row], schema=SCORES.arrow_schema()))


async def read_twice(store: Store, project: str, trace_id: str) -> list[dict[str, Any]]:
    """A trace as the store's reader gives it (from memory when just written: storage.recent_spans),
    checked equal to the same trace read from ClickHouse alone."""
    spans = await store.reader.trace(project, trace_id)
    assert spans == await TraceReader(store.backend).trace(project, trace_id), "memory and ClickHouse differ"
    return spans


async def send_workload(live: Running, headers: dict[str, str], seed: int, spans: int) -> list[str]:
    """Send the seeded GenAI workload (``spans`` spans, an hour ago) over OTLP/HTTP, 60 spans a
    request, as an app's exporter would; the trace ids sent."""
    ids: list[str] = []
    async with aiohttp.ClientSession() as session:
        for batch in Workload(seed=seed).batches(spans, 60, NOW_NS - 3600 * SECOND):
            async with session.post(
                live.otlp_http_url + "/v1/traces",
                data=batch.body,
                headers={**headers, "Content-Type": "application/x-protobuf"},
            ) as r:
                assert r.status == 200, await r.text()
            ids += batch.trace_ids
    return ids
