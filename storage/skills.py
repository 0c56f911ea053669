"""Skill versions in ClickHouse: rows, files' contents, version claims, and the spans that reported
a skill as available.

The rules (SKILL.md's header, paths, limits, labels) live in ``prompts.skills``; this module only
stores and reads. A version is one row per (project, name, version) in a ReplacingMergeTree, as a
prompt's is: moving a label or changing tags writes new versions of the rows concerned. A file's
text is stored once per project under its SHA-256, whatever the versions and skills that hold it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from storage.api import Backend, Row
from storage.projects import Versions
from storage.prompts import claim_number, last_claimed
from storage.tables import SKILL_CLAIMS, SKILL_FILES, SKILLS
from storage.timestamps import as_utc

__all__ = ["SKILLS_AVAILABLE", "SkillStore", "SkillVersion"]

# The span attribute the Langfuse SDKs (5.2 and later) set: a JSON list of {name, version}.
SKILLS_AVAILABLE = "langfuse.observation.skills_available"


@dataclass(frozen=True)
class SkillVersion:
    """One stored version of a skill. ``frontmatter`` and ``files`` (the manifest) are JSON texts."""

    project_id: str
    name: str
    version: int
    id: str
    description: str
    frontmatter: str
    files: str
    labels: tuple[str, ...]
    tags: tuple[str, ...]
    commit_message: str
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


_COLUMNS = (
    "project_id, name, version, id, description, frontmatter, files, labels, tags, commit_message, created_by, "
    "created_at, updated_at"
)


def _version(r: Row) -> SkillVersion:
    return SkillVersion(
        project_id=r["project_id"],
        name=r["name"],
        version=int(r["version"]),
        id=r["id"],
        description=r["description"],
        frontmatter=r["frontmatter"],
        files=r["files"],
        labels=tuple(r["labels"]),
        tags=tuple(r["tags"]),
        commit_message=r["commit_message"],
        created_by=r["created_by"],
        created_at=as_utc(r["created_at"]),
        updated_at=as_utc(r["updated_at"]),
    )


# The spans that reported one skill as available (any version; its legacy field names too), each
# once (its newest row), with the version it named ('': none).
_REPORTS = f"""
SELECT * FROM (
    SELECT trace_id, span_id, name, observation_type, model, start_time, duration_ns, input_tokens, output_tokens,
        total_tokens, total_cost,
        arrayFirst(
            x -> JSONExtractString(x, 'name') = {{name:String}} OR JSONExtractString(x, 'skillName') = {{name:String}},
            JSONExtractArrayRaw(span_attributes['{SKILLS_AVAILABLE}'])) AS entry,
        if(entry = '', '', ifNull(toString(coalesce(JSONExtract(entry, 'version', 'Nullable(Int64)'),
            JSONExtract(entry, 'skillVersion', 'Nullable(Int64)'))), '')) AS reported_version
    FROM spans
    WHERE project_id = {{project:String}} AND mapContains(span_attributes, '{SKILLS_AVAILABLE}')
      AND start_time >= fromUnixTimestamp64Nano({{since:Int64}}, 'UTC') AND sign = 1
    ORDER BY ingested_at DESC
    LIMIT 1 BY trace_id, span_id
)
WHERE entry != ''
"""

_REPORTED_SQL = f"""
SELECT trace_id, span_id, name, observation_type, model, toUnixTimestamp64Nano(start_time) AS start_ns,
       duration_ns, total_tokens, total_cost, reported_version
FROM ({_REPORTS})
ORDER BY start_ns DESC
LIMIT {{limit:UInt32}}
"""

# Per version named: the reporting observations' counts, latency, tokens and cost.
_USAGE_SQL = f"""
SELECT reported_version AS used_version, count() AS observations, uniqExact(trace_id) AS traces,
    arrayMap(x -> x / 1e6, quantiles(0.5, 0.95)(duration_ns)) AS latency_ms,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(total_tokens) AS total_tokens,
    sum(total_cost) AS total_cost, toUnixTimestamp64Nano(max(start_time)) AS last_used
FROM ({_REPORTS})
GROUP BY used_version
ORDER BY used_version
"""

# The mean of each numeric or boolean score on a reporting observation, or on its trace when the
# score names no observation. (Aliases differ from column names: chDB resolves a column name to a
# same-named alias.)
_SCORES_SQL = f"""
WITH linked AS (SELECT reported_version AS used_version, trace_id AS l_trace, span_id AS l_span FROM ({_REPORTS}))
SELECT l.used_version AS used_version, s.s_name AS score_name, count() AS n, avg(s.s_value) AS mean
FROM (
    SELECT id, argMax(trace_id, ingested_at) AS s_trace, argMax(observation_id, ingested_at) AS s_observation,
           argMax(name, ingested_at) AS s_name, argMax(value, ingested_at) AS s_value,
           argMax(data_type, ingested_at) AS s_type, argMax(is_deleted, ingested_at) AS s_deleted
    FROM scores
    WHERE project_id = {{project:String}} AND trace_id IN (SELECT l_trace FROM linked)
    GROUP BY id
) AS s
INNER JOIN linked AS l ON s.s_trace = l.l_trace AND (s.s_observation = l.l_span OR s.s_observation = '')
WHERE s.s_deleted = 0 AND s.s_type IN ('NUMERIC', 'BOOLEAN')
GROUP BY used_version, score_name
ORDER BY used_version, score_name
"""


class SkillStore:
    """Skill rows and files of every project."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._versions = Versions()

    async def versions(self, project_id: str, name: str | None = None) -> list[SkillVersion]:
        """Every current version of one skill (``name``), or of every skill of the project; sorted
        by name, then version."""
        where = ["project_id = {project:String}", "is_deleted = 0"]
        params: dict[str, Any] = {"project": project_id}
        if name is not None:
            where.append("name = {name:String}")
            params["name"] = name
        rows = await self._backend.query(
            f"SELECT {_COLUMNS} FROM skills FINAL WHERE {' AND '.join(where)} ORDER BY name, version", params
        )
        return [_version(r) for r in rows]

    async def claim(self, project_id: str, name: str, version: int) -> bool:
        """Claim a version number of a skill; True if this claim is the first one."""
        return await claim_number(self._backend, SKILL_CLAIMS.name, project_id, name, version)

    async def last_claimed(self, project_id: str, name: str) -> int:
        """The highest version number ever claimed for a skill (0: none)."""
        return await last_claimed(self._backend, SKILL_CLAIMS.name, project_id, name)

    async def write(self, rows: Sequence[SkillVersion], deleted: bool = False) -> list[SkillVersion]:
        """Write versions of skill rows (new versions, moved labels, new tags, or deletions) in one
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
                    "description": r.description,
                    "frontmatter": r.frontmatter,
                    "files": r.files,
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
            schema=SKILLS.arrow_schema(),
        )
        await self._backend.insert(SKILLS.name, table)
        return written

    async def put_contents(self, project_id: str, contents: Mapping[str, str]) -> None:
        """Store files' texts by their hash (stored already: the same text, written again)."""
        if not contents:
            return
        now = dt.datetime.now(dt.UTC)
        stamp = self._versions.next()
        table = pa.Table.from_pylist(
            [
                {
                    "project_id": project_id,
                    "sha256_hash": digest,
                    "content": text,
                    "created_at": now,
                    "updated_at": stamp,
                    "is_deleted": 0,
                }
                for digest, text in contents.items()
            ],
            schema=SKILL_FILES.arrow_schema(),
        )
        await self._backend.insert(SKILL_FILES.name, table)

    async def contents(self, project_id: str, hashes: Sequence[str]) -> dict[str, str]:
        """The texts of the project's files with these hashes (hash -> text; unknown ones left out)."""
        if not hashes:
            return {}
        rows = await self._backend.query(
            "SELECT sha256_hash, argMax(content, updated_at) AS content FROM skill_files "
            "WHERE project_id = {project:String} AND sha256_hash IN {hashes:Array(String)} GROUP BY sha256_hash",
            {"project": project_id, "hashes": list(dict.fromkeys(hashes))},
        )
        return {r["sha256_hash"]: r["content"] for r in rows}

    async def usage(self, project_id: str, name: str, since_ns: int) -> tuple[list[Row], list[Row]]:
        """Per version the spans that reported skill ``name`` named ('': none), since ``since_ns``:
        their counts, latency p50/p95 (ms), tokens and cost; and the mean of each numeric or
        boolean score on them."""
        params = {"project": project_id, "name": name, "since": since_ns}
        usage, scores = await asyncio.gather(
            self._backend.query(_USAGE_SQL, params), self._backend.query(_SCORES_SQL, params)
        )
        return usage, scores

    async def reported(self, project_id: str, name: str, since_ns: int, limit: int) -> list[Row]:
        """The newest spans that reported skill ``name`` as available, with the version each named
        ('': none)."""
        params = {"project": project_id, "name": name, "since": since_ns, "limit": limit}
        return await self._backend.query(_REPORTED_SQL, params)
