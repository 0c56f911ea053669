"""Storage for the Langfuse-compatible API: event ids already applied, current versions of
observations and traces (to merge updates into), versioned writes, and scores.

A Langfuse update writes a full new version of the span row together with a cancel row
(sign = -1) for the version it replaces, in one insert (one part, so both or neither): the
summary view and every sum weighted by sign stay exact before ReplacingMergeTree collapses
the versions.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import cast

import orjson
import pyarrow as pa

from storage import trace_io
from storage.api import Backend, Row
from storage.journal import InsertJournal
from storage.langfuse_filter import observation_conditions, score_conditions, trace_conditions
from storage.logs import LogReader
from storage.observation_ids import OWN_SPAN_SUFFIX
from storage.reader import (
    LIGHT_SPAN_COLUMNS,
    SPAN_COLUMNS,
    WHOLE_DAYS,
    WHOLE_HAVING,
    WHOLE_SPANS,
    WHOLE_TRACES,
    first_spans,
    newest_first,
    traces_naming,
)
from storage.recent_spans import RecentSpans
from storage.tables import LANGFUSE_EVENTS, SCORE_TEXT, SCORES
from storage.writer import (
    CURRENT_ROWS_TEMPLATE,
    ESTIMATED_ATTRIBUTE,
    SPAN_SCHEMA,
    STORED_CALL_COLUMNS,
    conform,
    insert_spans,
    stored_rows_table,
)

__all__ = [
    "BOOKKEEPING_ATTRIBUTE",
    "TRACE_ORDERS",
    "LangfuseReader",
    "LangfuseStore",
    "client_said_public",
    "stored_rows_table",
]

# The Langfuse ingestion API's own state of an entity (otlp_receiver.langfuse.entities), kept
# among a span's attributes: the store's bookkeeping, never shown as an attribute.
BOOKKEEPING_ATTRIBUTE = "langfuse.state"

_SEEN_SQL = """
SELECT DISTINCT event_id FROM langfuse_events
WHERE project_id = {project:String} AND event_id IN {ids:Array(String)}
"""

# Latest current version of each span id, and with _OF_TRACES of every span of some traces (those
# the rule for a call recorded twice compares new generations with: otlp_receiver.nested_calls).
# In one query, which costs about what the ids alone do where ClickHouse combines the two bloom
# filters for the OR (use_skip_indexes_for_disjunctions, in chDB); a UNION ALL of the two cost
# twice as much. Raw times come along (ns integers) so the row can be re-inserted as a cancel row
# with identical key columns.
_CURRENT_SQL = CURRENT_ROWS_TEMPLATE.format(which="s.span_id IN {ids:Array(String)}")
_CURRENT_OF_TRACES_SQL = CURRENT_ROWS_TEMPLATE.format(
    which="(s.span_id IN {ids:Array(String)} OR s.trace_id IN {traces:Array(String)})"
)

# What the rule for a call recorded twice compares of every current span of some traces (the span
# writer's columns, storage.writer), read beside _CURRENT_SQL at the same time for a long trace: a
# long agent run sent flush after flush has all its spans read at each flush, and their whole rows
# (_CURRENT_OF_TRACES_SQL) cost 140 ms a flush at 3,000 spans, most of it turning them into Python
# rows, against 24 for the two (docs/benchmarks.md). A short trace is cheaper in the one query: a
# second one costs more than its rows.
_CALLS_OF_TRACES_SQL = f"""
SELECT {STORED_CALL_COLUMNS}
FROM spans
WHERE project_id = {{project:String}} AND sign = 1 AND trace_id IN {{traces:Array(String)}}
ORDER BY ingested_at DESC
LIMIT 1 BY trace_id, span_id
"""
# Those of _CALLS_OF_TRACES_SQL's columns that a whole row has under the same name.
_CALL_FACTS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "observation_type",
    "model",
    "scope_name",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "total_cost",
)
# A trace read with this many spans is long: its next reads take _CALLS_OF_TRACES_SQL. The last
# _LONG_TRACES_KEPT such traces are remembered.
_LONG_TRACE = 200
_LONG_TRACES_KEPT = 1_000

_SCORES_SQL = f"""
SELECT id, toUnixTimestamp64Nano(timestamp) AS timestamp, trace_id, observation_id, session_id, name, value,
       {SCORE_TEXT} AS string_value, data_type, source, comment, metadata, environment
FROM scores FINAL
WHERE project_id = {{project:String}} AND is_deleted = 0 AND id IN {{ids:Array(String)}}
"""


class LangfuseStore:
    def __init__(
        self, backend: Backend, journal: InsertJournal | None = None, recent: RecentSpans | None = None
    ) -> None:
        self._backend = backend
        self._journal = journal
        self._recent = recent
        # Long traces (_LONG_TRACE) by project, oldest first: a dict as an ordered set.
        self._long_traces: dict[tuple[str, str], None] = {}

    async def seen_events(self, project_id: str, event_ids: Sequence[str]) -> set[str]:
        """The event ids of this batch that were applied before."""
        if not event_ids:
            return set()
        rows = await self._backend.query(_SEEN_SQL, {"project": project_id, "ids": list(event_ids)})
        return {r["event_id"] for r in rows}

    async def record_events(self, project_id: str, event_ids: Iterable[str]) -> None:
        ids = list(event_ids)
        if ids:
            table = pa.table(
                {"project_id": [project_id] * len(ids), "event_id": ids},
                schema=pa.schema(
                    [
                        LANGFUSE_EVENTS.arrow_schema().field("project_id"),
                        LANGFUSE_EVENTS.arrow_schema().field("event_id"),
                    ]
                ),
            )
            await self._backend.insert(LANGFUSE_EVENTS.name, table)

    async def current_spans(
        self, project_id: str, span_ids: Sequence[str], trace_ids: Sequence[str] = ()
    ) -> tuple[dict[str, Row], list[Row]]:
        """The current row of each span id (any trace), keyed by span id; and of every current
        span of ``trace_ids`` what the rule for a call recorded twice compares
        (otlp_receiver.nested_calls): ids, type, model, scope, tokens, cost, ``start_ns``,
        ``end_ns`` and ``estimated`` (its tokens counted here)."""
        if not span_ids and not trace_ids:
            return {}, []
        params = {"project": project_id, "ids": list(span_ids), "traces": list(trace_ids)}
        if not trace_ids:
            return {r["span_id"]: r for r in await self._backend.query(_CURRENT_SQL, params)}, []
        if any((project_id, t) in self._long_traces for t in trace_ids):
            rows, calls = await asyncio.gather(
                self._backend.query(_CURRENT_SQL, params),
                self._backend.query(_CALLS_OF_TRACES_SQL, {**params, "estimated": ESTIMATED_ATTRIBUTE}),
            )
            return {r["span_id"]: r for r in rows}, calls
        rows = await self._backend.query(_CURRENT_OF_TRACES_SQL, params)
        own, traces = set(span_ids), set(trace_ids)
        calls = [
            {
                **{name: r[name] for name in _CALL_FACTS},
                "start_ns": r["start_time"],
                "end_ns": r["end_time"],
                "estimated": ESTIMATED_ATTRIBUTE in r["span_attributes"],
            }
            for r in rows
            if r["trace_id"] in traces
        ]
        for trace_id, n in Counter(r["trace_id"] for r in calls).items():
            if n >= _LONG_TRACE:
                self._long_traces[(project_id, trace_id)] = None
                if len(self._long_traces) > _LONG_TRACES_KEPT:
                    del self._long_traces[next(iter(self._long_traces))]
        return {r["span_id"]: r for r in rows if r["span_id"] in own}, calls

    async def write_versions(self, new_rows: pa.Table, replaced: Sequence[Row]) -> None:
        """Insert new span versions and cancel rows for the versions they replace, atomically."""
        parts = [new_rows if new_rows.schema.equals(SPAN_SCHEMA) else conform(new_rows)]
        if replaced:
            parts.insert(0, stored_rows_table(replaced, cancel=True))
        await insert_spans(self._backend, self._journal, pa.concat_tables(parts), recent=self._recent)

    async def current_scores(self, project_id: str, ids: Sequence[str]) -> dict[str, Row]:
        if not ids:
            return {}
        rows = await self._backend.query(_SCORES_SQL, {"project": project_id, "ids": list(ids)})
        return {r["id"]: r for r in rows}

    async def write_scores(self, rows: list[dict[str, object]]) -> None:
        if rows:
            await self._backend.insert(SCORES.name, pa.Table.from_pylist(rows, schema=SCORES.arrow_schema()))

    async def delete_score(self, project_id: str, score_id: str) -> bool:
        # Its row again with is_deleted set and a newer version: the table's replacing key (the
        # same project, day, name and id) drops it, and every read already skips deleted rows.
        schema = SCORES.arrow_schema()
        current = await self._backend.query_arrow(
            f"SELECT {', '.join(schema.names)} FROM scores FINAL "
            "WHERE project_id = {project:String} AND id = {id:String} AND is_deleted = 0",
            {"project": project_id, "id": score_id},
        )
        if not current.num_rows:
            return False
        tombstone = current.cast(schema)
        tombstone = tombstone.set_column(
            schema.get_field_index("ingested_at"),
            "ingested_at",
            pa.array([time.time_ns() // 1000] * tombstone.num_rows, pa.int64()).cast(schema.field("ingested_at").type),
        )
        tombstone = tombstone.set_column(
            schema.get_field_index("is_deleted"), "is_deleted", pa.array([1] * tombstone.num_rows, pa.uint8())
        )
        await self._backend.insert(SCORES.name, tombstone)
        return True


# -- reads for the Langfuse public API -------------------------------------------------------

_TRACE_FILTERS = {
    "trace_id": "trace_id = {trace_id:String}",
    "user_id": "user_id = {user_id:String}",
    "session_id": "session_id = {session_id:String}",
    "name": "name = {name:String}",
    "tags": "hasAll(tags, {tags:Array(String)})",
    "environment": "has({environment:Array(String)}, environment)",
    "release": "release = {release:String}",
}

# Fields of the root row of each trace (the Langfuse trace row, or the OTel root span).
_ROOT_KEY = (
    "(s.parent_span_id != '', s.observation_type != 'TRACE', s.start_time, -toUnixTimestamp64Micro(s.ingested_at))"
)
# Result name -> the root span's column (LowCardinality ones read as String).
_ROOT_COLUMNS = {
    "root_name": "name",
    "root_trace_name": "trace_name",  # the trace's own name (langfuse.trace.name), when it was given
    "input": "input",
    "output": "output",
    "metadata": "metadata",
    "root_release": "release",
    "version": "version",
    "root_type": "observation_type",
    "root_span_id": "span_id",
    "root_operation": "operation",
    "root_source": "source",
}
_AS_STRING = {"release", "version", "observation_type", "operation", "source"}
_ROOT_FIELDS = {name: f"toString(s.{c})" if c in _AS_STRING else f"s.{c}" for name, c in _ROOT_COLUMNS.items()}
# The root's heavy fields: a page of roots costs what decompressing them costs (docs/benchmarks.md),
# so a client that asks for no input and output (Langfuse's ``fields``) is spared them.
_IO_FIELDS = ("input", "output", "metadata")
# Whether a span says its trace is public, as ``client_said_public`` reads it: the SDKs' (3.x and
# later) attribute on any span, or the ``public`` of a Langfuse trace row's bookkeeping state.
_SAID_PUBLIC = (
    "lower(s.span_attributes['langfuse.trace.public']) IN ('true', '1') OR (s.observation_type = 'TRACE' "
    "AND JSONExtractBool(s.span_attributes['langfuse.state'], 'public'))"
)


def client_said_public(spans: list[Row]) -> bool:
    """Whether the trace's client made it public (Langfuse's ``public`` on the trace), from its
    spans as ``Reader.trace`` returns them."""
    for span in spans:
        attrs = span.get("span_attributes") or {}
        flag = attrs.get("langfuse.trace.public")
        if flag is not None and str(flag).lower() in ("true", "1"):
            return True
        state = attrs.get(BOOKKEEPING_ATTRIBUTE)
        if state and span.get("observation_type") == "TRACE":
            try:
                if orjson.loads(state).get("public") is True:
                    return True
            except (orjson.JSONDecodeError, AttributeError):
                continue
    return False


def _roots_sql(io: bool) -> str:
    fields = {n: e for n, e in _ROOT_FIELDS.items() if io or n not in _IO_FIELDS}
    return (
        "SELECT s.trace_id AS trace_id, "
        + ", ".join(f"argMin({expr}, {_ROOT_KEY}) AS {name}" for name, expr in fields.items())
        + f", max({_SAID_PUBLIC}) AS client_public"
        + (f", {trace_io.COLUMNS}" if io else "")
        + """, groupArrayIf(s.span_id, s.observation_type != 'TRACE') AS observation_ids
FROM spans AS s
WHERE s.project_id = {project:String} AND s.sign = 1 AND s.trace_id IN {ids:Array(String)}
  AND s.start_time >= fromUnixTimestamp64Nano({lo:Int64}, 'UTC')
  AND s.start_time <= fromUnixTimestamp64Nano({hi:Int64}, 'UTC')
GROUP BY s.trace_id
"""
    )


_ROOTS_SQL = {True: _roots_sql(True), False: _roots_sql(False)}
# Which of the traces ``ids`` their client made public (``client_said_public``).
_PUBLIC_TRACES_SQL = f"""
SELECT DISTINCT s.trace_id AS trace_id
FROM spans AS s
WHERE s.project_id = {{project:String}} AND s.sign = 1 AND s.trace_id IN {{ids:Array(String)}}
  AND s.start_time >= fromUnixTimestamp64Nano({{lo:Int64}}, 'UTC')
  AND s.start_time <= fromUnixTimestamp64Nano({{hi:Int64}}, 'UTC')
  AND ({_SAID_PUBLIC})
"""

# Traces whose root has a version (the summary does not keep it), from roots near the window.
_VERSION_FILTER = """t.trace_id IN (
    SELECT trace_id FROM spans WHERE project_id = {project:String} AND sign = 1 AND parent_span_id = ''
      AND version = {version:String}
      AND start_time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC') - INTERVAL 1 DAY
      AND start_time < fromUnixTimestamp64Nano({end:Int64}, 'UTC') + INTERVAL 1 DAY)"""

_SCORE_COLUMNS = f"""id, toUnixTimestamp64Nano(timestamp) AS timestamp, trace_id, observation_id, session_id, name,
       value, {SCORE_TEXT} AS string_value, data_type, source, comment, metadata, environment,
       toUnixTimestamp64Nano(ingested_at) AS updated_at"""


_SUMMARY = """t.trace_id AS trace_id,
       toUnixTimestamp64Nano(min(t.start_time)) AS start_time,
       toUnixTimestamp64Nano(max(t.end_time)) AS end_time,
       argMinMerge(t.name) AS name,
       max(t.user_id) AS user_id, max(t.session_id) AS session_id, max(t.environment) AS environment,
       max(t.release) AS release, groupUniqArrayArray(t.tags) AS tags,
       sum(t.total_cost) AS total_cost, sum(t.span_count) AS span_count"""


# Langfuse's orderBy fields of the trace list, and the summary's columns they sort by.
TRACE_ORDERS = {
    "timestamp": "start_time",
    "id": "trace_id",
    "name": "name",
    "userId": "user_id",
    "sessionId": "session_id",
    "release": "release",
}


def _page_params(project: str, start: int, end: int, page: int, limit: int) -> dict[str, object]:
    """Bound parameters shared by the page-numbered queries."""
    return {"project": project, "start": start, "end": end, "limit": limit, "offset": (page - 1) * limit}


# Every observation list: the project's live observation rows (not trace rows) started in the window.
_OBSERVATIONS_IN_WINDOW = (
    "s.project_id = {project:String}",
    "s.sign = 1",
    "s.observation_type != 'TRACE'",
    "s.start_time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC')",
    "s.start_time < fromUnixTimestamp64Nano({end:Int64}, 'UTC')",
)
# Equality filters of the observation lists: filter name -> spans column.
_OBSERVATION_FILTERS = (
    ("trace_id", "trace_id"),
    ("name", "name"),
    ("type", "observation_type"),
    ("level", "level"),
    ("user_id", "user_id"),
    ("session_id", "session_id"),
    ("parent", "parent_span_id"),
    ("version", "version"),
)


def _observation_filters(filters: dict[str, object], where: list[str], params: dict[str, object]) -> None:
    for key, column in _OBSERVATION_FILTERS:
        value = filters.get(key)
        if value is None:
            continue
        if key == "parent":
            # A top-level observation's stored parent is its trace's id: not an observation's
            # (Langfuse's parent is null). An observation whose id is also its trace's is stored
            # as its own span, the parent of its children (storage.observation_ids).
            where.append(
                "((s.parent_span_id = {parent:String} AND s.trace_id != {parent:String})"
                " OR s.parent_span_id = {parent_own:String})"
            )
            params["parent_own"] = f"{value}{OWN_SPAN_SUFFIX}"
        else:
            where.append(f"s.{column} = {{{key}:String}}")
        params[key] = value
    environments = filters.get("environment")
    if isinstance(environments, (list, tuple)) and environments:  # one of these (a repeated parameter)
        where.append("s.environment IN {environment:Array(String)}")
        params["environment"] = [str(e) for e in environments]


# Comparison operators a score value filter may use (the only SQL taken from the caller: checked).
_VALUE_OPERATORS = frozenset(("<", ">", "<=", ">=", "!=", "="))


def _score_conditions(filters: dict[str, object], where: list[str], params: dict[str, object]) -> None:
    """The score list's conditions beyond equal columns: time, environments, ids, the trace's user
    and tags, and the value."""
    if filters.get("none"):
        where.append("0")
    # The column, not the epoch-ns alias of the same name that the list selects.
    for key, condition, param in (
        ("from", "toUnixTimestamp64Nano(scores.timestamp) >= {from_ns:Int64}", "from_ns"),
        ("to", "toUnixTimestamp64Nano(scores.timestamp) < {to_ns:Int64}", "to_ns"),
        ("environments", "environment IN {environments:Array(String)}", "environments"),
        ("ids", "id IN {score_ids:Array(String)}", "score_ids"),
    ):
        if filters.get(key) is not None:
            where.append(condition)
            params[param] = filters[key]
    # The trace's user and tags are the trace's: scores of traces that have them.
    having = []
    for key, condition in (
        ("user_id", "max(user_id) = {user_id:String}"),
        ("trace_tags", "hasAll(groupUniqArrayArray(tags), {trace_tags:Array(String)})"),
    ):
        if filters.get(key) is not None:
            having.append(condition)
            params[key] = filters[key]
    if having:
        where.append(
            "trace_id IN (SELECT trace_id FROM traces WHERE project_id = {project:String} "
            f"GROUP BY trace_id HAVING {' AND '.join(having)})"
        )
    comparisons = cast("list[tuple[str, float]]", filters.get("value") or [])
    for i, (operator, bound) in enumerate(comparisons):
        if operator not in _VALUE_OPERATORS:
            raise ValueError(operator)
        where.append(f"value {operator} {{value_{i}:Float64}}")
        params[f"value_{i}"] = bound


class LangfuseReader:
    """The queries behind ``/api/public/traces``, ``/observations``, ``/sessions``, ``/scores``
    and ``/metrics/daily``; page-numbered as Langfuse's API is."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._logs = LogReader(backend)

    async def traces(
        self,
        project: str,
        start: int,
        end: int,
        filters: dict[str, object],
        page: int,
        limit: int,
        ascending: bool = False,
        io: bool = True,
        order_by: str = "timestamp",
    ) -> tuple[list[Row], int]:
        """A page of trace summaries with their roots' fields, and how many match, in the order of
        ``order_by`` (a key of ``TRACE_ORDERS``: Langfuse's names). ``filters``: ``_TRACE_FILTERS``,
        version, and filter (Langfuse's JSON conditions, storage.langfuse_filter; InvalidInput for
        one it cannot apply). Without ``io`` the roots' input, output and metadata are left out
        (None), and not read."""
        params = _page_params(project, start, end, page, limit)
        having = [WHOLE_HAVING]
        for key, value in filters.items():
            if value is not None and key in _TRACE_FILTERS:
                having.append(_TRACE_FILTERS[key])
                params[key] = value
        if filters.get("filter"):  # Langfuse's JSON conditions, with those of the parameters
            having += trace_conditions(str(filters["filter"]), params)
        # A user's or a session's traces (SDKs' fetch_traces(user_id=...), a session by id): only
        # the traces naming them are grouped, as the traces list does.
        owned = "".join(
            f" AND {traces_naming(key)}" for key in ("user_id", "session_id") if filters.get(key) is not None
        )
        by_version = ""
        if filters.get("version") is not None:
            # A trace's version is its root's (the Langfuse trace row, or the OTel root span).
            by_version = f"AND {_VERSION_FILTER}"
            params["version"] = filters["version"]

        def inner(candidates: bool = False) -> str:
            # Candidates are summarised whole, every day of each: no need for the day bounds.
            where = "t.trace_id IN {candidates:Array(String)}" if candidates else WHOLE_DAYS
            return f"""
SELECT {_SUMMARY}
FROM traces AS t
WHERE t.project_id = {{project:String}} AND {where}{owned} {by_version}
GROUP BY t.trace_id
HAVING {" AND ".join(having)}"""

        order = "ASC" if ascending else "DESC"
        column = TRACE_ORDERS[order_by]

        def page_sql(candidates: bool) -> str:
            return f"{inner(candidates)}\nORDER BY {column} {order}, trace_id {order}\n" + (
                "LIMIT {limit:UInt32} OFFSET {offset:UInt64}"
            )

        if ascending or owned or column != "start_time":  # summarised at once (a user's traces are few)
            rows = await self._backend.query(page_sql(False), params)
        else:  # the newest first, as SDKs and Dify ask: only recent traces are summarised
            offset = (page - 1) * limit
            rows = await newest_first(self._backend, page_sql, params, start, end, offset + limit, limit)
        # The window's count and the page's roots need nothing of each other: read side by side.
        total, _ = await asyncio.gather(
            self._backend.query(f"SELECT count() AS n FROM ({inner()})", params), self.add_roots(project, rows, io)
        )
        return rows, int(total[0]["n"])

    async def trace_summary(self, project: str, trace_id: str) -> Row | None:
        """One trace's summary, every day of it, without its root fields (``add_root_from`` gives
        them from the trace's spans); None if it is unknown."""
        rows = await self._backend.query(
            f"SELECT {_SUMMARY} FROM traces AS t WHERE t.project_id = {{project:String}} "
            "AND t.trace_id = {trace_id:String} GROUP BY t.trace_id",
            {"project": project, "trace_id": trace_id},
        )
        return rows[0] if rows else None

    @staticmethod
    def summary_from(trace_id: str, spans: list[Row]) -> Row | None:
        """The summary ``trace_summary`` reads, made from the trace's ``spans`` as ``Reader.trace``
        returns them (newest versions only), by the summary view's rules (``TRACES_MV``): a read
        of the trace's spans then needs no second query. None if there are no spans."""
        if not spans:
            return None
        root = min(spans, key=lambda s: (s["parent_span_id"] != "", s["start_time"]))
        tags: set[str] = set()
        for s in spans:
            tags.update(s["tags"])
        return {
            "trace_id": trace_id,
            "start_time": min(s["start_time"] for s in spans),
            "end_time": max(s["end_time"] for s in spans),
            "name": root["trace_name"] or root["name"],
            "user_id": max(s["user_id"] for s in spans),
            "session_id": max(s["session_id"] for s in spans),
            "environment": max(s["environment"] for s in spans),
            "release": max(s["release"] for s in spans),
            "tags": sorted(tags),
            "total_cost": sum((s["total_cost"] for s in spans), Decimal(0)),
            "span_count": sum(s["observation_type"] != "TRACE" for s in spans),
        }

    async def add_roots(self, project: str, rows: list[Row], io: bool = True) -> None:
        """Give trace summary ``rows`` their root spans' fields (without ``io``: no input,
        output or metadata, which are then None)."""
        if not rows:
            return
        roots = await self._backend.query(
            _ROOTS_SQL[io],
            {
                "project": project,
                "ids": [r["trace_id"] for r in rows],
                "lo": min(r["start_time"] for r in rows),
                "hi": max(r["end_time"] for r in rows),
                "chars": trace_io.ALL_CHARS,
            },
        )
        by_id = {r["trace_id"]: r for r in roots}
        wanting: list[tuple[Row, Row]] = []
        for row in rows:
            found = by_id.get(row["trace_id"], {})
            for name in _ROOT_FIELDS:
                row[name] = found.get(name, {} if name == "metadata" else "")
            row["observation_ids"] = found.get("observation_ids", [])
            row["client_public"] = bool(found.get("client_public"))
            if not io:
                row["input"] = row["output"] = row["metadata"] = None
                continue
            if found and (not row["input"] or not row["output"]):
                root = {
                    "span_id": row["root_span_id"],
                    "operation": row["root_operation"],
                    "source": row["root_source"],
                }
                wanting.append((row, {**row, **root, "observation_type": row["root_type"]}))
        # A root GenAI span whose messages came as log events (storage.logs).
        await self._logs.fill_messages(project, [root for _, root in wanting])
        for row, root in wanting:
            row["input"], row["output"] = root["input"], root["output"]
        if io:  # the input and output their client set apart for the trace, where it did
            for row in rows:
                if row["trace_id"] in by_id:
                    trace_io.apply(row, trace_io.of_row(by_id[row["trace_id"]]))

    @staticmethod
    def add_root_from(row: Row, spans: list[Row]) -> None:
        """Give a trace's summary ``row`` its root fields from its ``spans`` as ``Reader.trace``
        returns them (latest versions, messages filled): the root ``add_roots`` would read again."""
        root: Row = {}
        if spans:  # the order of _ROOT_KEY (versions are resolved already)
            root = min(
                spans, key=lambda s: (s["parent_span_id"] != "", s["observation_type"] != "TRACE", s["start_time"])
            )
        for name, column in _ROOT_COLUMNS.items():
            row[name] = root.get(column, {} if name == "metadata" else "")
        trace_io.apply(row, trace_io.from_spans(spans))
        row["observation_ids"] = [s["span_id"] for s in spans if s["observation_type"] != "TRACE"]
        row["client_public"] = client_said_public(spans)

    async def scores(
        self,
        project: str,
        trace_ids: Sequence[str] | None = None,
        page: int = 1,
        limit: int = 1000,
        filters: dict[str, object] | None = None,
        with_total: bool = True,
    ) -> tuple[list[Row], int]:
        """Scores newest first, a page of them, and how many match (-1 without ``with_total``).
        ``filters`` may hold Langfuse's JSON conditions (filter, storage.langfuse_filter;
        InvalidInput for one it cannot apply)."""
        where = ["project_id = {project:String}", "is_deleted = 0"]
        params: dict[str, object] = {"project": project, "limit": limit, "offset": (page - 1) * limit}
        if trace_ids is not None:
            where.append("trace_id IN {ids:Array(String)}")
            params["ids"] = list(trace_ids)
        run_ids = (filters or {}).get("run_ids")
        if run_ids is not None:  # run-level scores: kept under the reserved metadata key
            where.append("metadata['$datasetRunId'] IN {runs:Array(String)}")
            params["runs"] = list(run_ids)  # type: ignore[call-overload]
        for key, column in (
            ("name", "name"),
            ("source", "source"),
            ("data_type", "data_type"),
            ("session_id", "session_id"),
            ("observation_id", "observation_id"),
        ):
            value = (filters or {}).get(key)
            if value is not None:
                where.append(f"{column} = {{{key}:String}}")
                params[key] = value
        _score_conditions(filters or {}, where, params)
        if (filters or {}).get("filter"):  # Langfuse's JSON conditions, with those of the parameters
            where += score_conditions(str((filters or {})["filter"]), params)
        sql_where = " AND ".join(where)
        rows = await self._backend.query(
            f"SELECT {_SCORE_COLUMNS} FROM scores FINAL WHERE {sql_where} ORDER BY timestamp DESC, id "
            "LIMIT {limit:UInt32} OFFSET {offset:UInt64}",
            params,
        )
        if not with_total:
            return rows, -1
        total = await self._backend.query(f"SELECT count() AS n FROM scores FINAL WHERE {sql_where}", params)
        return rows, int(total[0]["n"])

    async def observations(
        self, project: str, start: int, end: int, filters: dict[str, object], page: int, limit: int
    ) -> tuple[list[Row], int]:
        """A numbered page of observations newest first, and how many there are: ``filters`` are
        equal columns (``_OBSERVATION_FILTERS``), environments (any of) and filter (Langfuse's JSON
        conditions, storage.langfuse_filter; InvalidInput for one it cannot apply)."""
        where = list(_OBSERVATIONS_IN_WINDOW)
        params = _page_params(project, start, end, page, limit)
        _observation_filters(filters, where, params)
        if filters.get("filter"):  # Langfuse's JSON conditions, with those of the parameters
            where += observation_conditions(str(filters["filter"]), params)
        sql_where = " AND ".join(where)
        order = "s.start_time DESC, s.span_id, s.ingested_at DESC"
        # The page and the count need nothing of each other: read side by side.
        rows, total = await asyncio.gather(
            first_spans(self._backend, project, sql_where, order, params, limit, (page - 1) * limit),
            self._backend.query(
                f"SELECT uniqExact(s.trace_id, s.span_id) AS n FROM spans AS s WHERE {sql_where}", params
            ),
        )
        await self._logs.fill_messages(project, rows)
        return rows, int(total[0]["n"])

    async def observations_after(
        self,
        project: str,
        start: int,
        end: int,
        filters: dict[str, object],
        limit: int,
        after: tuple[int, str] | None,
        light: bool = False,
    ) -> list[Row]:
        """Observations newest first, keyed by (start time, id): the page after ``after`` (a cursor,
        stable while new data arrives). Filters as ``observations``, plus session_id, environments
        (any of), roots (no parent) and filter (Langfuse's JSON conditions, storage.langfuse_filter;
        InvalidInput for one it cannot apply). ``light``: without the heavy columns (``LIGHT_SPAN_COLUMNS``),
        which are not read."""
        where = list(_OBSERVATIONS_IN_WINDOW)
        params: dict[str, object] = {"project": project, "start": start, "end": end, "limit": limit}
        _observation_filters(filters, where, params)
        if filters.get("environments"):
            where.append("s.environment IN {environments:Array(String)}")
            params["environments"] = filters["environments"]
        if filters.get("roots"):
            # A Langfuse observation's parent is its trace when it has no parent observation.
            where.append("(s.parent_span_id = '' OR s.parent_span_id = s.trace_id)")
        if filters.get("filter"):  # Langfuse's JSON conditions, with those of the parameters
            where += observation_conditions(str(filters["filter"]), params)
        if after is not None:
            where.append("(toUnixTimestamp64Nano(s.start_time), s.span_id) < ({after_ns:Int64}, {after_id:String})")
            params["after_ns"], params["after_id"] = after
        order = "s.start_time DESC, s.span_id DESC, s.ingested_at DESC"
        columns = LIGHT_SPAN_COLUMNS if light else SPAN_COLUMNS
        rows = await first_spans(self._backend, project, " AND ".join(where), order, params, limit, 0, columns)
        if not light:
            await self._logs.fill_messages(project, rows)
        return rows

    async def trace_contexts(self, project: str, trace_ids: Sequence[str]) -> dict[str, Row]:
        """The traces ``trace_ids`` name, by id: each one's summary (every day of it: name, user,
        session, tags, release...) and whether its client made it public (``client_public``).
        Unknown ids are left out."""
        if not trace_ids:
            return {}
        params: dict[str, object] = {"project": project, "ids": sorted(set(trace_ids))}
        rows = await self._backend.query(
            f"SELECT {_SUMMARY} FROM traces AS t WHERE t.project_id = {{project:String}} "
            "AND t.trace_id IN {ids:Array(String)} GROUP BY t.trace_id",
            params,
        )
        if not rows:
            return {}
        # Only the spans that say so: half the time of the roots' query, which reads them all.
        params.update(lo=min(r["start_time"] for r in rows), hi=max(r["end_time"] for r in rows))
        public = await self._backend.query(_PUBLIC_TRACES_SQL, params)
        said = {r["trace_id"] for r in public}
        for row in rows:
            row["client_public"] = row["trace_id"] in said
        return {r["trace_id"]: r for r in rows}

    async def sessions(
        self, project: str, start: int, end: int, page: int, limit: int, environments: Sequence[str] = ()
    ) -> tuple[list[Row], int]:
        """Sessions whose traces started in the window (those of ``environments`` only, if any)."""
        params = _page_params(project, start, end, page, limit)
        by_environment = ""
        if environments:
            by_environment = "AND trace_environment IN {environments:Array(String)}"
            params["environments"] = list(environments)
        inner = f"""
SELECT session_id AS id, min(start) AS created_at, any(trace_environment) AS environment
FROM (SELECT trace_id, max(t.session_id) AS session_id, toUnixTimestamp64Nano(min(t.start_time)) AS start,
             max(t.environment) AS trace_environment
      FROM traces AS t WHERE t.project_id = {{project:String}} GROUP BY trace_id)
WHERE session_id != '' AND start >= {{start:Int64}} AND start < {{end:Int64}} {by_environment}
GROUP BY session_id"""
        rows = await self._backend.query(
            inner + "\nORDER BY created_at DESC, id LIMIT {limit:UInt32} OFFSET {offset:UInt64}", params
        )
        total = await self._backend.query(f"SELECT count() AS n FROM ({inner})", params)
        return rows, int(total[0]["n"])

    async def daily(self, project: str, start: int, end: int, filters: dict[str, object]) -> list[Row]:
        """Observations, usage and cost by day and model, and the traces of each (counted on the day
        they started). ``filters``: trace_name, user_id, tags (all of), environment (any of)."""
        where = [
            "project_id = {project:String}",
            "observation_type != 'TRACE'",
            "start_time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC')",
            "start_time < fromUnixTimestamp64Nano({end:Int64}, 'UTC')",
        ]
        params: dict[str, object] = {"project": project, "start": start, "end": end}
        if filters.get("trace_name") is not None:
            where.append(
                "trace_id IN (SELECT trace_id FROM spans WHERE project_id = {project:String} "
                "AND parent_span_id = '' AND (trace_name = {trace_name:String} OR name = {trace_name:String}))"
            )
            params["trace_name"] = filters["trace_name"]
        if filters.get("user_id") is not None:
            where.append(
                "trace_id IN (SELECT trace_id FROM spans WHERE project_id = {project:String} "
                "AND user_id = {user_id:String})"
            )
            params["user_id"] = filters["user_id"]
        if filters.get("tags"):  # the traces that have all of them
            where.append(
                "trace_id IN (SELECT trace_id FROM traces WHERE project_id = {project:String} "
                "GROUP BY trace_id HAVING hasAll(groupUniqArrayArray(tags), {tags:Array(String)}))"
            )
            params["tags"] = list(filters["tags"])  # type: ignore[call-overload]
        if filters.get("environment"):  # any of them
            where.append("environment IN {environment:Array(String)}")
            params["environment"] = list(filters["environment"])  # type: ignore[call-overload]
        sql = f"""
SELECT toString(toDate(start_time)) AS date, toString(model) AS model,
       sum(sign) AS observations,
       sum(sign * input_tokens) AS input_usage, sum(sign * output_tokens) AS output_usage,
       sum(sign * total_tokens) AS total_usage, sum(sign * total_cost) AS total_cost
FROM spans
WHERE {" AND ".join(where)}
GROUP BY date, model
ORDER BY date DESC, model"""
        rows = await self._backend.query(sql, params)
        # Traces count on the day they started, once, whichever days their observations ran on.
        span_where = " AND ".join(w for w in where if "start_time" not in w)
        counts = await self._backend.query(
            f"""
WITH {WHOLE_TRACES}
SELECT toString(toDate(w.trace_start)) AS date, k.model AS model, uniqExact(w.trace_id) AS traces,
       grouping(k.model) AS per_day
FROM whole AS w
INNER JOIN (
    SELECT DISTINCT trace_id, toString(model) AS model FROM spans WHERE {span_where} AND sign = 1 AND {WHOLE_SPANS}
) AS k ON k.trace_id = w.trace_id
GROUP BY GROUPING SETS ((date, model), (date))""",
            params,
        )
        per_day = {c["date"]: c["traces"] for c in counts if c["per_day"]}
        traces = {(c["date"], c["model"]): c["traces"] for c in counts if not c["per_day"]}
        for row in rows:
            row["traces"] = traces.get((row["date"], row["model"]), 0)
            row["day_traces"] = per_day.get(row["date"], 0)
        return rows
