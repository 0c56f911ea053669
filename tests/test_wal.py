"""The span write-ahead log: batches acknowledged from it are bounded while the store stalls, and
are stored exactly once after a kill -9, whether their insert had committed or not."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from otlp_receiver import wal as wal_module
from otlp_receiver.wal import HEADER, WriteAheadLog
from storage import Store
from storage.journal import WAL_DIR
from tests.conftest import serving, start_server, until
from tests.helpers import span, span_table
from tests.otlp_data import request
from tests.test_otlp_errors import PB, GatedBackend, count, post

SPANS_PER_REQUEST = 5
INPUT_TOKENS = 7


def body() -> bytes:
    """One request: a trace of SPANS_PER_REQUEST spans, each with INPUT_TOKENS input tokens."""
    trace = os.urandom(16)
    spans = [
        {"trace_id": trace, "attrs": {"gen_ai.usage.input_tokens": INPUT_TOKENS, "gen_ai.request.model": "m"}}
        for _ in range(SPANS_PER_REQUEST)
    ]
    return request(spans, {"service.name": "wal-test"}).SerializeToString()


async def test_records_survive_reopening_and_a_torn_tail_ends_a_segment(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "wal", segment_bytes=1)  # every append rolls to a new segment
    tables = [span_table([span(f"t{i}", f"s{j}") for j in range(i + 1)]) for i in range(3)]
    seqs = [await wal.append(t) for t in tables]
    assert len(wal.segments()) == 3 and wal.unreleased == 3
    wal.release(seqs[:1])  # the first segment's only record is in the store: the segment goes
    assert len(wal.segments()) == 2 and wal.unreleased == 2
    # What a crash mid-append leaves: half a record after the last whole one (never acknowledged).
    last = wal.segments()[-1]
    with last.open("ab") as f:
        f.write(HEADER.pack(b"THW1", 10_000, 0, 99)[:7])
    reopened = WriteAheadLog(tmp_path / "wal")
    found = [r.table.num_rows for r in reopened.records()]
    assert found == [2, 3]
    assert [r.table.column("trace_id").to_pylist() for r in reopened.records()] == [["t1", "t1"], ["t2"] * 3]
    # A new run never reuses a segment's name.
    await reopened.append(tables[0])
    assert len(reopened.segments()) == 3
    await reopened.close()
    await wal.close()


async def test_appends_a_full_disk_refuses_leave_no_segments_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal = WriteAheadLog(tmp_path / "wal")
    table = span_table([span("t", "s")])
    kept = await wal.append(table)  # acknowledged: its segment stays until the store has it

    class FullDisk:
        """``os``, whose writes put in half their bytes and then fail as a full disk does."""

        def __getattr__(self, name: str) -> object:
            return getattr(os, name)

        @staticmethod
        def write(fd: int, data: bytes) -> int:
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(wal_module, "os", FullDisk())
    for _ in range(50):
        with pytest.raises(OSError, match="No space left"):
            await wal.append(table)
    # The acknowledged record's segment (with the first torn write after it), nothing else: each
    # refused write left a segment of its own before.
    assert len(wal.segments()) == 1
    monkeypatch.undo()
    later = await wal.append(table)
    assert len(wal.segments()) == 2
    assert [r.seq for r in WriteAheadLog(tmp_path / "wal").records()] == [kept, later]
    wal.release([kept, later])
    assert len(wal.segments()) == 1  # the active one, empty of waiting records
    await wal.close()


async def test_a_clean_stop_leaves_an_empty_log(tmp_path: Path) -> None:
    async with serving(tmp_path / "data") as live:
        assert live.ingest is not None and live.ingest.wal is not None
        statuses = await asyncio.gather(*(post(live, body(), PB) for _ in range(20)))
        assert all(s == 200 for s, _, _ in statuses)
        await live.ingest.batcher.settled()
        assert await count(live) == 20 * SPANS_PER_REQUEST
    assert not list((tmp_path / "data" / WAL_DIR).glob("*.wal"))


async def stored(store: Store) -> tuple[int, int, int]:
    """Spans, distinct spans and the summaries' input tokens of the test's service."""
    spans = await store.backend.query(
        "SELECT count() AS n, uniqExact(trace_id, span_id) AS u FROM spans WHERE service_name = 'wal-test'"
    )
    tokens = await store.backend.query("SELECT sum(input_tokens) AS t FROM traces WHERE has(services, 'wal-test')")
    return int(spans[0]["n"]), int(spans[0]["u"]), int(tokens[0]["t"])


@pytest.mark.slow
async def test_a_stalled_store_bounds_the_log_and_a_kill_replays_it_exactly_once(tmp_path: Path) -> None:
    bound = 16 * 1024
    data = tmp_path / "data"
    snapshot = tmp_path / "wal-at-the-kill"
    async with serving(data, max_inflight_bytes=bound) as live:
        assert live.ingest is not None and live.ingest.wal is not None
        batcher, wal = live.ingest.batcher, live.ingest.wal
        gated = GatedBackend(live.store.writer._backend)
        live.store.writer._backend = gated  # inserts hang: a stalled store
        first = asyncio.create_task(post(live, body(), PB))  # goes into the insert that hangs
        await until(lambda: gated.held_spans > 0)
        assert not first.done()
        # While that insert hangs, requests are logged and answered, until the bound is reached;
        # past it they wait in the waiting room, then are refused.
        bodies = [body() for _ in range(80)]
        answers = await asyncio.gather(*(post(live, b, PB) for b in bodies))
        statuses = [s for s, _, _ in answers]
        logged = statuses.count(200)
        assert logged > 0 and 503 in statuses, statuses
        assert all(s in (200, 503) for s in statuses)
        assert batcher.inflight_bytes <= bound
        assert logged * min(map(len, bodies)) <= bound, "the logged batches are held against the in-flight bound"
        size = wal.bytes_on_disk
        assert size > 0 and wal.unreleased == logged
        # Refused requests cost nothing: the log does not grow however long the stall lasts.
        again = await asyncio.gather(*(post(live, body(), PB) for _ in range(20)))
        assert all(s == 503 for s, _, _ in again)
        assert wal.bytes_on_disk == size and wal.unreleased == logged
        metrics = live.ingest.telemetry.render().decode()
        assert f"tracehouse_wal_batches {float(logged)}" in metrics
        assert f"tracehouse_wal_bytes {float(size)}" in metrics
        # What a kill -9 here leaves on disk: every acknowledged batch, fsynced.
        shutil.copytree(data / WAL_DIR, snapshot)
        gated.gate.set()
        assert (await first)[0] == 200
        await batcher.settled()
        acked = 1 + logged
        assert await stored(live.store) == (acked * SPANS_PER_REQUEST,) * 2 + (
            acked * SPANS_PER_REQUEST * INPUT_TOKENS,
        )
        assert wal.unreleased == 0
    expected = (acked * SPANS_PER_REQUEST,) * 2 + (acked * SPANS_PER_REQUEST * INPUT_TOKENS,)
    logged_only = (logged * SPANS_PER_REQUEST,) * 2 + (logged * SPANS_PER_REQUEST * INPUT_TOKENS,)

    # 1. The kill came after the inserts committed, before the log was told: the replay at start
    #    finds every logged span stored and adds nothing.
    shutil.rmtree(data / WAL_DIR)
    shutil.copytree(snapshot, data / WAL_DIR)
    server = start_server(data)
    try:
        assert "replayed" not in server.log()
        server.stop(9)  # kill -9 right after the replay
    finally:
        server.stop(9)
    async with await Store.open(data_dir=data) as store:
        assert await stored(store) == expected

    # 2. The kill came before any logged batch was inserted: a store with none of them, and the log.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copytree(snapshot, fresh / WAL_DIR)
    server = start_server(fresh)
    try:
        assert f"replayed {logged * SPANS_PER_REQUEST} spans" in server.log()
        server.stop(9)
    finally:
        server.stop(9)
    assert not list((fresh / WAL_DIR).glob("*.wal")), "a replayed log is emptied"
    # 3. Started again after that kill: nothing is replayed twice.
    server = start_server(fresh)
    try:
        assert "replayed" not in server.log()
        status, _ = server.get("/api/v1/traces?limit=1")
        assert status == 200
    finally:
        server.stop()
    async with await Store.open(data_dir=fresh) as store:
        assert await stored(store) == logged_only


async def test_a_batch_the_store_refuses_is_set_aside_not_retried_forever(tmp_path: Path) -> None:
    """A logged batch already has its answer: if the store refuses its rows (a bug, not an
    outage), it is kept beside the log for an operator and the lane moves on."""
    async with serving(tmp_path / "data") as live:
        assert live.ingest is not None and live.ingest.wal is not None
        batcher, wal = live.ingest.batcher, live.ingest.wal
        gated = GatedBackend(live.store.writer._backend)
        live.store.writer._backend = gated
        first = asyncio.create_task(post(live, body(), PB))
        await until(lambda: gated.held_spans > 0)  # an insert is running
        bad = span_table([span("t-bad", "s1")])
        reservation = batcher.reserve(100)
        try:
            await batcher.commit(bad, reservation)  # logged: an insert is running
        finally:
            reservation.release()
        assert wal.unreleased == 1

        class Refusing:
            async def write(self, table: pa.Table) -> int:
                if "t-bad" in table.column("trace_id").to_pylist():
                    raise ValueError("injected: the store refuses these rows")
                return await live.store.writer.write(table)

        writers = batcher._writers
        batcher._writers = {**writers, "spans": Refusing()}  # type: ignore[dict-item]
        gated.gate.set()
        assert (await first)[0] == 200
        await batcher.settled()
        assert wal.unreleased == 0 and batcher.stats.set_aside == 1
        assert "tracehouse_wal_set_aside_total 1.0" in live.ingest.telemetry.render().decode()
        kept = list((tmp_path / "data" / WAL_DIR / "refused").iterdir())
        assert len(kept) == 1
        assert pa.ipc.open_stream(kept[0].read_bytes()).read_all().column("trace_id").to_pylist() == ["t-bad"]
        assert (await post(live, body(), PB))[0] == 200  # the lane goes on
        await batcher.settled()
        assert await count(live, "service_name = 'wal-test'") == 2 * SPANS_PER_REQUEST


async def test_a_log_left_behind_is_replayed_with_the_log_turned_off_and_refused_rows_set_aside(
    tmp_path: Path,
) -> None:
    """Turning the log off after a crash must not lose what it holds; a batch the store refuses
    at the replay is set aside, so it cannot fail every start."""
    data = tmp_path / "data"
    wal = WriteAheadLog(data / WAL_DIR)
    good = span_table([span("t-left", f"s{i}") for i in range(3)])
    await wal.append(good)
    await wal.append(good.append_column("bogus", pa.array(["x"] * 3)))  # no such span column
    await wal.close()
    async with serving(data, ingest_wal=False) as live:
        assert live.ingest is not None and live.ingest.batcher.wal is None
        rows = await live.store.backend.query("SELECT count() AS n FROM spans WHERE trace_id = 't-left'")
        assert rows[0]["n"] == 3
        assert "tracehouse_wal_set_aside_total 1.0" in live.ingest.telemetry.render().decode()
    assert not list((data / WAL_DIR).glob("*.wal"))
    kept = list((data / WAL_DIR / "refused").iterdir())
    assert len(kept) == 1 and "bogus" in pa.ipc.open_stream(kept[0].read_bytes()).read_all().column_names
