"""Storage for the Langfuse-compatible API: event ids already applied, current versions of
observations and traces (to merge updates into), versioned writes, and scores.

A Langfuse update writes a full new version of the span row together with a cancel row
(sign = -1) for the version it replaces, in one insert (one part, so both or neither): the
summary view and every sum weighted by sign stay exact before ReplacingMergeTree collapses
the versions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa

from storage.api import Backend, Row
from storage.reader import SPAN_COLUMNS
from storage.tables import LANGFUSE_EVENTS, SCORES
from storage.writer import conform

__all__ = ["LangfuseStore"]

_SEEN_SQL = """
SELECT DISTINCT event_id FROM langfuse_events
WHERE project_id = {project:String} AND event_id IN {ids:Array(String)}
"""

# Latest current version of each span id. Raw times come along (ns integers) so the row can
# be re-inserted as a cancel row with identical key columns.
_CURRENT_SQL = f"""
SELECT {SPAN_COLUMNS}, toUnixTimestamp64Micro(s.ingested_at) AS ingested_at_us
FROM spans AS s
WHERE s.project_id = {{project:String}} AND s.span_id IN {{ids:Array(String)}} AND s.sign = 1
ORDER BY s.ingested_at DESC
LIMIT 1 BY s.trace_id, s.span_id
"""

_SCORES_SQL = """
SELECT id, toUnixTimestamp64Nano(timestamp) AS timestamp, trace_id, observation_id, session_id, name, value,
       string_value, data_type, source, comment, metadata, environment
FROM scores FINAL
WHERE project_id = {project:String} AND is_deleted = 0 AND id IN {ids:Array(String)}
"""


class LangfuseStore:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

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

    async def current_spans(self, project_id: str, span_ids: Sequence[str]) -> dict[str, Row]:
        """The current row of each span id (any trace), keyed by span id."""
        if not span_ids:
            return {}
        rows = await self._backend.query(_CURRENT_SQL, {"project": project_id, "ids": list(span_ids)})
        return {r["span_id"]: r for r in rows}

    async def write_versions(self, new_rows: pa.Table, replaced: Sequence[Row]) -> None:
        """Insert new span versions and cancel rows for the versions they replace, atomically."""
        parts = [conform(new_rows)]
        if replaced:
            cancel = [dict(r) for r in replaced]
            for row in cancel:
                row["sign"] = -1
                row["ingested_at"] = row.pop("ingested_at_us")
            names = [f.name for f in parts[0].schema]
            schema = parts[0].schema
            columns = []
            for name in names:
                field = schema.field(name)
                values = [row.get(name) for row in cancel]
                if pa.types.is_map(field.type):
                    values = [list(v.items()) if isinstance(v, dict) else (v or []) for v in values]
                if pa.types.is_timestamp(field.type):
                    columns.append(pa.array(values, pa.int64()).cast(field.type))
                elif pa.types.is_list(field.type) and pa.types.is_timestamp(field.type.value_type):
                    columns.append(pa.array(values, pa.list_(pa.int64())).cast(field.type))
                else:
                    columns.append(pa.array(values, field.type))
            parts.insert(0, pa.Table.from_arrays(columns, schema=schema))
        await self._backend.insert("spans", pa.concat_tables(parts))

    async def current_scores(self, project_id: str, ids: Sequence[str]) -> dict[str, Row]:
        if not ids:
            return {}
        rows = await self._backend.query(_SCORES_SQL, {"project": project_id, "ids": list(ids)})
        return {r["id"]: r for r in rows}

    async def write_scores(self, rows: list[dict[str, object]]) -> None:
        if rows:
            await self._backend.insert(SCORES.name, pa.Table.from_pylist(rows, schema=SCORES.arrow_schema()))
