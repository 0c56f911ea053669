"""Langfuse's v2 evaluators and evaluation-rules API: langfuse 5.x's own client sets up an
LLM-as-a-judge evaluator (chat messages, a variable mapping with JSONPath, a numeric output) and
a rule, and the rule then really judges new observations through a fake judge; the same API fed
garbage, no key and another project's key."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import serving
from tests.fake_judge import fake_judge
from tests.langfuse_helpers import basic, make_key, run_sdk
from tests.test_evaluations import SECRET, _worker
from tests.test_prompts_api import Client
from tracehouse.server import Running

EVALUATORS = "/api/public/v2/evaluators"
RULES = "/api/public/v2/evaluation-rules"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    async with serving(tmp_path / "data", eval_worker=False) as r:
        yield r


async def _connection(c: Client, url: str) -> None:
    body = {"provider": "judge", "secretKey": SECRET, "baseURL": url, "customModels": ["judge-1"]}
    status, doc, _ = await c.call("PUT", "/api/v1/llm-connections", body)
    assert status == 200, doc


async def test_sdk5_sets_up_a_judge_that_then_scores_new_observations(live: Running) -> None:
    key = await make_key(live)
    c = Client(live, basic(key))
    async with fake_judge() as judge:
        await _connection(c, judge.url)
        out = await asyncio.to_thread(run_sdk, "5", "v5_evaluators.py", live.api_url, key)
        assert out["created"] == {
            "type": "llm_as_judge", "version": 1, "variables": ["question", "answer", "tone"],
            "roles": ["system", "user"], "model": "judge-1", "output": ["NUMERIC", 1.0, "1 is fully helpful"],
            "mapping": [["question", "input", "$.question"], ["answer", "output", None],
                        ["tone", "metadata", "$.tone"]],
        }  # fmt: skip
        # A new description is not a new version; a new definition is.
        assert out["metadata_update"] == {"version": 1, "description": "helpfulness, 0-1"}
        assert out["definition_update"] == {"version": 2, "description": "helpfulness, 0-1"}
        assert out["versions"] == [2, 1]
        rule_id = out["rule"]["id"]
        assert out["rule"] == {"id": rule_id, "enabled": True, "sampling": 1.0,
                               "filter": [["name", "any of", ["llm"]]],
                               "evaluators": [out["evaluator_id"]]}  # fmt: skip
        assert out["rule_read"] == "helpful" and out["rules"] == [rule_id]
        assert out["assignments"] == [rule_id] and out["evaluators"] == [out["evaluator_id"]]
        assert out["delete_in_use"] == 409 and out["code_evaluator"] == 400 and out["unknown"] == 404
        assert out["two_evaluators"] == 400
        assert out["draft"] == {"enabled": False, "evaluators": []} and out["draft_deleted"] is True

        # The rule made through the SDK is a Tracehouse rule: the UI lists it and can change its delay.
        _, rules, _ = await c.call("GET", "/api/v1/evaluations/rules")
        [mine] = [r for r in rules["items"] if r["id"] == rule_id]
        assert mine["templateId"] == out["evaluator_id"] and mine["provider"] == "judge"
        status, _, _ = await c.call("PUT", "/api/v1/evaluations/rules", {**mine, "delaySeconds": 0})
        assert status == 200

        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        batch: list[dict[str, Any]] = []
        traces = []
        for i, name in enumerate(["llm", "llm", "retriever"]):
            trace_id = uuid.uuid4().hex
            traces.append(trace_id)
            batch += [
                {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": stamp,
                 "body": {"id": trace_id, "name": "support", "timestamp": stamp}},
                {"id": str(uuid.uuid4()), "type": "generation-create", "timestamp": stamp,
                 "body": {"id": f"gen-{i}-{trace_id[:8]}", "traceId": trace_id, "name": name, "startTime": stamp,
                          "input": {"question": f"q{i}"}, "output": f"answer {i}", "metadata": {"tone": "friendly"}}},
            ]  # fmt: skip
        status, doc, _ = await c.call("POST", "/api/public/ingestion", {"batch": batch})
        assert status == 207 and not doc["errors"], doc
        worker = _worker(live)
        await worker.tick()
        await worker.tick()
        scores, _ = await live.store.langfuse.scores("default", traces)
        judged = sorted((s["trace_id"], s["name"], s["value"]) for s in scores if s["source"] == "EVAL")
        assert judged == sorted((t, "helpful", 0.8) for t in traces[:2])  # the retriever did not match
        sent = judge.requests[-1]["body"]["messages"]
        assert [m["role"] for m in sent] == ["system", "system", "user"]  # the instruction, then the evaluator's
        assert sent[1]["content"] == "You grade answers of a support bot."
        assert sent[2]["content"] in (f"Question: q{i}\nAnswer: answer {i}\nTone asked: friendly" for i in (0, 1))

    # Deleting the rule frees the evaluator; then it is gone.
    async with aiohttp.ClientSession(headers=basic(key)) as s:
        async with s.delete(live.api_url + f"{RULES}/{rule_id}") as r:
            assert r.status == 200 and (await r.json()) == {"id": rule_id}
        async with s.delete(live.api_url + f"{EVALUATORS}/{out['evaluator_id']}") as r:
            assert r.status == 200
        async with s.get(live.api_url + f"{EVALUATORS}/{out['evaluator_id']}") as r:
            assert r.status == 404 and (await r.json())["code"] == "resource_not_found"
    await c.close()


async def test_v2_evaluation_api_refuses_garbage_and_other_projects(live: Running) -> None:
    key = await make_key(live)
    other = await live.store.projects.create_project("other-team")
    other_key = await make_key(live, other.id)
    c = Client(live, basic(key))
    good = {"type": "llm_as_judge", "name": "tone", "prompt": "Rate {{output}}",
            "outputDefinition": {"dataType": "BOOLEAN"}}  # fmt: skip
    status, made, _ = await c.call("POST", EVALUATORS, good)
    assert status == 200 and made["modelConfig"] is None and made["variables"] == ["output"], made
    async with aiohttp.ClientSession() as s:
        async with s.get(live.api_url + EVALUATORS) as r:
            assert r.status == 401 and (await r.json())["code"] == "authentication_failed"
        async with s.get(live.api_url + f"{EVALUATORS}/{made['id']}", headers=basic(other_key)) as r:
            assert r.status == 404  # another project's evaluator does not exist for this key
        async with s.get(live.api_url + EVALUATORS, headers=basic(other_key)) as r:
            assert (await r.json())["data"] == []
    bad_evaluators = [
        b"not json",
        [1, 2],
        {**good, "type": "code", "sourceCode": "x"},
        {**good, "outputDefinition": {"dataType": "TEXT"}},
        {**good, "outputDefinition": {"dataType": "NUMERIC", "minValue": 5, "maxValue": 1}},
        {**good, "outputDefinition": {"dataType": "CATEGORICAL", "categories": ["a"],
                                      "shouldAllowMultipleMatches": False}},
        {**good, "outputDefinition": {"dataType": "CATEGORICAL", "categories": ["a", "b"],
                                      "shouldAllowMultipleMatches": True}},
        {**good, "prompt": 42},
        {**good, "prompt": [{"role": "robot", "content": "x"}]},
        {**good, "prompt": [{"role": "system", "content": "only a system message"}]},
        {**good, "name": ""},
        {**good, "variableMapping": [{"variable": "output", "source": "tool_calls"}]},
        {**good, "variableMapping": [{"variable": "output", "source": "output", "jsonPath": "no-dollar"}]},
        {**good, "variableMapping": [{"variable": "o", "source": "output"}, {"variable": "o", "source": "input"}]},
        {**good, "modelConfig": {"provider": "judge"}},
    ]  # fmt: skip
    for body in bad_evaluators:
        raw = body if isinstance(body, bytes) else None
        status, doc, _ = await c.call("POST", EVALUATORS, None if raw else body, raw=raw)
        assert status == 400 and doc["code"] == "invalid_body" and doc["message"], (body, doc)
    bad_rules = [
        {"name": "r", "enabled": True, "evaluatorAssignments": []},  # enabled needs an evaluator
        {"name": "r", "enabled": True, "evaluatorAssignments": [{"evaluatorId": "nope"}]},
        {"name": "r", "enabled": "yes", "evaluatorAssignments": []},
        {"name": "r", "enabled": False, "sampling": None, "evaluatorAssignments": []},
        {"name": "r", "enabled": False, "sampling": 2, "evaluatorAssignments": []},
        {"name": "r", "enabled": False, "evaluatorAssignments": [],
         "filter": [{"type": "string", "column": "userId", "operator": "=", "value": "u"}]},
        {"name": "r", "enabled": False, "evaluatorAssignments": [],
         "filter": [{"type": "stringOptions", "column": "name", "operator": "none of", "value": ["x"]}]},
        {"name": "r", "enabled": False, "evaluatorAssignments": [], "filter": "name=x"},
        {"name": "", "enabled": False, "evaluatorAssignments": []},
    ]  # fmt: skip
    for body in bad_rules:
        status, doc, _ = await c.call("POST", RULES, body)
        assert status in (400, 404) and doc["code"] in ("invalid_body", "resource_not_found"), (body, doc)
    # The evaluator has no model and the project no connection: an enabled rule is refused, saying why.
    status, doc, _ = await c.call(
        "POST", RULES, {"name": "r", "enabled": True, "evaluatorAssignments": [{"evaluatorId": made["id"]}]}
    )
    assert status == 400 and "no LLM connection" in doc["message"]
    for method, path in (("PATCH", f"{EVALUATORS}/{made['id']}"), ("PATCH", f"{RULES}/nope")):
        status, doc, _ = await c.call(method, path, {})
        assert status in (400, 404), (method, path, doc)
    status, doc, _ = await c.call("GET", EVALUATORS + "?limit=0")
    assert status == 400 and doc["code"] == "invalid_query"
    status, doc, _ = await c.call("GET", EVALUATORS + "?cursor=garbage")
    assert status == 400 and doc["code"] == "invalid_query"
    status, doc, _ = await c.call("GET", RULES)
    assert status == 200 and doc["data"] == []  # nothing refused was stored
    _, templates, _ = await c.call("GET", "/api/v1/evaluations/templates")
    assert [t["name"] for t in templates["items"] if not t["builtin"]] == ["tone"]
    await c.close()


async def test_v2_evaluators_page_by_cursor(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    for i in range(5):
        body = {"type": "llm_as_judge", "name": f"e{i}", "prompt": "Rate {{output}}",
                "outputDefinition": {"dataType": "NUMERIC"}}  # fmt: skip
        status, _, _ = await c.call("POST", EVALUATORS, body)
        assert status == 200
    seen: list[str] = []
    cursor = ""
    while True:
        _, page, _ = await c.call("GET", EVALUATORS + "?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [e["name"] for e in page["data"]]
        cursor = page["meta"]["cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"e{i}" for i in range(5)] and len(seen) == 5
    await c.close()
