"""Evaluator templates, rules and the durable job table of LLM-as-a-judge, in ClickHouse.

A job's id derives from (rule, object), so discovering an object twice (two workers, a restart)
writes the same job; its current state is its newest version. The worker reads jobs due now,
claims one by writing a ``running`` version, and writes ``done`` or ``error`` (or ``pending``
with the time of the next attempt) when the call ends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from storage import trace_io
from storage.api import Backend, Row
from storage.projects import Versions
from storage.tables import EVAL_JOBS, EVAL_RULES, EVAL_TEMPLATE_VERSIONS, EVAL_TEMPLATES
from storage.timestamps import as_utc

__all__ = [
    "ALL_JOBS",
    "JOB_STATES",
    "EvalJob",
    "EvalRule",
    "EvalStore",
    "EvalTemplate",
    "EvalTemplateVersion",
    "JobShard",
    "job_id",
]

# A job's states, in the order it passes through them (error: failed after its retries).
JOB_STATES = ("pending", "running", "done", "error")


@dataclass(frozen=True)
class EvalTemplate:
    project_id: str
    id: str
    name: str
    prompt: str
    output: str  # JSON
    provider: str
    model: str
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class EvalTemplateVersion:
    project_id: str
    template_id: str
    version: int
    description: str
    prompt: str
    messages: str  # JSON [{role, content}], or "" when the prompt is one user message
    output: str  # JSON
    provider: str
    model: str
    variable_mapping: str  # JSON {variable: {field, path}}, or "" (variables by name)
    created_by: str
    created_at: dt.datetime


@dataclass(frozen=True)
class EvalRule:
    project_id: str
    id: str
    name: str
    template_id: str
    target: str
    filter: str  # JSON
    sampling: float
    delay_s: int
    mapping: str  # JSON
    since_ns: int
    enabled: bool
    provider: str
    model: str
    status_message: str
    created_at: dt.datetime
    trace_project: str = ""


@dataclass(frozen=True)
class EvalJob:
    project_id: str
    rule_id: str
    id: str
    trace_id: str
    observation_id: str
    status: str
    attempts: int
    last_error: str
    score_id: str
    score_value: float
    next_attempt_ns: int
    input_tokens: int
    output_tokens: int
    latency_ms: int
    created_at: dt.datetime


@dataclass(frozen=True)
class JobShard:
    """The part of the jobs one worker process owns: those whose id's CRC-32 (zlib's, which is
    ClickHouse's ``CRC32``) is ``index`` modulo ``count``. Several workers, each with its own
    index, never run or reset the same job."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count}: the index must be in [0, {self.count})")

    def owns(self, job: str) -> bool:
        """Whether the job with this id is this shard's."""
        return zlib.crc32(job.encode()) % self.count == self.index

    def condition(self, params: dict[str, Any]) -> str:
        """A SQL condition on ``id`` for this shard's jobs (its parameters added to ``params``)."""
        if self.count == 1:
            return "1"
        params["shard_index"], params["shard_count"] = self.index, self.count
        return "CRC32(id) % {shard_count:UInt32} = {shard_index:UInt32}"


# One worker that owns every job (the default).
ALL_JOBS = JobShard()


def job_id(rule_id: str, trace_id: str, observation_id: str) -> str:
    """The one job of a rule for an object."""
    return hashlib.sha256(f"{rule_id}\x00{trace_id}\x00{observation_id}".encode()).hexdigest()[:32]


_JOB_COLUMNS = [c.name for c in EVAL_JOBS.columns if c.name not in ("updated_at",)]
_J = ", ".join(f"argMax({c}, updated_at) AS j_{c}" for c in _JOB_COLUMNS if c not in ("project_id", "rule_id", "id"))
_J_NEWEST = ", ".join(f"{c} AS j_{c}" for c in _JOB_COLUMNS if c not in ("project_id", "rule_id", "id"))


def _job(r: Row) -> EvalJob:
    return EvalJob(
        r["project_id"], r["rule_id"], r["id"], r["j_trace_id"], r["j_observation_id"], r["j_status"],
        int(r["j_attempts"]), r["j_last_error"], r["j_score_id"], float(r["j_score_value"]),
        int(r["j_next_attempt_ns"]), int(r["j_input_tokens"]), int(r["j_output_tokens"]), int(r["j_latency_ms"]),
        as_utc(r["j_created_at"]),
    )  # fmt: skip


class EvalStore:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._versions = Versions()

    async def _put(self, table: Any, rows: list[dict[str, Any]]) -> dt.datetime:
        stamp = self._versions.next()
        for row in rows:
            row.setdefault("is_deleted", 0)
            row["updated_at"] = stamp
        await self._backend.insert(table.name, pa.Table.from_pylist(rows, schema=table.arrow_schema()))
        return stamp

    # -- templates and rules ------------------------------------------------------------------

    async def templates(self, project_id: str) -> list[EvalTemplate]:
        rows = await self._backend.query(
            "SELECT project_id, id, name, prompt, output, provider, model, created_at FROM eval_templates FINAL "
            "WHERE project_id = {project:String} AND is_deleted = 0 ORDER BY name",
            {"project": project_id},
        )
        return [EvalTemplate(**{**r, "created_at": as_utc(r["created_at"])}) for r in rows]

    async def put_template(self, t: EvalTemplate, deleted: bool = False) -> None:
        created = t.created_at or dt.datetime.now(dt.UTC)
        await self._put(EVAL_TEMPLATES, [{**t.__dict__, "created_at": created, "is_deleted": int(deleted)}])

    async def template_versions(self, project_id: str, template_id: str | None = None) -> list[EvalTemplateVersion]:
        """Every version of a project's templates (or of one), newest first within a template."""
        where = "AND template_id = {template:String}" if template_id is not None else ""
        rows = await self._backend.query(
            "SELECT project_id, template_id, version, description, prompt, messages, output, provider, model, "
            "variable_mapping, created_by, created_at FROM eval_template_versions FINAL "
            f"WHERE project_id = {{project:String}} AND is_deleted = 0 {where} ORDER BY template_id, version DESC",
            {"project": project_id, "template": template_id or ""},
        )
        return [EvalTemplateVersion(**{**r, "version": int(r["version"]), "created_at": as_utc(r["created_at"])})
                for r in rows]  # fmt: skip

    async def put_template_version(self, v: EvalTemplateVersion) -> None:
        await self._put(EVAL_TEMPLATE_VERSIONS, [dict(v.__dict__)])

    async def rules(self, project_id: str | None = None) -> list[EvalRule]:
        """Rules of a project, or of every project (the worker)."""
        where = ["is_deleted = 0"] + (["project_id = {project:String}"] if project_id is not None else [])
        rows = await self._backend.query(
            "SELECT project_id, id, name, template_id, target, filter, sampling, delay_s, mapping, since_ns, enabled, "
            "provider, model, status_message, created_at, trace_project "
            f"FROM eval_rules FINAL WHERE {' AND '.join(where)} ORDER BY name",
            {"project": project_id or ""},
        )
        fixed = [
            {"enabled": bool(r["enabled"]), "sampling": float(r["sampling"]), "created_at": as_utc(r["created_at"])}
            for r in rows
        ]
        return [EvalRule(**{**r, **f}) for r, f in zip(rows, fixed, strict=True)]

    async def put_rule(self, rule: EvalRule, deleted: bool = False) -> None:
        row = {**rule.__dict__, "enabled": int(rule.enabled), "is_deleted": int(deleted)}
        await self._put(EVAL_RULES, [row])

    # -- jobs -------------------------------------------------------------------------------------

    async def known_jobs(self, project_id: str, rule_id: str, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        rows = await self._backend.query(
            "SELECT DISTINCT id FROM eval_jobs WHERE project_id = {project:String} AND rule_id = {rule:String} "
            "AND id IN {ids:Array(String)}",
            {"project": project_id, "rule": rule_id, "ids": list(ids)},
        )
        return {r["id"] for r in rows}

    async def put_jobs(self, jobs: Sequence[EvalJob]) -> None:
        if jobs:
            await self._put(EVAL_JOBS, [dict(j.__dict__) for j in jobs])

    async def jobs(
        self,
        project_id: str,
        rule_id: str | None = None,
        statuses: Sequence[str] | None = None,
        limit: int = 500,
        before: tuple[int, str] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[EvalJob]:
        """Current jobs, newest first (by creation, then id); ``before`` a page's last
        (creation in ms, id) to read the page after it; ``ids`` only those jobs."""
        where = ["project_id = {project:String}"]
        params: dict[str, Any] = {"project": project_id, "limit": limit}
        if rule_id is not None:
            where.append("rule_id = {rule:String}")
            params["rule"] = rule_id
        if ids is not None:
            where.append("id IN {ids:Array(String)}")
            params["ids"] = list(ids)
        having = []
        if statuses is not None:
            having.append("j_status IN {statuses:Array(String)}")
            params["statuses"] = list(statuses)
        if before is not None:
            having.append("(toUnixTimestamp64Milli(j_created_at), id) < ({before_ms:Int64}, {before_id:String})")
            params["before_ms"], params["before_id"] = before
        rows = await self._backend.query(
            f"SELECT project_id, rule_id, id, {_J} FROM eval_jobs WHERE {' AND '.join(where)} "
            f"GROUP BY project_id, rule_id, id {'HAVING ' + ' AND '.join(having) if having else ''} "
            "ORDER BY j_created_at DESC, id DESC LIMIT {limit:UInt32}",
            params,
        )
        return [_job(r) for r in rows]

    async def due_jobs(self, now_ns: int, limit: int, shard: JobShard = ALL_JOBS) -> list[EvalJob]:
        """Pending jobs of every project whose next attempt is due, oldest first (``shard``'s only)."""
        # The worker asks each second, over every job ever made: FINAL (the newest version of each
        # job, by the table's key) costs a quarter of grouping them with argMax (measured at 300k
        # jobs, docs/benchmarks.md). The filter must see only newest versions: never before FINAL.
        params: dict[str, Any] = {"now": now_ns, "limit": limit}
        rows = await self._backend.query(
            f"SELECT project_id, rule_id, id, {_J_NEWEST} FROM eval_jobs FINAL "
            f"WHERE status = 'pending' AND next_attempt_ns <= {{now:Int64}} AND {shard.condition(params)} "
            "ORDER BY created_at LIMIT {limit:UInt32} SETTINGS optimize_move_to_prewhere_if_final = 0",
            params,
        )
        return [_job(r) for r in rows]

    async def counts(self, project_id: str) -> dict[str, dict[str, int]]:
        """Per rule: how many jobs are in each state."""
        rows = await self._backend.query(
            "SELECT rule_id, j_status AS state, count() AS n FROM ("
            "SELECT rule_id, id, argMax(status, updated_at) AS j_status FROM eval_jobs "
            "WHERE project_id = {project:String} GROUP BY rule_id, id) GROUP BY rule_id, state",
            {"project": project_id},
        )
        out: dict[str, dict[str, int]] = {}
        for r in rows:
            out.setdefault(r["rule_id"], {})[r["state"]] = int(r["n"])
        return out

    async def candidates(self, rule: EvalRule, until_ns: int, limit: int) -> list[Row]:
        """Objects a rule may evaluate: spans (or root spans, for traces) of its project that started
        between its ``since_ns`` and ``until_ns`` (now minus its delay), matching its filter."""
        import orjson

        f = orjson.loads(rule.filter or "{}")
        where = [
            "project_id = {project:String}",
            "start_time >= fromUnixTimestamp64Nano({since:Int64}, 'UTC')",
            "start_time < fromUnixTimestamp64Nano({until:Int64}, 'UTC')",
            "sign = 1",
        ]
        params: dict[str, Any] = {"project": rule.project_id, "since": rule.since_ns, "until": until_ns, "limit": limit}
        if rule.target == "trace":
            where.append("(parent_span_id = '' OR observation_type = 'TRACE')")
        else:
            where.append("observation_type != 'TRACE'")
        for key, column in (
            ("name", "name"),
            ("type", "observation_type"),
            ("model", "model"),
            ("environment", "environment"),
        ):
            value = f.get(key)
            if isinstance(value, list) and value:
                where.append(f"{column} IN {{f_{key}:Array(String)}}")
                params[f"f_{key}"] = [str(v) for v in value]
            elif value:
                where.append(f"{column} = {{f_{key}:String}}")
                params[f"f_{key}"] = str(value)
        if f.get("tags"):
            where.append("hasAll(tags, {f_tags:Array(String)})")
            params["f_tags"] = [str(t) for t in f["tags"]]
        return await self._backend.query(
            "SELECT trace_id AS c_trace, span_id AS c_span, toUnixTimestamp64Nano(start_time) AS c_start FROM spans "
            f"WHERE {' AND '.join(where)} ORDER BY c_start LIMIT 1 BY c_trace, c_span LIMIT {{limit:UInt32}}",
            params,
        )

    async def object_facts(self, project_id: str, trace_id: str, span_id: str, trace: bool = False) -> Row | None:
        """Input, output and metadata of one span (the newest version), for the variable mapping;
        with ``trace`` (the span is the trace's root), the trace's input and output (storage.trace_io)."""
        rows = await self._backend.query(
            "SELECT argMax(input, ingested_at) AS f_input, argMax(output, ingested_at) AS f_output, "
            "argMax(metadata, ingested_at) AS f_metadata, argMax(name, ingested_at) AS f_name, count() AS f_n "
            "FROM spans WHERE project_id = {project:String} AND trace_id = {trace:String} "
            "AND span_id = {span:String} AND sign = 1",
            {"project": project_id, "trace": trace_id, "span": span_id},
        )
        if not rows or not int(rows[0]["f_n"]):
            return None
        facts = rows[0]
        if trace:
            io = {"input": facts["f_input"], "output": facts["f_output"]}
            await trace_io.of_trace(self._backend, project_id, trace_id, io)
            facts["f_input"], facts["f_output"] = io["input"], io["output"]
        return facts

    @staticmethod
    def with_state(job: EvalJob, **changes: Any) -> EvalJob:
        return replace(job, **changes)

    async def running_jobs(self, shard: JobShard = ALL_JOBS) -> list[EvalJob]:
        """Jobs of every project whose newest state is ``running`` (a crash interrupted them),
        ``shard``'s only."""
        params: dict[str, Any] = {}
        rows = await self._backend.query(
            f"SELECT project_id, rule_id, id, {_J} FROM eval_jobs WHERE {shard.condition(params)} "
            "GROUP BY project_id, rule_id, id HAVING j_status = 'running'",
            params,
        )
        return [_job(r) for r in rows]

    async def run_item_candidates(self, rule: EvalRule, dataset_id: str, until_ns: int, limit: int) -> list[Row]:
        """Run items of a dataset's runs made between the rule's start and ``until_ns``: the object
        each one points at (its observation, or its trace's root span) and its dataset item."""
        return await self._backend.query(
            "SELECT i.trace_id AS c_trace, if(i.observation_id != '', i.observation_id, r.root) AS c_span, "
            "i.dataset_item_id AS c_item, toUnixTimestamp64Nano(i.created_at) AS c_start "
            "FROM dataset_run_items AS i LEFT JOIN ("
            "SELECT trace_id AS r_trace, any(span_id) AS root FROM spans WHERE project_id = {project:String} "
            "AND (parent_span_id = '' OR observation_type = 'TRACE') AND trace_id IN ("
            "SELECT trace_id FROM dataset_run_items WHERE project_id = {project:String}) GROUP BY trace_id"
            ") AS r ON r.r_trace = i.trace_id "
            "WHERE i.project_id = {project:String} AND i.run_id IN ("
            "SELECT id FROM dataset_runs FINAL WHERE project_id = {project:String} AND dataset_id = {dataset:String} "
            "AND is_deleted = 0) "
            "AND i.created_at >= fromUnixTimestamp64Nano({since:Int64}, 'UTC') "
            "AND i.created_at < fromUnixTimestamp64Nano({until:Int64}, 'UTC') "
            "ORDER BY c_start LIMIT {limit:UInt32}",
            {
                "project": rule.project_id,
                "dataset": dataset_id,
                "since": rule.since_ns,
                "until": until_ns,
                "limit": limit,
            },
        )

    async def dataset_item_for(self, project_id: str, trace_id: str, span_id: str) -> str | None:
        """The dataset item a run item links to this trace (and observation), if any."""
        rows = await self._backend.query(
            "SELECT dataset_item_id FROM dataset_run_items WHERE project_id = {project:String} "
            "AND trace_id = {trace:String} AND (observation_id = {span:String} OR observation_id = '') LIMIT 1",
            {"project": project_id, "trace": trace_id, "span": span_id},
        )
        return str(rows[0]["dataset_item_id"]) if rows else None
