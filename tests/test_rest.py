"""The /api/v1 REST API over a seeded data set, and its OpenAPI document."""

import json
from decimal import Decimal

import aiohttp
from openapi_spec_validator import validate

from tests.helpers import NOW_NS, SECOND, span, span_table
from tests.langfuse_helpers import basic, make_key
from tracehouse.server import Running


async def seed(live: Running) -> None:
    rows = []
    for i in range(6):
        trace = f"rest-{i}"
        start = NOW_NS - (i + 1) * 60 * SECOND
        rows += [
            span(
                trace,
                f"{trace}-root",
                start=start,
                duration_ms=1000,
                name="agent",
                user_id=f"user-{i % 2}",
                session_id="chat-1" if i < 3 else "chat-2",
                input=f"please find order {i}",
                service_name="api",
                span_attributes={"tenant": "acme" if i % 2 else "globex"},
            ),
            span(
                trace,
                f"{trace}-llm",
                f"{trace}-root",
                start=start + SECOND // 10,
                duration_ms=400,
                name="chat",
                model="gpt-4o",
                observation_type="GENERATION",
                input_tokens=10 * (i + 1),
                total_tokens=10 * (i + 1),
                total_cost=Decimal("0.01"),
                output=f"answer number {i}",
                # As Python's json.dumps writes it (the langfuse SDK 3.x-4.x, OpenLLMetry): 你好 as \u escapes.
                input=json.dumps([{"role": "user", "content": f'你好, "quoted" {i}'}]) if i == 3 else "",
                # As Langfuse's ingestion stores metadata (JSON text), and as some exporters do (text).
                metadata={"node": '"llm"' if i % 2 == 0 else "llm" if i == 1 else "tool"},
                # A trace's own input, set apart on a child (Langfuse's set_trace_io), in one trace.
                span_attributes={"langfuse.trace.input": "Where is my parcel?"} if i == 5 else {},
            ),
        ]
    await live.store.writer.write(span_table(rows))


async def get(live: Running, path: str, params: list[tuple[str, str]] | None = None) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.get(live.api_url + path, params=params or []) as r:
        return r.status, await r.json()


async def test_traces_list_filters_sort_and_pages(live: Running) -> None:
    await seed(live)
    status, doc = await get(live, "/api/v1/traces")
    assert status == 200 and [t["trace_id"] for t in doc["items"]] == [f"rest-{i}" for i in range(6)]
    first = doc["items"][0]
    assert first["input"] == "please find order 0" and first["total_cost"] == "0.010000000000"
    assert first["span_count"] == 2 and first["models"] == ["gpt-4o"]
    # The UI's list shows no previews and asks without them: the same traces, no input or output.
    status, bare = await get(live, "/api/v1/traces", [("preview", "false")])
    assert status == 200 and [t["trace_id"] for t in bare["items"]] == [f"rest-{i}" for i in range(6)]
    assert bare["items"][0]["input"] == "" and bare["items"][0]["span_count"] == 2

    cases = [
        ([("user_id", "user-1")], ["rest-1", "rest-3", "rest-5"]),
        ([("search", "ORDER 4")], ["rest-4"]),
        ([("search", "answer number 2")], ["rest-2"]),
        ([("search", "my PARCEL")], ["rest-5"]),  # the trace's own input, as the list shows it
        ([("search", "你好")], ["rest-3"]),  # text JSON-escaped as it came, found as the user reads it
        ([("search", '"QUOTED" 3')], ["rest-3"]),
        ([("attribute", "tenant=acme"), ("session_id", "chat-2")], ["rest-3", "rest-5"]),
        ([("metadata", "node=llm")], ["rest-0", "rest-1", "rest-2", "rest-4"]),  # on any span
        ([("attribute", "node=llm")], []),  # an attribute is not metadata
        # Each filter met by any span: here the root (tenant) and the generation (metadata, output).
        ([("metadata", "node=llm"), ("attribute", "tenant=acme")], ["rest-1"]),
        ([("search", "answer number 3"), ("attribute", "tenant=acme")], ["rest-3"]),
        ([("search", "answer number 3"), ("attribute", "tenant=globex")], []),
        ([("model", "gpt-4o"), ("tags", "nope")], []),
        ([("sort", "total_tokens"), ("order", "asc"), ("limit", "2")], ["rest-0", "rest-1"]),
        # TraceQL, as in Grafana: any span of the trace matching the spanset
        ([("traceql", '{ name = "chat" && span.gen_ai.usage.input_tokens >= 40 }')], ["rest-3", "rest-4", "rest-5"]),
        ([("traceql", '{ span.tenant = "acme" && nestedSetParent < 0 }')], ["rest-1", "rest-3", "rest-5"]),
        (
            [("traceql", '{ span.tenant = "acme" } '), ("user_id", "user-1"), ("metadata", "node=tool")],
            ["rest-3", "rest-5"],
        ),
        ([("traceql", "{ duration > 500ms && traceDuration < 2s }")], [f"rest-{i}" for i in range(6)]),
        ([("traceql", "{ }")], [f"rest-{i}" for i in range(6)]),
        ([("traceql", '{ name = "x\\" OR 1=1 --" }')], []),
    ]
    for params, expected in cases:
        status, doc = await get(live, "/api/v1/traces", params)
        assert status == 200 and [t["trace_id"] for t in doc["items"]] == expected, params

    for bad in ("{ nonsense", "{ } | rate()", "{ } >> { }", "{ status > 3 }"):
        status, doc = await get(live, "/api/v1/traces", [("traceql", bad)])
        assert status == 400 and "TraceQL" in doc["error"]["message"], (bad, doc)

    seen, cursor = [], None
    while True:
        params = [("limit", "4")] + ([("cursor", cursor)] if cursor else [])
        status, doc = await get(live, "/api/v1/traces", params)
        seen += [t["trace_id"] for t in doc["items"]]
        cursor = doc["next_cursor"]
        if not cursor:
            break
    assert seen == [f"rest-{i}" for i in range(6)]


async def test_previews_of_long_inputs_and_text_beyond_ascii(live: Running) -> None:
    """A list's previews (the REST list, a session's turns) hold about 1,000 characters: of a chat's
    messages, the newest question and what followed, each cut short, as JSON (not the JSON cut, in
    which a long system prompt hid the question); of text beyond ASCII as it is (cut within a
    character, the list failed) and as Python's json.dumps escapes it (given its characters back)."""
    said = "我想退货。" * 400
    chat = [
        {"role": "system", "content": "You are a patient support agent. " * 60},
        {"role": "user", "content": "Where is my order?"},
        {"role": "assistant", "content": "It ships today."},
        {"role": "user", "content": "我想退货，订单号 B-12"},
    ]
    await live.store.writer.write(span_table([
        span("long-raw", "r1", input=json.dumps([{"role": "user", "content": said}], ensure_ascii=False),
             output="好的" * 600, session_id="long-chat"),
        span("long-escaped", "e1", start=NOW_NS - SECOND, input=json.dumps([{"role": "user", "content": said}]),
             output=json.dumps({"role": "assistant", "content": "好的"}), session_id="long-chat"),
        span("long-chat", "c1", start=NOW_NS - 2 * SECOND, input=json.dumps(chat), session_id="long-chat"),
    ]))  # fmt: skip
    for path in ("/api/v1/traces", "/api/v1/sessions/long-chat"):
        status, doc = await get(live, path)
        assert status == 200, doc
        rows = {t["trace_id"]: t for t in doc.get("items") or doc["traces"]}
        cut = [{"role": "user", "content": said[:999] + "…"}]
        assert json.loads(rows["long-raw"]["input"]) == cut and rows["long-raw"]["output"] == "好的" * 500
        assert json.loads(rows["long-escaped"]["input"]) == cut
        assert rows["long-escaped"]["output"] == '{"role": "assistant", "content": "好的"}'  # short: whole
        assert json.loads(rows["long-chat"]["input"]) == [{"role": "user", "content": "我想退货，订单号 B-12"}]


async def test_trace_span_session_user_and_metrics(live: Running) -> None:
    await seed(live)
    status, doc = await get(live, "/api/v1/traces/rest-2")
    assert status == 200 and [s["span_id"] for s in doc["spans"]] == ["rest-2-root", "rest-2-llm"]
    assert doc["scores"] == []
    status, doc = await get(live, "/api/v1/spans/rest-2-llm")
    assert status == 200 and doc["model"] == "gpt-4o" and doc["parent_span_id"] == "rest-2-root"
    status, doc = await get(live, "/api/v1/spans", [("observation_type", "GENERATION"), ("limit", "2")])
    assert len(doc["items"]) == 2 and doc["next_cursor"]
    status, doc = await get(live, "/api/v1/spans", [("observations_only", "true"), ("limit", "1000")])
    assert status == 200 and len(doc["items"]) == 12  # OpenTelemetry spans are all observations
    status, doc = await get(live, "/api/v1/spans", [("observations_only", "maybe")])
    assert status == 400 and "observations_only" in doc["error"]["message"], doc
    # Light rows (the Observations tab's): the same spans, without the heavy columns.
    status, full = await get(live, "/api/v1/spans", [("observation_type", "GENERATION"), ("limit", "3")])
    status, light = await get(
        live, "/api/v1/spans", [("observation_type", "GENERATION"), ("limit", "3"), ("fields", "light")]
    )
    assert status == 200 and light["next_cursor"] == full["next_cursor"]
    for whole, cut in zip(full["items"], light["items"], strict=True):
        assert "input" in whole and "span_attributes" in whole
        assert not {"input", "output", "metadata", "span_attributes", "event_names"} & cut.keys()
        assert cut == {k: v for k, v in whole.items() if k in cut} and len(cut) > 40
    status, doc = await get(live, "/api/v1/spans", [("fields", "input")])
    assert status == 400 and "fields" in doc["error"]["message"], doc
    # Text in a span's input or output, case-insensitive, light rows or not.
    for search, expected in (
        ("ORDER 4", ["rest-4-root"]),
        ("answer number 2", ["rest-2-llm"]),
        ("你好", ["rest-3-llm"]),
        ("nowhere", []),
    ):
        for fields in ("all", "light"):
            status, doc = await get(live, "/api/v1/spans", [("search", search), ("fields", fields)])
            assert status == 200 and [s["span_id"] for s in doc["items"]] == expected, (search, fields)
    status, doc = await get(live, "/api/v1/spans", [("search", "x" * 1001)])
    assert status == 400 and "search" in doc["error"]["message"], doc
    status, doc = await get(live, "/api/v1/sessions")
    assert [s["id"] for s in doc["items"]] == ["chat-1", "chat-2"] and doc["total"] == 2  # the newest first
    assert doc["items"][0] == {
        "id": "chat-1",
        "created_at": NOW_NS - 180 * SECOND,  # its first trace's start
        "last_at": NOW_NS - 59 * SECOND,  # its last trace's end
        "traces": 3,
        "users": ["user-0", "user-1"],
        "total_tokens": 60,
        "total_cost": "0.030000000000",
        "environment": "default",
    }
    status, doc = await get(live, "/api/v1/sessions", [("limit", "1"), ("page", "2")])
    assert [s["id"] for s in doc["items"]] == ["chat-2"] and doc["total"] == 2
    assert (doc["items"][0]["traces"], doc["items"][0]["total_tokens"]) == (3, 150)
    status, doc = await get(live, "/api/v1/sessions", [("limit", "1"), ("page", "3")])
    assert doc == {"items": [], "total": 2}  # past the last page: still how many there are
    status, doc = await get(live, "/api/v1/sessions/chat-1")
    assert [t["trace_id"] for t in doc["traces"]] == ["rest-2", "rest-1", "rest-0"] and doc["next_cursor"] is None
    assert doc["total_tokens"] == 60 and doc["total_cost"] == "0.030000000000"
    assert (doc["trace_count"], doc["users"]) == (3, ["user-0", "user-1"])
    assert (doc["created_at"], doc["last_at"]) == (NOW_NS - 180 * SECOND, NOW_NS - 59 * SECOND)
    # A page at a time, the oldest first; the totals are the whole session's on every page.
    status, first = await get(live, "/api/v1/sessions/chat-1", [("limit", "2")])
    assert [t["trace_id"] for t in first["traces"]] == ["rest-2", "rest-1"] and first["next_cursor"]
    assert (first["trace_count"], first["total_tokens"]) == (3, 60)
    status, rest = await get(live, "/api/v1/sessions/chat-1", [("limit", "2"), ("cursor", first["next_cursor"])])
    assert [t["trace_id"] for t in rest["traces"]] == ["rest-0"] and rest["next_cursor"] is None
    for bad in ([("limit", "0")], [("limit", "1001")], [("cursor", "garbage")], [("nope", "1")]):
        status, doc = await get(live, "/api/v1/sessions/chat-1", bad)
        assert status == 400 and set(doc["error"]) == {"code", "message"}, bad
    status, doc = await get(live, "/api/v1/users")
    assert [(u["user_id"], u["traces"]) for u in doc["items"]] == [("user-0", 3), ("user-1", 3)]
    assert doc["total"] == 2 and doc["items"][0]["first_seen"] == NOW_NS - 300 * SECOND  # rest-4
    assert doc["items"][0]["last_seen"] == NOW_NS - 60 * SECOND  # rest-0
    status, doc = await get(live, "/api/v1/users", [("sort", "total_tokens"), ("limit", "1")])
    assert [(u["user_id"], u["total_tokens"]) for u in doc["items"]] == [("user-1", 120)] and doc["total"] == 2
    status, doc = await get(live, "/api/v1/users", [("sort", "user_id; DROP TABLE spans")])
    assert status == 400
    # Found by a part of their id, in any case; the count is of those found.
    status, doc = await get(live, "/api/v1/users", [("search", "ER-1")])
    assert [u["user_id"] for u in doc["items"]] == ["user-1"] and doc["total"] == 1
    status, doc = await get(live, "/api/v1/sessions", [("search", "Chat-2")])
    assert [s["id"] for s in doc["items"]] == ["chat-2"] and doc["total"] == 1
    status, doc = await get(live, "/api/v1/sessions", [("search", "%' OR 1=1 --")])
    assert status == 200 and doc == {"items": [], "total": 0}
    status, doc = await get(live, "/api/v1/users", [("search", "x" * 201)])
    assert status == 400 and "search" in doc["error"]["message"], doc
    status, doc = await get(live, "/api/v1/metrics/timeseries", [("interval", "86400"), ("group_by", "model")])
    by_key = {p["key"]: p for p in doc["items"]}
    assert by_key["gpt-4o"]["spans"] == 6 and by_key["gpt-4o"]["input_tokens"] == 210
    assert len(by_key["gpt-4o"]["latency_ms"]) == 4


async def test_errors(live: Running) -> None:
    for path, params in [
        ("/api/v1/traces", [("limit", "0")]),
        ("/api/v1/traces", [("start", "yesterday")]),
        ("/api/v1/traces", [("unknown", "1")]),
        ("/api/v1/traces", [("attribute", "no-equals")]),
        ("/api/v1/traces", [("cursor", "garbage")]),
        ("/api/v1/traces", [("start", "2026-01-02T00:00:00Z"), ("end", "2026-01-01T00:00:00Z")]),
        ("/api/v1/metrics/timeseries", [("group_by", "secret; DROP TABLE spans")]),
    ]:
        status, doc = await get(live, path, params)
        assert status == 400 and set(doc["error"]) == {"code", "message"}, params
    for path in ("/api/v1/traces/nope", "/api/v1/spans/nope", "/api/v1/sessions/nope"):
        status, doc = await get(live, path)
        assert status == 404 and doc["error"]["code"] == "not_found"


async def test_openapi_document_validates(live: Running) -> None:
    status, doc = await get(live, "/api/v1/openapi.json")
    assert status == 200
    validate(doc)
    assert {"/api/v1/traces", "/api/v1/traces/{trace_id}", "/api/v1/metrics/timeseries"} <= set(doc["paths"])


async def test_users_come_from_every_trace_of_the_window(live: Running) -> None:
    """More traces than any one page: every user is listed, with whole totals."""
    import time

    from tests.helpers import span, span_table

    now = time.time_ns() - 3_600 * 10**9
    rows = [
        span(f"t-{i:04d}", f"s-{i:04d}", start=now + i * 1_000_000, user_id=f"user-{i % 1200:04d}", total_tokens=3)
        for i in range(2400)
    ]
    await live.store.writer.write(span_table(rows))
    status, doc = await get(live, "/api/v1/users", [("limit", "1000")])
    assert status == 200 and len(doc["items"]) == 1000 and doc["total"] == 1200  # the 1000 most recent users
    assert all(u["traces"] == 2 and u["total_tokens"] == 6 for u in doc["items"])
    assert doc["items"][0]["user_id"] == "user-1199"
    status, rest = await get(live, "/api/v1/users", [("limit", "1000"), ("page", "2")])
    assert len(rest["items"]) == 200 and rest["total"] == 1200
    assert {u["user_id"] for u in doc["items"] + rest["items"]} == {f"user-{i:04d}" for i in range(1200)}


async def test_scores_of_a_page_of_traces(live: Running) -> None:
    """The traces list's scores column: each asked trace's scores by name (its observations'
    too), the mean and the newest string value; other traces and other projects left out."""
    await seed(live)
    headers = basic(await make_key(live))
    for body in (
        {"traceId": "rest-1", "name": "quality", "value": 0.5},
        {"traceId": "rest-1", "name": "quality", "value": 1.0},
        {
            "traceId": "rest-1",
            "observationId": "rest-1-llm",
            "name": "tone",
            "value": "polite",
            "dataType": "CATEGORICAL",
        },
        {"traceId": "rest-2", "name": "correct", "value": 1, "dataType": "BOOLEAN"},
        {"traceId": "rest-3", "name": "quality", "value": 0.1},  # a trace not asked for
    ):
        async with (
            aiohttp.ClientSession() as session,
            session.post(live.api_url + "/api/public/scores", json=body, headers=headers) as r,
        ):
            assert r.status == 200, await r.text()
    asked = [("trace_id", "rest-1"), ("trace_id", "rest-2"), ("trace_id", "no-such-trace")]

    async def scores(params: list[tuple[str, str]], auth: dict[str, str]) -> tuple[int, dict]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(live.api_url + "/api/v1/scores/by-trace", params=params, headers=auth) as r,
        ):
            return r.status, await r.json()

    status, doc = await scores(asked, headers)
    assert status == 200 and doc["items"] == [
        {"trace_id": "rest-1", "name": "quality", "data_type": "NUMERIC", "count": 2, "value": 0.75,
         "string_value": ""},
        {"trace_id": "rest-1", "name": "tone", "data_type": "CATEGORICAL", "count": 1, "value": 0.0,
         "string_value": "polite"},
        {"trace_id": "rest-2", "name": "correct", "data_type": "BOOLEAN", "count": 1, "value": 1.0,
         "string_value": "True"},
    ]  # fmt: skip
    other = await live.store.projects.create_project("other")
    status, doc = await scores(asked, basic(await make_key(live, other.id)))
    assert status == 200 and doc["items"] == []  # another project's key sees none of them
    for params in ([], [("trace_id", "x")] * 101, [("trace_ids", "rest-1")]):
        status, doc = await scores(params, headers)
        assert status == 400 and set(doc["error"]) == {"code", "message"}, params


async def test_traces_filtered_by_their_scores(live: Running) -> None:
    """score=name<op>value: traces with a score of that name (on the trace or one of its
    observations) meeting it; categories by = and !=; deleted scores and other projects' left out."""
    await seed(live)
    headers = basic(await make_key(live))
    other = await live.store.projects.create_project("other")
    elsewhere = basic(await make_key(live, other.id))
    for body, auth in (
        ({"traceId": "rest-1", "name": "quality", "value": 0.5}, headers),
        ({"traceId": "rest-1", "name": "quality", "value": 1.0}, headers),
        ({"traceId": "rest-1", "observationId": "rest-1-llm", "name": "tone", "value": "polite",
          "dataType": "CATEGORICAL"}, headers),
        ({"traceId": "rest-2", "name": "correct", "value": 1, "dataType": "BOOLEAN"}, headers),
        ({"traceId": "rest-3", "name": "quality", "value": 0.1}, headers),
        ({"id": "q4", "traceId": "rest-4", "name": "quality", "value": 0.95}, headers),
        ({"traceId": "rest-5", "name": "quality", "value": 0.0}, elsewhere),  # another project's
    ):  # fmt: skip
        async with (
            aiohttp.ClientSession() as session,
            session.post(live.api_url + "/api/public/scores", json=body, headers=auth) as r,
        ):
            assert r.status == 200, await r.text()
    async with (
        aiohttp.ClientSession() as session,
        session.delete(live.api_url + "/api/public/scores/q4", headers=headers) as r,
    ):
        assert r.status == 204

    async def listed(params: list[tuple[str, str]]) -> tuple[int, dict]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(live.api_url + "/api/v1/traces", params=params, headers=headers) as r,
        ):
            return r.status, await r.json()

    async def traces(*filters: str, sort: str = "start_time") -> set[str]:
        params = [("score", f) for f in filters] + [("start", "2000-01-01T00:00:00Z"), ("sort", sort)]
        status, doc = await listed(params)
        assert status == 200, doc
        return {t["trace_id"] for t in doc["items"]}

    assert await traces() == {f"rest-{i}" for i in range(6)}
    assert await traces("quality<0.6") == {"rest-1", "rest-3"}
    assert await traces("quality < 0.6", sort="latency") == {"rest-1", "rest-3"}
    assert await traces("quality>=0.9") == {"rest-1"}  # rest-4's was deleted
    assert await traces("tone=polite") == {"rest-1"}  # an observation's score is the trace's too
    assert await traces("tone!=polite") == set()
    assert await traces("correct=1") == await traces("correct=True") == {"rest-2"}
    assert await traces("quality<0.6", "tone=polite") == {"rest-1"}
    assert await traces("nothing>0") == set()
    for bad in ("quality", "=1", "tone<polite", "quality<nan", "quality>inf", "quality<"):
        status, doc = await listed([("score", bad)])
        assert status == 400 and "score" in doc["error"]["message"], (bad, doc)


async def test_export_of_a_trace_list(live: Running) -> None:
    """``/api/v1/traces/export``: the list's filters and sort as CSV (a spreadsheet runs no cell of
    it) or JSON Lines, whole inputs and outputs, in pages past the first, at most ``max``; garbage
    is a 400 before any byte of a file."""
    import csv
    import io
    import json

    await seed(live)
    await live.store.writer.write(
        span_table(
            [
                span("formula", "formula-root", start=NOW_NS - 30 * SECOND, name='=HYPERLINK("http://x")',
                     user_id="@evil", input="long " * 12_000, service_name="api")
            ]
        )
    )  # fmt: skip
    async with aiohttp.ClientSession() as session:

        async def export(params: list[tuple[str, str]]) -> tuple[int, dict[str, str], str]:
            async with session.get(live.api_url + "/api/v1/traces/export", params=params) as r:
                return r.status, dict(r.headers), await r.text()

        status, headers, text = await export([])
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        assert 'attachment; filename="traces-' in headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        assert [r["trace_id"] for r in rows] == ["formula"] + [f"rest-{i}" for i in range(6)]
        formula = rows[0]
        assert formula["name"] == '\'=HYPERLINK("http://x")' and formula["user_id"] == "'@evil"
        assert formula["input"] == ("long " * 12_000)[:50_000]  # 50,000 characters, not the list's 1,000
        assert rows[1]["total_cost"] == "0.010000000000" and rows[1]["span_count"] == "2"
        assert rows[1]["start_time"].endswith("Z") and rows[1]["input"] == "please find order 0"

        status, headers, text = await export([("format", "jsonl"), ("user_id", "user-1"), ("sort", "total_tokens")])
        lines = [json.loads(line) for line in text.splitlines()]
        assert status == 200 and headers["Content-Type"] == "application/x-ndjson"
        assert [x["trace_id"] for x in lines] == ["rest-5", "rest-3", "rest-1"]
        assert lines[0]["input_tokens"] == 60 and lines[0]["name"] == "agent"  # JSON: no quoting for spreadsheets
        # More than a page: every trace once, in order, up to max.
        import query_api.export_api as export_api

        page, export_api.PAGE = export_api.PAGE, 2
        try:
            status, _, text = await export([("format", "jsonl")])
            assert [json.loads(x)["trace_id"] for x in text.splitlines()] == ["formula"] + [
                f"rest-{i}" for i in range(6)
            ]
            status, _, text = await export([("format", "jsonl"), ("max", "3")])
            assert [json.loads(x)["trace_id"] for x in text.splitlines()] == ["formula", "rest-0", "rest-1"]
        finally:
            export_api.PAGE = page
        for bad in ([("format", "xml")], [("max", "0")], [("max", "lots")], [("attribute", "novalue")],
                    [("start", "yesterday")], [("min_cost", "-1")]):  # fmt: skip
            status, headers, text = await export(bad)
            assert status == 400 and "error" in json.loads(text), (bad, text)


async def test_export_of_an_observation_list(live: Running) -> None:
    """``/api/v1/spans/export``: the observations the list's filters select, newest first, each with
    its own input, output, parameters and metadata, in pages past the first, at most ``max``; a
    spreadsheet runs no cell of it; garbage is a 400 before any byte of a file."""
    import csv
    import io
    import json

    import query_api.export_api as export_api

    await seed(live)
    await live.store.writer.write(
        span_table([span("formula", "formula-llm", start=NOW_NS - 30 * SECOND, name="=1+1", model="gpt-4o",
                         observation_type="GENERATION", input="long " * 12_000, output="-2")])
    )  # fmt: skip
    async with aiohttp.ClientSession() as session:

        async def export(params: list[tuple[str, str]]) -> tuple[int, dict[str, str], str]:
            async with session.get(live.api_url + "/api/v1/spans/export", params=params) as r:
                return r.status, dict(r.headers), await r.text()

        status, headers, text = await export([("observation_type", "GENERATION")])
        assert status == 200 and 'attachment; filename="observations-' in headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        assert [r["span_id"] for r in rows] == ["formula-llm"] + [f"rest-{i}-llm" for i in range(6)]
        assert (rows[0]["name"], rows[0]["output"]) == ("'=1+1", "'-2")
        assert rows[0]["input"] == ("long " * 12_000)[:50_000]
        assert rows[1]["trace_id"] == "rest-0" and rows[1]["observation_type"] == "GENERATION"

        status, headers, text = await export([("format", "jsonl"), ("model", "gpt-4o"), ("name", "=1+1")])
        [line] = [json.loads(x) for x in text.splitlines()]
        assert headers["Content-Type"] == "application/x-ndjson" and line["name"] == "=1+1"
        assert line["span_id"] == "formula-llm" and line["latency_ms"] >= 0 and line["metadata"] == "{}"
        status, _, text = await export([("format", "jsonl"), ("search", "ANSWER NUMBER 3")])
        assert [json.loads(x)["span_id"] for x in text.splitlines()] == ["rest-3-llm"]
        page, export_api.OBSERVATION_PAGE = export_api.OBSERVATION_PAGE, 2
        try:
            status, _, text = await export([("format", "jsonl"), ("observation_type", "GENERATION"), ("max", "5")])
            assert [json.loads(x)["span_id"] for x in text.splitlines()] == ["formula-llm"] + [
                f"rest-{i}-llm" for i in range(4)
            ]
        finally:
            export_api.OBSERVATION_PAGE = page
        for bad in ([("format", "xml")], [("max", "0")], [("observations_only", "maybe")], [("start", "yesterday")],
                    [("limit", "0")], [("fields", "light")]):  # fmt: skip
            status, headers, text = await export(bad)
            assert status == 400 and "error" in json.loads(text), (bad, text)
