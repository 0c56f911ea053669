"""The storage interface every backend implements, and what callers may rely on.

A backend runs SQL written in ClickHouse's dialect with server-side parameters
(``{name:Type}``); it never pastes values into SQL. The same statements run on the
embedded engine (chDB) and on a ClickHouse server (clickhouse-driver).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from storage.schema import Cluster

if TYPE_CHECKING:
    from storage.reader import Page, SpanQuery, TraceBounds, TraceQuery

__all__ = ["Backend", "BatchWriter", "Params", "Row", "TraceSource", "VersionedEventStore"]

Params = Mapping[str, Any]
Row = dict[str, Any]


class Backend(Protocol):
    """A ClickHouse connection pool with an async face.

    Edge cases every implementation honours:
    - ``insert`` returns only once the rows are committed (a part is written); if it
      raises, none of the rows of that call are visible.
    - Driver and network failures surface as ``StorageUnavailable`` (retryable); SQL
      and data errors as ``InvalidInput`` only where the caller's data is at fault,
      otherwise they propagate as ``RuntimeError`` (a bug of ours).
    - ``query`` returns plain Python values: ``Map`` columns as ``dict``, ``Decimal`` as
      ``decimal.Decimal``. Readers select times as integers (nanoseconds) so that both
      drivers agree.
    """

    kind: str
    # The cluster the schema lives on (tables ON CLUSTER, mutations on the shard-local tables),
    # or None for a single node.
    cluster: Cluster | None

    async def insert(self, table: str, data: pa.Table, settings: Mapping[str, int] | None = None) -> None:
        """Insert every row of ``data`` into ``table`` (columns matched by name), with the
        ClickHouse query ``settings`` given (names from code, never from input)."""

    async def query(self, sql: str, params: Params | None = None) -> list[Row]:
        """Run a SELECT and return its rows as dicts."""

    async def query_arrow(self, sql: str, params: Params | None = None) -> pa.Table:
        """Run a SELECT and return an Arrow table (for bulk reads and benchmarks)."""

    async def execute(self, sql: str, params: Params | None = None) -> None:
        """Run a statement that returns nothing (DDL, INSERT ... SELECT, mutations)."""

    async def close(self) -> None:
        """Release every connection; waits for running statements."""


class BatchWriter(Protocol):
    """Writes one table's rows; the ingest path's batcher commits every lane through one.

    Edge cases every implementation honours:
    - ``write`` returns only once the rows are durable (committed, or journalled on the embedded
      store so that a crash repairs the derived rows at the next start). If it raises, the caller
      answers its senders with a retryable error; a retry must not double count.
    - Spans are idempotent on (project_id, trace_id, span_id): rows already stored, and repeats
      within one batch, are skipped. Log, score and metric rows are appended as given (their
      tables deduplicate by key in the background where they have one).
    - Columns missing from ``batch`` get their defaults; the writer-filled columns
      (``storage.tables.WRITER_FILLED``) are set by the writer whatever the batch holds.
    - The return value is the number of rows inserted (after deduplication), 0 for an empty batch.
    """

    async def write(self, batch: pa.Table) -> int:
        """Store the rows of ``batch``; see the class for what is guaranteed."""
        ...


class VersionedEventStore(Protocol):
    """Langfuse's upsert semantics on append-only tables (the ``langfuse`` lane of the batcher).

    A span or score has one current row; a later event replaces it by writing the new version and
    a cancel row for the old one (CollapsingMergeTree ``sign``) in one insert, so a reader never
    sees both or neither. Edge cases:
    - ``seen_events`` / ``record_events``: an event id applied once is never applied again (SDK
      retries); the caller records the ids only after the versions are written.
    - ``current_spans`` looks ids up in any trace of the project: an update may name the trace
      differently from its create (or arrive first, before any create).
    - Callers serialise writes per project (the batcher's lane) so that two versions of one id
      are never computed from the same current row.
    """

    async def seen_events(self, project_id: str, event_ids: Sequence[str]) -> set[str]:
        """The event ids of this batch that were applied before."""
        ...

    async def record_events(self, project_id: str, event_ids: Iterable[str]) -> None:
        """Remember event ids as applied."""
        ...

    async def current_spans(
        self, project_id: str, span_ids: Sequence[str], trace_ids: Sequence[str] = ()
    ) -> tuple[dict[str, Row], list[Row]]:
        """The current row of each span id (any trace), keyed by span id; and what the rule for a
        call recorded twice compares of every current span of ``trace_ids``."""
        ...

    async def write_versions(self, new_rows: pa.Table, replaced: Sequence[Row]) -> None:
        """Insert new span versions and cancel rows for the versions they replace, atomically."""
        ...

    async def current_scores(self, project_id: str, ids: Sequence[str]) -> dict[str, Row]:
        """The current row of each score id, keyed by id."""
        ...

    async def write_scores(self, rows: list[dict[str, object]]) -> None:
        """Insert score versions (the newest ``updated_at`` wins when read)."""
        ...

    async def delete_score(self, project_id: str, score_id: str) -> bool:
        """Delete a score (a newer version that says so); False if there is none by that id."""
        ...


class TraceSource(Protocol):
    """The trace reads the REST API, the UI and Grafana are built on.

    Edge cases every implementation honours:
    - Every read takes the project id first and never returns another project's rows.
    - Times are integers in nanoseconds since the epoch (UTC); windows are half-open [start, end)
      and an empty window is ``InvalidInput``.
    - ``trace`` needs no time range (the trace index gives the bounds) and returns every span,
      oldest first, with attributes stored once in the input/output columns put back; an
      unknown trace is an empty list, not an error.
    - A trace is listed whole: a trace any of whose spans falls in the window is listed with all
      its spans' totals (tokens, cost, errors), not only the window's part.
    - Pages are keyset pages: ``next_cursor`` is opaque, stable under concurrent inserts, and
      None on the last page. ``limit`` outside 1..MAX_PAGE is ``InvalidInput``.
    """

    async def trace(self, project_id: str, trace_id: str) -> list[Row]:
        """Every span of a trace, oldest first; empty if unknown."""
        ...

    async def trace_bounds(self, project_id: str, trace_id: str) -> TraceBounds | None:
        """The first start and last end of a trace's spans, and its version; None if unknown."""
        ...

    async def span(self, project_id: str, span_id: str) -> Row | None:
        """One span by id (the latest version), or None."""
        ...

    async def list_traces(self, project_id: str, q: TraceQuery) -> Page:
        """Whole traces of a window, newest first, filtered."""
        ...

    async def list_spans(self, project_id: str, q: SpanQuery) -> Page:
        """Spans of a window, newest first, filtered."""
        ...

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
        """A page of the users of the window's whole traces with their totals, and their count;
        with ``search``, only users whose id contains it (any case)."""
        ...

    async def sessions(
        self, project: str, start: int, end: int, page: int, limit: int, search: str = ""
    ) -> tuple[list[Row], int]:
        """A page of the sessions of the window's whole traces with their totals, and their count;
        with ``search``, only sessions whose id contains it (any case)."""
        ...

    async def suggest(self, project: str, field: str, prefix: str, start: int, end: int, limit: int) -> list[str]:
        """Values of a filter field starting with ``prefix``."""
        ...

    async def score_summary(self, project: str, start: int, end: int) -> list[Row]:
        """Score names of the window with counts and averages."""
        ...

    async def trace_scores(self, project: str, trace_ids: Sequence[str]) -> list[Row]:
        """The scores of some traces by name: count, mean value, newest string value."""
        ...

    async def timeseries(
        self,
        project_id: str,
        start: int,
        end: int,
        interval_s: int,
        group_by: str | None = None,
        observation_type: str | None = None,
    ) -> list[Row]:
        """Per time bucket (and group): counts, errors, tokens, cost, latency quantiles, TTFT."""
        ...
