"""The span batches this process inserted last, so that a trace just written is read from memory.

A developer opens a trace a second after the call that made it: its first read. The trace cache
(storage.trace_cache) serves only reads again, so that first read paid the full cost of reading a
span's every column in ClickHouse. In the embedded store one process both inserts and reads, and
the batch it just inserted holds those very rows.

This keeps the newest committed batches (a byte budget, and ``MAX_AGE_S``) with, per trace, where
its rows are in them. A trace is served from here only when they are provably all its rows: the
trace index's version counts every row ever written for the trace, by any process
(storage.trace_cache.TraceVersion), so when the rows held here are as many, and the newest of them
is the version's last write, nothing else was written for it. Otherwise (rows in a batch already
dropped, a write of another process, a repair) the trace is read from ClickHouse as before.

The rows are given back as ClickHouse gives back the trace read's (storage.reader): the same
columns, timestamps as epoch nanoseconds, maps as dicts, the newest version of each span.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from storage.api import Row
from storage.tables import SPANS, WRITER_FILLED
from storage.trace_cache import MemoryBudget, TraceVersion

__all__ = ["RecentSpans", "rows_as_read"]

# Older batches are let go even under budget: deletions by retention reach the trace index and
# the spans at different moments, and a trace id written again after that must not look whole.
MAX_AGE_S = 600.0

_READ_COLUMNS = [c.name for c in SPANS.columns if c.name not in WRITER_FILLED]


@dataclass
class _Batch:
    table: pa.Table
    size: int
    added_at: float
    keys: list[tuple[str, str]]


def _as_read(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as the trace read selects it: timestamps (and arrays of them) as epoch ns."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        return column.cast(pa.timestamp("ns", tz=kind.tz)).cast(pa.int64())
    if pa.types.is_list(kind) and pa.types.is_timestamp(kind.value_type):
        return column.cast(pa.list_(pa.timestamp("ns", tz=kind.value_type.tz))).cast(pa.list_(pa.int64()))
    return column


def rows_as_read(table: pa.Table) -> list[Row]:
    """``spans`` rows as the trace read (storage.reader) gets them from the store, with ``_written``
    (``ingested_at`` in epoch µs)."""
    columns = {name: _as_read(table.column(name)) for name in _READ_COLUMNS}
    columns["_written"] = table.column("ingested_at").cast(pa.int64())
    rows: list[Row] = pa.table(columns).to_pylist()
    maps = [name for name in _READ_COLUMNS if pa.types.is_map(table.schema.field(name).type)]
    for row in rows:
        for name in maps:
            value = row[name]
            row[name] = dict(value) if value is not None else {}
    return rows


class RecentSpans(MemoryBudget):
    """Committed span batches, newest last, within ``max_bytes`` (0: none kept)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self._batches: OrderedDict[int, _Batch] = OrderedDict()
        self._where: dict[tuple[str, str], list[tuple[int, list[int]]]] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._batches)

    def add(self, batch: pa.Table) -> None:
        """Keep a batch of ``spans`` rows (conformed: every column) once its insert committed."""
        if not self.max_bytes or not batch.num_rows:
            return
        size = batch.get_total_buffer_size()
        if size > self.max_bytes:
            return  # its traces' rows held here are then too few for their version: not served
        where: dict[tuple[str, str], list[int]] = {}
        projects = batch.column("project_id").to_pylist()
        traces = batch.column("trace_id").to_pylist()
        for i, key in enumerate(zip(projects, traces, strict=True)):
            where.setdefault(key, []).append(i)
        seq = next(self._seq)
        for key, rows in where.items():
            self._where.setdefault(key, []).append((seq, rows))
        self._batches[seq] = _Batch(batch, size, time.monotonic(), list(where))
        self._bytes += size
        self._evict()

    def rows(self, project: str, trace_id: str, version: TraceVersion) -> list[Row] | None:
        """The newest row with sign 1 of each of the trace's spans (as ``rows_as_read``, unordered)
        if every row written for this version of the trace is held here, else None."""
        self._evict()
        parts = self._where.get((project, trace_id))
        if not parts or sum(len(rows) for _, rows in parts) != version.writes:
            if self.max_bytes:
                self.misses += 1
            return None
        table = pa.concat_tables([self._batches[seq].table.take(pa.array(rows)) for seq, rows in parts])
        if pc.max(table.column("ingested_at").cast(pa.int64())).as_py() != version.last_write_us:
            self.misses += 1
            return None
        newest: dict[str, Row] = {}
        for row in rows_as_read(table.filter(pc.equal(table.column("sign"), 1))):
            held = newest.get(row["span_id"])
            if held is None or row["_written"] > held["_written"]:
                newest[row["span_id"]] = row
        self.hits += 1
        return list(newest.values())

    def forget(self, project: str) -> None:
        """Drop every batch that holds rows of ``project`` (its traces were deleted)."""
        for seq in [s for s, b in self._batches.items() if any(p == project for p, _ in b.keys)]:
            self._drop(seq)

    def _evict(self) -> None:
        oldest_kept = time.monotonic() - MAX_AGE_S
        while self._batches:
            seq, batch = next(iter(self._batches.items()))
            if self._bytes <= self.max_bytes and batch.added_at >= oldest_kept:
                return
            self._drop(seq)

    def _drop(self, seq: int) -> None:
        batch = self._batches.pop(seq)
        self._bytes -= batch.size
        for key in batch.keys:
            parts = [p for p in self._where[key] if p[0] != seq]
            if parts:
                self._where[key] = parts
            else:
                del self._where[key]
