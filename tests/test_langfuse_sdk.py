"""The real langfuse SDKs from PyPI (2.x as Dify <= 1.12 pins it, 4.x as Dify uses now, and the
newest 5.x) against Tracehouse, with nothing changed but the host."""

import asyncio
import json
from decimal import Decimal

import aiohttp
import pytest

from storage.langfuse import LangfuseReader
from tests.fake_openai import fake_openai
from tests.langfuse_helpers import basic, make_key, run_sdk
from tracehouse.server import Running


async def summary(live: Running, trace_id: str) -> dict:
    rows = await live.store.backend.query(
        "SELECT sum(span_count) AS spans, sum(input_tokens) AS input_tokens, sum(total_cost) AS cost, "
        "max(user_id) AS user_id, max(session_id) AS session_id, groupUniqArrayArray(tags) AS tags "
        "FROM traces WHERE trace_id = {t:String}",
        {"t": trace_id},
    )
    return rows[0]


async def test_langfuse_2_sdk_as_dify_era_a(live: Running) -> None:
    pair = await make_key(live)
    ids = await asyncio.to_thread(run_sdk, "2", "v2_dify.py", live.api_url, pair)
    spans = {s["span_id"]: s for s in await live.store.reader.trace("default", ids["trace_id"])}
    trace, workflow, generation = spans[ids["trace_id"]], spans[ids["workflow_id"]], spans[ids["generation_id"]]

    assert trace["observation_type"] == "TRACE" and trace["name"] == "message"
    assert trace["user_id"] == "end-user-7" and trace["session_id"] == "conversation-42"
    assert trace["tags"] == ["chat", "extra", "message"]  # create + update: union
    assert trace["metadata"] == {"app_id": '"app-1"', "nested": '{"a":1,"b":2}'}  # deep merge
    assert trace["output"] == '[{"role":"assistant","content":"Sunny."}]'

    assert workflow["parent_span_id"] == ids["trace_id"] and workflow["output"] == '{"answer":"Sunny."}'
    assert generation["parent_span_id"] == ids["workflow_id"]
    assert generation["observation_type"] == "GENERATION" and generation["model"] == "gpt-4o"
    assert (generation["input_tokens"], generation["output_tokens"], generation["total_tokens"]) == (120, 30, 150)
    assert generation["total_cost"] == Decimal("0.0006")  # 120 x $2.50/M + 30 x $10/M
    assert generation["output"] == '{"text":"Sunny."}'  # from generation.end()
    assert generation["duration_ns"] == 800_000_000

    assert await summary(live, ids["trace_id"]) == {
        "spans": 2,
        "input_tokens": 120,
        "cost": Decimal("0.0006"),
        "user_id": "end-user-7",
        "session_id": "conversation-42",
        "tags": ["extra", "chat", "message"],
    }
    fetched = ids["fetched"]
    assert fetched["name"] == "message" and fetched["session_id"] == "conversation-42"
    assert fetched["total_cost"] == 0.0006 and fetched["latency"] >= 1.0
    assert fetched["observations"] == sorted([ids["workflow_id"], ids["generation_id"]])
    assert fetched["scores"] == 2 and fetched["tags"] == ["chat", "extra", "message"]
    assert ids["listed"] == [ids["trace_id"]]
    assert ids["observation_types"] == ["GENERATION", "SPAN"]
    scores = await live.store.backend.query(
        "SELECT name, value, string_value, data_type, observation_id, comment FROM scores FINAL "
        "WHERE trace_id = {t:String} ORDER BY name",
        {"t": ids["trace_id"]},
    )
    assert scores == [
        {
            "name": "correct",
            "value": 0.0,
            "string_value": "yes",
            "data_type": "CATEGORICAL",
            "observation_id": ids["generation_id"],
            "comment": "",
        },
        {
            "name": "user-feedback",
            "value": 1.0,
            "string_value": "",
            "data_type": "NUMERIC",
            "observation_id": "",
            "comment": "thumbs up",
        },
    ]


async def test_langfuse_4_sdk_as_dify_era_b_and_otel(live: Running) -> None:
    pair = await make_key(live)
    ids = await asyncio.to_thread(run_sdk, "4", "v4_dify.py", live.api_url, pair)
    assert ids["project_id"] == "default"

    spans = {s["name"]: s for s in await live.store.reader.trace("default", ids["trace_id"])}
    assert set(spans) == {"workflow", "start", "LLM"}
    assert spans["workflow"]["observation_type"] == "TRACE" and spans["workflow"]["user_id"] == "user-9"
    llm = spans["LLM"]
    assert llm["parent_span_id"] == ids["trace_id"]  # Dify workflow nodes hang flat under the trace
    assert (llm["input_tokens"], llm["output_tokens"]) == (40, 8)
    assert llm["total_cost"] == Decimal("0.0000108")  # gpt-4o-mini: 40 x $0.15/M + 8 x $0.60/M

    # The SDK's own tracing path: OTLP to /api/public/otel/v1/traces with langfuse.* attributes.
    otel = {s["name"]: s for s in await live.store.reader.trace("default", ids["otel_trace_id"])}
    assert set(otel) == {"answer-question", "llm-call"}
    generation = otel["llm-call"]
    assert generation["observation_type"] == "GENERATION" and generation["model"] == "gpt-4o"
    assert (generation["input_tokens"], generation["output_tokens"]) == (11, 2)
    assert generation["total_cost"] == Decimal("0.0000475")
    assert generation["user_id"] == "otel-user" and generation["session_id"] == "otel-session"
    assert otel["answer-question"]["output"] == "Paris"
    assert (await summary(live, ids["otel_trace_id"]))["tags"] == ["sdk-v4"]


async def test_langfuse_5_sdk_traces_and_batched_scores(live: Running) -> None:
    pair = await make_key(live)
    ids = await asyncio.to_thread(run_sdk, "5", "v5_scores.py", live.api_url, pair)

    spans = {s["name"]: s for s in await live.store.reader.trace("default", ids["trace_id"])}
    assert spans["llm-call"]["observation_type"] == "GENERATION"
    assert (spans["llm-call"]["input_tokens"], spans["llm-call"]["output_tokens"]) == (7, 1)

    # The SDK's score queue sends its scores as one JSON list; every one is stored where it belongs.
    rows, _ = await LangfuseReader(live.store.backend).scores("default", [ids["trace_id"]])
    scores = {s["id"]: s for s in rows}
    # batch-3 was deleted by the SDK after it was stored; the others stay.
    assert set(scores) == {"score-obs", "score-trace", "score-cat", "batch-1", "batch-2"}
    assert ids["delete_unknown"] == "NotFoundError"
    assert scores["score-obs"]["observation_id"] == ids["observation_id"]
    assert (scores["score-obs"]["data_type"], scores["score-obs"]["value"]) == ("BOOLEAN", 1.0)
    assert (scores["score-trace"]["value"], scores["score-trace"]["comment"]) == (0.9, "good")
    assert (scores["score-cat"]["data_type"], scores["score-cat"]["string_value"]) == ("CATEGORICAL", "friendly")
    assert ids["accepted"] == {"message": "Accepted"}  # 202: the whole batch
    partial = ids["partial"]  # 207: the good score stored, the bad one named
    assert (partial["accepted"], partial["rejected"]) == (1, 1)
    assert "score name is required" in partial["errors"][0]["message"]

    # The SDK's scores select its trace in the traces list (the observation's too); the score it
    # deleted does not.
    async def listed(*filters: str) -> list[str]:
        params = [("score", f) for f in filters] + [("start", "2000-01-01T00:00:00Z")]
        async with (
            aiohttp.ClientSession() as session,
            session.get(live.api_url + "/api/v1/traces", params=params, headers=basic(pair)) as r,
        ):
            assert r.status == 200, await r.text()
            return [t["trace_id"] for t in (await r.json())["items"]]

    assert await listed("correct=1", "tone=friendly", "quality>0.8") == [ids["trace_id"]]
    assert await listed("batch>=3") == [] and await listed("batch>2") == [ids["trace_id"]]


async def test_langfuse_5_sdk_deletes_traces(live: Running) -> None:
    """``api.trace.delete`` and ``api.trace.delete_multiple`` (Langfuse's DELETE /traces/{id} and
    DELETE /traces): the traces, their spans and scores are gone; the others stay; bad bodies are
    refused in Langfuse's shape."""
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, "5", "v5_delete.py", live.api_url, pair)
    assert out["one"] == {"message": "Trace deleted successfully"}
    assert out["many"] == {"message": "Traces deleted successfully"}
    assert [out["after"][t] for t in out["ids"]] == [0, 0, 0] and out["after"][out["kept"]] == 1
    for table in ("spans", "traces", "trace_index", "scores"):
        rows = await live.store.backend.query(
            f"SELECT count() AS n FROM {table} WHERE trace_id IN {{ids:Array(String)}}", {"ids": out["ids"]}
        )
        assert rows[0]["n"] == 0, table
    assert await live.store.reader.trace("default", out["kept"])
    async with aiohttp.ClientSession(headers=basic(pair)) as s:
        for body in (b"not json", b'{"traceIds": []}', b'{"traceIds": [1]}', b'{"traceIds": "t"}', b"[]"):
            async with s.delete(f"{live.api_url}/api/public/traces", data=body) as r:
                doc = await r.json()
                assert r.status == 400 and doc["error"] == "InvalidRequestError", (body, doc)
        async with s.delete(
            f"{live.api_url}/api/public/traces/{out['kept']}", headers={"Authorization": "Basic eDp5"}
        ) as r:
            assert r.status == 401
    assert await live.store.reader.trace("default", out["kept"])  # still there


async def test_langfuse_5_sdk_reads_inputs_and_outputs_back_as_sent(live: Running) -> None:
    """An SDK's input and output come back through Langfuse's API as it sent them: chat messages in
    OpenAI's shape with their provider keys (``cache_control``, a message's ``name``), a tool call,
    a request body beside its messages. (They came back rewritten into the GenAI conventions'
    ``parts``, ``cache_control`` and ``temperature`` dropped.)"""
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, "5", "v5_io_fidelity.py", live.api_url, pair)
    sent = out["sent"]
    root = {"input": sent["root_input"], "output": sent["root_output"]}
    chat = {"input": sent["input"], "output": sent["output"]}
    # v2 gives io as the raw strings: the same JSON, parsed.
    assert {name: {k: json.loads(v) for k, v in io.items()} for name, io in out["v2"].items()} == {
        "agent": root, "chat": chat
    }  # fmt: skip
    # The v1 trace by id (what SDK 2.x to 4.x and the JS SDKs read): the trace and its observations.
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{live.api_url}/api/public/traces/{out['trace_id']}", headers=basic(pair)) as r,
    ):
        trace = await r.json()
    assert {"input": trace["input"], "output": trace["output"]} == root
    assert {o["name"]: {"input": o["input"], "output": o["output"]} for o in trace["observations"]} == {
        "agent": root, "chat": chat
    }  # fmt: skip


@pytest.mark.parametrize("version", ["4", "5"])
async def test_langfuse_openai_integration_keeps_cached_and_reasoning_tokens(live: Running, version: str) -> None:
    """Langfuse's OpenAI integration sends OpenAI's usage as it came (``prompt_tokens`` with
    ``prompt_tokens_details.cached_tokens``; a response's ``input_tokens_details``). Read as
    Langfuse reads it: cached input and reasoning apart, the cached tokens priced as such. (The
    details were dropped: every cached token charged at the full input price, and the usage given
    back under OpenAI's keys.)"""
    pair = await make_key(live)
    async with fake_openai() as base_url:
        out = await asyncio.to_thread(run_sdk, version, "openai_usage.py", live.api_url, pair, base_url, isolated=False)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{live.api_url}/api/public/traces/{out['trace_id']}", headers=basic(pair)) as r,
    ):
        observations = {o["name"]: o for o in (await r.json())["observations"]}
    chat, response = observations["chat-cached"], observations["response-cached"]
    # 31 prompt tokens, 16 of them cached; 9 output tokens, 4 of them reasoning.
    assert chat["usageDetails"] == {"input": 15, "input_cached_tokens": 16, "output": 5, "output_reasoning_tokens": 4,
                                    "total": 40}  # fmt: skip
    # gpt-4o-mini: 0.15 USD per million input tokens, 0.075 cached, 0.6 output (reasoning among them).
    assert chat["calculatedTotalCost"] == pytest.approx(15 * 0.15e-6 + 16 * 0.075e-6 + 9 * 0.6e-6)
    # Each cost under the usage key it prices, as Langfuse gives them.
    assert chat["costDetails"] == pytest.approx(
        {"input": 15 * 0.15e-6, "input_cached_tokens": 16 * 0.075e-6, "output": 9 * 0.6e-6, "total": 8.85e-6}
    )
    assert response["usageDetails"] == {"input": 4, "input_cached_tokens": 8, "output": 3,
                                        "output_reasoning_tokens": 2, "total": 17}  # fmt: skip
    assert response["calculatedTotalCost"] == pytest.approx(4 * 0.15e-6 + 8 * 0.075e-6 + 5 * 0.6e-6)
    # The typed columns count inclusively, as the OpenTelemetry conventions do.
    spans = {s["name"]: s for s in await live.store.reader.trace("default", out["trace_id"])}
    columns = ("input_tokens", "cache_read_tokens", "output_tokens", "reasoning_tokens", "total_tokens")
    assert [spans["chat-cached"][c] for c in columns] == [31, 16, 9, 4, 40]
    assert [spans["response-cached"][c] for c in columns] == [12, 8, 5, 2, 17]


async def test_langfuse_4_sdk_trace_input_and_output_set_apart(live: Running) -> None:
    """``set_current_trace_io`` / ``set_trace_io`` (SDK 3-4, Langfuse's legacy evaluators rely on them)
    give the trace its own input and output, wherever in the trace they are called; the spans keep
    theirs. (The trace read its root's input and output, and a child's trace input became that
    child's own input.) Read back through Langfuse's API, ours, the UI's list and the evaluator."""
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, "4", "v4_trace_io.py", live.api_url, pair)
    sent, trace_id, bare_id = out["sent"], out["trace_id"], out["bare_trace_id"]
    trace = {"input": sent["trace_input"], "output": sent["trace_output"]}
    own = {
        "agent": {"input": sent["root_input"], "output": sent["root_output"]},
        "retrieve": {"input": sent["child_input"], "output": None},
    }
    assert out["one"] == trace and out["listed"][trace_id] == trace
    assert out["one_observations"] == own
    # v2 gives io as the raw strings: the same JSON, parsed.
    parsed = {
        name: {k: v if v is None else json.loads(v) for k, v in io.items()} for name, io in out["observations"].items()
    }
    assert parsed == own
    # A root without an input of its own shows the trace's as its own too (it stands for the trace).
    assert out["bare"] == {"input": sent["only_trace_input"], "output": None}
    assert out["listed"][bare_id] == out["bare"]

    # Our API: the trace's own beside its spans', and the list's previews.
    async with aiohttp.ClientSession(headers=basic(pair)) as s:
        async with s.get(f"{live.api_url}/api/v1/traces/{trace_id}") as r:
            doc = await r.json()
        async with s.get(f"{live.api_url}/api/v1/traces") as r:
            page = {t["trace_id"]: t for t in (await r.json())["items"]}
        async with s.get(f"{live.api_url}/api/v1/traces/{bare_id}") as r:
            bare = await r.json()
        async with s.get(f"{live.api_url}/api/v1/traces/export?format=jsonl") as r:
            exported = {d["trace_id"]: d for d in map(json.loads, (await r.text()).splitlines())}
    assert doc["trace_input"] == sent["trace_input"]  # a string is sent as it is, not as JSON
    assert json.loads(doc["trace_output"]) == sent["trace_output"]
    spans = {s["name"]: s for s in doc["spans"]}
    assert json.loads(spans["retrieve"]["input"]) == sent["child_input"]
    assert json.loads(spans["agent"]["input"]) == sent["root_input"]
    assert page[trace_id]["input"] == sent["trace_input"]
    assert json.loads(page[trace_id]["output"]) == sent["trace_output"]
    assert exported[trace_id]["input"] == sent["trace_input"]  # the export, as the list
    assert json.loads(exported[trace_id]["output"]) == sent["trace_output"]
    assert json.loads(bare["trace_input"]) == sent["only_trace_input"] and bare["trace_output"] is None

    # An evaluator of traces judges the trace's input and output.
    root_span = spans["agent"]["span_id"]
    facts = await live.store.evaluations.object_facts("default", trace_id, root_span, trace=True)
    assert facts is not None
    assert facts["f_input"] == sent["trace_input"]
    assert json.loads(facts["f_output"]) == sent["trace_output"]
    facts = await live.store.evaluations.object_facts("default", trace_id, root_span)
    assert facts is not None and json.loads(facts["f_input"]) == sent["root_input"]
