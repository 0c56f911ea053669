"""Writing spans: Arrow batches in, committed rows out, each span stored once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from storage.api import Backend, Row
from storage.journal import InsertJournal, rebuild_summaries
from storage.reader import SPAN_COLUMNS
from storage.recent_spans import RecentSpans
from storage.schema import Table
from storage.tables import SPANS, SPLIT_TRACES, WRITER_FILLED
from tracehouse.errors import StorageUnavailable

__all__ = [
    "DECODED_SPAN_FIELDS",
    "ESTIMATED_ATTRIBUTE",
    "SPAN_SCHEMA",
    "STORED_CALL_COLUMNS",
    "RowWriter",
    "SpanWriter",
    "StoredCallsRule",
    "conform",
    "insert_spans",
    "known_days",
    "split_traces",
    "stored_rows_table",
]

log = logging.getLogger(__name__)

SPAN_SCHEMA = SPANS.arrow_schema()
# What a decoder produces: every span column but those the writer fills.
DECODED_SPAN_FIELDS = tuple(f for f in SPAN_SCHEMA if f.name not in WRITER_FILLED)

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
SELECT trace_id, intDiv(toUnixTimestamp64Nano(min(start_time)), 86400000000000) AS first_day,
       intDiv(toUnixTimestamp64Nano(max(end_time)), 86400000000000) AS last_day
FROM trace_index
WHERE project_id = {project:String} AND trace_id IN {trace_ids:Array(String)}
GROUP BY trace_id
"""
NS_PER_DAY = 86_400 * 1_000_000_000

# The stored spans of some traces, within bounds of start time: what the two look-ups below read.
_OF_STORED_TRACES = """
FROM spans
WHERE project_id = {project:String}
  AND sign = 1
  AND start_time >= fromUnixTimestamp64Nano({lo:Int64}, 'UTC')
  AND start_time <= fromUnixTimestamp64Nano({hi:Int64}, 'UTC')
  AND trace_id IN {trace_ids:Array(String)}
"""

_STORED_SPANS_SQL = "SELECT trace_id, span_id" + _OF_STORED_TRACES

# The spans of already-stored traces that a batch's new generations may repeat: what the
# receiver's rule for a call recorded twice compares (otlp_receiver.nested_calls).
# (The Langfuse lane reads the same of its long traces: storage.langfuse.)
STORED_CALL_COLUMNS = """trace_id, span_id, parent_span_id, toString(observation_type) AS observation_type,
       toString(model) AS model, toString(scope_name) AS scope_name,
       toUnixTimestamp64Nano(start_time) AS start_ns, toUnixTimestamp64Nano(end_time) AS end_ns,
       input_tokens, output_tokens, cache_read_tokens, total_cost,
       mapContains(span_attributes, {estimated:String}) AS estimated"""
_STORED_CALLS_SQL = "SELECT " + STORED_CALL_COLUMNS + _OF_STORED_TRACES
# The attribute of a span whose tokens were counted on its messages, not reported.
ESTIMATED_ATTRIBUTE = "tracehouse.usage.counted"
# The receiver's rule: given a batch of one project's spans and the stored spans (rows of
# _STORED_CALLS_SQL) of its traces that have some, the batch as it is to be stored.
# (batch, stored call facts, uncounted) -> the batch as stored; ``uncounted`` (if given) receives
# the stored records the rule would not count, keyed (trace id, span id), with the records
# counted instead.
StoredCallsRule = Callable[[pa.Table, list[dict[str, Any]], dict[tuple[str, str], list[str]] | None], pa.Table]
# (rows, the records each is counted on) -> those rows not counted (otlp_receiver.nested_calls).
UncountRule = Callable[[pa.Table, list[list[str]]], pa.Table]

# The current (newest) row of some spans, whole, with raw times so that it can be inserted again
# as a cancel row with identical key columns, or as a new version (stored_rows_table).
CURRENT_ROWS_TEMPLATE = f"""
SELECT {SPAN_COLUMNS}, toUnixTimestamp64Micro(s.ingested_at) AS ingested_at_us
FROM spans AS s
WHERE s.project_id = {{{{project:String}}}} AND s.sign = 1 AND {{which}}
ORDER BY s.ingested_at DESC
LIMIT 1 BY s.trace_id, s.span_id
"""
_CURRENT_ROWS_SQL = CURRENT_ROWS_TEMPLATE.format(
    which="s.span_id IN {ids:Array(String)} AND s.trace_id IN {traces:Array(String)}"
)

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
    column = batch.column(field.name)
    if column.type != field.type:
        column = column.cast(field.type)
    if not field.nullable and column.null_count:
        column = pc.fill_null(column, _default_value(field))
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
            columns.append(pa.repeat(pa.scalar(dt.datetime.now(dt.UTC), field.type), rows))
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


async def known_days(backend: Backend, batch: pa.Table) -> dict[tuple[str, str], tuple[int, int]]:
    """(project, trace id) -> the days (since the epoch) of the stored start and end, for the
    batch's traces that have spans stored already."""
    known: dict[tuple[str, str], tuple[int, int]] = {}
    projects = batch.column("project_id")
    for project in pc.unique(projects).to_pylist():
        trace_ids = pc.unique(pc.filter(batch.column("trace_id"), pc.equal(projects, project))).to_pylist()
        rows = await backend.query(_KNOWN_TRACES_SQL, {"project": project, "trace_ids": trace_ids})
        known.update(((project, r["trace_id"]), (int(r["first_day"]), int(r["last_day"]))) for r in rows)
    return known


def split_traces(batch: pa.Table, known: dict[tuple[str, str], tuple[int, int]]) -> pa.Table | None:
    """Rows for ``split_traces``: the batch's traces whose spans, with those stored (``known``),
    start on more than one day, with the first and last day."""
    days = pc.divide(batch.column("start_time").cast(pa.int64()), NS_PER_DAY)
    keyed = pa.table(
        {
            "project_id": batch.column("project_id"),
            "trace_id": batch.column("trace_id"),
            "day": days,
            "retention_days": batch.column("retention_days"),
        }
    )
    grouped = keyed.group_by(["project_id", "trace_id"]).aggregate(
        [("day", "min"), ("day", "max"), ("retention_days", "max")]
    )
    names = ("project_id", "trace_id", "day_min", "day_max", "retention_days_max")
    split = []
    for project, trace, lo, hi, retention in zip(*(grouped.column(n).to_pylist() for n in names), strict=True):
        stored = known.get((project, trace))
        if lo != hi or (stored is not None and stored[0] != lo):
            first, last = (lo, hi) if stored is None else (min(lo, stored[0]), max(hi, stored[1]))
            split.append(
                {
                    "project_id": project,
                    "trace_id": trace,
                    "first_day": first,
                    "last_day": last,
                    "retention_days": retention,
                }
            )
    if not split:
        return None
    return pa.Table.from_pylist(split, schema=SPLIT_TRACES.arrow_schema())


async def insert_spans(
    backend: Backend,
    journal: InsertJournal | None,
    batch: pa.Table,
    known: dict[tuple[str, str], tuple[int, int]] | None = None,
    recent: RecentSpans | None = None,
) -> None:
    """Insert rows into ``spans``, journaled so that a crash between the spans part and the
    views' parts is repaired (see storage/journal.py). Traces that come to start on more than one
    day are recorded in ``split_traces`` first (``known``: the stored first days, looked up when
    not given), so that no reader ever sees such a trace without knowing it is split. Once the
    rows are committed, ``recent`` keeps them for the first read of their traces."""
    if batch.num_rows == 0:
        return
    if known is None:
        known = await known_days(backend, batch)
    split = split_traces(batch, known)
    if split is not None:
        await backend.insert(SPLIT_TRACES.name, split)
    if journal is None:
        await backend.insert(SPANS.name, batch, SPANS_INSERT_SETTINGS)
        if recent is not None:
            recent.add(batch)
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
    if recent is not None:
        recent.add(batch)


def stored_rows_table(rows: Sequence[Row], cancel: bool = False) -> pa.Table:
    """Stored rows read whole (CURRENT_ROWS_TEMPLATE), in ``SPAN_SCHEMA``: as cancel rows of
    themselves (their key columns identical), or as new versions of themselves (a Langfuse
    update; a record written again, not counted)."""
    columns = []
    for field in SPAN_SCHEMA:
        if field.name == "sign":
            values: list[Any] = [-1 if cancel else 1] * len(rows)
        elif field.name == "ingested_at":
            now = time.time_ns() // 1000
            values = [row["ingested_at_us"] if cancel else now for row in rows]
        else:
            values = [row.get(field.name) for row in rows]
        if pa.types.is_map(field.type):
            values = [list(v.items()) if isinstance(v, dict) else (v or []) for v in values]
        if pa.types.is_timestamp(field.type):
            columns.append(pa.array(values, pa.int64()).cast(field.type))
        elif pa.types.is_list(field.type) and pa.types.is_timestamp(field.type.value_type):
            columns.append(pa.array(values, pa.list_(pa.int64())).cast(field.type))
        else:
            columns.append(pa.array(values, field.type))
    return pa.Table.from_arrays(columns, schema=SPAN_SCHEMA)


class SpanWriter:
    """Writes span batches; ``write`` returns once the rows are durable.

    Idempotent on (project_id, trace_id, span_id): an exporter that retries a request
    whose answer it never saw must not double count tokens and cost, so spans already
    stored are skipped. Writes of one process are serialised so that the check and the
    insert cannot interleave with another batch of the same process.
    """

    def __init__(
        self, backend: Backend, journal: InsertJournal | None = None, recent: RecentSpans | None = None
    ) -> None:
        self._backend = backend
        self._journal = journal
        self._recent = recent
        self._lock = asyncio.Lock()
        # An insert failed and its traces' summaries could not be rebuilt then (the store refused
        # that too: a full disk): rebuild them before the next batch, whose retry of the same spans
        # must find them stored, and whose traces must be listed.
        self._repair_pending = False
        # The receiver's rule for a model call recorded twice (in one request, or in two: an
        # exporter that sends each span as it ends), applied to each insert: set by the receiver.
        self.stored_calls_rule: StoredCallsRule | None = None
        # With it, a stored record the rule would not count (an estimate exported before its
        # wrapper's report) is written again, not counted: a cancel row and a new version.
        self.uncount_rule: UncountRule | None = None

    async def write(self, batch: pa.Table) -> int:
        """Store the spans of ``batch`` not stored yet; return how many rows were inserted."""
        if batch.num_rows == 0:
            return 0
        batch = _unique_in_batch(conform(batch))
        async with self._lock:
            if self._repair_pending and self._journal is not None:
                # Inserts are serialised by the lock: every entry left is a failed insert's.
                try:
                    await self._journal.recover(self._backend)
                except StorageUnavailable:
                    raise  # the store still refuses: so would this batch's insert
                except Exception:
                    log.exception("rebuilding the summaries of a failed insert failed; the next start tries again")
                self._repair_pending = False
            known = await known_days(self._backend, batch)
            batch = await self._drop_stored(batch, known)
            rewritten = 0
            if self.stored_calls_rule is not None:
                batch, rewritten = await self._settle_calls(batch, known, self.stored_calls_rule)
            try:
                await insert_spans(self._backend, self._journal, batch, known, self._recent)
            except BaseException:
                self._repair_pending = self._journal is not None
                raise
        # The batch's own rows: a stored record written again is a cancel row and a new version.
        return int(batch.num_rows) - 2 * rewritten

    async def _drop_stored(self, batch: pa.Table, known: dict[tuple[str, str], tuple[int, int]]) -> pa.Table:
        if not known:
            return batch
        starts = batch.column("start_time").cast(pa.int64())
        projects = batch.column("project_id")
        stored: set[tuple[str, str, str]] = set()
        for project in {p for p, _ in known}:
            mask = pc.equal(projects, project)
            bounds = pc.min_max(pc.filter(starts, mask)).as_py()
            rows = await self._backend.query(
                _STORED_SPANS_SQL,
                {
                    "project": project,
                    "lo": bounds["min"],
                    "hi": bounds["max"],
                    "trace_ids": sorted(t for p, t in known if p == project),
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

    async def _settle_calls(
        self, batch: pa.Table, known: dict[tuple[str, str], tuple[int, int]], rule: StoredCallsRule
    ) -> tuple[pa.Table, int]:
        """Apply ``rule`` to the batch, project by project, with the stored spans of its traces
        that have new generations; and how many stored records it writes again, not counted."""
        if batch.num_rows == 0:  # all stored already (a retried request)
            return batch, 0
        projects = pc.unique(batch.column("project_id")).to_pylist()
        parts = (
            [(projects[0], batch)]
            if len(projects) == 1
            else [(p, batch.filter(pc.equal(batch.column("project_id"), p))) for p in projects]
        )
        settled = []
        rewritten = 0
        for project, part in parts:
            stored: list[dict[str, Any]] = []
            facts = part.select(["trace_id", "observation_type", "start_time", "end_time"])
            calls = facts.filter(pc.equal(facts.column("observation_type"), "GENERATION"))
            traces = sorted({t for t in calls.column("trace_id").to_pylist() if (project, t) in known})
            if traces:
                # Their stored spans' days (a wrapper starts before its call, a call after its
                # wrapper), to the end of the batch's spans of them.
                days = [known[(project, t)] for t in traces]
                mine = facts.filter(pc.is_in(facts.column("trace_id"), value_set=pa.array(traces, pa.string())))
                stored = await self._backend.query(
                    _STORED_CALLS_SQL,
                    {
                        "project": project,
                        "lo": min(first for first, _ in days) * NS_PER_DAY,
                        "hi": max(
                            (max(last for _, last in days) + 1) * NS_PER_DAY - 1,
                            pc.max(mine.column("end_time").cast(pa.int64())).as_py(),
                        ),
                        "trace_ids": traces,
                        "estimated": ESTIMATED_ATTRIBUTE,
                    },
                )
            # Without a way to write them again, stored records keep their count (the rule then
            # leaves the batch's records uncounted instead).
            uncounted: dict[tuple[str, str], list[str]] | None = {} if self.uncount_rule is not None else None
            settled.append(rule(part, stored, uncounted))
            if uncounted and self.uncount_rule is not None:
                rows = await self._current_rows(project, uncounted)
                names = [uncounted[(r["trace_id"], r["span_id"])] for r in rows]
                if rows:
                    again = self.uncount_rule(stored_rows_table(rows), names)
                    settled += [stored_rows_table(rows, cancel=True), conform(again)]
                    rewritten += len(rows)
        return (settled[0] if len(settled) == 1 else pa.concat_tables(settled)), rewritten

    async def _current_rows(self, project: str, keys: dict[tuple[str, str], list[str]]) -> list[Row]:
        """The current rows of stored spans (by trace and span id), whole."""
        rows = await self._backend.query(
            _CURRENT_ROWS_SQL,
            {"project": project, "ids": sorted({s for _, s in keys}), "traces": sorted({t for t, _ in keys})},
        )
        return [r for r in rows if (r["trace_id"], r["span_id"]) in keys]


class RowWriter:
    """Writes batches to a table with no views and no check before the insert (log records,
    scores): ``write`` returns once the rows are durable (the tables fsync on insert). Retries
    are stored once because the table's key ends with a content-derived id (ReplacingMergeTree)
    and readers take one row per id."""

    def __init__(self, backend: Backend, table: Table) -> None:
        self._backend = backend
        self._table = table
        self._schema = table.arrow_schema()

    async def write(self, batch: pa.Table) -> int:
        if batch.num_rows == 0:
            return 0
        columns = []
        fields = []
        for field in self._schema:
            if field.name == "ingested_at" and field.name not in batch.column_names:
                continue  # the table's default: now
            columns.append(_column(batch, field))
            fields.append(field)
        await self._backend.insert(self._table.name, pa.Table.from_arrays(columns, schema=pa.schema(fields)))
        return int(batch.num_rows)
