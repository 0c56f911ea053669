"""Inserts into the embedded engine: a failure anywhere in writing the rows is an error, never a
success with the rows missing.

chDB's streaming insert answered success when writing a part or a materialized view failed (a full
disk, a view's error); the rows were lost and every span of such a batch acknowledged. A MergeTree
setting makes the engine refuse inserts as it does on a full disk, so the real engine shows it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pyarrow as pa
import pytest

from storage import Store
from storage.backends._errors import StorageError
from tests.conftest import serving
from tests.langfuse_helpers import basic, make_key
from tests.otlp_data import request
from tests.test_otlp_errors import PB, count, post
from tracehouse.errors import StorageUnavailable

# More free bytes than any disk has: the engine refuses every insert as on a full disk.
DISK_FULL = "min_free_disk_bytes_to_perform_insert = 1000000000000000000"


def rows(n: int, start: int = 0) -> pa.Table:
    return pa.table({"k": pa.array(range(start, start + n), pa.uint32()), "v": [f"row {i}" for i in range(n)]})


async def test_an_insert_refused_for_disk_space_is_unavailable_and_stores_nothing(store: Store) -> None:
    await store.backend.execute("CREATE TABLE full_disk (k UInt32, v String) ENGINE = MergeTree ORDER BY k")
    await store.backend.execute(f"ALTER TABLE full_disk MODIFY SETTING {DISK_FULL}")
    with pytest.raises(StorageUnavailable, match=r"NOT_ENOUGH_SPACE|enough free space"):
        await store.backend.insert("full_disk", rows(10))
    assert await store.backend.query("SELECT count() AS n FROM full_disk") == [{"n": 0}]
    # Space again: the writer's connection takes the next insert.
    await store.backend.execute("ALTER TABLE full_disk RESET SETTING min_free_disk_bytes_to_perform_insert")
    await store.backend.insert("full_disk", rows(10))
    assert await store.backend.query("SELECT count() AS n FROM full_disk") == [{"n": 10}]


async def test_a_view_failing_on_the_insert_is_an_error(store: Store) -> None:
    await store.backend.execute("CREATE TABLE source (k UInt32, v String) ENGINE = MergeTree ORDER BY k")
    await store.backend.execute("CREATE TABLE target (k UInt32) ENGINE = MergeTree ORDER BY k")
    await store.backend.execute(
        "CREATE MATERIALIZED VIEW source_mv TO target "
        "AS SELECT k + throwIf(k = 5, 'refused by the view') AS k FROM source"
    )
    with pytest.raises(StorageError, match="refused by the view"):
        await store.backend.insert("source", rows(10))
    await store.backend.insert("source", rows(3))  # 0, 1, 2: the view takes them
    assert await store.backend.query("SELECT count() AS n FROM target") == [{"n": 3}]


async def test_an_insert_of_many_batches_is_one_part(store: Store) -> None:
    await store.backend.execute("CREATE TABLE batches (k UInt32, v String) ENGINE = MergeTree ORDER BY k")
    await store.backend.execute("SYSTEM STOP MERGES batches")
    table = pa.concat_tables([rows(100, i * 100) for i in range(5)])
    assert len(table.to_batches()) == 5
    await store.backend.insert("batches", table)
    assert await store.backend.query("SELECT count() AS n, uniqExact(k) AS keys FROM batches") == [
        {"n": 500, "keys": 500}
    ]
    parts = await store.backend.query("SELECT count() AS n FROM system.parts WHERE table = 'batches' AND active")
    assert parts == [{"n": 1}]  # one insert, one part: a part per batch would multiply merges


async def test_spans_sent_while_the_disk_is_full_are_refused_then_stored_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """OTLP/HTTP while the engine refuses inserts for disk space: 503 with a retry hint, not 200
    with the spans dropped (as before); the exporter's retry once space is back stores them once.
    The log says when the store began to refuse inserts, why, and when it took them again."""
    async with serving(tmp_path / "data") as live:
        await live.store.backend.execute(f"ALTER TABLE spans MODIFY SETTING {DISK_FULL}")
        body = request([{"trace_id": b"\x07" * 16, "name": f"s{i}"} for i in range(5)]).SerializeToString()
        status, _, headers = await post(live, body, PB)
        assert status == 503 and "Retry-After" in headers
        assert await count(live) == 0
        await live.store.backend.execute("ALTER TABLE spans RESET SETTING min_free_disk_bytes_to_perform_insert")
        await asyncio.sleep(float(headers["Retry-After"]))
        status, _, _ = await post(live, body, PB)
        assert status == 200
        status, _, _ = await post(live, body, PB)  # a retry of an answer the exporter never saw
        assert status == 200
        assert await count(live) == 5
    refused = [r.getMessage() for r in caplog.records if "refuses inserts" in r.getMessage()]
    assert len(refused) == 1 and "enough free space" in refused[0]
    assert any("takes inserts again" in r.getMessage() for r in caplog.records)


async def test_a_trace_whose_summary_the_full_disk_refused_is_listed_after_the_retry(tmp_path: Path) -> None:
    """The spans' part committed, the summary view's insert refused (a disk full between the two):
    the client got 503 and retries once there is space. The retry finds its spans stored (not
    counted twice) and the trace is listed with its spans, without waiting for a restart's repair."""
    async with serving(tmp_path / "data") as live:
        await live.store.backend.execute(f"ALTER TABLE traces MODIFY SETTING {DISK_FULL}")
        trace = b"\x09" * 16
        body = request([{"trace_id": trace, "name": f"s{i}"} for i in range(5)]).SerializeToString()
        status, _, headers = await post(live, body, PB)
        assert status == 503
        assert await count(live) == 5  # the spans' part is in; the summary is not
        await live.store.backend.execute("ALTER TABLE traces RESET SETTING min_free_disk_bytes_to_perform_insert")
        await asyncio.sleep(float(headers["Retry-After"]))
        status, _, _ = await post(live, body, PB)
        assert status == 200
        assert await count(live) == 5
        url, headers = live.api_url + "/api/v1/traces?start=0", basic(await make_key(live))
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
            listed = {t["trace_id"]: t["span_count"] for t in (await r.json())["items"]}
        assert listed == {trace.hex(): 5}
