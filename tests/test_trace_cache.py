"""A trace read again comes from memory while nothing was written to it, and from ClickHouse once
anything was. No writer tells the cache anything: the trace index's version of each trace is what
every process reads, so these writes stand for any process's."""

import json
import uuid

import aiohttp
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from storage import Store
from storage.trace_cache import TraceCache, TraceVersion
from tests.helpers import NOW_NS, SECOND, span, span_table
from tests.langfuse_helpers import basic, event, ingest, make_key
from tests.otel import exporter, in_thread, provider
from tracehouse.server import Running


def test_the_cache_keeps_its_budget_and_gives_copies() -> None:
    cache = TraceCache(64 * 1024)
    v1, v2 = TraceVersion(3, 100), TraceVersion(4, 120)
    cache.put("p", "t1", v1, [{"span_id": "a", "span_attributes": {"k": "v"}}])
    got = cache.get("p", "t1", v1)
    assert got == [{"span_id": "a", "span_attributes": {"k": "v"}}]
    got[0]["span_attributes"]["k"] = "changed by a caller"
    assert cache.get("p", "t1", v1) == [{"span_id": "a", "span_attributes": {"k": "v"}}]
    assert cache.get("other project", "t1", v1) is None
    assert cache.get("p", "t1", v2) is None  # written since: dropped
    assert len(cache) == 0 and cache.size_bytes == 0
    # A trace larger than an eighth of the budget is not kept; the least recently read go first.
    cache.put("p", "huge", v1, [{"input": "x" * 9000}])
    assert cache.get("p", "huge", v1) is None
    for i in range(40):
        cache.put("p", f"t{i}", v1, [{"input": "x" * 3000}])
        cache.get("p", "t0", v1)  # kept in use
    assert cache.size_bytes <= 64 * 1024 and 15 <= len(cache) < 40
    assert cache.get("p", "t0", v1) is not None and cache.get("p", "t1", v1) is None
    cache.forget("p")
    assert len(cache) == 0 and cache.size_bytes == 0
    off = TraceCache(0)
    off.put("p", "t", v1, [{"span_id": "a"}])
    assert off.get("p", "t", v1) is None


async def test_a_trace_is_read_again_from_memory_until_it_is_written(store: Store) -> None:
    cache = store.trace_cache
    await store.writer.write(span_table([span("t1", "root"), span("t1", "child", parent="root", start=NOW_NS + 1)]))
    first = await store.reader.trace("default", "t1")
    assert [s["span_id"] for s in first] == ["root", "child"] and cache.hits == 0
    again = await store.reader.trace("default", "t1")
    assert again == first and cache.hits == 1
    again[0]["name"] = "changed by a caller"
    assert (await store.reader.trace("default", "t1"))[0]["name"] == "span root"
    assert await store.reader.trace("other", "t1") == []  # scoped to the project

    # A new span of the trace: its version changed, so it is read anew.
    hits = cache.hits
    await store.writer.write(span_table([span("t1", "late", parent="root", start=NOW_NS + 2 * SECOND)]))
    spans = await store.reader.trace("default", "t1")
    assert [s["span_id"] for s in spans] == ["root", "child", "late"] and cache.hits == hits
    # A new version of a stored span (as a Langfuse update writes it), inside the trace's bounds,
    # inserted as another process would: nothing in this one hears of it.
    await store.backend.execute(
        "INSERT INTO spans (project_id, trace_id, span_id, parent_span_id, name, start_time, end_time, duration_ns) "
        "SELECT project_id, trace_id, span_id, parent_span_id, 'renamed', start_time, end_time, duration_ns "
        "FROM spans WHERE trace_id = 't1' AND span_id = 'child'"
    )
    spans = await store.reader.trace("default", "t1")
    assert [s["name"] for s in spans] == ["span root", "renamed", "span late"] and cache.hits == hits
    assert await store.reader.trace("default", "t1") == spans and cache.hits == hits + 1

    # Deleted: gone at once, from memory too.
    await store.lifecycle.delete_trace("default", "t1")
    assert await store.reader.trace("default", "t1") == []
    assert len(cache) == 0


async def test_event_records_that_arrive_later_still_give_their_messages(store: Store) -> None:
    # A GenAI call exported without content: its messages may come as event records, apart from
    # the span and later. The span is kept; the records are looked for on every read.
    await store.writer.write(span_table([span("t3", "chat", operation="chat", observation_type="GENERATION")]))
    assert (await store.reader.trace("default", "t3"))[0]["input"] == ""
    assert (await store.reader.trace("default", "t3"))[0]["input"] == "" and store.trace_cache.hits == 1
    messages = '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]'
    await store.backend.execute(
        "INSERT INTO logs (project_id, timestamp, observed_timestamp, record_id, trace_id, span_id, genai_input) "
        "VALUES ('default', fromUnixTimestamp64Nano({t:Int64}), fromUnixTimestamp64Nano({t:Int64}), 'r1', 't3', "
        "'chat', {m:String})",
        {"t": NOW_NS, "m": messages},
    )
    [chat] = await store.reader.trace("default", "t3")
    assert chat["input"] == messages and store.trace_cache.hits == 2


async def test_spans_older_than_the_index_says_are_not_kept(store: Store) -> None:
    # The trace index and the spans of one insert become visible one after the other: a read
    # between them gets the spans before that insert, which must not be kept as the new version.
    await store.writer.write(span_table([span("t2", "root")]))
    await store.backend.execute(
        "INSERT INTO trace_index (project_id, trace_id, start_time, end_time, retention_days, writes, last_write) "
        "SELECT 'default', 't2', min(start_time), max(end_time), 0, 1, now64(6) + INTERVAL 1 HOUR "
        "FROM spans WHERE trace_id = 't2'"
    )
    for _ in range(2):
        assert [s["span_id"] for s in await store.reader.trace("default", "t2")] == ["root"]
    assert store.trace_cache.hits == 0 and len(store.trace_cache) == 0


async def test_the_api_shows_a_trace_written_after_it_was_read(live: Running) -> None:
    """The UI's trace view, Langfuse's trace by id and Tempo, each read twice, then the trace
    written through OTLP and through Langfuse's ingestion: every read shows the writes."""
    pair = await make_key(live)
    headers = basic(pair)
    trace_id = uuid.uuid4().hex
    status, _ = await ingest(live, headers, [event("trace-create", {"id": trace_id, "name": "first"})])
    assert status == 207

    async def reads() -> tuple[list[str], str, str, int]:
        async with aiohttp.ClientSession(headers=headers) as s:
            async with s.get(f"{live.api_url}/api/v1/traces/{trace_id}") as r:
                assert r.status == 200
                rest = [sp["name"] for sp in (await r.json())["spans"]]
            async with s.get(f"{live.api_url}/api/public/traces/{trace_id}") as r:
                assert r.status == 200
                langfuse = await r.json()
            async with s.get(f"{live.api_url}/tempo/api/traces/{trace_id}") as r:
                assert r.status == 200
                tempo = json.dumps(await r.json())
        return sorted(rest), langfuse["name"], tempo, len(langfuse["observations"])

    before = await reads()
    assert before[:2] == (["first"], "first") and before[3] == 0
    assert await reads() == before
    assert live.store.trace_cache.hits >= 3

    # An OTLP span of the same trace, and the trace renamed by a Langfuse update.
    tp = provider(exporter("http", live, headers=headers), service="late-service")
    parent = set_span_in_context(NonRecordingSpan(SpanContext(int(trace_id, 16), 1, False, TraceFlags(1))))
    # Exported as the span ends, off the loop that serves the receiver.
    await in_thread(lambda: tp.get_tracer("t").start_span("late tool call", context=parent).end())
    tp.shutdown()
    status, _ = await ingest(live, headers, [event("trace-create", {"id": trace_id, "name": "second"})])
    assert status == 207

    rest, name, tempo, observations = await reads()
    assert rest == ["late tool call", "second"] and name == "second" and observations == 1
    assert "late-service" in tempo and "late-service" not in before[2]
    assert await reads() == (rest, name, tempo, observations)
    async with aiohttp.ClientSession(headers=headers) as s:  # the trace view's log records need its bounds only
        async with s.get(f"{live.api_url}/api/v1/traces/{trace_id}/logs") as r:
            assert r.status == 200 and (await r.json())["items"] == []
        async with s.get(f"{live.api_url}/api/v1/traces/{uuid.uuid4().hex}/logs") as r:
            assert r.status == 404
