"""POST /api/public/ingestion as Dify and the SDKs use it, and as they get it wrong."""

import base64
import json
import uuid
from decimal import Decimal

from tests.langfuse_helpers import basic, event, ingest, make_key
from tracehouse.server import Running


def uid() -> str:
    return str(uuid.uuid4())


async def spans_of(live: Running, trace_id: str) -> dict[str, dict]:
    return {s["span_id"]: s for s in await live.store.reader.trace("default", trace_id)}


async def trace_totals(live: Running, trace_id: str) -> dict:
    rows = await live.store.backend.query(
        "SELECT sum(span_count) AS spans, sum(input_tokens) AS tokens, sum(total_cost) AS cost "
        "FROM traces WHERE trace_id = {t:String}",
        {"t": trace_id},
    )
    return rows[0]


async def test_dify_chatflow_run_one_event_per_request(live: Running) -> None:
    headers = basic(await make_key(live))
    message_id, workflow_run, llm_node, retrieval, tool = uid(), uid(), uid(), uid(), uid()
    conversation = uid()
    t0 = "2026-11-27T09:00:00.000000+00:00"
    requests = [
        event(
            "trace-create",
            {
                "id": message_id,
                "name": "message",
                "userId": "end-user",
                "sessionId": conversation,
                "input": {"message": "Refund my order"},
                "output": None,
                "tags": ["message", "workflow"],
                "metadata": {"app_id": "a1", "conversation_id": conversation},
                "version": None,
                "release": None,
                "public": None,
            },
        ),
        event(
            "span-create",
            {
                "id": workflow_run,
                "traceId": message_id,
                "parentObservationId": None,
                "name": "workflow",
                "startTime": t0,
                "endTime": "2026-11-27T09:00:03.000000+00:00",
                "input": {"query": "Refund my order"},
                "output": {"answer": "Done"},
                "metadata": {"workflow_id": "wf"},
                "level": "DEFAULT",
                "statusMessage": "",
                "version": None,
            },
        ),
        event(
            "generation-create",
            {
                "id": llm_node,
                "traceId": message_id,
                "parentObservationId": workflow_run,
                "name": "LLM",
                "startTime": "2026-11-27T09:00:00.500000+00:00",
                "endTime": "2026-11-27T09:00:02.000000+00:00",
                "completionStartTime": "2026-11-27T09:00:00.900000+00:00",
                "model": "gpt-4o",
                "modelParameters": None,
                "input": [{"role": "user", "content": "Refund my order", "files": []}],
                "output": {"text": "Done", "finish_reason": "stop"},
                "usage": {
                    "input": 1000,
                    "output": 100,
                    "total": 1100,
                    "unit": "TOKENS",
                    "inputCost": None,
                    "outputCost": None,
                    "totalCost": None,
                },
                "level": "DEFAULT",
                "statusMessage": "",
                "version": None,
            },
        ),
        event(
            "span-create",
            {
                "id": retrieval,
                "traceId": message_id,
                "parentObservationId": workflow_run,
                "name": "knowledge-retrieval",
                "startTime": "2026-11-27T09:00:00.100000+00:00",
                "endTime": "2026-11-27T09:00:00.400000+00:00",
                "output": {"documents": [{"page_content": "Refunds take 5 days"}]},
            },
        ),
        event(
            "span-create",
            {
                "id": tool,
                "traceId": message_id,
                "parentObservationId": workflow_run,
                "name": "refund_tool",
                "startTime": "2026-11-27T09:00:02.100000+00:00",
                "endTime": "2026-11-27T09:00:02.900000+00:00",
                "input": {"order": 42},
                "output": [{"role": "assistant", "content": "refunded"}],
                "level": "ERROR",
                "statusMessage": "partial refund",
            },
        ),
        # The message generation Dify sends with its own price (id null in some Dify versions).
        event(
            "generation-create",
            {
                "id": None,
                "traceId": message_id,
                "name": "llm",
                "model": "gpt-4o",
                "startTime": "2026-11-27T09:00:00.000000",
                "endTime": "2026-11-27T09:00:03",
                "usage": {"input": 1000, "output": 100, "total": 1100, "unit": "TOKENS", "totalCost": 0.0123},
            },
        ),
    ]
    for e in requests:
        status, reply = await ingest(live, headers, [e])
        assert status == 207 and reply == {"successes": [{"id": e["id"], "status": 201}], "errors": []}

    spans = await spans_of(live, message_id)
    assert len(spans) == 6
    trace = spans[message_id]
    assert trace["observation_type"] == "TRACE" and trace["session_id"] == conversation
    assert spans[workflow_run]["parent_span_id"] == message_id
    for child in (llm_node, retrieval, tool):
        assert spans[child]["parent_span_id"] == workflow_run
    node = spans[llm_node]
    assert node["total_cost"] == Decimal("0.0035")  # 1000 x $2.50/M + 100 x $10/M
    assert node["completion_start_time"] - node["start_time"] == 400_000_000
    assert spans[tool]["level"] == "ERROR" and spans[tool]["status_message"] == "partial refund"
    message = next(s for s in spans.values() if s["name"] == "llm")
    assert message["total_cost"] == Decimal("0.0123")  # the provided price wins over the table
    assert message["parent_span_id"] == message_id
    totals = await trace_totals(live, message_id)
    assert totals == {"spans": 5, "tokens": 2000, "cost": Decimal("0.0158")}

    # The same event re-sent (the SDKs retry whole batches): nothing changes.
    status, reply = await ingest(live, headers, requests[2:3])
    assert status == 207 and reply["successes"][0]["status"] == 201
    assert await trace_totals(live, message_id) == totals


async def test_dify_workflow_run_nodes_flat_under_the_trace(live: Running) -> None:
    headers = basic(await make_key(live))
    run_id, node_a, node_b = uid(), uid(), uid()
    batch = [
        event("trace-create", {"id": run_id, "name": "workflow", "tags": ["workflow"], "userId": "u"}),
        event(
            "span-create",
            {
                "id": node_a,
                "traceId": run_id,
                "name": "Start",
                "startTime": "2026-11-27T08:00:00Z",
                "endTime": "2026-11-27T08:00:01Z",
            },
        ),
        event(
            "generation-create",
            {
                "id": node_b,
                "traceId": run_id,
                "name": "LLM",
                "model": "gpt-4o-mini",
                "startTime": "2026-11-27T08:00:01Z",
                "endTime": "2026-11-27T08:00:02Z",
                "usage": {"input": 10, "output": 10, "unit": "CHARACTERS"},
            },
        ),
    ]
    status, reply = await ingest(live, headers, batch)
    assert status == 207 and len(reply["successes"]) == 3
    spans = await spans_of(live, run_id)
    assert spans[node_a]["parent_span_id"] == run_id and spans[node_b]["parent_span_id"] == run_id
    assert spans[node_b]["input_tokens"] == 0  # characters are not tokens ...
    assert spans[node_b]["usage_details"] == {"input": 10, "output": 10, "total": 20}  # ... but are kept


async def test_update_before_create_and_in_later_requests(live: Running) -> None:
    headers = basic(await make_key(live))
    trace_id, gen_id = uid(), uid()
    update = event(
        "generation-update",
        {
            "id": gen_id,
            "traceId": trace_id,
            "endTime": "2026-11-27T07:00:05Z",
            "output": "late answer",
            "usage": {"input": 50, "output": 5},
        },
        timestamp="2026-11-27T07:00:05Z",
    )
    status, _ = await ingest(live, headers, [update])
    assert status == 207
    create = event(
        "generation-create",
        {
            "id": gen_id,
            "traceId": trace_id,
            "name": "chat",
            "model": "gpt-4o",
            "startTime": "2026-11-27T07:00:00Z",
            "input": "question",
            "output": None,
            "metadata": {"k": 1},
        },
        timestamp="2026-11-27T07:00:00Z",
    )
    status, _ = await ingest(live, headers, [create])
    assert status == 207
    spans = await spans_of(live, trace_id)
    gen = spans[gen_id]
    assert gen["name"] == "chat" and gen["output"] == "late answer" and gen["input"] == "question"
    assert gen["observation_type"] == "GENERATION" and gen["input_tokens"] == 50
    assert gen["metadata"] == {"k": "1"}
    # start time is immutable: the update (first) fixed it at its own event time
    assert gen["start_time"] == 1_795_762_805_000_000_000
    assert spans[trace_id]["observation_type"] == "TRACE"  # the orphan trace id was created
    assert await trace_totals(live, trace_id) == {"spans": 1, "tokens": 50, "cost": Decimal("0.0001750")}


async def test_partly_invalid_batch_keeps_the_good_events(live: Running) -> None:
    headers = basic(await make_key(live))
    trace_id = uid()
    good = event("trace-create", {"id": trace_id, "name": "ok"})
    batch = [
        good,
        {"id": "e-no-type", "body": {}},
        {"type": "trace-create", "body": {"id": "x"}},
        event("span-create", {"id": uid(), "traceId": trace_id, "name": 42}, event_id="e-bad-name"),
        event("span-create", {"id": uid(), "startTime": "yesterday"}, event_id="e-bad-time"),
        event("generation-create", {"id": uid(), "usage": "lots"}, event_id="e-bad-usage"),
        event("score-create", {"id": uid(), "name": "", "value": 1}, event_id="e-bad-score"),
        # Deeper than its state's JSON can be kept: it failed the writes of the whole flush (500).
        event(
            "span-create",
            {"id": uid(), "traceId": trace_id, "input": json.loads("[" * 300 + "]" * 300)},
            event_id="e-too-deep",
        ),
        "not an event",
        event("sdk-log", {"log": {"message": "hello"}}, event_id="e-log"),
    ]
    status, reply = await ingest(live, headers, batch)
    assert status == 207
    assert reply["successes"] == [{"id": good["id"], "status": 201}]
    errors = {e["id"]: e for e in reply["errors"]}
    assert set(errors) == {
        "e-no-type",
        "unknown",
        "e-bad-name",
        "e-bad-time",
        "e-bad-usage",
        "e-bad-score",
        "e-too-deep",
    }
    assert all(e["status"] == 400 and e["message"] == "Invalid request data" for e in reply["errors"])
    assert "name must be a string" in errors["e-bad-name"]["error"]
    assert "nests too deep" in errors["e-too-deep"]["error"]
    assert (await spans_of(live, trace_id))[trace_id]["name"] == "ok"


async def test_null_ids_get_stable_ids_and_naive_times_are_utc(live: Running) -> None:
    headers = basic(await make_key(live))
    conversation = uid()
    e1 = event("trace-create", {"id": None, "name": "generate_conversation_name", "userId": "tenant"})
    e2 = event(
        "span-create",
        {
            "id": None,
            "traceId": conversation,
            "name": "generate_conversation_name",
            "startTime": "2026-11-27T06:00:00",
            "endTime": "2026-11-27T06:00:01.5",
        },
    )
    for _ in range(2):  # re-sent: same derived ids, stored once
        status, reply = await ingest(live, headers, [e1, e2])
        assert status == 207 and not reply["errors"]
    spans = await spans_of(live, conversation)
    [span] = [s for s in spans.values() if s["observation_type"] == "SPAN"]
    assert span["start_time"] == 1_795_759_200_000_000_000 and span["duration_ns"] == 1_500_000_000
    rows = await live.store.backend.query(
        "SELECT count() AS n FROM spans WHERE trace_name = 'generate_conversation_name' AND sign = 1"
    )
    assert rows[0]["n"] == 1


async def test_envelope_auth_and_size_errors(live: Running) -> None:
    pair = await make_key(live)
    headers = basic(pair)
    assert (await ingest(live, headers, None, raw=b"{not json"))[0] == 400
    status, reply = await ingest(live, headers, {"batch": "nope"})
    assert status == 400 and reply["message"] == "Invalid request data"
    assert (await ingest(live, {}, []))[0] == 401
    wrong = base64.b64encode(f"{pair.public_key}:sk-th-wrong".encode()).decode()
    status, reply = await ingest(live, {"Authorization": f"Basic {wrong}"}, [])
    assert status == 401 and set(reply) == {"error", "message"}
    big = [event("trace-create", {"id": uid(), "input": "x" * 1_000_000}) for _ in range(6)]
    assert (await ingest(live, headers, big))[0] == 413
    # a public key alone may send scores, nothing else
    bearer = {"Authorization": f"Bearer {pair.public_key}"}
    status, reply = await ingest(
        live,
        bearer,
        [
            event("score-create", {"name": "s", "value": 1, "traceId": "t"}),
            event("trace-create", {"id": uid()}, event_id="e-trace"),
        ],
    )
    assert status == 207 and len(reply["successes"]) == 1
    assert reply["errors"][0]["id"] == "e-trace" and reply["errors"][0]["status"] == 401


async def test_projects_scores_and_path_prefix(live: Running) -> None:
    pair = await make_key(live)
    headers = basic(pair)
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(live.api_url + "/api/public/projects", headers=headers) as r:
            assert r.status == 200
            doc = await r.json()
        assert doc["data"][0]["id"] == "default"
        assert (
            doc["data"][0]["organization"] == {"id": "default", "name": "Default"} and doc["data"][0]["metadata"] == {}
        )
        async with session.get(live.api_url + "/api/public/projects") as r:
            assert r.status == 401
        async with session.post(
            live.api_url + "/api/public/scores",
            headers=headers,
            json={"name": "helpful", "value": True, "traceId": "t-1"},
        ) as r:
            assert r.status == 200
            score_id = (await r.json())["id"]
        # behind a proxy that keeps a path prefix, on the OTLP/HTTP port too
        trace_id = uid()
        status, _ = await ingest(
            live,
            headers,
            [event("trace-create", {"id": trace_id})],
            path="/langfuse/api/public/ingestion",
            base=live.otlp_http_url,
        )
        assert status == 207
    [score] = await live.store.backend.query(
        "SELECT data_type, value, string_value FROM scores FINAL WHERE id = {i:String}", {"i": score_id}
    )
    assert score == {"data_type": "BOOLEAN", "value": 1.0, "string_value": "True"}  # as Langfuse writes it
    assert trace_id in await spans_of(live, trace_id)
    rows = await live.store.backend.query("SELECT count() AS n FROM langfuse_events")
    assert rows[0]["n"] > 0
    assert json.dumps(doc)  # the reply is plain JSON


async def test_score_lists_store_the_good_scores_and_name_the_bad(live: Running) -> None:
    headers = basic(await make_key(live))
    import aiohttp

    async def post(body: object) -> tuple[int, dict]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(live.api_url + "/api/public/scores", headers=headers, data=json.dumps(body)) as r,
        ):
            return r.status, await r.json()

    garbage = [
        "not a score",
        None,
        {"name": "n"},  # no value
        {"value": 1},  # no name
        {"name": "n", "value": {"nested": 1}},
        {"name": "n", "value": 1, "timestamp": "yesterday"},
    ]
    status, doc = await post(
        [{"id": "good-1", "name": "n", "value": 2}, *garbage, {"id": "good-2", "name": "n", "value": 3}]
    )
    assert status == 207
    assert (doc["accepted"], doc["rejected"]) == (2, len(garbage))
    assert [e["index"] for e in doc["errors"]] == list(range(1, len(garbage) + 1))
    assert all(e["message"] for e in doc["errors"])
    rows = await live.store.backend.query("SELECT id, value FROM scores FINAL WHERE name = 'n' ORDER BY id", {})
    assert rows == [{"id": "good-1", "value": 2.0}, {"id": "good-2", "value": 3.0}]

    assert await post([]) == (202, {"message": "Accepted"})
    status, doc = await post([{"name": "n", "value": 1}] * 1001)
    assert status == 413 and "at most 1000" in doc["message"]
    status, doc = await post("a string")
    assert status == 400 and doc["error"] == "Invalid request data"


async def test_an_observation_named_by_its_traces_id_keeps_the_trace(live: Running) -> None:
    """Langfuse's LangChain handler for JavaScript (langfuse-langchain 3.x) makes its root run both
    the trace and that trace's first span, under one id. The span took the trace's row's key: once
    ClickHouse merged them, the trace had no name, user, session or tags (and before, the span
    was hidden). Both kept, through a merge; the span's id reads back as sent."""
    import asyncio

    import httpx

    from tests.fake_openai import fake_openai
    from tests.langfuse_helpers import JS_LANGCHAIN, run_js

    pair = await make_key(live)
    headers = basic(pair)
    async with fake_openai() as base_url:
        graph = await asyncio.to_thread(run_js, "js_langchain.cjs", live.api_url, pair, base_url, modules=JS_LANGCHAIN)
    trace_id = graph["trace_id"]
    url = f"{live.api_url}/api/public/traces/{trace_id}"
    async with httpx.AsyncClient() as http:
        for _ in range(600):  # acked is durable at once, readable a moment later
            r = await http.get(url, headers=headers)
            if r.status_code == 200 and len(r.json()["observations"]) >= 20:
                break
            await asyncio.sleep(0.1)
        await live.store.backend.execute("OPTIMIZE TABLE spans FINAL")  # what ClickHouse's merges do in time
        trace = (await http.get(url, headers=headers)).json()
        root = (await http.get(f"{live.api_url}/api/public/observations/{trace_id}", headers=headers)).json()
        params = {"parentObservationId": trace_id, "name": "agent"}
        agents = (await http.get(f"{live.api_url}/api/public/observations", headers=headers, params=params)).json()
        params = {"parentObservationId": trace_id, "limit": "100"}
        children = (await http.get(f"{live.api_url}/api/public/observations", headers=headers, params=params)).json()
    assert (trace["name"], trace["sessionId"]) == ("LangGraph", "js-langgraph")
    observations = {o["id"]: o for o in trace["observations"]}
    assert trace_id in observations and len(observations) == len(trace["observations"]) == 20
    assert (root["id"], root["name"], root["parentObservationId"]) == (trace_id, "LangGraph", None)
    under_root = sorted(o["name"] for o in trace["observations"] if o["parentObservationId"] == trace_id)
    assert under_root == ["__start__", "agent", "agent", "tools"]
    assert [o["parentObservationId"] for o in agents["data"]] == [trace_id, trace_id]
    # Those under the root, not the root (a top-level observation, its stored parent the trace's id).
    assert sorted(o["name"] for o in children["data"]) == under_root
