"""Writing spans: Arrow batches in, committed rows out, each span stored once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from storage.api import Backend
from storage.journal import InsertJournal, rebuild_summaries
from storage.tables import SPANS

__all__ = ["SPAN_SCHEMA", "SpanWriter", "conform", "insert_spans"]

SPAN_SCHEMA = SPANS.arrow_schema()

# What a column holds when a batch does not carry it.
_DEFAULTS: dict[str, object] = {
    "kind": "INTERNAL",
    "status_code": "UNSET",
    "observation_type": "SPAN",
    "environment": "default",
    "level": "DEFAULT",
    "source": "otlp",
    "sign": 1,
}

# Most batches hold only new traces: the trace index (keyed by project and trace id) says
# which of the batch's traces have spans stored already, and only those are looked up in spans.
_KNOWN_TRACES_SQL = """
SELECT DISTINCT trace_id
FROM trace_index
WHERE project_id = {project:String} AND trace_id IN {trace_ids:Array(String)}
"""

_STORED_SPANS_SQL = """
SELECT trace_id, span_id
FROM spans
WHERE project_id = {project:String}
  AND sign = 1
  AND start_time >= fromUnixTimestamp64Nano({lo:Int64}, 'UTC')
  AND start_time <= fromUnixTimestamp64Nano({hi:Int64}, 'UTC')
  AND trace_id IN {trace_ids:Array(String)}
"""


# ClickHouse's insert-time dedupe pass over a ReplacingMergeTree block cost a quarter of
# the spans insert's CPU (measured, docs/benchmarks.md). It is not needed: writers drop
# repeats within a batch, and readers already dedupe rows across parts (LIMIT 1 BY).
SPANS_INSERT_SETTINGS = {"optimize_on_insert": 0}


def _default_value(field: pa.Field) -> pa.Scalar:
    kind = field.type
    if field.name in _DEFAULTS:
        return pa.scalar(_DEFAULTS[field.name], kind)
    if pa.types.is_string(kind):
        return pa.scalar("", kind)
    if pa.types.is_list(kind) or pa.types.is_map(kind):
        return pa.scalar([], kind)
    if pa.types.is_timestamp(kind):
        return pa.scalar(0, pa.int64()).cast(kind)
    return pa.scalar(0, kind)


def _column(batch: pa.Table, field: pa.Field) -> pa.ChunkedArray | pa.Array:
    """The batch's column cast to the table's type, nulls in non-nullable columns defaulted."""
    rows = batch.num_rows
    if field.name not in batch.column_names:
        if field.nullable:
            return pa.nulls(rows, field.type)
        return pa.repeat(_default_value(field), rows)
    column = batch.column(field.name).cast(field.type)
    if not field.nullable and column.null_count:
        default = _default_value(field)
        mask = pc.is_null(column)
        column = pc.if_else(mask, pa.repeat(default, rows), column)
    return column


def conform(batch: pa.Table) -> pa.Table:
    """``batch`` with exactly the columns of ``spans``, in order, missing ones defaulted.

    Unknown columns are a programming error and raise ValueError.
    """
    unknown = set(batch.column_names) - set(SPAN_SCHEMA.names)
    if unknown:
        raise ValueError(f"unknown span columns: {sorted(unknown)}")
    rows = batch.num_rows
    columns = []
    for field in SPAN_SCHEMA:
        if field.name == "ingested_at":
            now = dt.datetime.now(dt.UTC)
            columns.append(pa.array([now] * rows, field.type))
        else:
            columns.append(_column(batch, field))
    return pa.Table.from_arrays(columns, schema=SPAN_SCHEMA)


def _unique_in_batch(batch: pa.Table) -> pa.Table:
    """Drop repeats of (project, trace, span) inside one batch, keeping the first."""
    keys = pc.binary_join_element_wise(
        batch.column("project_id"), batch.column("trace_id"), batch.column("span_id"), "\x1f"
    )
    if pc.count_distinct(keys).as_py() == batch.num_rows:
        return batch
    seen: set[str] = set()
    mask = []
    for key in keys.to_pylist():
        mask.append(key not in seen)
        seen.add(key)
    return batch.filter(pa.array(mask))


async def insert_spans(backend: Backend, journal: InsertJournal | None, batch: pa.Table) -> None:
    """Insert rows into ``spans``, journaled so that a crash between the spans part and the
    views' parts is repaired (see storage/journal.py)."""
    if journal is None or batch.num_rows == 0:
        await backend.insert(SPANS.name, batch, SPANS_INSERT_SETTINGS)
        return
    keys = set(zip(batch.column("project_id").to_pylist(), batch.column("trace_id").to_pylist(), strict=True))
    entry = await asyncio.to_thread(journal.begin, keys)
    try:
        await backend.insert(SPANS.name, batch, SPANS_INSERT_SETTINGS)
    except BaseException:
        # The failed insert may have committed some of its parts: repair now if the store lets
        # us, else the entry stays for the repair at the next start.
        with contextlib.suppress(Exception):
            for project in {p for p, _ in keys}:
                await rebuild_summaries(backend, project, sorted(t for p, t in keys if p == project))
            journal.end(entry)
        raise
    journal.end(entry)


class SpanWriter:
    """Writes span batches; ``write`` returns once the rows are durable.

    Idempotent on (project_id, trace_id, span_id): an exporter that retries a request
    whose answer it never saw must not double count tokens and cost, so spans already
    stored are skipped. Writes of one process are serialised so that the check and the
    insert cannot interleave with another batch of the same process.
    """

    def __init__(self, backend: Backend, journal: InsertJournal | None = None) -> None:
        self._backend = backend
        self._journal = journal
        self._lock = asyncio.Lock()

    async def write(self, batch: pa.Table) -> int:
        """Store the spans of ``batch`` not stored yet; return how many rows were inserted."""
        if batch.num_rows == 0:
            return 0
        batch = _unique_in_batch(conform(batch))
        async with self._lock:
            batch = await self._drop_stored(batch)
            await insert_spans(self._backend, self._journal, batch)
        return batch.num_rows

    async def _drop_stored(self, batch: pa.Table) -> pa.Table:
        starts = batch.column("start_time").cast(pa.int64())
        projects = batch.column("project_id")
        stored: set[tuple[str, str, str]] = set()
        for project in pc.unique(projects).to_pylist():
            mask = pc.equal(projects, project)
            part_starts = pc.filter(starts, mask)
            bounds = pc.min_max(part_starts).as_py()
            trace_ids = pc.unique(pc.filter(batch.column("trace_id"), mask)).to_pylist()
            known = await self._backend.query(_KNOWN_TRACES_SQL, {"project": project, "trace_ids": trace_ids})
            if not known:
                continue
            rows = await self._backend.query(
                _STORED_SPANS_SQL,
                {
                    "project": project,
                    "lo": bounds["min"],
                    "hi": bounds["max"],
                    "trace_ids": [r["trace_id"] for r in known],
                },
            )
            stored.update((project, r["trace_id"], r["span_id"]) for r in rows)
        if not stored:
            return batch
        keys = zip(
            projects.to_pylist(),
            batch.column("trace_id").to_pylist(),
            batch.column("span_id").to_pylist(),
            strict=True,
        )
        return batch.filter(pa.array([k not in stored for k in keys]))
