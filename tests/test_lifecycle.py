"""Retention applied to stored data, and deletes that leave nothing behind in any table or view."""

import asyncio
import os
from decimal import Decimal

from storage import Store
from tests.conftest import until
from tests.helpers import NOW_NS, SECOND, add_score, span, span_table
from tests.otlp_data import request
from tests.test_otlp_errors import GatedBackend
from tracehouse.server import Running

DAY = 86_400 * SECOND


async def counts(store: Store, project: str, trace_id: str) -> dict[str, int]:
    out = {}
    for table in ("spans", "trace_index", "traces", "scores"):
        rows = await store.backend.query(
            f"SELECT count() AS n FROM {table} WHERE project_id = {{p:String}} AND trace_id = {{t:String}}",
            {"p": project, "t": trace_id},
        )
        out[table] = rows[0]["n"]
    return out


async def test_delete_trace_session_and_user(store: Store) -> None:
    await store.writer.write(
        span_table(
            [
                span("keep", "k1", user_id="alice", session_id="s-keep", total_cost=Decimal("1")),
                span("t-del", "d1", user_id="bob", session_id="s-1"),
                span("t-del", "d2", "d1"),
                span("t-sess", "s1", user_id="carol", session_id="s-gone"),
                span("t-user-1", "u1", user_id="dave", session_id="s-2"),
                span("t-user-2", "u2", user_id="dave", session_id="s-3"),
            ]
        )
    )
    for trace in ("keep", "t-del", "t-sess"):
        await add_score(store.backend, trace)
    assert await counts(store, "default", "t-del") == {"spans": 2, "trace_index": 1, "traces": 1, "scores": 1}

    assert await store.lifecycle.delete_trace("default", "t-del") == 1
    assert await counts(store, "default", "t-del") == {"spans": 0, "trace_index": 0, "traces": 0, "scores": 0}
    assert await store.reader.trace("default", "t-del") == []

    assert await store.lifecycle.delete_where("default", "session_id", "s-gone") == 1
    assert sum((await counts(store, "default", "t-sess")).values()) == 0
    assert await store.lifecycle.delete_where("default", "user_id", "dave") == 2
    for trace in ("t-user-1", "t-user-2"):
        assert sum((await counts(store, "default", trace)).values()) == 0
    assert await counts(store, "default", "keep") == {"spans": 1, "trace_index": 1, "traces": 1, "scores": 1}


async def test_retention_applies_to_stored_data(store: Store) -> None:
    project = await store.projects.create_project("short-memory")
    await store.writer.write(
        span_table(
            [
                span("old", "o1", project=project.id, start=NOW_NS - 10 * DAY),
                span("new", "n1", project=project.id, start=NOW_NS - DAY),
                span("other-project", "x1", start=NOW_NS - 10 * DAY),  # default project, kept forever
            ]
        )
    )
    await store.lifecycle.set_retention(project.id, 5)
    assert (await store.projects.get_project(project.id)).retention_days == 5
    assert await store.reader.trace(project.id, "old") == []
    assert sum((await counts(store, project.id, "old")).values()) == 0
    assert len(await store.reader.trace(project.id, "new")) == 1
    assert len(await store.reader.trace("default", "other-project")) == 1
    rows = await store.backend.query(
        "SELECT DISTINCT retention_days AS d FROM spans WHERE project_id = {p:String}", {"p": project.id}
    )
    assert rows == [{"d": 5}]


async def test_a_delete_takes_spans_acknowledged_before_it_still_on_their_way(live: Running) -> None:
    """Spans acknowledged from the write-ahead log while an insert runs go in after their answer: a
    delete of their user's data (or their trace, or session) made meanwhile deletes them too,
    instead of letting them in after it."""
    assert live.ingest is not None and live.ingest.batcher.wal is not None
    gated = GatedBackend(live.store.writer._backend)
    live.store.writer._backend = gated  # inserts wait at the gate: a stalled store
    try:
        ahead = request([{"trace_id": os.urandom(16), "name": "ahead"}])
        first = asyncio.create_task(live.ingest.ingest(ahead.SerializeToString(), "protobuf", "default"))
        await until(lambda: gated.held_spans > 0)  # its insert is running, held at the gate
        doomed, kept = os.urandom(16), os.urandom(16)
        late = request([
            {"trace_id": doomed, "name": "asked", "attrs": {"user.id": "erin"}},
            {"trace_id": kept, "name": "kept", "attrs": {"user.id": "frank"}},
        ])  # fmt: skip
        result = await live.ingest.ingest(late.SerializeToString(), "protobuf", "default")
        assert result.accepted == 2 and live.ingest.batcher.stats.logged == 1  # answered from the log

        delete = asyncio.create_task(live.store.lifecycle.delete("default", "user", "erin"))
        await asyncio.sleep(0.3)
        assert not delete.done()  # it waits for the acknowledged spans
        assert await live.ingest.batcher.caught_up(0.05) is False  # a wait for a stalled store runs out
        gated.gate.set()
        assert await delete == 1
        await first
        await live.ingest.batcher.settled()
        rows = await live.store.backend.query("SELECT name FROM spans WHERE project_id = 'default' ORDER BY name")
        assert [r["name"] for r in rows] == ["ahead", "kept"]
    finally:
        gated.gate.set()  # the server stops only once its inserts are in
