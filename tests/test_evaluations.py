"""LLM-as-a-judge against a local fake judge server: scores written once per matched object, filters
and sampling respected, structured output falling back to tool calls, malformed answers, rate
limits, timeouts and failures visible with their message and retried for real, a rule whose key is
refused saying so at once, jobs a crash left running finished once, and the key nowhere in clear."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from evaluations import ALL_JOBS, EvalWorker, JobShard
from evaluations.worker import _sampled
from query_api.evaluations_api import EVALUATIONS_KEY
from storage.evaluations import EvalJob
from tests.conftest import serving
from tests.fake_judge import fake_judge
from tests.langfuse_helpers import basic, make_key
from tests.test_prompts_api import Client
from tracehouse.server import Running


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    """``serve`` without its own judge worker: each test drives one, so that rounds are deterministic."""
    async with serving(tmp_path / "data", eval_worker=False) as r:
        yield r


SECRET = "sk-judge-secret-0000111122223333"


async def _generations(c: Client, names: list[str]) -> list[tuple[str, str]]:
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    out, batch = [], []
    for i, name in enumerate(names):
        trace_id, gen_id = uuid.uuid4().hex, f"gen-{uuid.uuid4().hex[:12]}"
        batch += [
            {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": stamp,
             "body": {"id": trace_id, "name": "app", "timestamp": stamp}},
            {"id": str(uuid.uuid4()), "type": "generation-create", "timestamp": stamp,
             "body": {"id": gen_id, "traceId": trace_id, "name": name, "model": "gpt-4o-mini", "startTime": stamp,
                      "endTime": stamp, "input": {"question": f"q{i}"}, "output": f"answer {i}"}},
        ]  # fmt: skip
        out.append((trace_id, gen_id))
    status, doc, _ = await c.call("POST", "/api/public/ingestion", {"batch": batch})
    assert status == 207 and not doc["errors"], doc
    return out


def _worker(live: Running, timeout_s: float = 60.0, shard: JobShard = ALL_JOBS) -> EvalWorker:
    service = live.api_app[EVALUATIONS_KEY]  # the app's own service and connections
    from query_api.llm_api import CONNECTIONS_KEY

    async def sink(project: str, events: list[dict[str, Any]]) -> None:
        from otlp_receiver.langfuse.service import Access

        result = await live.ingest.ingest_langfuse(Access(project), events, 1000)
        assert not result.errors, result.errors

    return EvalWorker(
        live.store,
        service,
        live.api_app[CONNECTIONS_KEY],
        sink,
        poll_s=0.1,
        backoff_s=0.01,
        timeout_s=timeout_s,
        shard=shard,
    )


async def _rule(c: Client, judge_url: str, **extra: Any) -> dict[str, Any]:
    status, _, _ = await c.call(
        "PUT",
        "/api/v1/llm-connections",
        {"provider": "judge", "secretKey": SECRET, "baseURL": judge_url, "customModels": ["judge-1"]},
    )
    assert status == 200
    mapping = {"input": {"field": "input", "path": "question"}, "output": {"field": "output"}}
    body = {"name": "correct", "templateId": "builtin-correctness", "target": "observation", "filter": {"name": "llm"},
            "sampling": 1.0, "delaySeconds": 0, "evaluateExisting": True, "provider": "judge", "model": "judge-1",
            "mapping": mapping, **extra}  # fmt: skip
    status, rule, _ = await c.call("PUT", "/api/v1/evaluations/rules", body)
    assert status == 200, rule
    return rule


async def _jobs(c: Client, rule_id: str) -> list[dict[str, Any]]:
    _, doc, _ = await c.call("GET", f"/api/v1/evaluations/jobs?rule={rule_id}")
    return doc["items"]


async def _eval_scores(live: Running, trace_ids: list[str]) -> list[dict[str, Any]]:
    scores, _ = await live.store.langfuse.scores("default", trace_ids)
    return [s for s in scores if s["source"] == "EVAL"]


async def test_rule_scores_each_matching_observation_once(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            judge.no_response_format = True  # an OpenAI-compatible server without json_schema: tools work
            objects = await _generations(c, ["llm", "llm", "llm", "retriever"])
            rule = await _rule(c, judge.url)
            worker = _worker(live)
            await worker.tick()
            await worker.tick()
            jobs = await _jobs(c, rule["id"])
            assert sorted(j["observationId"] for j in jobs) == sorted(g for _, g in objects[:3])  # the filter held
            assert {j["status"] for j in jobs} == {"done"} and all(j["score"] == 0.8 for j in jobs)
            assert all(j["inputTokens"] == 120 and j["outputTokens"] == 15 for j in jobs)
            assert all(j["cost"] is None for j in jobs)  # judge-1 has no price yet
            price = {
                "modelName": "judge-1",
                "matchPattern": "^judge-1$",
                "inputPrice": 0.000001,
                "outputPrice": 0.000002,
            }
            assert (await c.call("POST", "/api/public/models", price))[0] in (200, 201)
            assert all(
                j["cost"] == pytest.approx(0.00015) for j in await _jobs(c, rule["id"])
            )  # 120 x $1/M + 15 x $2/M
            scores = await _eval_scores(live, [t for t, _ in objects])
            assert sorted(s["observation_id"] for s in scores) == sorted(g for _, g in objects[:3])
            assert all(s["name"] == "correct" and s["value"] == 0.8 and s["comment"] == "looks right" for s in scores)
            # The mapping's JSON path reached the prompt; the key reached only the judge.
            prompts = [r["body"]["messages"][1]["content"] for r in judge.requests if "tools" in r["body"]]
            assert any("q0" in p and "answer 0" in p for p in prompts)
            assert all(r["authorization"] == f"Bearer {SECRET}" for r in judge.requests)
            # Another round and a restart: nothing is evaluated twice.
            asked = len(judge.requests)
            await worker.tick()
            restarted = _worker(live)
            await restarted.recover()
            await restarted.tick()
            assert len(judge.requests) == asked
            assert len(await _eval_scores(live, [t for t, _ in objects])) == 3

            # Sampling: the same hash decides on every worker.
            sampled_rule = await _rule(c, judge.url, name="sampled", sampling=0.5)
            await restarted.tick()
            await restarted.tick()
            jobs = await _jobs(c, sampled_rule["id"])
            from storage.evaluations import EvalRule

            rules = {r.id: r for r in await live.store.evaluations.rules("default")}
            expected = [g for t, g in objects[:3] if _sampled(rules[sampled_rule["id"]], t, g)]
            assert sorted(j["observationId"] for j in jobs) == sorted(expected)
            assert isinstance(rules[sampled_rule["id"]], EvalRule)
    finally:
        await c.close()


async def test_failures_are_visible_and_retries_really_retry(
    live: Running, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            objects = await _generations(c, ["llm"])
            judge.behaviour = ["429", "timeout", "good"]
            rule = await _rule(c, judge.url)
            worker = _worker(live, timeout_s=1.0)
            await worker.tick()  # discovered, attempt 1: rate-limited
            [job] = await _jobs(c, rule["id"])
            assert job["status"] == "pending" and job["attempts"] == 1 and "Rate limit reached" in job["error"]
            for _ in range(20):
                await worker.tick()
                [job] = await _jobs(c, rule["id"])
                if job["status"] == "done":
                    break
                await asyncio.sleep(0.05)
            assert job["status"] == "done" and job["attempts"] == 3 and job["error"] is None
            assert len(await _eval_scores(live, [objects[0][0]])) == 1

            # A malformed answer is an error with the answer quoted, never a silent score.
            more = await _generations(c, ["malformed-llm"])
            judge.behaviour = ["malformed"]
            bad = await _rule(c, judge.url, name="m", filter={"name": "malformed-llm"})
            await worker.tick()
            await worker.tick()
            [job] = await _jobs(c, bad["id"])
            assert job["status"] == "error" and "not JSON" in job["error"] and "maybe 0.8" in job["error"]
            # Read by someone whose page is in Chinese: the reason in Chinese, the answer quoted as it was.
            _, doc, _ = await c.call(
                "GET", f"/api/v1/evaluations/jobs?rule={bad['id']}", headers={"Accept-Language": "zh-CN"}
            )
            assert (
                doc["items"][0]["error"].startswith("评审的回答不是 JSON：") and "maybe 0.8" in doc["items"][0]["error"]
            )
            assert await _eval_scores(live, [more[0][0]]) == []
            # A retry from the API really runs it again.
            judge.behaviour = ["good"]
            status, _, _ = await c.call("POST", f"/api/v1/evaluations/jobs/retry?id={job['id']}")
            assert status == 200
            await worker.tick()
            [job] = await _jobs(c, bad["id"])
            assert job["status"] == "done" and len(await _eval_scores(live, [more[0][0]])) == 1

            # A server that keeps failing: retried up to the limit, then an error with its message.
            failing = await _generations(c, ["failing-llm"])
            judge.behaviour = ["500"]
            broken = await _rule(c, judge.url, name="f", filter={"name": "failing-llm"})
            for _ in range(10):
                await worker.tick()
                await asyncio.sleep(0.05)
            [job] = await _jobs(c, broken["id"])
            assert job["status"] == "error" and job["attempts"] == 4 and "upstream exploded" in job["error"]
            assert await _eval_scores(live, [failing[0][0]]) == []

            # A refused key: the rule says so at once.
            await _generations(c, ["keyless"])
            judge.behaviour = ["401"]
            refused = await _rule(c, judge.url, name="k", filter={"name": "keyless"})
            await worker.tick()
            status, rules, _ = await c.call("GET", "/api/v1/evaluations/rules")
            message = next(r for r in rules["items"] if r["id"] == refused["id"])["statusMessage"]
            assert "Incorrect API key" in message

            # A crash left a job running: the next worker finishes it, once.
            await _generations(c, ["crashy"])
            judge.behaviour = ["good"]
            crashed = await _rule(c, judge.url, name="c", filter={"name": "crashy"})
            discover_only = _worker(live)
            rules_now = [r for r in await live.store.evaluations.rules("default") if r.id == crashed["id"]]
            await discover_only._discover(rules_now[0], time.time_ns())
            [pending] = await live.store.evaluations.jobs("default", crashed["id"])
            await live.store.evaluations.put_jobs([EvalJob(**{**pending.__dict__, "status": "running", "attempts": 1})])
            fresh = _worker(live)
            await fresh.recover()
            await fresh.tick()
            [job] = await _jobs(c, crashed["id"])
            assert job["status"] == "done" and job["attempts"] == 2

        # The key in clear: in no answer, no log, no stored column.
        for path in (
            "/api/v1/llm-connections",
            "/api/public/llm-connections",
            "/api/v1/evaluations/rules",
            "/api/v1/evaluations/jobs",
        ):
            _, doc, _ = await c.call("GET", path)
            assert SECRET not in str(doc)
        rows = await live.store.backend.query("SELECT * FROM llm_connections")
        assert not any(SECRET in str(v) for r in rows for v in r.values())
        assert caplog.records and SECRET not in caplog.text  # every level was captured
        # Nor in any file of the data directory (the store's parts, the journal, the key file).
        await live.store.backend.execute("OPTIMIZE TABLE llm_connections FINAL")
        for path in (tmp_path / "data").rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path
    finally:
        await c.close()


async def test_due_jobs_are_those_whose_newest_version_is_pending_and_due(live: Running) -> None:
    """Each job is a row per version (each insert a part of its own here): only the newest counts."""
    jobs = live.store.evaluations
    now = time.time_ns()
    created = datetime.now(UTC)

    def job(name: str, status: str, next_attempt_ns: int = 0, attempts: int = 0) -> EvalJob:
        return EvalJob("p1", "r1", name, "t", "", status, attempts, "", "", 0.0, next_attempt_ns, 0, 0, 0, created)

    for versions in (
        [job("done", "pending"), job("done", "running", attempts=1), job("done", "done", attempts=1)],
        [job("retry-later", "pending"), job("retry-later", "pending", now + 60 * 10**9, attempts=1)],
        [job("retry-now", "pending"), job("retry-now", "running", attempts=1), job("retry-now", "pending", now, 1)],
        [job("new", "pending")],
        [job("running", "pending"), job("running", "running", attempts=1)],
    ):
        for version in versions:
            await jobs.put_jobs([version])
    due = await jobs.due_jobs(now, 64)
    assert sorted(j.id for j in due) == ["new", "retry-now"]
    assert {j.id: j.attempts for j in due} == {"new": 0, "retry-now": 1}
    assert [j.id for j in await jobs.due_jobs(now, 1)] in (["new"], ["retry-now"])


async def test_executions_read_in_pages_by_state(live: Running) -> None:
    """A rule that judged a day's traffic has more executions than a page: every one is reached
    through the cursor, newest first, each once, and the failed ones can be asked for alone."""
    base = datetime.now(UTC).timestamp()
    made = [
        EvalJob("default", "r-busy", f"job-{i:03d}", f"t{i}", "", "error" if i % 10 == 3 else "done", 1,
                "upstream exploded" if i % 10 == 3 else "", "", 0.5, 0, 10, 2, 100,
                datetime.fromtimestamp(base - i // 3, UTC))  # three jobs share each creation time
        for i in range(250)
    ]  # fmt: skip
    await live.store.evaluations.put_jobs(made)
    await live.store.evaluations.put_jobs([EvalJob(**{**made[0].__dict__, "rule_id": "r-other", "id": "elsewhere"})])
    newest_first = sorted(made, key=lambda j: (j.created_at, j.id), reverse=True)
    c = Client(live, basic(await make_key(live)))
    try:
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            path = "/api/v1/evaluations/jobs?rule=r-busy&limit=100" + (f"&cursor={cursor}" if cursor else "")
            status, doc, _ = await c.call("GET", path)
            assert status == 200, doc
            seen += [j["id"] for j in doc["items"]]
            pages += 1
            cursor = doc["next_cursor"]
            if cursor is None:
                break
        assert pages == 3 and seen == [j.id for j in newest_first]
        status, doc, _ = await c.call("GET", "/api/v1/evaluations/jobs?rule=r-busy&status=error&limit=1000")
        assert [j["id"] for j in doc["items"]] == [j.id for j in newest_first if j.status == "error"]
        assert len(doc["items"]) == 25 and doc["next_cursor"] is None
        assert {j["error"] for j in doc["items"]} == {"upstream exploded"}
        status, doc, _ = await c.call("GET", "/api/v1/evaluations/jobs?rule=r-busy&status=done,error&limit=1")
        assert [j["id"] for j in doc["items"]] == [newest_first[0].id] and doc["next_cursor"]
        # The oldest failed job, on the last page, is retried by its id.
        oldest_error = [j for j in newest_first if j.status == "error"][-1]
        status, doc, _ = await c.call("POST", f"/api/v1/evaluations/jobs/retry?id={oldest_error.id}")
        assert status == 200 and doc == {"id": oldest_error.id, "status": "pending"}
        status, doc, _ = await c.call("GET", "/api/v1/evaluations/jobs?rule=r-busy&status=pending")
        assert [j["id"] for j in doc["items"]] == [oldest_error.id]
        for bad in ("status=failed", "limit=0", "limit=1001", "limit=ten", "cursor=not-a-cursor", "colour=red",
                    f"status={'x' * 200}"):  # fmt: skip
            status, doc, _ = await c.call("GET", f"/api/v1/evaluations/jobs?rule=r-busy&{bad}")
            assert status == 400, (bad, doc)
        status, _, _ = await c.call("POST", "/api/v1/evaluations/jobs/retry?id=no-such-job")
        assert status == 404
    finally:
        await c.close()


async def test_workers_with_shards_run_each_job_once(live: Running) -> None:
    """Several worker processes on one ClickHouse server each own a shard of the jobs: the store and
    the worker agree on whose a job is, every job is someone's, and none is run twice."""
    jobs = live.store.evaluations
    now = time.time_ns()
    created = datetime.now(UTC)
    ids = [uuid.uuid4().hex for _ in range(60)] + ["new", "retry-now", "ünïcode"]
    await jobs.put_jobs([EvalJob("p1", "r1", i, "t", "", "pending", 0, "", "", 0.0, 0, 0, 0, 0, created) for i in ids])
    for count in (1, 2, 3):
        owned: list[str] = []
        for index in range(count):
            shard = JobShard(index, count)
            due = [j.id for j in await jobs.due_jobs(now, 1000, shard)]
            assert sorted(due) == sorted(i for i in ids if shard.owns(i))
            owned += due
        assert sorted(owned) == sorted(ids)
    with pytest.raises(ValueError):
        JobShard(2, 2)

    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            objects = await _generations(c, ["llm"] * 12)
            rule = await _rule(c, judge.url)
            workers = [_worker(live, shard=JobShard(i, 2)) for i in range(2)]
            for _ in range(2):
                await asyncio.gather(*(w.tick() for w in workers))
            done = await _jobs(c, rule["id"])
            assert len(done) == 12 and {j["status"] for j in done} == {"done"}
            assert len(judge.requests) == 12  # one call per job, though both workers saw every object
            assert len(await _eval_scores(live, [t for t, _ in objects])) == 12
            first = JobShard(0, 2)
            assert 0 < sum(first.owns(j["id"]) for j in done) < 12  # both shards had work

            # A restarted worker makes pending again only its own shard's running jobs.
            stuck = [
                EvalJob("default", rule["id"], j["id"], j["traceId"], j["observationId"], "running", 1, "", "", 0.0,
                        0, 0, 0, 0, created)
                for j in done
            ]  # fmt: skip
            await jobs.put_jobs(stuck)
            await _worker(live, shard=first).recover()
            states = {j["id"]: j["status"] for j in await _jobs(c, rule["id"])}
            assert states == {j["id"]: "pending" if first.owns(j["id"]) else "running" for j in done}
    finally:
        await c.close()


async def test_an_idle_worker_reads_only_the_rules(live: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each second the worker looks for work: with no enabled rule, that is one small read, not a
    scan of every job ever made."""
    backend = live.store.evaluations._backend
    read = backend.query
    tables: list[str] = []

    async def counted(sql: str, params: Any = None) -> Any:
        found = re.search(r"\bFROM\s+(\w+)", sql)
        tables.append(found.group(1) if found else sql)
        return await read(sql, params)

    monkeypatch.setattr(backend, "query", counted)
    worker = _worker(live)
    await worker.tick()
    assert tables == ["eval_rules"]
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            await _generations(c, ["llm"])
            rule = await _rule(c, judge.url)
            tables.clear()
            await worker.tick()
            assert "eval_jobs" in tables  # with a rule, jobs are found and run
            assert [j["status"] for j in await _jobs(c, rule["id"])] == ["done"]
    finally:
        await c.close()


async def test_a_paused_rule_judges_nothing_and_resumes_from_then(live: Running) -> None:
    """Paused, a rule judges nothing; resumed, what starts from then on, not what came meanwhile;
    deleted, nothing more, and the scores it gave stay."""
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            rule = await _rule(c, judge.url, evaluateExisting=False)
            worker = _worker(live)
            [(t1, g1)] = await _generations(c, ["llm"])
            await worker.tick()
            await worker.tick()
            assert [j["observationId"] for j in await _jobs(c, rule["id"])] == [g1]

            status, paused, _ = await c.call("PUT", "/api/v1/evaluations/rules", {**rule, "enabled": False})
            assert status == 200 and paused["enabled"] is False and paused["id"] == rule["id"]
            [(t2, _)] = await _generations(c, ["llm"])
            await worker.tick()
            await worker.tick()
            assert [j["observationId"] for j in await _jobs(c, rule["id"])] == [g1]

            status, resumed, _ = await c.call("PUT", "/api/v1/evaluations/rules", {**paused, "enabled": True})
            assert status == 200 and resumed["enabled"] is True
            [(t3, g3)] = await _generations(c, ["llm"])
            await worker.tick()
            await worker.tick()
            assert sorted(j["observationId"] for j in await _jobs(c, rule["id"])) == sorted([g1, g3])  # not g2

            status, _, _ = await c.call("DELETE", f"/api/v1/evaluations/rules?id={rule['id']}")
            assert status == 200
            _, rules, _ = await c.call("GET", "/api/v1/evaluations/rules")
            assert rules["items"] == []
            [(t4, _)] = await _generations(c, ["llm"])
            await worker.tick()
            await worker.tick()
            scored = await _eval_scores(live, [t1, t2, t3, t4])
            assert sorted(s["observation_id"] for s in scored) == sorted([g1, g3])
            status, _, _ = await c.call("DELETE", f"/api/v1/evaluations/rules?id={rule['id']}")
            assert status == 404
    finally:
        await c.close()


async def test_rules_are_checked_when_saved(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            await _rule(c, judge.url)
            base = {"name": "x", "templateId": "builtin-correctness", "provider": "judge", "model": "judge-1"}
            for change, words in (
                ({"templateId": "nope"}, "template"),
                ({"provider": "missing"}, "connection"),
                ({"target": "session"}, "target"),
                ({"sampling": 0}, "sampling"),
                ({"delaySeconds": -1}, "delaySeconds"),
                ({"filter": {"colour": "red"}}, "filter"),
                ({"mapping": {"input": {"field": "elsewhere"}}}, "mapping"),
                ({"name": ""}, "name"),
            ):
                status, doc, _ = await c.call("PUT", "/api/v1/evaluations/rules", {**base, **change})
                assert status in (400, 404) and words in doc["error"]["message"], (change, doc)
            status, templates, _ = await c.call("GET", "/api/v1/evaluations/templates")
            assert {t["name"] for t in templates["items"]} >= {
                "Correctness",
                "Hallucination",
                "Toxicity",
                "Relevance",
                "Conciseness",
            }
            status, doc, _ = await c.call(
                "PUT",
                "/api/v1/evaluations/templates",
                {"name": "t", "prompt": "p", "output": {"type": "numeric", "min": 1, "max": 0}},
            )
            assert status == 400
            status, doc, _ = await c.call(
                "PUT",
                "/api/v1/evaluations/templates",
                {"name": "Polite", "prompt": "Is {{output}} polite?", "output": {"type": "boolean"}},
            )
            assert status == 200 and doc["output"] == {"type": "boolean", "reasoning": True}
    finally:
        await c.close()


async def test_a_rule_judges_a_datasets_runs_against_its_expected_outputs(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            objects = await _generations(c, ["task", "task"])
            await c.call("POST", "/api/public/v2/datasets", {"name": "capitals"})
            for i, (trace, gen) in enumerate(objects):
                item = {"datasetName": "capitals", "id": f"item-{i}", "input": f"q{i}", "expectedOutput": f"Paris-{i}"}
                await c.call("POST", "/api/public/dataset-items", item)
                link = {"runName": "run-1", "datasetItemId": f"item-{i}", "traceId": trace, "observationId": gen}
                status, _, _ = await c.call("POST", "/api/public/dataset-run-items", link)
                assert status == 200
            rule = await _rule(
                c,
                judge.url,
                name="correct",
                target="dataset",
                filter={"dataset": "capitals"},
                mapping={},
                traceProject="default",
            )
            assert rule["filter"]["dataset"] == "capitals"
            other = {**rule, "id": None, "templateId": "builtin-correctness", "filter": {"dataset": "nope"}}
            status, _, _ = await c.call("PUT", "/api/v1/evaluations/rules", other)
            assert status == 400
            worker = _worker(live)
            await worker.tick()
            await worker.tick()
            jobs = await _jobs(c, rule["id"])
            assert sorted(j["observationId"] for j in jobs) == sorted(g for _, g in objects)
            assert {j["status"] for j in jobs} == {"done"}
            prompts = [r["body"]["messages"][1]["content"] for r in judge.requests]
            assert any("Paris-0" in p and "answer 0" in p for p in prompts)  # expected output and output
            scores = await _eval_scores(live, [t for t, _ in objects])
            assert sorted(s["observation_id"] for s in scores) == sorted(g for _, g in objects)
            # The judge's own calls were traced where the rule said, and each score points at its call.
            judge_trace = orjson.loads(scores[0]["metadata"]["judgeTraceId"])
            spans = await live.store.reader.trace("default", judge_trace)
            call = next(s for s in spans if s["observation_type"] == "GENERATION")
            assert (call["name"], call["input_tokens"], call["output_tokens"]) == ("judge", 120, 15)
            assert "Paris-" in call["input"]
    finally:
        await c.close()


async def test_an_anthropic_judge_answers_through_a_tool_call(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            objects = await _generations(c, ["llm"])
            connection = {"provider": "claude", "adapter": "anthropic", "secretKey": "sk-ant-9999",
                          "baseURL": judge.url, "customModels": ["claude-judge"]}  # fmt: skip
            assert (await c.call("PUT", "/api/v1/llm-connections", connection))[0] == 200
            rule = await _rule(c, judge.url, name="claude", provider="claude", model="claude-judge")
            worker = _worker(live)
            await worker.tick()
            [job] = await _jobs(c, rule["id"])
            assert job["status"] == "done" and (job["inputTokens"], job["outputTokens"]) == (90, 12)
            [request] = [r for r in judge.requests if "version" in r]
            assert request["authorization"] == "sk-ant-9999" and request["version"] == "2023-06-01"
            assert request["body"]["system"].startswith("Give your evaluation") and request["body"]["tools"]
            assert all(m["role"] != "system" for m in request["body"]["messages"])
            scores = await _eval_scores(live, [objects[0][0]])
            assert [(s["name"], s["value"]) for s in scores] == [("claude", 0.8)]
    finally:
        await c.close()


async def test_a_rule_traces_its_judge_only_where_the_caller_may_change_settings(live: Running) -> None:
    """traceProject names a project the judge's calls are written into: a key pair may name only
    its own, a person only one where their role may change settings."""
    from query_api.access import EVERYTHING, Caller
    from storage.organizations import Roles
    from tracehouse.errors import Forbidden
    from tracehouse.roles import Permission, Role

    other = await live.store.projects.create_project("someone-else")
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            mine = await _rule(c, judge.url, traceProject="default")
            assert mine["traceProject"] == "default"
            for ref in (other.id, other.name, "no-such-project"):
                body = {**mine, "id": None, "name": "leaky", "traceProject": ref}
                status, doc, _ = await c.call("PUT", "/api/v1/evaluations/rules", body)
                assert status == 403, doc
            _, listed, _ = await c.call("GET", "/api/v1/evaluations/rules")
            assert [r["name"] for r in listed["items"]] == ["correct"]
    finally:
        await c.close()
    # A name another organization's project shares: a key means its own, and never hears of the other.
    shop = await live.store.projects.create_project("shop")
    o2 = await live.store.organizations.create_organization("o2")
    twin = await live.store.projects.create_project("shop", o2.id)
    c = Client(live, basic(await make_key(live, shop.id)))
    try:
        async with fake_judge() as judge:
            assert (await _rule(c, judge.url, traceProject="shop"))["traceProject"] == shop.id
            status, doc, _ = await c.call("PUT", "/api/v1/evaluations/rules", {"traceProject": twin.id})
            assert status == 403 and twin.id in str(doc) and shop.id not in str(doc)
    finally:
        await c.close()
    # A person: allowed where their role may change settings, refused where it may only read.
    admin_here = Roles({"default": Role.ADMIN}, {other.id: Role.VIEWER})
    person = Caller("default", EVERYTHING, roles=admin_here)
    assert (await person.other_project(live.store, "default", Permission.MANAGE_SETTINGS, "x")).id == "default"
    with pytest.raises(Forbidden):
        await person.other_project(live.store, other.id, Permission.MANAGE_SETTINGS, "x")
    admin_there = Caller("default", EVERYTHING, roles=Roles({"default": Role.ADMIN}, {other.id: Role.ADMIN}))
    assert (await admin_there.other_project(live.store, other.name, Permission.MANAGE_SETTINGS, "x")).id == other.id
    opened = Caller("default", EVERYTHING, open_mode=True)
    assert (await opened.other_project(live.store, other.id, Permission.MANAGE_SETTINGS, "x")).id == other.id


async def test_a_trace_rule_judges_the_input_and_output_set_for_the_trace(live: Running) -> None:
    """A rule on traces judges what the client set as the trace's input and output (Langfuse's
    ``set_trace_io``, on a child span here), not its root span's own."""
    from tests.otlp_data import request

    assert live.ingest is not None
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            trace_id, root = uuid.uuid4().bytes, uuid.uuid4().bytes[:8]
            now = time.time_ns()
            spans = [
                {"trace_id": trace_id, "span_id": root, "name": "agent", "start": now, "end": now + 3_000_000,
                 "attrs": {"langfuse.observation.input": '{"args": ["raw"]}',
                           "langfuse.observation.output": '{"result": "raw"}'}},
                {"trace_id": trace_id, "parent_span_id": root, "name": "step", "start": now + 1_000_000,
                 "end": now + 2_000_000, "attrs": {"langfuse.trace.input": "Which city is the capital?",
                                                    "langfuse.trace.output": "Paris is the capital."}},
            ]  # fmt: skip
            result = await live.ingest.ingest(request(spans).SerializeToString(), "protobuf", "default")
            assert result.accepted == 2
            rule = await _rule(c, judge.url, name="trace-judge", target="trace", filter={},
                               mapping={"input": {"field": "input"}, "output": {"field": "output"}})  # fmt: skip
            worker = _worker(live)
            await worker.tick()
            await worker.tick()
            jobs = await _jobs(c, rule["id"])
            assert [(j["traceId"], j["status"]) for j in jobs] == [(trace_id.hex(), "done")], jobs
            [prompt] = [r["body"]["messages"][1]["content"] for r in judge.requests]
            assert "Which city is the capital?" in prompt and "Paris is the capital." in prompt, prompt
            assert "raw" not in prompt
    finally:
        await c.close()
