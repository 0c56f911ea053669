"""A trace just written is read from the batches this process inserted last (storage.recent_spans),
exactly as ClickHouse would give it, and only when those batches hold every row written for it."""

import random
import uuid
from pathlib import Path

import aiohttp
from opentelemetry.trace import Link, SpanContext, StatusCode, TraceFlags

from storage import Store
from storage import recent_spans as recent_module
from storage.reader import TraceReader
from storage.trace_cache import TraceVersion
from tests.helpers import NOW_NS, read_twice, send_workload, span, span_table
from tests.langfuse_helpers import basic, event, ingest, make_key
from tests.otel import exporter, in_thread, provider
from tests.otlp_data import request
from tracehouse.server import Running


async def test_traces_just_written_are_read_from_memory_as_clickhouse_gives_them(live: Running) -> None:
    store = live.store
    headers = basic(await make_key(live))
    # The GenAI workload over OTLP/HTTP: both conventions, chats, tools, retrievals, errors.
    ids = await send_workload(live, headers, seed=7, spans=400)

    # The OTel SDK: events, links, typed attributes, a status.
    tp = provider(exporter("http", live, headers=headers), service="sdk-service")

    def sdk_trace() -> str:
        tracer = tp.get_tracer("t")
        other = SpanContext(int(uuid.uuid4().hex, 16), 7, False, TraceFlags(1))
        with tracer.start_as_current_span(
            "agent", attributes={"n": 3, "ok": True, "x": 0.5, "tags": ["a", "b"]}
        ) as root:
            root.add_event("gen_ai.user.message", {"content": "hi", "index": 1})
            with tracer.start_as_current_span("tool", links=[Link(other, {"why": "retry"})]) as child:
                child.set_status(StatusCode.ERROR, "boom")
        return f"{root.get_span_context().trace_id:032x}"

    ids.append(await in_thread(sdk_trace))
    tp.force_flush()

    # Langfuse: a trace, a generation, then the generation updated (a new version and a cancel row).
    trace_id = uuid.uuid4().hex
    lf = [
        [event("trace-create", {"id": trace_id, "name": "lf", "userId": "u1", "tags": ["t"]})],
        [
            event(
                "generation-create",
                {
                    "id": "g1",
                    "traceId": trace_id,
                    "name": "chat",
                    "model": "gpt-4o-mini",
                    "input": [{"role": "user", "content": "hi"}],
                    "usage": {"input": 3, "output": 0},
                    "startTime": "2026-11-27T10:00:00Z",
                },
            )
        ],
        [event("generation-update", {"id": "g1", "traceId": trace_id, "output": "hello", "usage": {"output": 5}})],
    ]
    for events in lf:
        status, body = await ingest(live, headers, events)
        assert status == 207 and not body["errors"], body
    ids.append(trace_id)

    clickhouse = TraceReader(store.backend)  # no cache, no batches: every span read from the store
    hits = store.recent_spans.hits
    for tid in ids:
        from_memory = await store.reader.trace("default", tid)
        assert from_memory and from_memory == await clickhouse.trace("default", tid), tid
    assert store.recent_spans.hits - hits == len(ids)
    [generation] = [s for s in await store.reader.trace("default", trace_id) if s["span_id"] == "g1"]
    assert generation["output"] == "hello"  # the newest version
    assert generation["output_tokens"] == 5


async def test_a_trace_is_served_from_memory_only_while_it_holds_every_row(tmp_path: Path) -> None:
    # A small budget: a quarter of 96 KiB for the batches.
    store = await Store.open(data_dir=tmp_path / "data", trace_cache_bytes=96 * 1024)
    try:
        recent = store.recent_spans
        await store.writer.write(span_table([span("t1", "root")]))
        assert [s["span_id"] for s in await store.reader.trace("default", "t1")] == ["root"]
        assert recent.hits == 1
        store.trace_cache.forget("default")

        # Written again by another process (plain SQL): the batches no longer hold every row.
        await store.backend.execute(
            "INSERT INTO spans (project_id, trace_id, span_id, parent_span_id, name, start_time, end_time) "
            "SELECT project_id, trace_id, 'other', 'root', 'from elsewhere', start_time, end_time "
            "FROM spans WHERE trace_id = 't1'"
        )
        assert [s["span_id"] for s in await store.reader.trace("default", "t1")] == ["other", "root"]
        assert recent.hits == 1

        # A trace whose first batch was let go (the budget), then written again: read whole.
        await store.writer.write(span_table([span("t2", "root")]))
        for i in range(40):
            await store.writer.write(span_table([span(f"filler-{i}", "s", input="x" * 2000)]))
        await store.writer.write(span_table([span("t2", "child", parent="root", start=NOW_NS + 1)]))
        assert recent.size_bytes <= recent.max_bytes
        assert [s["span_id"] for s in await store.reader.trace("default", "t2")] == ["root", "child"]
        assert recent.hits == 1
        # The newest filler is still held and served.
        assert [s["span_id"] for s in await store.reader.trace("default", "filler-39")] == ["s"]
        assert recent.hits == 2

        # Deleted: forgotten, and gone.
        await store.lifecycle.delete_trace("default", "filler-39")
        assert await store.reader.trace("default", "filler-39") == []
        assert len(recent) == 0
    finally:
        await store.close()


async def test_batches_older_than_the_limit_are_let_go(store: Store, monkeypatch) -> None:
    await store.writer.write(span_table([span("t1", "root")]))
    monkeypatch.setattr(recent_module, "MAX_AGE_S", -1.0)
    assert [s["span_id"] for s in await store.reader.trace("default", "t1")] == ["root"]
    assert store.recent_spans.hits == 0 and len(store.recent_spans) == 0


def test_nothing_is_kept_without_a_budget() -> None:
    off = recent_module.RecentSpans(0)
    off.add(span_table([span("t1", "root")]))
    assert len(off) == 0 and off.rows("default", "t1", TraceVersion(1, 0)) is None


async def test_every_read_after_any_mix_of_writes_is_what_clickhouse_has(live: Running) -> None:
    """A seeded mix, over a few traces, of OTLP spans (new ones and retries), Langfuse creates and
    updates (new versions with cancel rows) and spans inserted by "another process": after every
    step, each trace read through the store's reader (from memory when it can: the batches just
    inserted, or the trace cache) equals ClickHouse's."""
    store = live.store
    headers = basic(await make_key(live))
    rng = random.Random(32)
    traces = [uuid.uuid4().hex for _ in range(4)]
    sent: list[tuple[str, bytes]] = []  # OTLP spans sent, for retries
    observations: dict[str, list[str]] = {t: [] for t in traces}
    async with aiohttp.ClientSession() as session:

        async def otlp(spans: list[dict]) -> None:
            body = request(spans).SerializeToString()
            protobuf = {**headers, "Content-Type": "application/x-protobuf"}
            async with session.post(live.otlp_http_url + "/v1/traces", data=body, headers=protobuf) as r:
                assert r.status == 200, await r.text()

        for step in range(60):
            trace_id = rng.choice(traces)
            action = rng.choice(["otlp", "otlp", "retry", "create", "update", "elsewhere"])
            if action == "otlp":
                span_id = rng.randbytes(8)
                sent.append((trace_id, span_id))
                await otlp([{"trace_id": bytes.fromhex(trace_id), "span_id": span_id, "name": f"op {step}"}])
            elif action == "retry" and sent:
                old_trace, span_id = rng.choice(sent)
                await otlp([{"trace_id": bytes.fromhex(old_trace), "span_id": span_id, "name": "retried"}])
            elif action == "create":
                obs = f"obs-{step}"
                observations[trace_id].append(obs)
                body = {"id": obs, "traceId": trace_id, "name": f"gen {step}", "model": "gpt-4o-mini",
                        "input": {"q": step}, "usage": {"input": step, "output": 1}}  # fmt: skip
                status, doc = await ingest(live, headers, [event("generation-create", body)])
                assert status == 207 and not doc["errors"], doc
            elif action == "update" and observations[trace_id]:
                body = {"id": rng.choice(observations[trace_id]), "traceId": trace_id, "output": f"answer {step}",
                        "usage": {"output": step}}  # fmt: skip
                status, doc = await ingest(live, headers, [event("generation-update", body)])
                assert status == 207 and not doc["errors"], doc
            elif action == "elsewhere":
                await store.backend.execute(
                    "INSERT INTO spans (project_id, trace_id, span_id, name, start_time, end_time) "
                    "VALUES ({p:String}, {t:String}, {s:String}, 'from elsewhere', now64(9), now64(9))",
                    {"p": "default", "t": trace_id, "s": f"else-{step}"},
                )
            for tid in traces:
                await read_twice(store, "default", tid)
    assert store.recent_spans.hits > 0  # some reads came from memory, and each matched
