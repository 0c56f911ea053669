"""Score configs and annotation queues in ClickHouse: small versioned tables read with FINAL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from storage.api import Backend, Row
from storage.projects import Versions
from storage.tables import ANNOTATION_ITEMS, ANNOTATION_QUEUES, SCORE_CONFIGS
from storage.timestamps import as_utc

__all__ = ["AnnotationStore", "ScoreConfig"]

# Names by id, for a queue's item list: a trace's (its summary), an observation's (newest version).
_TRACE_NAMES = """SELECT trace_id AS id, argMinMerge(name) AS name FROM traces
WHERE project_id = {project:String} AND trace_id IN {ids:Array(String)} GROUP BY trace_id"""
_OBSERVATION_NAMES = """SELECT span_id AS id, argMax(name, ingested_at) AS name FROM spans
WHERE project_id = {project:String} AND span_id IN {ids:Array(String)} AND sign = 1 GROUP BY span_id"""


@dataclass(frozen=True)
class ScoreConfig:
    project_id: str
    id: str
    name: str
    data_type: str
    min_value: float | None
    max_value: float | None
    categories: str  # JSON
    description: str
    is_archived: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    def problem(self, value: Any, data_type: str | None) -> str | None:
        """Why a score's value (and data type, if given) does not fit this config, or None."""
        if self.is_archived:
            return f"score config {self.name!r} is archived"
        if data_type and data_type.upper() != self.data_type:
            return f"score config {self.name!r} is {self.data_type}, the score is {data_type.upper()}"
        if self.data_type == "NUMERIC":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return f"score config {self.name!r} takes a number"
            if self.min_value is not None and value < self.min_value:
                return f"{value} is below {self.name!r}'s minimum {self.min_value:g}"
            if self.max_value is not None and value > self.max_value:
                return f"{value} is above {self.name!r}'s maximum {self.max_value:g}"
            return None
        if self.data_type == "BOOLEAN":
            return None if value in (0, 1, True, False) else f"score config {self.name!r} takes 0 or 1"
        categories = orjson.loads(self.categories or "[]")
        if value not in [c["label"] for c in categories] and value not in [c["value"] for c in categories]:
            labels = ", ".join(str(c["label"]) for c in categories)
            return f"{value!r} is not a category of {self.name!r}: {labels}"
        return None


_ITEMS = (
    "SELECT id, queue_id, object_id, object_type, trace_id, status, completed_by, completed_at, created_at, updated_at "
    "FROM annotation_items FINAL WHERE project_id = {project:String} AND queue_id = {queue:String} AND is_deleted = 0"
)


class AnnotationStore:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._versions = Versions()

    async def _put(self, table: Any, row: dict[str, Any], deleted: bool = False) -> dt.datetime:
        stamp = self._versions.next()
        row = {**row, "updated_at": stamp, "is_deleted": int(deleted)}
        row.setdefault("created_at", stamp)
        await self._backend.insert(table.name, pa.Table.from_pylist([row], schema=table.arrow_schema()))
        return stamp

    async def configs(self, project_id: str) -> list[ScoreConfig]:
        rows = await self._backend.query(
            "SELECT project_id, id, name, data_type, min_value, max_value, categories, description, is_archived, "
            "created_at, updated_at FROM score_configs FINAL WHERE project_id = {project:String} AND is_deleted = 0 "
            "ORDER BY created_at",
            {"project": project_id},
        )
        return [
            ScoreConfig(**{**r, "is_archived": bool(r["is_archived"]), "created_at": as_utc(r["created_at"]),
                           "updated_at": as_utc(r["updated_at"])})
            for r in rows
        ]  # fmt: skip

    async def put_config(self, c: ScoreConfig) -> None:
        await self._put(SCORE_CONFIGS, {**c.__dict__, "is_archived": int(c.is_archived)})

    async def queues(self, project_id: str) -> list[Row]:
        return await self._backend.query(
            "SELECT id, name, description, score_config_ids, assignees, created_at, updated_at "
            "FROM annotation_queues FINAL "
            "WHERE project_id = {project:String} AND is_deleted = 0 ORDER BY created_at",
            {"project": project_id},
        )

    async def put_queue(self, project_id: str, row: dict[str, Any], deleted: bool = False) -> None:
        await self._put(ANNOTATION_QUEUES, {"project_id": project_id, **row}, deleted)

    async def items(
        self, project_id: str, queue_id: str, item_id: str | None = None, object_id: str | None = None
    ) -> list[Row]:
        """A queue's items in the order they were added; or only the one with ``item_id`` (a point
        read of the table's key) or the one holding ``object_id``: working through a queue of
        thousands reads one item per step, not all of them."""
        sql, params = _ITEMS, {"project": project_id, "queue": queue_id}
        if item_id is not None:
            sql, params["item"] = sql + " AND id = {item:String}", item_id
        if object_id is not None:
            sql, params["object"] = sql + " AND object_id = {object:String}", object_id
        return await self._backend.query(sql + " ORDER BY created_at, id", params)

    async def item_counts(self, project_id: str) -> dict[str, tuple[int, int]]:
        """Each queue's items and how many of them are completed, by queue id, in one read (a
        queue without items is left out)."""
        rows = await self._backend.query(
            "SELECT queue_id, count() AS items, countIf(status = 'COMPLETED') AS completed "
            "FROM annotation_items FINAL WHERE project_id = {project:String} AND is_deleted = 0 GROUP BY queue_id",
            {"project": project_id},
        )
        return {r["queue_id"]: (int(r["items"]), int(r["completed"])) for r in rows}

    async def put_item(self, project_id: str, row: dict[str, Any], deleted: bool = False) -> None:
        await self._put(ANNOTATION_ITEMS, {"project_id": project_id, **row}, deleted)

    async def object_names(self, project_id: str, trace_ids: list[str], observation_ids: list[str]) -> dict[str, str]:
        """The names of traces and observations by id (those not stored left out): a queue's item
        list names its objects."""
        names: dict[str, str] = {}
        for sql, ids in ((_TRACE_NAMES, trace_ids), (_OBSERVATION_NAMES, observation_ids)):
            if ids:
                rows = await self._backend.query(sql, {"project": project_id, "ids": ids})
                names.update((r["id"], r["name"]) for r in rows)
        return {k: v for k, v in names.items() if v}

    async def trace_of(self, project_id: str, observation_id: str) -> str | None:
        rows = await self._backend.query(
            "SELECT trace_id FROM spans WHERE project_id = {project:String} AND span_id = {span:String} LIMIT 1",
            {"project": project_id, "span": observation_id},
        )
        return str(rows[0]["trace_id"]) if rows else None
