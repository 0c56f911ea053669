"""The insert journal: a crash between the spans part and the views' parts is repaired at the
next start, so a retried export is recognised as stored and summaries are exact."""

from pathlib import Path

from storage import Store
from storage.journal import JOURNAL_DIR
from tests.helpers import span, span_table


async def summary(store: Store, trace_id: str) -> tuple[int, int, int]:
    rows = await store.backend.query(
        "SELECT sum(span_count) AS n, sum(input_tokens) AS t FROM traces WHERE trace_id = {t:String}",
        {"t": trace_id},
    )
    index = await store.backend.query(
        "SELECT count() AS n FROM trace_index WHERE trace_id = {t:String}", {"t": trace_id}
    )
    return int(rows[0]["n"]), int(rows[0]["t"]), int(index[0]["n"])


async def test_a_crash_between_spans_and_views_is_repaired_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = [span("t-crash", f"s{i}", input_tokens=10) for i in range(3)] + [span("t-ok", "x", input_tokens=5)]
    store = await Store.open(data_dir=data)
    try:
        await store.writer.write(span_table(rows))
        assert await summary(store, "t-crash") == (3, 30, 1)
        # What a kill -9 after the spans part but before the views' parts leaves behind: the spans,
        # no index or summary rows, and the journal entry of the insert.
        for table in ("trace_index", "traces"):
            await store.backend.execute(f"DELETE FROM {table} WHERE trace_id = 't-crash'")
        assert store.journal is not None
        store.journal.begin([("default", "t-crash")])
        (data / JOURNAL_DIR / "torn.json").write_bytes(b'[["default", "t-')  # cut off mid-write
    finally:
        await store.close()

    store = await Store.open(data_dir=data)
    try:
        assert await summary(store, "t-crash") == (3, 30, 1)
        assert await summary(store, "t-ok") == (1, 5, 1)  # traces not named are left alone
        assert not list((data / JOURNAL_DIR).iterdir())
        # The exporter retries the request it never saw answered: stored once, counted once.
        assert await store.writer.write(span_table(rows)) == 0
        assert await summary(store, "t-crash") == (3, 30, 1)
    finally:
        await store.close()


async def test_a_clean_insert_leaves_no_journal_entry(store: Store, tmp_path: Path) -> None:
    await store.writer.write(span_table([span("t1", "a"), span("t2", "b")]))
    assert store.journal is not None
    assert not list(store.journal.path.iterdir())
