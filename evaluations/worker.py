"""The LLM-as-a-judge worker: finds new data that rules match, and runs each job from the durable job
table until it is done or has failed visibly.

- Discovery: per enabled rule, spans that started between the rule's start and now minus its
  delay and match its filter; sampling by a hash of (rule, object), so a restart samples the same.
  A job's id derives from (rule, object): found twice, it is still one job.
- Execution: due pending jobs, at most ``PER_CONNECTION`` at once per model connection. A job is
  marked running (its attempt counted) before the call, then done (with its score, tokens and
  latency), pending again with a later next attempt (rate limits, timeouts, 5xx: exponential
  backoff), or error with the provider's or the parser's message.
- The score is written through the one ingest path with source EVAL and the job's id as its id,
  so a job run twice (a crash between the score and the job's state) still makes one score.
- A crash leaves jobs ``running``: at start they become pending again.
- Several workers (on one ClickHouse server) each own a shard of the jobs (``JobShard``: by a hash
  of the job's id): each discovers, runs and recovers only its own, so no job runs twice.
- A rule whose connection or template is missing, or whose connection refuses the key, says so
  in its ``status_message`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from evaluations.judge import JudgeError, judge, render
from evaluations.service import EvaluationService
from llm import ConnectionService, ModelError
from storage import Store
from storage.evaluations import ALL_JOBS, EvalJob, EvalRule, JobShard, job_id
from tracehouse.errors import TracehouseError

__all__ = ["EvalWorker", "ScoreSink"]

log = logging.getLogger(__name__)

ScoreSink = Callable[[str, list[dict[str, Any]]], Awaitable[None]]
PER_CONNECTION = 4
MAX_ATTEMPTS = 4
BATCH = 500
GRACE_NS = 300 * 10**9  # late spans: each scan looks this far behind where the last one ended


def _sampled(rule: EvalRule, trace_id: str, span_id: str) -> bool:
    if rule.sampling >= 1:
        return True
    digest = hashlib.sha256(f"{rule.id}\x00{trace_id}\x00{span_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rule.sampling


def _pick(value: Any, path: str) -> Any:
    """A JSONPath-like selection: ``$.a.b``, ``a.0.b``, ``$.a[0]['b']``."""
    path = re.sub(r"\[\s*['\"]([^'\"]*)['\"]\s*\]", r".\1", re.sub(r"\[(\d+)\]", r".\1", path))
    for part in [p for p in path.replace("$.", "").split(".") if p and p != "$"]:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return text


class EvalWorker:
    def __init__(
        self,
        store: Store,
        evaluations: EvaluationService,
        connections: ConnectionService,
        sink: ScoreSink,
        poll_s: float = 1.0,
        backoff_s: float = 2.0,
        timeout_s: float = 60.0,
        shard: JobShard = ALL_JOBS,
    ) -> None:
        self._store = store
        self._shard = shard
        self._evaluations = evaluations
        self._connections = connections
        self._sink = sink
        self._poll_s = poll_s
        self._backoff_s = backoff_s
        self._timeout_s = timeout_s
        self._watermarks: dict[str, int] = {}
        self._modes: dict[tuple[str, str], str] = {}
        self._limits: dict[tuple[str, str], asyncio.Semaphore] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Work until cancelled; an error of one round is logged and the next round goes on."""
        await self.recover()
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("evaluation round failed; retrying")
            await asyncio.sleep(self._poll_s)

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def recover(self) -> None:
        """Jobs a crash left running become pending again (their attempt stays counted)."""
        stuck = await self._store.evaluations.running_jobs(self._shard)
        await self._store.evaluations.put_jobs([EvalJob(**{**j.__dict__, "status": "pending"}) for j in stuck])

    async def tick(self) -> None:
        now = time.time_ns()
        rules = [r for r in await self._store.evaluations.rules() if r.enabled]
        if not rules:
            # Jobs run only for enabled rules: an idle server skips the scan of every job, each second.
            return
        for rule in rules:
            await self._discover(rule, now)
        await self._execute(rules, now)

    async def _discover(self, rule: EvalRule, now: int) -> None:
        start = max(rule.since_ns, self._watermarks.get(rule.id, rule.since_ns) - GRACE_NS)
        until = now - rule.delay_s * 10**9
        if until <= start:
            return
        scanned = EvalRule(**{**rule.__dict__, "since_ns": start})
        if rule.target == "dataset":
            # The outputs of a dataset's runs: each run item's observation (or its trace's root).
            dataset_id = orjson.loads(rule.filter or "{}").get("datasetId", "")
            found = await self._store.evaluations.run_item_candidates(scanned, dataset_id, until, BATCH)
            rows = [r for r in found if r["c_span"]]
        else:
            rows = await self._store.evaluations.candidates(scanned, until, BATCH)
        picked = [(r["c_trace"], r["c_span"]) for r in rows if _sampled(rule, r["c_trace"], r["c_span"])]
        ids = {job_id(rule.id, t, s if rule.target != "trace" else ""): (t, s) for t, s in picked}
        ids = {jid: obj for jid, obj in ids.items() if self._shard.owns(jid)}  # other shards make theirs
        known = await self._store.evaluations.known_jobs(rule.project_id, rule.id, list(ids))
        created = dt_now()
        new = [
            EvalJob(rule.project_id, rule.id, jid, t, s, "pending", 0, "", "", 0.0, 0, 0, 0, 0, created)
            for jid, (t, s) in ids.items()
            if jid not in known
        ]
        await self._store.evaluations.put_jobs(new)
        # A full batch: the next round goes on from its last start; else everything up to now is seen.
        self._watermarks[rule.id] = int(rows[-1]["c_start"]) if len(rows) == BATCH else until

    async def _execute(self, rules: list[EvalRule], now: int) -> None:
        by_id = {r.id: r for r in rules}
        due = [j for j in await self._store.evaluations.due_jobs(now, 64, self._shard) if j.rule_id in by_id]
        tasks = []
        for job in due:
            rule = by_id[job.rule_id]
            key = (rule.project_id, rule.provider)
            limit = self._limits.setdefault(key, asyncio.Semaphore(PER_CONNECTION))
            tasks.append(asyncio.create_task(self._guarded(limit, rule, job)))
        for task in tasks:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _guarded(self, limit: asyncio.Semaphore, rule: EvalRule, job: EvalJob) -> None:
        async with limit:
            await self._run_job(rule, job)

    async def _run_job(self, rule: EvalRule, job: EvalJob) -> None:
        job = EvalJob(**{**job.__dict__, "status": "running", "attempts": job.attempts + 1})
        await self._store.evaluations.put_jobs([job])
        try:
            template = await self._evaluations.template(rule.project_id, rule.template_id)
            connection = await self._connections.open(rule.project_id, rule.provider)
            variables = await self._variables(rule, job, template.get("mapping") or {})
            prompt: str | list[dict[str, str]] = render(template["prompt"], variables)
            if template.get("messages"):
                prompt = [{**m, "content": render(m["content"], variables)} for m in template["messages"]]
            key = (rule.project_id, rule.provider)
            verdict = await judge(
                connection.adapter, connection.base_url, connection.api_key, rule.model or template["model"],
                connection.headers, prompt, template["output"], self._modes.get(key, "json_schema"), self._timeout_s,
            )  # fmt: skip
            self._modes[key] = verdict.mode
            judge_trace = await self._trace_judge(rule, job, prompt, verdict) if rule.trace_project else None
            await self._sink(rule.project_id, [self._score_event(rule, job, verdict, judge_trace)])
            await self._store.evaluations.put_jobs(
                [
                    EvalJob(**{
                        **job.__dict__, "status": "done", "last_error": "", "score_id": job.id,
                        "score_value": verdict.value, "input_tokens": verdict.result.input_tokens,
                        "output_tokens": verdict.result.output_tokens, "latency_ms": int(verdict.result.latency_ms),
                    })
                ]
            )  # fmt: skip
            if rule.status_message:
                await self._evaluations.set_rule_status(rule, "")
        except ModelError as exc:
            if exc.retryable and job.attempts < MAX_ATTEMPTS:
                delay = min(self._backoff_s * 2 ** (job.attempts - 1), 60.0)
                await self._fail(job, f"attempt {job.attempts} failed, retrying in {delay:.0f} s: {exc.message}",
                                 "pending", int(time.time_ns() + delay * 1e9))  # fmt: skip
            else:
                await self._fail(job, exc.message, "error", 0)
                if exc.status in (401, 403, 404):
                    await self._evaluations.set_rule_status(rule, f"the model connection fails: {exc.message}")
        except JudgeError as exc:
            await self._fail(job, str(exc), "error", 0)
        except TracehouseError as exc:
            await self._fail(job, exc.message, "error", 0)
            await self._evaluations.set_rule_status(rule, exc.message)
        except Exception as exc:
            log.exception("evaluation job %s failed unexpectedly", job.id)
            await self._fail(job, f"internal error: {type(exc).__name__}: {exc}", "error", 0)

    async def _fail(self, job: EvalJob, message: str, status: str, next_ns: int) -> None:
        log.warning("evaluation job %s of rule %s: %s (%s)", job.id, job.rule_id, message, status)
        await self._store.evaluations.put_jobs(
            [EvalJob(**{**job.__dict__, "status": status, "last_error": message[:2000], "next_attempt_ns": next_ns})]
        )

    async def _variables(self, rule: EvalRule, job: EvalJob, inherited: dict[str, Any]) -> dict[str, str]:
        span = job.observation_id
        facts = await self._store.evaluations.object_facts(
            rule.project_id, job.trace_id, span, trace=rule.target == "trace"
        )
        if facts is None:
            raise JudgeError("the object to evaluate is gone (deleted, or past its retention)")
        default = {"input": {"field": "input"}, "output": {"field": "output"}}
        if rule.target == "dataset":
            default["expected_output"] = {"field": "expected_output"}
        mapping = orjson.loads(rule.mapping or "{}") or inherited or default
        expected: Any = None
        if any(
            (spec.get("field") if isinstance(spec, dict) else spec) == "expected_output" for spec in mapping.values()
        ):
            item_id = await self._store.evaluations.dataset_item_for(rule.project_id, job.trace_id, span)
            items = await self._store.datasets.items(rule.project_id, item_ids=[item_id]) if item_id else []
            expected = _loads(items[0].expected_output) if items else None
        values: dict[str, str] = {}
        for variable, spec in mapping.items():
            field = spec.get("field", variable) if isinstance(spec, dict) else str(spec)
            metadata = {k: _loads(v) for k, v in (facts["f_metadata"] or {}).items()}
            sources: dict[str, Any] = {"input": _loads(facts["f_input"]), "output": _loads(facts["f_output"]),
                                       "metadata": metadata, "expected_output": expected}  # fmt: skip
            raw: Any = sources.get(field)
            path = spec.get("path", "") if isinstance(spec, dict) else ""
            values[variable] = _text(_pick(raw, path) if path else raw)
        return values

    async def _trace_judge(self, rule: EvalRule, job: EvalJob, prompt: str | list[dict[str, str]], verdict: Any) -> str:
        """The judge's own call as a generation, in the project the rule names (its cost visible
        there like any other model call); the trace's id."""
        trace_id = hashlib.sha256(f"judge\x00{job.id}\x00{job.attempts}".encode()).hexdigest()[:32]
        now = iso_now()
        result = verdict.result
        events = [
            {"id": f"{trace_id}-t", "type": "trace-create", "timestamp": now,
             "body": {"id": trace_id, "name": f"judge: {rule.name}", "timestamp": now, "environment": "evaluation",
                      "metadata": {"evalRuleId": rule.id, "evalJobId": job.id, "projectId": rule.project_id}}},
            {"id": f"{trace_id}-g", "type": "generation-create", "timestamp": now,
             "body": {"id": f"{trace_id[:16]}", "traceId": trace_id, "name": "judge", "model": result.model,
                      "startTime": now, "endTime": now, "input": prompt, "output": result.text or result.tool_arguments,
                      "usageDetails": {"input": result.input_tokens, "output": result.output_tokens}}},
        ]  # fmt: skip
        await self._sink(rule.trace_project, events)
        return trace_id

    @staticmethod
    def _score_event(rule: EvalRule, job: EvalJob, verdict: Any, judge_trace: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": job.id, "traceId": job.trace_id, "name": rule.name, "source": "EVAL",
            "dataType": verdict.data_type, "comment": verdict.reasoning or None,
            "value": verdict.string_value if verdict.data_type == "CATEGORICAL" else verdict.value,
            "metadata": {"evalRuleId": rule.id, "evalJobId": job.id, "model": verdict.result.model,
                         **({"judgeTraceId": judge_trace} if judge_trace else {})},
        }  # fmt: skip
        if rule.target != "trace":
            body["observationId"] = job.observation_id
        return {"id": f"eval-{job.id}-{job.attempts}", "type": "score-create", "timestamp": iso_now(), "body": body}


def dt_now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def iso_now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
