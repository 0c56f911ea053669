"""Inserts carry the query settings the caller gives (spans skip the insert-time dedupe
pass; the writer and the readers dedupe instead)."""

import pyarrow as pa
import pytest

from storage import Store
from storage.writer import SPANS_INSERT_SETTINGS
from tests.helpers import span, span_table


async def _replacing_table(store: Store) -> pa.Table:
    await store.backend.execute("CREATE TABLE dup (k UInt32, v UInt32) ENGINE = ReplacingMergeTree ORDER BY k")
    return pa.table({"k": pa.array([1, 1, 2], pa.uint32()), "v": pa.array([1, 2, 3], pa.uint32())})


async def test_insert_settings_reach_clickhouse(store: Store) -> None:
    rows = await _replacing_table(store)
    await store.backend.insert("dup", rows)  # ClickHouse's default: repeats collapse on insert
    await store.backend.insert("dup", rows, SPANS_INSERT_SETTINGS)  # kept until a merge
    counts = await store.backend.query("SELECT count() AS n, uniqExact(k) AS keys FROM dup")
    assert counts == [{"n": 5, "keys": 2}]


async def test_a_setting_name_must_be_an_identifier(store: Store) -> None:
    rows = await _replacing_table(store)
    with pytest.raises(ValueError):
        await store.backend.insert("dup", rows, {"optimize_on_insert = 0, readonly": 0})
    assert (await store.backend.query("SELECT count() AS n FROM dup"))[0]["n"] == 0


async def test_a_span_sent_twice_in_one_batch_is_read_once(store: Store) -> None:
    one = span("t-twice", "s1")
    await store.writer.write(span_table([one, one, span("t-twice", "s2")]))
    stored = await store.reader.trace("default", "t-twice")
    assert sorted(s["span_id"] for s in stored) == ["s1", "s2"]
    summary = await store.backend.query("SELECT sum(span_count) AS n FROM traces WHERE trace_id = 't-twice'")
    assert summary[0]["n"] == 2
