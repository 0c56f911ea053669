"""Reading traces: every query bound to one project, every value a bound parameter.

Times come back as integer nanoseconds since the epoch (``*_time`` keys), so both
backends give the same values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, NamedTuple

import orjson

from storage import escapes, previews, trace_io
from storage.api import Backend, Row
from storage.attribute_codec import restore_attributes
from storage.cursors import decode_cursor, encode_cursor
from storage.logs import LogReader
from storage.recent_spans import RecentSpans
from storage.tables import SCORE_TEXT, SPANS, WRITER_FILLED
from storage.trace_cache import TraceCache, TraceVersion
from storage.traceql_sql import attribute_equals, compile_condition
from tracehouse.errors import InvalidInput
from tracehouse.traceql import Expr, TraceQLError

__all__ = [
    "GROUP_BY",
    "TRACE_SUMMARY",
    "WHOLE_DAYS",
    "WHOLE_HAVING",
    "WHOLE_SPANS",
    "WHOLE_TRACES",
    "Page",
    "SpanQuery",
    "TraceBounds",
    "TraceQuery",
    "TraceReader",
    "traces_naming",
]


class TraceBounds(NamedTuple):
    """Where a trace's spans start and end (epoch ns), and its version (storage.trace_cache)."""

    lo: int
    hi: int
    version: TraceVersion


def _select_expr(name: str, ch_type: str) -> str:
    if ch_type.startswith("Array(DateTime64"):
        return f"arrayMap(x -> toUnixTimestamp64Nano(x), s.{name}) AS {name}"
    if "DateTime64" in ch_type:
        return f"toUnixTimestamp64Nano(s.{name}) AS {name}"
    return f"s.{name} AS {name}"


def _span_columns(leave_out: frozenset[str] = frozenset()) -> str:
    """Every column of ``spans AS s`` but the writer's and ``leave_out``, times as epoch ns.
    Written ``s.* EXCEPT (...)``: ClickHouse plans that ~1.5 ms faster than the same 60-odd
    columns named one by one, a tenth of a trace's read (measured, docs/benchmarks.md)."""
    kept = [c for c in SPANS.columns if c.name not in WRITER_FILLED and c.name not in leave_out]
    converted = [c for c in kept if "DateTime64" in c.type]
    left_out = [*WRITER_FILLED, *sorted(leave_out), *(c.name for c in converted)]
    return ",\n    ".join([f"s.* EXCEPT ({', '.join(left_out)})", *(_select_expr(c.name, c.type) for c in converted)])


SPAN_COLUMNS = _span_columns()
# A span's heavy columns: its attributes, events, links, input, output and metadata. A read costs
# about what decompressing each column it reads costs (docs/benchmarks.md), so lists that show none
# of these read ``LIGHT_SPAN_COLUMNS``: every other column.
HEAVY_SPAN_COLUMNS = frozenset(
    c.name
    for c in SPANS.columns
    if c.name.endswith("attributes") or c.name.endswith("attribute_types") or c.name.startswith(("event_", "link_"))
) | {"trace_state", "input", "output", "metadata"}
LIGHT_SPAN_COLUMNS = _span_columns(HEAVY_SPAN_COLUMNS)

# Deep pages of span lists, and pages whose place versions took, are read in two passes: the span
# versions before and on the page by these light columns first, then the page's rows only
# (``spans_by_keys``).
SPAN_KEYS = """s.trace_id AS trace_id, s.span_id AS span_id, toUnixTimestamp64Nano(s.start_time) AS start_ns,
       toUnixTimestamp64Micro(s.ingested_at) AS ingested_us"""
_SPANS_BY_KEYS_SQL = """
SELECT {columns}
FROM spans AS s
WHERE s.project_id = {{project:String}} AND s.sign = 1
  AND s.start_time >= fromUnixTimestamp64Nano({{lo:Int64}}, 'UTC')
  AND s.start_time <= fromUnixTimestamp64Nano({{hi:Int64}}, 'UTC')
  AND s.trace_id IN {{traces:Array(String)}}
  AND concat(s.trace_id, ' ', s.span_id, ' ', toString(toUnixTimestamp64Micro(s.ingested_at))) IN {{keys:Array(String)}}
LIMIT 1 BY s.trace_id, s.span_id
"""


def _first_of_each(rows: list[Row]) -> list[Row]:
    """Each span once: its first row (version) in the rows' order."""
    seen: set[tuple[str, str]] = set()
    first = []
    for row in rows:
        if (row["trace_id"], row["span_id"]) not in seen:
            seen.add((row["trace_id"], row["span_id"]))
            first.append(row)
    return first


async def _first_rows(
    backend: Backend, select: str, where: str, order: str, params: dict[str, Any], fetch: int
) -> list[Row]:
    return await backend.query(
        f"SELECT {select} FROM spans AS s WHERE {where} ORDER BY {order} LIMIT {{fetch:UInt32}}",
        {**params, "fetch": fetch},
    )


async def first_spans(
    backend: Backend,
    project_id: str,
    where: str,
    order: str,
    params: dict[str, Any],
    count: int,
    skip: int = 0,
    columns: str = SPAN_COLUMNS,
) -> list[Row]:
    """Spans ``skip`` to ``skip + count`` in ``order`` among those ``where`` selects (on ``spans
    AS s``), each span once (its first version in that order), with ``columns`` (``SPAN_COLUMNS``
    or ``LIGHT_SPAN_COLUMNS``).

    Versions (Langfuse updates, until merges collapse them) are few, so the first page is one
    query for a little more than ``count`` rows: ``ORDER BY ... LIMIT`` reads the columns it does
    not sort on for the rows it keeps only (``LIMIT 1 BY`` sorted every row in range with every
    column). A deeper page, or one whose place versions took, reads the keys first (``SPAN_KEYS``,
    four times as many each time until enough spans), then the page's rows by key."""
    fetch = skip + count + 8
    if not skip:
        rows = await _first_rows(backend, columns, where, order, params, fetch)
        first = _first_of_each(rows)
        if len(first) >= count or len(rows) < fetch:
            return first[:count]
        fetch *= 4
    while True:
        rows = await _first_rows(backend, SPAN_KEYS, where, order, params, fetch)
        keys = _first_of_each(rows)
        if len(keys) >= skip + count or len(rows) < fetch:
            return await spans_by_keys(backend, project_id, keys[skip : skip + count], columns)
        fetch *= 4


async def spans_by_keys(backend: Backend, project_id: str, keys: list[Row], columns: str = SPAN_COLUMNS) -> list[Row]:
    """The ``columns`` of the span versions ``keys`` name (rows of ``SPAN_KEYS``), in their order.
    A version a merge collapsed meanwhile (a newer one came) is left out."""
    if not keys:
        return []
    params = {
        "project": project_id,
        "lo": min(k["start_ns"] for k in keys),
        "hi": max(k["start_ns"] for k in keys),
        "traces": sorted({k["trace_id"] for k in keys}),
        "keys": [f"{k['trace_id']} {k['span_id']} {k['ingested_us']}" for k in keys],
    }
    rows = await backend.query(_SPANS_BY_KEYS_SQL.format(columns=columns), params)
    found = {(r["trace_id"], r["span_id"]): r for r in rows}
    return [found[k["trace_id"], k["span_id"]] for k in keys if (k["trace_id"], k["span_id"]) in found]


# Latest version of each span (Langfuse updates write new versions), oldest first.
# The trace's bounds first, as constants of the spans' read: one primary-key lookup, then a read
# the planner prunes to the trace's hours (a scalar subquery in the read cost ~10 ms more, measured).
_TRACE_BOUNDS_SQL = """
SELECT toUnixTimestamp64Nano(min(start_time)) AS lo, toUnixTimestamp64Nano(max(end_time)) AS hi, count() AS n,
       sum(writes) AS writes, toUnixTimestamp64Micro(max(last_write)) AS last_write
FROM trace_index
WHERE project_id = {project:String} AND trace_id = {trace_id:String}
"""
_TRACE_SPANS_SQL = f"""
SELECT {SPAN_COLUMNS},
    toUnixTimestamp64Micro(s.ingested_at) AS _written
FROM spans AS s
WHERE s.project_id = {{project:String}}
  AND s.trace_id = {{trace_id:String}}
  AND s.sign = 1
  AND s.start_time >= fromUnixTimestamp64Nano({{lo:Int64}}, 'UTC')
  AND s.start_time <= fromUnixTimestamp64Nano({{hi:Int64}}, 'UTC')
ORDER BY s.ingested_at DESC
LIMIT 1 BY s.span_id
"""

_SPAN_SQL = f"""
SELECT {SPAN_COLUMNS}
FROM spans AS s
WHERE s.project_id = {{project:String}} AND s.span_id = {{span_id:String}} AND s.sign = 1
ORDER BY s.ingested_at DESC
LIMIT 1
"""

TRACE_SUMMARY = """
    t.trace_id AS trace_id,
    toUnixTimestamp64Nano(min(t.start_time)) AS start_time,
    toUnixTimestamp64Nano(max(t.end_time)) AS end_time,
    intDiv(end_time - start_time, 1000000) AS latency_ms,
    argMinMerge(t.name) AS name,
    argMinMerge(t.service_name) AS service_name,
    groupUniqArrayArray(t.services) AS services,
    groupUniqArrayArray(t.models) AS models,
    groupUniqArrayArray(t.tags) AS tags,
    max(t.user_id) AS user_id,
    max(t.session_id) AS session_id,
    max(t.environment) AS environment,
    max(t.release) AS release,
    sum(t.span_count) AS span_count,
    sum(t.error_count) AS error_count,
    sum(t.generation_count) AS generation_count,
    sum(t.input_tokens) AS input_tokens,
    sum(t.output_tokens) AS output_tokens,
    sum(t.total_tokens) AS total_tokens,
    sum(t.cache_read_tokens) AS cache_read_tokens,
    sum(t.reasoning_tokens) AS reasoning_tokens,
    sum(t.total_cost) AS total_cost"""

# A trace is read whole, placed by its start (docs/adr/005). The summary has a row per trace and day
# its spans started on; nearly every trace lives on one day, and the few that do not are listed in
# ``split_traces`` with their first and last day. Readers aggregate the summary rows of the window's
# days (and, for split traces that began in the window, up to their last day), leave out split
# traces that began on a day before the window, and keep the traces whose aggregated start lies in
# the window (``WHOLE_HAVING``), which drops those that began earlier on the window's first day.
_S = "fromUnixTimestamp64Nano({start:Int64}, 'UTC')"
_E = "fromUnixTimestamp64Nano({end:Int64}, 'UTC')"
_SPLIT_LAST_DAY = f"""(SELECT max(last_day) FROM split_traces
   WHERE project_id = {{project:String}} AND first_day >= toDate({_S}) AND first_day <= toDate({_E}))"""
_LAST_DAY = f"greatest(toDate({_E}), {_SPLIT_LAST_DAY})"
# Conditions on a summary table aliased ``t``, for a GROUP BY t.trace_id with ``WHOLE_HAVING``.
WHOLE_DAYS = f"""t.day >= toDate({_S}) AND t.day <= {_LAST_DAY}
  AND t.trace_id NOT IN (SELECT trace_id FROM split_traces WHERE project_id = {{project:String}}
                         GROUP BY trace_id HAVING min(first_day) < toDate({_S}) AND max(last_day) >= toDate({_S}))"""
WHOLE_HAVING = "start_time >= {start:Int64} AND start_time < {end:Int64}"  # the aggregated start, in ns
# ``whole``: the traces that started in the window, with their start.
WHOLE_TRACES = f"""whole AS (
    SELECT t.trace_id AS trace_id, min(t.start_time) AS trace_start
    FROM traces AS t
    WHERE t.project_id = {{project:String}} AND {WHOLE_DAYS}
    GROUP BY t.trace_id
    HAVING trace_start >= {_S} AND trace_start < {_E})"""
# The spans of ``whole``'s traces (unaliased spans columns).
WHOLE_SPANS = f"""trace_id IN (SELECT trace_id FROM whole)
  AND start_time >= {_S} AND toDate(start_time) <= {_LAST_DAY}"""

# Input/output previews of a page of traces, from their root spans. Kept out of the summary
# view on purpose: aggregating 1 KB previews there cost 40% of the insert CPU (measured).
_PREVIEW_SQL = (
    """
SELECT s.trace_id AS trace_id,
       argMin(s.span_id, (s.parent_span_id != '', s.start_time, -toUnixTimestamp64Micro(s.ingested_at))) AS root_id,
       argMin(toString(s.operation), (s.parent_span_id != '', s.start_time, -toUnixTimestamp64Micro(s.ingested_at)))
           AS root_operation,
       argMin(toString(s.observation_type),
              (s.parent_span_id != '', s.start_time, -toUnixTimestamp64Micro(s.ingested_at))) AS root_type,
       argMin(toString(s.source), (s.parent_span_id != '', s.start_time, -toUnixTimestamp64Micro(s.ingested_at)))
           AS root_source,
       substringUTF8(argMin(s.input, (s.parent_span_id != '', s.start_time, -toUnixTimestamp64Micro(s.ingested_at))),
                 1, {chars:UInt32}) AS input,
       substringUTF8(argMin(s.output, (s.parent_span_id != '', s.start_time, -toUnixTimestamp64Micro(s.ingested_at))),
                 1, {chars:UInt32}) AS output,
       """
    + trace_io.FIRST_IO
    + """
FROM spans AS s
WHERE s.project_id = {project:String} AND s.sign = 1
  AND s.start_time >= fromUnixTimestamp64Nano({lo:Int64}, 'UTC')
  AND s.start_time <= fromUnixTimestamp64Nano({hi:Int64}, 'UTC')
  AND s.trace_id IN {trace_ids:Array(String)}
GROUP BY s.trace_id
"""
)
PREVIEW_CHARS = 1000

# Trace list sort keys: name -> SQL over the aggregated columns above.
_TRACE_SORTS = {
    "start_time": "start_time",
    "latency": "latency_ms",
    "total_cost": "total_cost",
    "total_tokens": "total_tokens",
    "span_count": "span_count",
}

# Aggregation dimensions: API name -> spans column.
GROUP_BY = {
    "model": "model",
    "provider": "provider",
    "service": "service_name",
    "observation_type": "observation_type",
    "name": "name",
    "user": "user_id",
    "environment": "environment",
    "operation": "operation",
}

NS_PER_S = 1_000_000_000
_EMPTY_POINT: Row = {
    "spans": 0,
    "errors": 0,
    "input_tokens": 0,
    "output_tokens": 0,
    "total_tokens": 0,
    "cache_read_tokens": 0,
    "reasoning_tokens": 0,
    "total_cost": Decimal(0),
    "latency_ms": [],
    "ttft_ms": None,
}
MAX_PAGE = 1000
SCORE_OPERATORS = ("=", "!=", "<", "<=", ">", ">=")


@dataclass
class TraceQuery:
    """Filters, sort and page of a trace list. ``start``/``end`` are epoch ns, end exclusive."""

    start: int
    end: int
    name: str | None = None
    service: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    model: str | None = None
    tags: Sequence[str] = ()
    environment: str | None = None
    has_error: bool | None = None
    min_latency_ms: int | None = None
    max_latency_ms: int | None = None
    min_cost: Decimal | None = None
    max_cost: Decimal | None = None
    search: str | None = None  # text in any span's input or output or the trace's, case-insensitive
    attributes: dict[str, str] = field(default_factory=dict)  # span attribute key = value, on any span
    metadata: dict[str, str] = field(default_factory=dict)  # metadata key = value, on any span
    traceql: Expr | None = None  # a TraceQL spanset that any span of the trace matches
    # (name, operator, value): a score of the trace or one of its observations meets each; a
    # number compares the value, a text the category (= and != only).
    scores: Sequence[tuple[str, str, float | str]] = ()
    sort: Literal["start_time", "latency", "total_cost", "total_tokens", "span_count"] = "start_time"
    descending: bool = True
    limit: int = 50
    cursor: str | None = None
    previews: bool = True  # each trace's root input and output (one more read, of heavy columns)
    preview_chars: int = 0  # 0: a preview of them (storage.previews); else each whole up to so many (an export)


@dataclass
class SpanQuery:
    """Filters of a span list: time range (epoch ns), observation type, model, name, text."""

    start: int
    end: int
    observation_type: str | None = None
    model: str | None = None
    name: str | None = None
    limit: int = 100
    cursor: str | None = None
    # Observations only: without the rows that hold a Langfuse trace's own fields (type TRACE).
    observations_only: bool = False
    # Light rows: without the heavy columns (HEAVY_SPAN_COLUMNS), which are not read.
    light: bool = False
    search: str | None = None  # text in the span's input or output, case-insensitive


@dataclass
class Page:
    """One page of results and the cursor of the next, if there is one."""

    items: list[Row]
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _check_range(start: int, end: int) -> None:
    if end <= start:
        raise InvalidInput(f"the time range is empty: end ({end}) must be after start ({start})")


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    return limit


async def newest_first(
    backend: Backend, sql: Callable[[bool], str], params: dict[str, Any], start: int, end: int, needed: int, full: int
) -> list[Row]:
    """A newest-first page of traces without summarising every trace of the window. ``sql(True)``
    summarises only the traces in ``{candidates:Array(String)}``, ``sql(False)`` the whole window;
    the page covers the ``needed`` newest traces and has ``full`` rows when it is full.

    The newest summary rows that started in [start, end) name the candidates. A trace that started
    after the oldest of those rows (the cutoff) has every row after it, so it is a candidate: when
    the page is full and its last trace started at or after the cutoff, the page is exact.
    Otherwise four times as many rows are taken and the page is asked again; past 20,000 rows, the
    whole window is summarised."""
    rows_wanted = 4 * needed
    while rows_wanted <= 20_000:
        newest = await backend.query(
            "SELECT t.trace_id AS trace_id, toUnixTimestamp64Nano(t.start_time) AS row_start FROM traces AS t "
            "WHERE t.project_id = {project:String} "
            "AND t.day >= toDate(fromUnixTimestamp64Nano({start:Int64}, 'UTC')) "
            "AND t.day <= toDate(fromUnixTimestamp64Nano({upper:Int64}, 'UTC')) "
            "AND t.start_time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC') "
            "AND t.start_time < fromUnixTimestamp64Nano({upper:Int64}, 'UTC') "
            "ORDER BY t.start_time DESC LIMIT {rows:UInt32}",
            {**params, "start": start, "upper": end, "rows": rows_wanted},
        )
        # Fewer rows than asked: every trace that started in the window is a candidate.
        cutoff = int(newest[-1]["row_start"]) if len(newest) == rows_wanted else start
        candidates = list({r["trace_id"] for r in newest})
        rows = await backend.query(sql(True), {**params, "candidates": candidates})
        if cutoff == start or (len(rows) >= full and int(rows[-1]["start_time"]) >= cutoff):
            return rows
        rows_wanted *= 4
    return await backend.query(sql(False), params)


class TraceReader:
    """The queries the API, UI and Grafana endpoints are built on."""

    def __init__(self, backend: Backend, cache: TraceCache | None = None, recent: RecentSpans | None = None) -> None:
        self._backend = backend
        self._logs = LogReader(backend)
        self._cache = cache if cache is not None else TraceCache(0)
        self._recent = recent if recent is not None else RecentSpans(0)

    async def users(
        self,
        project: str,
        start: int,
        end: int,
        page: int = 1,
        limit: int = 50,
        sort: str = "last_seen",
        search: str = "",
    ) -> tuple[list[Row], int]:
        """A page of the window's users and their count (see ``users``)."""
        return await users(self._backend, project, start, end, page, limit, sort, search)

    async def sessions(
        self, project: str, start: int, end: int, page: int, limit: int, search: str = ""
    ) -> tuple[list[Row], int]:
        """A page of the window's sessions and their count (see ``sessions``)."""
        return await sessions(self._backend, project, start, end, page, limit, search)

    async def session_totals(self, project: str, session_id: str) -> Row | None:
        """One session's totals over all its traces (see ``session_totals``)."""
        return await session_totals(self._backend, project, session_id)

    async def suggest(self, project: str, field: str, prefix: str, start: int, end: int, limit: int) -> list[str]:
        """Values of a filter field (see ``suggest``)."""
        return await suggest(self._backend, project, field, prefix, start, end, limit)

    async def score_summary(self, project: str, start: int, end: int) -> list[Row]:
        """Scores by name over a window (see ``score_summary``)."""
        return await score_summary(self._backend, project, start, end)

    async def trace_scores(self, project: str, trace_ids: Sequence[str]) -> list[Row]:
        """The scores of some traces by name (see ``trace_scores``)."""
        return await trace_scores(self._backend, project, trace_ids)

    async def trace_bounds(self, project_id: str, trace_id: str) -> TraceBounds | None:
        """The first start and last end of a trace's spans (epoch ns), and its version, from the
        trace index; None if the trace is unknown."""
        rows = await self._backend.query(_TRACE_BOUNDS_SQL, {"project": project_id, "trace_id": trace_id})
        if not rows or not int(rows[0]["n"]):  # an aggregate over nothing still answers a row
            self._cache.forget(project_id, trace_id)  # deleted
            return None
        row = rows[0]
        return TraceBounds(int(row["lo"]), int(row["hi"]), TraceVersion(int(row["writes"]), int(row["last_write"])))

    def cached_bounds(self, project_id: str, trace_id: str) -> tuple[int, int] | None:
        """The bounds of the trace when this process last kept it in memory (it may have grown
        since: check them against ``trace_bounds``), or None."""
        return self._cache.bounds(project_id, trace_id)

    async def trace(self, project_id: str, trace_id: str, bounds: TraceBounds | None = None) -> list[Row]:
        """Every span of a trace, oldest first; empty if the trace is unknown. No time range
        needed: the trace index gives its bounds (``trace_bounds``, unless they are given).
        Spans with no messages of their own get those of their GenAI event records (storage.logs).
        A trace read before and not written since comes from memory (storage.trace_cache)."""
        if bounds is None:
            bounds = await self.trace_bounds(project_id, trace_id)
            if bounds is None:
                return []
        spans = self._cache.get(project_id, trace_id, bounds.version)
        if spans is None:
            # A trace this process just wrote is in its last batches (storage.recent_spans), whole.
            rows = self._recent.rows(project_id, trace_id, bounds.version)
            if rows is None:
                params = {"project": project_id, "trace_id": trace_id, "lo": bounds.lo, "hi": bounds.hi}
                rows = await self._backend.query(_TRACE_SPANS_SQL, params)
            # Kept only when the spans read are those of the version the index gave: the index and
            # the spans of one insert become visible one after the other, and a read may fall between.
            newest = max((int(r.pop("_written")) for r in rows), default=-1)
            rows.sort(key=lambda r: (r["start_time"], r["span_id"]))
            spans = [restore_attributes(r) for r in rows]
            if newest == bounds.version.last_write_us:
                self._cache.put(project_id, trace_id, bounds.version, spans, (bounds.lo, bounds.hi))
        # Kept without the messages of event records: those come apart from the spans, so they
        # are looked for on every read, as before (the spans of GenAI calls with no content only).
        return await self._logs.fill_messages(project_id, spans)

    async def span(self, project_id: str, span_id: str) -> Row | None:
        """One span by id (the latest version), or None."""
        rows = await self._backend.query(_SPAN_SQL, {"project": project_id, "span_id": span_id})
        if not rows:
            return None
        return (await self._logs.fill_messages(project_id, [restore_attributes(rows[0])]))[0]

    async def list_traces(self, project_id: str, q: TraceQuery) -> Page:
        """A page of trace summaries that started in [start, end) and match every filter."""
        _check_range(q.start, q.end)
        limit = _limit(q.limit)
        params: dict[str, Any] = {
            "project": project_id,
            "start": q.start,
            "end": q.end,
            "limit": limit + 1,
        }
        having: list[str] = []

        def add(condition: str, name: str, value: Any) -> None:
            having.append(condition)
            params[name] = value

        if q.name is not None:
            add("name = {name:String}", "name", q.name)
        if q.service is not None:
            add("has(services, {service:String})", "service", q.service)
        # A user's or a session's traces: only traces with a summary row naming them are grouped
        # (the HAVING below keeps the exact rule), not every trace of the window.
        owned = []
        if q.user_id is not None:
            add("user_id = {user_id:String}", "user_id", q.user_id)
            owned.append(traces_naming("user_id"))
        if q.session_id is not None:
            add("session_id = {session_id:String}", "session_id", q.session_id)
            owned.append(traces_naming("session_id"))
        if q.model is not None:
            add("has(models, {model:String})", "model", q.model)
        if q.tags:
            add("hasAll(tags, {tags:Array(String)})", "tags", list(q.tags))
        if q.environment is not None:
            add("environment = {environment:String}", "environment", q.environment)
        if q.has_error is not None:
            having.append("error_count > 0" if q.has_error else "error_count = 0")
        if q.min_latency_ms is not None:
            add("latency_ms >= {min_latency:Int64}", "min_latency", q.min_latency_ms)
        if q.max_latency_ms is not None:
            add("latency_ms <= {max_latency:Int64}", "max_latency", q.max_latency_ms)
        for bound in (q.min_cost, q.max_cost):
            if bound is not None and not (bound.is_finite() and abs(bound) < Decimal(10) ** 20):
                raise InvalidInput(f"cost bound out of range: {bound}")
        if q.min_cost is not None:
            add("total_cost >= {min_cost:Decimal(38, 12)}", "min_cost", q.min_cost)
        if q.max_cost is not None:
            add("total_cost <= {max_cost:Decimal(38, 12)}", "max_cost", q.max_cost)

        span_filters = []
        if q.search:
            # The spans' own input and output, and the trace's set apart on any of them.
            columns = ("input", "output", *(f"span_attributes['{key}']" for key in trace_io.KEYS))
            span_filters.append("(" + " OR ".join(escapes.matches(c, "search") for c in columns) + ")")
            params["search"] = escapes.needles(q.search)
        for i, (key, value) in enumerate(sorted(q.attributes.items())):
            span_filters.append(attribute_equals("span_attributes", f"{{ak{i}:String}}", f"{{av{i}:String}}"))
            params[f"ak{i}"], params[f"av{i}"] = key, value
        for i, (key, value) in enumerate(sorted(q.metadata.items())):
            # Metadata values are JSON text (a string quoted) or, from some exporters, the text itself.
            span_filters.append(f"metadata[{{mk{i}:String}}] IN ({{mv{i}:String}}, {{mq{i}:String}})")
            params[f"mk{i}"], params[f"mv{i}"], params[f"mq{i}"] = key, value, orjson.dumps(value).decode()
        if q.traceql is not None:
            try:
                condition, traceql_params = compile_condition(q.traceql)
            except TraceQLError as exc:  # a well-formed spanset this subset cannot answer
                raise InvalidInput(f"invalid TraceQL: {exc.message}") from None
            span_filters.append(f"({condition})")
            params.update(traceql_params)
        span_where = ""
        if span_filters:
            # Each filter met by any span of the trace, not necessarily the same one.
            grouped = (
                ""
                if len(span_filters) == 1
                else " GROUP BY trace_id HAVING " + " AND ".join(f"max({f})" for f in span_filters)
            )
            span_where = (
                "AND t.trace_id IN (SELECT s.trace_id FROM spans AS s WHERE project_id = {project:String} AND sign = 1 "
                f"AND {WHOLE_SPANS} AND (" + " OR ".join(span_filters) + f"){grouped})"
            )

        score_where = ""
        for i, (score_name, operator, wanted) in enumerate(q.scores):
            if operator not in SCORE_OPERATORS:
                raise InvalidInput(f"score filter operator {operator!r}: one of {', '.join(SCORE_OPERATORS)}")
            if isinstance(wanted, str):
                if operator not in ("=", "!="):
                    raise InvalidInput(f"score {score_name!r}: a category ({wanted!r}) is compared with = or != only")
                condition = f"string_value {operator} {{sv{i}:String}}"
            else:
                condition = f"data_type != 'CATEGORICAL' AND value {operator} {{sv{i}:Float64}}"
            params[f"sn{i}"], params[f"sv{i}"] = score_name, wanted
            score_where += (
                "\n  AND t.trace_id IN (SELECT trace_id FROM scores FINAL WHERE project_id = {project:String} "
                f"AND is_deleted = 0 AND name = {{sn{i}:String}} AND {condition})"
            )

        sort = _TRACE_SORTS[q.sort]
        direction = "DESC" if q.descending else "ASC"
        if q.cursor:
            value_kind: type = str if q.sort == "total_cost" else int
            value, trace_id = decode_cursor(q.cursor, [value_kind, str])
            cmp = "<" if q.descending else ">"
            cast = "Decimal(38, 12)" if q.sort == "total_cost" else "Int64"
            add(f"({sort}, trace_id) {cmp} ({{c_value:{cast}}}, {{c_trace:String}})", "c_value", value)
            params["c_trace"] = trace_id

        def sql(candidates: bool = False) -> str:
            # Candidates are summarised whole, every day of each: no need for the day bounds.
            where = "t.trace_id IN {candidates:Array(String)}" if candidates else WHOLE_DAYS
            # The ``whole`` traces are only read by the span filters (planning it costs even unused).
            with_whole = f"WITH {WHOLE_TRACES}" if span_where else ""
            of_owner = "".join(f"\n  AND {c}" for c in owned)
            return f"""
{with_whole}
SELECT {TRACE_SUMMARY}
FROM traces AS t
WHERE t.project_id = {{project:String}} AND {where}{of_owner}
  {span_where}{score_where}
GROUP BY t.trace_id
HAVING {" AND ".join([WHOLE_HAVING, *having])}
ORDER BY {sort} {direction}, trace_id {direction}
LIMIT {{limit:UInt32}}
"""

        # Newest first summarises only the window's newest traces, unless the filter is a user or a
        # session: then their own traces are few, and summarised at once (so are a score's).
        if q.sort == "start_time" and q.descending and not span_filters and not owned and not score_where:
            upper = min(q.end, int(params["c_value"]) + 1) if q.cursor else q.end
            rows = await newest_first(self._backend, sql, params, q.start, upper, limit + 1, limit + 1)
        else:
            rows = await self._backend.query(sql(), params)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            key = "latency_ms" if q.sort == "latency" else q.sort
            next_cursor = encode_cursor([last[key], last["trace_id"]])
        if q.previews:
            await self._add_previews(project_id, rows, q.preview_chars)
        else:
            for row in rows:
                row["input"] = row["output"] = ""
        return Page(rows, next_cursor)

    async def _add_previews(self, project_id: str, rows: list[Row], whole_chars: int = 0) -> None:
        """Each row's input and output: its trace's own, else its root's, else its spans' first and
        last (storage.trace_io); cut to ``whole_chars`` each, or (0) a preview of about
        PREVIEW_CHARS (storage.previews)."""
        if not rows:
            return
        chars = whole_chars or previews.SOURCE_CHARS
        roots, set_apart = await asyncio.gather(
            self._backend.query(
                _PREVIEW_SQL,
                {
                    "project": project_id,
                    "lo": min(r["start_time"] for r in rows),
                    "hi": max(r["end_time"] for r in rows),
                    "trace_ids": [r["trace_id"] for r in rows],
                    "chars": chars,
                },
            ),
            trace_io.read(self._backend, project_id, rows, chars),
        )
        by_id = {p["trace_id"]: p for p in roots}
        wanting: list[tuple[Row, Row]] = []
        for row in rows:
            preview = by_id.get(row["trace_id"], {})
            row["input"] = preview.get("input", "")
            row["output"] = preview.get("output", "")
            if preview and (not row["input"] or not row["output"]):
                root = {
                    "span_id": preview["root_id"],
                    "operation": preview["root_operation"],
                    "observation_type": preview["root_type"],
                    "source": preview["root_source"],
                }
                wanting.append((row, {**row, **root}))
        # A root with no messages of its own (a GenAI span in EVENT_ONLY mode): its events' messages.
        await self._logs.fill_messages(project_id, [root for _, root in wanting])
        for row, root in wanting:
            row["input"] = root["input"][:chars]
            row["output"] = root["output"][:chars]
            trace_io.fill_empty(row, by_id[row["trace_id"]])
        # Model calls whose every span sends its messages as events (ADK 2.x, an EVENT_ONLY
        # instrumentation under an app's span): the first and last of its event records' messages.
        silent = [row for row in rows if (not row["input"] or not row["output"]) and row.get("total_tokens")]
        if silent:
            found = await self._logs.trace_messages(project_id, silent)
            for row in silent:
                first_in, last_out = found.get(row["trace_id"], ("", ""))
                trace_io.fill_empty(row, {"first_input": first_in[:chars], "last_output": last_out[:chars]})
        for row in rows:
            trace_io.apply(row, set_apart.get(row["trace_id"], (None, None)))
            for side in ("input", "output"):
                text = row[side]
                row[side] = escapes.readable(text) if whole_chars else previews.preview(text, PREVIEW_CHARS)

    async def list_spans(self, project_id: str, q: SpanQuery) -> Page:
        """A page of spans started in [start, end), newest first, by type, model or name."""
        _check_range(q.start, q.end)
        limit = _limit(q.limit)
        params: dict[str, Any] = {"project": project_id, "start": q.start, "end": q.end, "limit": limit + 1}
        where = [
            "s.project_id = {project:String}",
            "s.sign = 1",
            "s.start_time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC')",
            "s.start_time < fromUnixTimestamp64Nano({end:Int64}, 'UTC')",
        ]
        for column, value in (("observation_type", q.observation_type), ("model", q.model), ("name", q.name)):
            if value is not None:
                where.append(f"s.{column} = {{{column}:String}}")
                params[column] = value
        if q.observations_only:
            where.append("s.observation_type != 'TRACE'")
        if q.search:
            where.append(f"({escapes.matches('s.input', 'search')} OR {escapes.matches('s.output', 'search')})")
            params["search"] = escapes.needles(q.search)
        if q.cursor:
            c_start, c_span = decode_cursor(q.cursor, [int, str])
            where.append(
                "(s.start_time, s.span_id) < (fromUnixTimestamp64Nano({c_start:Int64}, 'UTC'), {c_span:String})"
            )
            params.update(c_start=c_start, c_span=c_span)
        order = "s.start_time DESC, s.span_id DESC, s.ingested_at DESC"
        columns = LIGHT_SPAN_COLUMNS if q.light else SPAN_COLUMNS
        rows = await first_spans(self._backend, project_id, " AND ".join(where), order, params, limit + 1, 0, columns)
        if not q.light:
            rows = [restore_attributes(r) for r in rows]
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor([rows[-1]["start_time"], rows[-1]["span_id"]])
        if q.light:
            return Page(rows, next_cursor)
        return Page(await self._logs.fill_messages(project_id, rows), next_cursor)

    async def timeseries(
        self,
        project_id: str,
        start: int,
        end: int,
        interval_s: int,
        group_by: str | None = None,
        observation_type: str | None = None,
    ) -> list[Row]:
        """Per time bucket (and per ``group_by`` value): span and trace counts, errors, tokens,
        cost, latency quantiles (p50, p90, p95, p99, in ms) and mean time to first token (ms)."""
        _check_range(start, end)
        if interval_s < 1:
            raise InvalidInput(f"interval must be at least 1 second, got {interval_s}")
        if (end - start) // (interval_s * NS_PER_S) > 10_000:
            raise InvalidInput("too many buckets (more than 10000): use a longer interval")
        if group_by is not None and group_by not in GROUP_BY:
            raise InvalidInput(f"cannot group by {group_by!r}; one of: {', '.join(sorted(GROUP_BY))}")
        key = f"toString({GROUP_BY[group_by]})" if group_by else "''"
        params: dict[str, Any] = {"project": project_id, "start": start, "end": end, "interval": interval_s}
        where = [
            "project_id = {project:String}",
            "start_time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC')",
            "start_time < fromUnixTimestamp64Nano({end:Int64}, 'UTC')",
            "observation_type != 'TRACE'",
        ]
        if observation_type is not None:
            where.append("observation_type = {observation_type:String}")
            params["observation_type"] = observation_type
        # A trace counts once, in the bucket of its start, and only if it started in the window:
        # counting per bucket of its spans counted a trace crossing a bucket's edge twice. Per key,
        # it counts where a span of that key lies in the trace's start bucket (the same scan).
        bucket_of = "toUnixTimestamp(toStartOfInterval({t}, toIntervalSecond({{interval:UInt32}})))"
        per_key = group_by is not None or observation_type is not None
        key_traces = (
            f"uniqExactIf(trace_id, sign = 1 AND (trace_id, bucket) IN "
            f"(SELECT trace_id, {bucket_of.format(t='trace_start')} FROM whole))"
            if per_key
            else "0"
        )
        sql = f"""
{"WITH " + WHOLE_TRACES if per_key else ""}
SELECT
    {bucket_of.format(t="start_time")} AS bucket,
    {key} AS key,
    sum(sign) AS spans,
    {key_traces} AS traces,
    sum(sign * (status_code = 'ERROR' OR level = 'ERROR')) AS errors,
    sum(sign * input_tokens) AS input_tokens,
    sum(sign * output_tokens) AS output_tokens,
    sum(sign * total_tokens) AS total_tokens,
    sum(sign * cache_read_tokens) AS cache_read_tokens,
    sum(sign * reasoning_tokens) AS reasoning_tokens,
    sum(sign * total_cost) AS total_cost,
    -- quantiles over current rows only; a span replaced but not yet merged may count twice
    arrayMap(x -> x / 1e6, quantilesIf(0.5, 0.9, 0.95, 0.99)(duration_ns, sign = 1)) AS latency_ms,
    -- time to first token of streamed generations, in ms (null without any)
    avgIf(toUnixTimestamp64Nano(assumeNotNull(completion_start_time)) - toUnixTimestamp64Nano(start_time),
          completion_start_time IS NOT NULL AND sign = 1) / 1e6 AS ttft_ms
FROM spans
WHERE {" AND ".join(where)}
GROUP BY bucket, key
ORDER BY bucket, key
"""
        rows = await self._backend.query(sql, params)
        if per_key:
            return rows
        counts = await self._backend.query(
            f"WITH {WHOLE_TRACES}\nSELECT {bucket_of.format(t='trace_start')} AS bucket, '' AS key, "
            "count() AS traces FROM whole GROUP BY bucket",
            params,
        )
        traces = {(c["bucket"], c["key"]): c["traces"] for c in counts}
        for row in rows:
            row["traces"] = traces.pop((row["bucket"], row["key"]), 0)
        for (bucket, key), n in traces.items():  # traces whose start bucket holds only their TRACE row
            rows.append({**_EMPTY_POINT, "bucket": bucket, "key": key, "traces": n})
        rows.sort(key=lambda r: (r["bucket"], r["key"]))
        return rows


# How the users list may be ordered: API name -> ORDER BY (the most first).
USER_ORDERS = {
    "last_seen": "last_seen DESC",
    "total_cost": "total_cost DESC",
    "traces": "traces DESC",
    "total_tokens": "total_tokens DESC",
}


async def users(
    backend: Backend,
    project: str,
    start: int,
    end: int,
    page: int = 1,
    limit: int = 50,
    sort: str = "last_seen",
    search: str = "",
) -> tuple[list[Row], int]:
    """A page of the users of the traces that started in [start, end) (whole traces), ordered by
    ``sort`` (a key of ``USER_ORDERS``): their trace count, tokens, cost, first and last start (ns);
    and how many users there are. With ``search``, only users whose id contains it (any case)."""
    columns = """user_id, count() AS traces, sum(total_tokens) AS total_tokens, sum(total_cost) AS total_cost,
       min(start_ns) AS first_seen, max(start_ns) AS last_seen"""
    order = f"{USER_ORDERS[sort]}, user_id"
    return await _page_of_groups(backend, "user_id", columns, order, project, start, end, page, limit, search)


async def sessions(
    backend: Backend, project: str, start: int, end: int, page: int = 1, limit: int = 50, search: str = ""
) -> tuple[list[Row], int]:
    """A page of the sessions of the traces that started in [start, end) (whole traces), the newest
    first: their first start and last end (ns), trace count, up to five users, tokens, cost and
    environment; and how many sessions there are. With ``search``, only sessions whose id contains
    it (any case)."""
    columns = """session_id AS id, min(start_ns) AS created_at, max(end_ns) AS last_at, count() AS traces,
       arraySort(groupUniqArrayIf(5)(user_id, user_id != '')) AS users, sum(total_tokens) AS total_tokens,
       sum(total_cost) AS total_cost, max(environment) AS environment"""
    return await _page_of_groups(
        backend, "session_id", columns, "created_at DESC, id", project, start, end, page, limit, search
    )


def traces_naming(column: str) -> str:
    """The traces (of a summary aliased ``t``) with a summary row whose ``column`` (user_id,
    session_id) is the bound parameter of the same name: a user's or a session's traces, found
    without grouping every trace first."""
    return (
        f"t.trace_id IN (SELECT trace_id FROM traces WHERE project_id = {{project:String}} "
        f"AND {column} = {{{column}:String}})"
    )


async def session_totals(backend: Backend, project: str, session_id: str) -> Row | None:
    """One session over all its traces, of any time: their count, first start and last end (ns),
    up to twenty users, tokens and cost; None if no trace has it."""
    rows = await backend.query(
        f"""SELECT count() AS traces, min(start_ns) AS created_at, max(end_ns) AS last_at,
       arraySort(groupUniqArrayIf(20)(user_id, user_id != '')) AS users,
       sum(total_tokens) AS total_tokens, sum(total_cost) AS total_cost
FROM (
    SELECT t.trace_id, max(t.session_id) AS session_id, max(t.user_id) AS user_id,
           sum(t.total_tokens) AS total_tokens, sum(t.total_cost) AS total_cost,
           toUnixTimestamp64Nano(min(t.start_time)) AS start_ns, toUnixTimestamp64Nano(max(t.end_time)) AS end_ns
    FROM traces AS t
    -- The traces with a row naming the session, then each of them whole (all its rows, every day).
    WHERE t.project_id = {{project:String}} AND {traces_naming("session_id")}
    GROUP BY t.trace_id
    HAVING session_id = {{session_id:String}})""",
        {"project": project, "session_id": session_id},
    )
    return rows[0] if rows and rows[0]["traces"] else None


async def _page_of_groups(
    backend: Backend,
    field: str,
    columns: str,
    order: str,
    project: str,
    start: int,
    end: int,
    page: int,
    limit: int,
    search: str = "",
) -> tuple[list[Row], int]:
    """A page of ``columns`` over the whole traces that started in [start, end), grouped by a trace
    ``field`` (user_id, session_id; traces without one left out), and how many groups there are;
    with ``search``, only the groups whose field contains it (any case).
    Each trace gives its field, user, tokens, cost, environment and bounds (``start_ns``, ``end_ns``)."""
    _check_range(start, end)
    params = {"project": project, "start": start, "end": end, "limit": limit, "offset": (page - 1) * limit}
    searched = ""
    if search:
        searched = f" AND positionCaseInsensitiveUTF8({field}, {{search:String}}) > 0"
        params["search"] = search
    grouped = f"""
FROM (
    SELECT t.trace_id, max(t.session_id) AS session_id, max(t.user_id) AS user_id,
           sum(t.total_tokens) AS total_tokens, sum(t.total_cost) AS total_cost,
           max(t.environment) AS environment, toUnixTimestamp64Nano(min(t.start_time)) AS start_ns,
           toUnixTimestamp64Nano(max(t.end_time)) AS end_ns
    FROM traces AS t
    WHERE t.project_id = {{project:String}} AND {WHOLE_DAYS}
    GROUP BY t.trace_id
    HAVING start_ns >= {{start:Int64}} AND start_ns < {{end:Int64}} AND {field} != ''{searched}
)
GROUP BY {field}"""
    # The groups' count rides on the page's rows (a window over the groups): one query, not two.
    rows = await backend.query(
        f"SELECT {columns}, count() OVER () AS total\n{grouped}\nORDER BY {order}\n"
        "LIMIT {limit:UInt32} OFFSET {offset:UInt64}",
        params,
    )
    if not rows:  # past the last page there is no row to carry the count: count on their own
        counted = await backend.query(f"SELECT count() AS n FROM (SELECT {field} {grouped})", params)
        return [], int(counted[0]["n"])
    total = int(rows[0]["total"])
    for row in rows:
        del row["total"]
    return rows, total


# Filter fields the UI suggests values for: API name -> column of the spans table.
SUGGEST = {
    "name": "toString(name)",
    "service": "toString(service_name)",
    "user": "user_id",
    "session": "session_id",
    "model": "toString(model)",
    "environment": "toString(environment)",
    "observation_type": "toString(observation_type)",
    "tag": "arrayJoin(tags)",
    "provider": "toString(provider)",
}


async def suggest(
    backend: Backend, project: str, field: str, prefix: str, start: int, end: int, limit: int
) -> list[str]:
    """Distinct values of one filter field (most frequent first), optionally by prefix."""
    if field not in SUGGEST:
        raise InvalidInput(f"no suggestions for {field!r}; one of: {', '.join(sorted(SUGGEST))}")
    rows = await backend.query(
        f"""SELECT {SUGGEST[field]} AS v, count() AS n FROM spans
WHERE project_id = {{project:String}} AND sign = 1
  AND start_time >= fromUnixTimestamp64Nano({{start:Int64}}, 'UTC')
  AND start_time < fromUnixTimestamp64Nano({{end:Int64}}, 'UTC')
GROUP BY v HAVING v != '' AND startsWith(lower(v), lower({{prefix:String}}))
ORDER BY n DESC, v LIMIT {{limit:UInt32}}""",
        {"project": project, "start": start, "end": end, "prefix": prefix, "limit": limit},
    )
    return [r["v"] for r in rows]


async def trace_scores(backend: Backend, project: str, trace_ids: Sequence[str]) -> list[Row]:
    """The scores of ``trace_ids`` (their traces' and their observations'), by trace, name and type:
    how many, the mean value and the newest string value (categorical and boolean scores)."""
    if not trace_ids:
        return []
    return await backend.query(
        f"""SELECT trace_id, name, data_type, count() AS count, avg(value) AS value,
       argMax({SCORE_TEXT}, timestamp) AS string_value
FROM scores FINAL
WHERE project_id = {{project:String}} AND is_deleted = 0 AND trace_id IN {{ids:Array(String)}}
GROUP BY trace_id, name, data_type ORDER BY trace_id, name, data_type""",
        {"project": project, "ids": list(trace_ids)},
    )


async def score_summary(backend: Backend, project: str, start: int, end: int) -> list[Row]:
    """Per score name and type: count, mean, min, max, and the counts of categorical values."""
    return await backend.query(
        f"""SELECT name, data_type, count() AS count, avg(value) AS mean, min(value) AS min, max(value) AS max,
       topK(10)({SCORE_TEXT}) AS top_values
FROM scores FINAL
WHERE project_id = {{project:String}} AND is_deleted = 0
  AND timestamp >= fromUnixTimestamp64Nano({{start:Int64}}, 'UTC')
  AND timestamp < fromUnixTimestamp64Nano({{end:Int64}}, 'UTC')
GROUP BY name, data_type ORDER BY name""",
        {"project": project, "start": start, "end": end},
    )
