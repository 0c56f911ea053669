"""Prompt versions in ClickHouse: rows, version claims, and what the linked spans say of each version.

The rules (names, labels, composition) live in the ``prompts`` package; this module only stores
and reads. A prompt version is one row per (project, name, version) in a ReplacingMergeTree;
moving a label or changing tags writes new versions of the rows concerned, read back with FINAL.

A new version number is claimed first (``claim``): every create inserts its claim and then reads
the claims of that number back; the earliest by the server's clock wins. Two creates racing in
one process or in two processes therefore never both write one version: the loser is told so and
retries with the next number.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from storage.api import Backend, Row
from storage.projects import Versions
from storage.tables import PROMPT_CLAIMS, PROMPTS
from storage.timestamps import as_utc

__all__ = ["PromptStore", "PromptVersion", "claim_number", "last_claimed"]


@dataclass(frozen=True)
class PromptVersion:
    """One stored version of a prompt. ``prompt`` and ``config`` are JSON texts."""

    project_id: str
    name: str
    version: int
    id: str
    type: str
    prompt: str
    config: str
    labels: tuple[str, ...]
    tags: tuple[str, ...]
    commit_message: str
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


_COLUMNS = (
    "project_id, name, version, id, type, prompt, config, labels, tags, commit_message, created_by, "
    "created_at, updated_at"
)


def _version(r: Row) -> PromptVersion:
    return PromptVersion(
        project_id=r["project_id"],
        name=r["name"],
        version=int(r["version"]),
        id=r["id"],
        type=r["type"],
        prompt=r["prompt"],
        config=r["config"],
        labels=tuple(r["labels"]),
        tags=tuple(r["tags"]),
        commit_message=r["commit_message"],
        created_by=r["created_by"],
        created_at=as_utc(r["created_at"]),
        updated_at=as_utc(r["updated_at"]),
    )


# Usage of each version by the spans linked to it (any observation type), and their scores.
_USAGE_SQL = """
SELECT
    prompt_version AS used_version,
    sum(sign) AS observations,
    uniqExactIf(trace_id, sign = 1) AS traces,
    arrayMap(x -> x / 1e6, quantilesIf(0.5, 0.95)(duration_ns, sign = 1)) AS latency_ms,
    sum(sign * input_tokens) AS input_tokens,
    sum(sign * output_tokens) AS output_tokens,
    sum(sign * total_tokens) AS total_tokens,
    sum(sign * total_cost) AS total_cost,
    toUnixTimestamp64Nano(max(start_time)) AS last_used
FROM spans
WHERE project_id = {project:String} AND prompt_name = {name:String}
  AND start_time >= fromUnixTimestamp64Nano({since:Int64}, 'UTC') AND observation_type != 'TRACE'
GROUP BY used_version
"""

# Scores on a linked observation, or on its trace when the score names no observation. (Aliases
# differ from column names on purpose: chDB resolves a column name to a same-named alias.)
_SCORES_SQL = """
WITH linked AS (
    SELECT prompt_version AS used_version, trace_id AS l_trace, span_id AS l_span
    FROM spans
    WHERE project_id = {project:String} AND prompt_name = {name:String}
      AND start_time >= fromUnixTimestamp64Nano({since:Int64}, 'UTC') AND sign = 1
      AND observation_type != 'TRACE'
)
SELECT l.used_version AS used_version, s.s_name AS score_name, count() AS n, avg(s.s_value) AS mean
FROM (
    SELECT id, argMax(trace_id, ingested_at) AS s_trace, argMax(observation_id, ingested_at) AS s_observation,
           argMax(name, ingested_at) AS s_name, argMax(value, ingested_at) AS s_value,
           argMax(data_type, ingested_at) AS s_type, argMax(is_deleted, ingested_at) AS s_deleted
    FROM scores
    WHERE project_id = {project:String}
      AND trace_id IN (SELECT l_trace FROM linked)
    GROUP BY id
) AS s
INNER JOIN linked AS l
    ON s.s_trace = l.l_trace AND (s.s_observation = l.l_span OR s.s_observation = '')
WHERE s.s_deleted = 0 AND s.s_type IN ('NUMERIC', 'BOOLEAN')
GROUP BY used_version, score_name
ORDER BY used_version, score_name
"""

_LINKED_SQL = """
SELECT trace_id, span_id, name, observation_type, model, toUnixTimestamp64Nano(start_time) AS start_ns,
       duration_ns, total_tokens, total_cost, status_code, level
FROM spans
WHERE project_id = {project:String} AND prompt_name = {name:String} AND prompt_version = {version:String}
  AND start_time >= fromUnixTimestamp64Nano({since:Int64}, 'UTC') AND sign = 1 AND observation_type != 'TRACE'
ORDER BY start_ns DESC
LIMIT 1 BY span_id
LIMIT {limit:UInt32}
"""


async def claim_number(backend: Backend, table: str, project_id: str, name: str, version: int) -> bool:
    """Claim a version number of a named, versioned thing (a prompt, a skill) in its claims table;
    True if this claim is the first one (by the server's clock, then the claim's id)."""
    claim_id = uuid.uuid4().hex
    claim = pa.table(
        {
            "project_id": [project_id],
            "name": [name],
            "version": pa.array([version], pa.uint32()),
            "claim_id": [claim_id],
        }
    )
    await backend.insert(table, claim)
    rows = await backend.query(
        f"SELECT claim_id FROM {table} WHERE project_id = {{project:String}} AND name = {{name:String}} "
        "AND version = {version:UInt32} ORDER BY claimed_at, claim_id LIMIT 1",
        {"project": project_id, "name": name, "version": version},
    )
    return bool(rows) and rows[0]["claim_id"] == claim_id


async def last_claimed(backend: Backend, table: str, project_id: str, name: str) -> int:
    """The highest version number ever claimed for a name (0: none): the next create takes a
    number above it, so that a deleted newest version's number is never claimed again."""
    rows = await backend.query(
        f"SELECT max(version) AS v FROM {table} WHERE project_id = {{project:String}} AND name = {{name:String}}",
        {"project": project_id, "name": name},
    )
    return int(rows[0]["v"]) if rows and rows[0]["v"] is not None else 0


class PromptStore:
    """Prompt rows of every project."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._versions = Versions()

    async def versions(self, project_id: str, name: str | None = None) -> list[PromptVersion]:
        """Every current version of one prompt (``name``), or of every prompt of the project;
        sorted by name, then version."""
        where = ["project_id = {project:String}", "is_deleted = 0"]
        params: dict[str, Any] = {"project": project_id}
        if name is not None:
            where.append("name = {name:String}")
            params["name"] = name
        rows = await self._backend.query(
            f"SELECT {_COLUMNS} FROM prompts FINAL WHERE {' AND '.join(where)} ORDER BY name, version", params
        )
        return [_version(r) for r in rows]

    async def last_change(self, project_id: str) -> dt.datetime | None:
        """When any prompt of the project last changed (a write or a delete), or None."""
        rows = await self._backend.query(
            "SELECT max(updated_at) AS t, count() AS n FROM prompts WHERE project_id = {project:String}",
            {"project": project_id},
        )
        return as_utc(rows[0]["t"]) if rows and rows[0]["n"] else None

    async def claim(self, project_id: str, name: str, version: int) -> bool:
        """Claim a version number of a prompt; True if this claim is the first one."""
        return await claim_number(self._backend, PROMPT_CLAIMS.name, project_id, name, version)

    async def last_claimed(self, project_id: str, name: str) -> int:
        """The highest version number ever claimed for a prompt (0: none)."""
        return await last_claimed(self._backend, PROMPT_CLAIMS.name, project_id, name)

    async def write(self, rows: Sequence[PromptVersion], deleted: bool = False) -> list[PromptVersion]:
        """Write versions of prompt rows (new versions, moved labels, new tags, or deletions) in one
        insert; returns them with their new ``updated_at``."""
        if not rows:
            return []
        stamp = self._versions.next()
        written = [replace(r, updated_at=stamp) for r in rows]
        table = pa.Table.from_pylist(
            [
                {
                    "project_id": r.project_id,
                    "name": r.name,
                    "version": r.version,
                    "id": r.id,
                    "type": r.type,
                    "prompt": r.prompt,
                    "config": r.config,
                    "labels": list(r.labels),
                    "tags": list(r.tags),
                    "commit_message": r.commit_message,
                    "created_by": r.created_by,
                    "created_at": r.created_at,
                    "updated_at": stamp,
                    "is_deleted": 1 if deleted else 0,
                }
                for r in written
            ],
            schema=PROMPTS.arrow_schema(),
        )
        await self._backend.insert(PROMPTS.name, table)
        return written

    async def usage(self, project_id: str, name: str, since_ns: int) -> tuple[list[Row], list[Row]]:
        """Per version of a prompt, since ``since_ns``: the linked observations' counts, latency
        p50/p95 (ms), tokens and cost; and the mean of each numeric or boolean score on them."""
        params = {"project": project_id, "name": name, "since": since_ns}
        usage = await self._backend.query(_USAGE_SQL, params)
        scores = await self._backend.query(_SCORES_SQL, params)
        return usage, scores

    async def linked(self, project_id: str, name: str, version: int, since_ns: int, limit: int) -> list[Row]:
        """The newest observations that used one version of a prompt."""
        params = {"project": project_id, "name": name, "version": str(version), "since": since_ns, "limit": limit}
        return await self._backend.query(_LINKED_SQL, params)
