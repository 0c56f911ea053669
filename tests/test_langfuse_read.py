"""Langfuse's public read API over data sent through the ingestion API."""

import asyncio
import datetime as dt
import json
import uuid
from decimal import Decimal
from urllib.parse import quote

import aiohttp

from storage.langfuse import LangfuseReader
from storage.reader import TraceReader
from tests.helpers import NOW_NS, SECOND, send_workload, span, span_table
from tests.langfuse_helpers import basic, event, ingest, make_key, run_sdk
from tracehouse.server import Running


async def get(live: Running, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.get(live.api_url + path, headers=headers) as r:
        return r.status, await r.json()


async def seed(live: Running, headers: dict[str, str]) -> list[str]:
    trace_ids = []
    for i in range(3):
        trace_id = str(uuid.uuid4())
        trace_ids.append(trace_id)
        day = f"2026-11-2{i + 1}T12:00:00Z"
        batch = [
            event(
                "trace-create",
                {
                    "id": trace_id,
                    "name": f"chat-{i}",
                    "timestamp": day,
                    "userId": "alice",
                    "sessionId": "sess-1" if i < 2 else "sess-2",
                    "tags": ["t", "weekly"] if i == 1 else ["t"],
                    "input": {"q": i},
                    "output": "answer",
                    "metadata": {"k": i},
                },
            ),
            event(
                "generation-create",
                {
                    "id": f"{trace_id}-gen",
                    "traceId": trace_id,
                    "name": "llm",
                    "model": "gpt-4o-mini",
                    "startTime": day,
                    "endTime": day.replace("12:00:00", "12:00:02"),
                    "usage": {"input": 100, "output": 10},
                },
            ),
            event(
                "score-create",
                {"id": f"{trace_id}-score", "traceId": trace_id, "name": "quality", "value": 0.5 + i / 10},
            ),
        ]
        status, reply = await ingest(live, headers, batch)
        assert status == 207 and not reply["errors"]
    return trace_ids


async def test_read_api(live: Running) -> None:
    headers = basic(await make_key(live))
    ids = await seed(live, headers)

    status, doc = await get(live, "/api/public/traces?limit=2&userId=alice", headers)
    assert status == 200 and doc["meta"] == {"page": 1, "limit": 2, "totalItems": 3, "totalPages": 2}
    assert [t["id"] for t in doc["data"]] == [ids[2], ids[1]]  # newest first
    first = doc["data"][0]
    assert first["name"] == "chat-2" and first["input"] == {"q": 2} and first["output"] == "answer"
    assert first["metadata"] == {"k": 2} and first["tags"] == ["t"] and first["latency"] == 2.0
    assert first["observations"] == [f"{ids[2]}-gen"] and first["scores"] == [f"{ids[2]}-score"]
    assert first["htmlPath"] == f"/project/default/traces/{ids[2]}"
    status, doc = await get(live, "/api/public/traces?page=2&limit=2&userId=alice", headers)
    assert [t["id"] for t in doc["data"]] == [ids[0]]
    status, doc = await get(live, "/api/public/traces?sessionId=sess-2", headers)
    assert [t["id"] for t in doc["data"]] == [ids[2]]
    status, doc = await get(
        live, "/api/public/traces?fromTimestamp=2026-11-22T00:00:00Z&toTimestamp=2026-11-23T00:00:00Z", headers
    )
    assert [t["id"] for t in doc["data"]] == [ids[1]]

    status, trace = await get(live, f"/api/public/traces/{ids[0]}", headers)
    assert status == 200 and trace["totalCost"] == 0.000021  # 100 x $0.15/M + 10 x $0.60/M
    [obs] = trace["observations"]
    assert obs["type"] == "GENERATION" and obs["parentObservationId"] is None and obs["latency"] == 2.0
    assert obs["usage"] == {"input": 100, "output": 10, "total": 110, "unit": "TOKENS"}
    assert trace["scores"][0]["value"] == 0.5 and trace["scores"][0]["dataType"] == "NUMERIC"

    status, doc = await get(live, f"/api/public/observations?traceId={ids[1]}", headers)
    assert [o["id"] for o in doc["data"]] == [f"{ids[1]}-gen"]
    status, obs = await get(live, f"/api/public/observations/{ids[1]}-gen", headers)
    assert status == 200 and obs["model"] == "gpt-4o-mini"
    status, doc = await get(live, "/api/public/scores?name=quality", headers)
    assert doc["meta"]["totalItems"] == 3
    status, doc = await get(live, "/api/public/sessions", headers)
    assert sorted(s["id"] for s in doc["data"]) == ["sess-1", "sess-2"]
    status, session = await get(live, "/api/public/sessions/sess-1", headers)
    assert [t["id"] for t in session["traces"]] == [ids[0], ids[1]]
    status, doc = await get(live, "/api/public/metrics/daily", headers)
    assert [d["date"] for d in doc["data"]] == ["2026-11-23", "2026-11-22", "2026-11-21"]
    assert doc["data"][0]["usage"][0] == {
        "model": "gpt-4o-mini",
        "inputUsage": 100,
        "outputUsage": 10,
        "totalUsage": 110,
        "countObservations": 1,
        "countTraces": 1,
        "totalCost": 0.000021,
    }
    # By the traces' tags (all of) and environment (any of), as Dify's SDK 2 asks.
    for query, days in (
        ("tags=weekly", ["2026-11-22"]),
        ("tags=t&tags=weekly", ["2026-11-22"]),
        ("tags=t", ["2026-11-23", "2026-11-22", "2026-11-21"]),
        ("tags=nope", []),
        ("environment=default", ["2026-11-23", "2026-11-22", "2026-11-21"]),
        ("environment=prod&environment=staging", []),
        ("tags=weekly&userId=alice&traceName=chat-1", ["2026-11-22"]),
    ):
        status, doc = await get(live, f"/api/public/metrics/daily?{query}", headers)
        assert status == 200 and [d["date"] for d in doc["data"]] == days, query
        assert all(d["countTraces"] == 1 for d in doc["data"]), query


async def test_read_api_errors_and_isolation(live: Running) -> None:
    headers = basic(await make_key(live))
    ids = await seed(live, headers)
    other = await live.store.projects.create_project("other")
    other_headers = basic(await make_key(live, other.id))
    assert (await get(live, f"/api/public/traces/{ids[0]}", other_headers))[0] == 404
    status, doc = await get(live, "/api/public/traces", other_headers)
    assert status == 200 and doc["data"] == []
    assert (await get(live, "/api/public/traces", {}))[0] == 401
    status, doc = await get(live, "/api/public/traces?limit=1000", headers)
    assert status == 400 and set(doc) == {"error", "message"}
    assert (await get(live, "/api/public/traces?fromTimestamp=yesterday", headers))[0] == 400
    assert (await get(live, "/api/public/observations/nope", headers))[0] == 404
    status, doc = await get(live, "/api/public/traces?userId=' OR 1=1 --", headers)
    assert status == 200 and doc["data"] == []


async def test_what_tracehouse_does_not_serve_answers_in_langfuses_shape(live: Running) -> None:
    headers = basic(await make_key(live))
    async with aiohttp.ClientSession() as session:
        for method, path, hint in [
            ("GET", "/api/public/unstable/skills", "use /api/public/skills"),
            ("POST", "/api/public/integrations/blob-storage", "blob-storage"),
            ("GET", "/api/public/unstable/dashboards", "dashboard"),
            ("GET", "/api/public/v9/anything", "Served: ingestion"),
            ("DELETE", "/langfuse/api/public/whatever", "Served: ingestion"),  # behind a proxy prefix
        ]:
            async with session.request(method, live.api_url + path, headers=headers) as r:
                doc = await r.json()
                assert r.status == 404 and r.content_type == "application/json", path
                assert doc["error"] == "LangfuseNotFoundError" and hint in doc["message"], doc
    status, _ = await get(live, "/api/public/health", {})  # still served, ahead of the catch-all
    assert status == 200


async def test_a_trace_by_id_says_what_the_list_says_of_it(live: Running) -> None:
    """The list reads each trace's root fields in one query over its page; a trace by id takes
    them from the spans it reads anyway. Both must say the same, updates included."""
    headers = basic(await make_key(live))
    ids = await seed(live, headers)
    updated = ids[1]
    batch = [
        event(
            "trace-create",  # an update: a later version of the trace's row
            {"id": updated, "input": {"q": "edited"}, "version": "v2", "public": True, "metadata": {"k": "new"}},
        ),
        event(
            "span-create",
            {"id": f"{updated}-span", "traceId": updated, "name": "step", "startTime": "2026-11-22T12:00:01Z"},
        ),
    ]
    status, reply = await ingest(live, headers, batch)
    assert status == 207 and not reply["errors"]
    status, doc = await get(live, "/api/public/traces?limit=50", headers)
    listed = {t["id"]: t for t in doc["data"]}
    assert listed[updated]["input"] == {"q": "edited"} and listed[updated]["public"] is True
    for trace_id in ids:
        status, trace = await get(live, f"/api/public/traces/{trace_id}", headers)
        assert status == 200
        assert sorted(o["id"] for o in trace.pop("observations")) == sorted(listed[trace_id].pop("observations"))
        trace.pop("scores"), listed[trace_id].pop("scores")
        assert trace == listed[trace_id]


async def test_field_groups_of_traces_through_the_sdk(live: Running) -> None:
    """Langfuse's ``fields``: core always; io, scores, observations and metrics only when asked
    (left out, empty, -1), through the langfuse 4.x SDK's own API client; garbage is a 400."""
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, "4", "v4_trace_fields.py", live.api_url, pair)
    [whole], [core], [core_io] = out["whole"], out["core"], out["core_io"]
    assert whole["input"] == {"q": "capital of France?"} and whole["output"] == {"answer": "Paris"}
    assert whole["scores"] == ["fields-score"] and len(whole["observations"]) == 2 and whole["latency"] >= 0
    for doc in (core, core_io, out["one_core"]):
        assert (doc["id"], doc["name"], doc["userId"], doc["tags"]) == (out["trace_id"], "qa", "u-1", ["geo"])
    # Left out of the answer, so the SDK's model has none.
    assert [core.get(k) for k in ("input", "output", "metadata")] == [None, None, None]
    assert (core["scores"], core["observations"], core["latency"], core["totalCost"]) == ([], [], -1, -1)
    assert core_io["output"] == {"answer": "Paris"} and core_io["metadata"] == whole["metadata"]
    assert core_io["scores"] == ["fields-score"] and core_io["observations"] == []
    one = out["one_core"]
    assert one.get("input") is None and one["observations"] == [] and one["scores"] == [] and one["latency"] >= 0
    assert len(out["one_whole"]["observations"]) == 2 and out["one_whole"]["scores"][0]["id"] == "fields-score"
    # The SDK's score list by the trace's user, its tags and the value: applied, not ignored.
    assert (out["scores_of_user"], out["scores_of_other"], out["scores_below"]) == (["fields-score"], [], [])
    by_id = out["score_by_id"]  # GET /v2/scores/{id}
    assert (by_id["id"], by_id["traceId"], by_id["name"], by_id["value"]) == (
        "fields-score",
        out["trace_id"],
        "correct",
        1,
    )
    async with aiohttp.ClientSession() as session:
        for path in ("/api/public/traces?fields=core,everything", f"/api/public/traces/{out['trace_id']}?fields=io,x"):
            async with session.get(live.api_url + path, headers=basic(pair)) as r:
                assert r.status == 400 and "fields" in (await r.json())["message"]


async def test_traces_by_version_and_no_silent_filter(live: Running) -> None:
    """``version`` filters by the trace's own version (its root's); a ``filter`` (JSON conditions)
    that cannot be applied is refused with why, rather than answered unfiltered."""
    headers = basic(await make_key(live))
    ids = {}
    for version in ("v1", "v1", "v2", None):
        trace_id = str(uuid.uuid4())
        body = {"id": trace_id, "name": "chat", "timestamp": "2026-11-25T12:00:00Z"}
        if version:
            body["version"] = version
        child = {"id": f"{trace_id}-s", "traceId": trace_id, "name": "step", "version": "v9",
                 "startTime": "2026-11-25T12:00:01Z"}  # fmt: skip
        status, _ = await ingest(live, headers, [event("trace-create", body), event("span-create", child)])
        assert status == 207
        ids.setdefault(version, []).append(trace_id)
    since = "fromTimestamp=2026-11-25T00:00:00Z"
    for version, expected in (("v1", ids["v1"]), ("v2", ids["v2"]), ("v9", []), ("nope", [])):
        status, doc = await get(live, f"/api/public/traces?{since}&version={version}", headers)
        assert status == 200 and sorted(t["id"] for t in doc["data"]) == sorted(expected), version
        assert doc["meta"]["totalItems"] == len(expected) and all(t["version"] == version for t in doc["data"])
    status, doc = await get(live, f"/api/public/traces?{since}", headers)
    assert doc["meta"]["totalItems"] == 4
    status, doc = await get(live, f'/api/public/traces?{since}&filter=[{{"type":"string"}}]', headers)
    assert status == 400 and "filter" in doc["message"]


async def test_traces_in_the_order_asked(live: Running) -> None:
    """``orderBy`` of each field Langfuse sorts the trace list by, each way; a field it cannot
    sort by is a 400 that says which it can, not the list in another order."""
    headers = basic(await make_key(live))
    for n, (name, user, at) in enumerate((("beta", "u-2", "10"), ("alpha", "u-3", "12"), ("gamma", "u-1", "11"))):
        body = {"id": f"order-{n}", "name": name, "userId": user, "sessionId": f"s-{2 - n}",
                "release": f"r{n}", "timestamp": f"2026-11-25T{at}:00:00Z"}  # fmt: skip
        assert (await ingest(live, headers, [event("trace-create", body)]))[0] == 207
    since = "fromTimestamp=2026-11-25T00:00:00Z"
    for order, expected in (
        ("timestamp.desc", ["alpha", "gamma", "beta"]),
        ("timestamp.asc", ["beta", "gamma", "alpha"]),
        ("name.asc", ["alpha", "beta", "gamma"]),
        ("name.desc", ["gamma", "beta", "alpha"]),
        ("userId.asc", ["gamma", "beta", "alpha"]),
        ("sessionId.asc", ["gamma", "alpha", "beta"]),
        ("release.desc", ["gamma", "alpha", "beta"]),
        ("id.asc", ["beta", "alpha", "gamma"]),
    ):
        status, doc = await get(live, f"/api/public/traces?{since}&orderBy={order}", headers)
        assert status == 200 and [t["name"] for t in doc["data"]] == expected, order
    status, doc = await get(live, f"/api/public/traces?{since}&orderBy=name.asc&limit=1&page=2", headers)
    assert [t["name"] for t in doc["data"]] == ["beta"] and doc["meta"]["totalItems"] == 3
    for garbage in ("latency.desc", "name", "name.up", "", "timestamp.desc.asc"):
        status, doc = await get(live, f"/api/public/traces?{since}&orderBy={garbage}", headers)
        assert status == 400 and "orderBy" in doc["message"], garbage


async def test_sdk4_filters_traces_with_json_conditions(live: Running) -> None:
    """Langfuse's ``filter`` on the trace list (JSON conditions: the trace's fields, its root's
    version and metadata, its spans' costs and levels, its scores), and on the score list, sent
    by SDK 4's own client; a condition that cannot be applied is a 400 that names it."""
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, "4", "v4_trace_filters.py", live.api_url, pair)
    assert out["found"] == {
        "name": ["checkout"],
        "name contains": ["search"],
        "user": ["checkout"],
        "tags any of": ["checkout", "search"],
        "tags all of": ["checkout"],
        "tags none of": ["refund", "search"],
        "since": ["checkout", "refund", "search"],
        "latency": ["checkout"],
        "total cost": ["checkout"],
        "input tokens": ["checkout"],
        "output cost": ["checkout"],
        "metadata": ["checkout"],
        "version": ["checkout"],
        "level error": ["refund"],
        "level any of": ["checkout", "refund"],
        "error count": ["refund"],
        "warning count": ["checkout"],
        "quality score": ["checkout"],
        "any numeric score": ["checkout", "search"],
        "tone": ["checkout"],
        "correct": ["checkout"],
        "not correct": ["refund", "search"],
        "not bookmarked": ["checkout", "refund", "search"],
        "low quality of two": ["search"],
        "none": [],
    }
    assert out["total"] == 2  # the count is the filtered list's
    assert out["scores"] == {
        "named quality": ["quality:0.2", "quality:0.9"],
        "numeric over a half": ["quality:0.9"],
        "of prod traces": ["correct:1.0", "quality:0.9", "tone:0.0"],  # a category's number: 0 without a config
        "reviewed by ann": ["quality:0.9"],
        "with a reviewer": ["quality:0.9"],  # an empty value of contains: the key is there
    }
    errors = out["errors"]
    assert errors["unknown column"][0] == 400 and "unknown column 'nope'" in errors["unknown column"][1]
    assert errors["wrong type"][0] == 400 and "type 'string' does not apply" in errors["wrong type"][1]
    assert errors["score without its name"][0] == 400 and "'key'" in errors["score without its name"][1]
    # Quotes in keys and values are bound values: they find nothing and break nothing.
    for condition in (
        {"type": "stringObject", "column": "metadata", "key": "x'] OR 1=1 --", "operator": "is set"},
        {"type": "booleanObject", "column": "score_booleans", "key": "' OR '1'='1", "operator": "=", "value": True},
        {"type": "string", "column": "version", "operator": "=", "value": "v2' OR '1'='1"},
    ):
        filtered = "/api/public/traces?filter=" + quote(json.dumps([condition]))
        status, doc = await get(live, filtered, basic(pair))
        assert status == 200 and doc["data"] == [], condition


async def test_observations_by_environment(live: Running) -> None:
    headers = basic(await make_key(live))
    for environment in ("production", "staging", "dev"):
        trace_id = str(uuid.uuid4())
        body = {"id": f"{trace_id}-g", "traceId": trace_id, "name": f"llm-{environment}",
                "startTime": "2026-11-26T12:00:00Z", "environment": environment}  # fmt: skip
        status, reply = await ingest(live, headers, [event("generation-create", body)])
        assert status == 207 and not reply["errors"], reply
    since = "fromStartTime=2026-11-26T00:00:00Z"
    status, doc = await get(live, f"/api/public/observations?{since}&environment=production&environment=dev", headers)
    assert status == 200 and sorted(o["name"] for o in doc["data"]) == ["llm-dev", "llm-production"], doc
    assert doc["meta"]["totalItems"] == 2
    status, doc = await get(live, f"/api/public/observations?{since}", headers)
    assert doc["meta"]["totalItems"] == 3


async def test_sessions_by_environment(live: Running) -> None:
    headers = basic(await make_key(live))
    for environment in ("production", "staging"):
        body = {"id": str(uuid.uuid4()), "name": "chat", "timestamp": "2026-11-26T12:00:00Z",
                "sessionId": f"sess-{environment}", "environment": environment}  # fmt: skip
        status, reply = await ingest(live, headers, [event("trace-create", body)])
        assert status == 207 and not reply["errors"], reply
    since = "fromTimestamp=2026-11-26T00:00:00Z"
    status, doc = await get(live, f"/api/public/sessions?{since}&environment=staging", headers)
    assert status == 200 and [s["id"] for s in doc["data"]] == ["sess-staging"], doc
    assert doc["data"][0]["environment"] == "staging" and doc["meta"]["totalItems"] == 1
    status, doc = await get(live, f"/api/public/sessions?{since}", headers)
    assert doc["meta"]["totalItems"] == 2


async def test_boolean_scores_read_true_or_false(live: Running) -> None:
    """A boolean score's stringValue is "True" or "False", as Langfuse gives it: the ones sent now,
    and the ones an earlier version stored as "true" and "false"."""
    headers = basic(await make_key(live))
    trace_id = str(uuid.uuid4())
    status, reply = await ingest(live, headers, [
        event("trace-create", {"id": trace_id, "name": "chat"}),
        event("score-create", {"id": "new-yes", "traceId": trace_id, "name": "ok", "value": 1, "dataType": "BOOLEAN"}),
        event("score-create", {"id": "new-no", "traceId": trace_id, "name": "ok", "value": False}),
    ])  # fmt: skip
    assert status == 207 and not reply["errors"], reply
    await live.store.backend.execute(
        "INSERT INTO scores (project_id, id, timestamp, trace_id, name, value, string_value, data_type, source) "
        "VALUES ('default', 'old-no', now64(9), {t:String}, 'ok', 0, 'false', 'BOOLEAN', 'API')",
        {"t": trace_id},
    )
    status, doc = await get(live, f"/api/public/scores?traceId={trace_id}", headers)
    assert status == 200 and {s["id"]: (s["value"], s["stringValue"]) for s in doc["data"]} == {
        "new-yes": (1, "True"), "new-no": (0, "False"), "old-no": (0, "False")
    }, doc  # fmt: skip
    # The UI's trace view reads them the same way (one rule, in storage).
    status, trace = await get(live, f"/api/v1/traces/{trace_id}", headers)
    assert {sc["id"]: sc["string_value"] for sc in trace["scores"]} == {
        "new-yes": "True",
        "new-no": "False",
        "old-no": "False",
    }
    # One by id (v1 and v2 paths); unknown, or another project's, is not found.
    for path in ("/api/public/scores/old-no", "/api/public/v2/scores/old-no"):
        status, one = await get(live, path, headers)
        assert status == 200 and (one["id"], one["stringValue"]) == ("old-no", "False"), one
    status, doc = await get(live, "/api/public/v2/scores/nope", headers)
    assert status == 404 and doc["error"] == "LangfuseNotFoundError"
    other = await live.store.projects.create_project("scores-elsewhere")
    status, doc = await get(live, "/api/public/v2/scores/old-no", basic(await make_key(live, other.id)))
    assert status == 404


async def test_categorical_scores_carry_their_number(live: Running) -> None:
    """A categorical score's value is its category's number (0 without a config), as Langfuse gives
    it: SDK 4's and 5's score models require one, and a list holding a null one failed to parse."""
    pair = await make_key(live)
    trace_id = str(uuid.uuid4())
    status, reply = await ingest(live, basic(pair), [
        event("trace-create", {"id": trace_id, "name": "chat"}),
        event("score-create", {"id": "tone-1", "traceId": trace_id, "name": "tone", "value": "friendly"}),
    ])  # fmt: skip
    assert status == 207 and not reply["errors"], reply
    for path in ("/api/public/scores", "/api/public/v2/scores", f"/api/public/traces/{trace_id}"):
        status, doc = await get(live, path, basic(pair))
        [score] = doc["data"] if "data" in doc else doc["scores"]
        assert (score["dataType"], score["value"], score["stringValue"]) == ("CATEGORICAL", 0, "friendly"), path


async def test_a_session_gives_every_trace(live: Running) -> None:
    """Langfuse's GET /sessions/{id} does not page its traces: a session of 1,001 (an agent's long
    run) gives all of them, the oldest first, and when it began."""
    headers = basic(await make_key(live))
    ids = [f"long-{i:04d}" for i in range(1001)]
    begin = dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)
    events = [
        event("trace-create", {"id": trace_id, "name": "step", "sessionId": "long-run",
                               "timestamp": (begin + dt.timedelta(seconds=10 * i)).isoformat()})
        for i, trace_id in enumerate(ids)
    ]  # fmt: skip
    for chunk in range(0, len(events), 500):
        status, reply = await ingest(live, headers, events[chunk : chunk + 500])
        assert status == 207 and not reply["errors"], reply
    status, session = await get(live, "/api/public/sessions/long-run", headers)
    assert status == 200 and [t["id"] for t in session["traces"]] == ids
    assert session["createdAt"] == "2026-11-25T10:00:00.000Z"


async def test_a_trace_by_id_makes_the_summary_views_summary_from_its_spans(live: Running) -> None:
    """A trace by id summarises the spans it reads (``LangfuseReader.summary_from``) instead of
    asking the summary table: both must say the same, for OTLP traces, a trace split over two
    days, and Langfuse traces whose rows were updated (new versions and cancel rows)."""
    store = live.store
    headers = basic(await make_key(live))
    ids = await send_workload(live, headers, seed=11, spans=300)
    day = 86_400 * SECOND
    await store.writer.write(
        span_table(
            [
                span("split", "root", start=NOW_NS - day, user_id="u-a", tags=["x"], trace_name="nightly"),
                span("split", "early", "root", start=NOW_NS - day - SECOND, name="a child that started first"),
                span(
                    "split",
                    "late",
                    "root",
                    start=NOW_NS,
                    user_id="u-b",
                    tags=["y"],
                    total_cost=Decimal("0.5"),
                    environment="production",
                    release="r2",
                    session_id="s2",
                ),
            ]
        )
    )
    ids.append("split")
    trace_id = str(uuid.uuid4())
    for events in (
        [event("trace-create", {"id": trace_id, "name": "lf", "userId": "u1", "tags": ["a"], "release": "r1"})],
        [
            event(
                "generation-create",
                {"id": f"{trace_id}-g", "traceId": trace_id, "model": "gpt-4o-mini", "usage": {"input": 7}},
            )
        ],
        [
            event("trace-create", {"id": trace_id, "tags": ["b"], "sessionId": "s1", "environment": "staging"}),
            event("generation-update", {"id": f"{trace_id}-g", "traceId": trace_id, "usage": {"output": 9}}),
        ],
    ):
        status, reply = await ingest(live, headers, events)
        assert status == 207 and not reply["errors"], reply
    ids.append(trace_id)

    clickhouse = TraceReader(store.backend)
    for tid in ids:
        project = "default"
        made = LangfuseReader.summary_from(tid, await clickhouse.trace(project, tid))
        read = await store.langfuse.trace_summary(project, tid)
        assert made is not None and read is not None
        assert made == {**read, "tags": sorted(read["tags"])}, tid
    assert LangfuseReader.summary_from("none", []) is None
    status, trace = await get(live, f"/api/public/traces/{trace_id}", headers)
    assert status == 200 and trace["sessionId"] == "s1" and trace["environment"] == "staging"
    assert trace["tags"] == ["a", "b"] and trace["totalCost"] > 0 and trace["release"] == "r1"
    status, trace = await get(live, "/api/public/traces/split", headers)
    assert trace["name"] == "nightly" and trace["userId"] == "u-b" and trace["latency"] == 86_401.1
    assert (trace["environment"], trace["release"], trace["sessionId"], trace["tags"]) == (
        "production",
        "r2",
        "s2",
        ["x", "y"],
    )


async def test_the_count_of_a_trace_list_under_each_filter(live: Running) -> None:
    """``meta.totalItems`` counts the traces that meet every filter given, alone or together,
    whatever the page holds."""
    headers = basic(await make_key(live))
    traces = [  # name, user, session, tags, environment, release
        ("chat", "alice", "s1", ["a", "b"], "production", "1.0"),
        ("chat", "bob", "s1", ["a"], "staging", "1.0"),
        ("search", "alice", "s2", ["b"], "production", "2.0"),
        ("chat", "alice", "s2", [], "production", "2.0"),
    ]
    for i, (name, user, session, tags, environment, release) in enumerate(traces):
        body = {"id": str(uuid.uuid4()), "name": name, "userId": user, "sessionId": session, "tags": tags,
                "environment": environment, "release": release, "timestamp": f"2026-11-2{i + 1}T12:00:00Z"}  # fmt: skip
        status, reply = await ingest(live, headers, [event("trace-create", body)])
        assert status == 207 and not reply["errors"], reply
    for query, expected in [
        ("", 4),
        ("name=chat", 3),
        ("userId=alice", 3),
        ("sessionId=s2", 2),
        ("tags=a", 2),
        ("tags=a&tags=b", 1),
        ("environment=production", 3),
        ("environment=production&environment=staging", 4),
        ("release=2.0", 2),
        ("name=chat&userId=alice&release=2.0", 1),
        ("fromTimestamp=2026-11-22T00:00:00Z&toTimestamp=2026-11-24T00:00:00Z", 2),
        ("name=nothing", 0),
    ]:
        status, doc = await get(live, f"/api/public/traces?limit=1&{query}", headers)
        assert status == 200 and doc["meta"]["totalItems"] == expected, (query, doc)
        assert len(doc["data"]) == min(1, expected)
