from pathlib import Path

from storage import Store, TraceQuery
from storage.migrations import LATEST, MIGRATIONS, cluster_statements
from storage.tables import ALL_TABLES, VIEWS, array_keys
from tests.helpers import span, span_table


async def _tables(store: Store) -> set[str]:
    rows = await store.backend.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
    return {r["name"] for r in rows}


async def test_fresh_directory_gets_every_table_and_view(store: Store) -> None:
    names = await _tables(store)
    assert {t.name for t in ALL_TABLES} <= names
    assert {v.name for v in VIEWS} <= names
    assert await store.schema_version() == LATEST
    rows = await store.backend.query("SELECT version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in rows] == [m.version for m in MIGRATIONS]


async def test_restart_applies_nothing_and_keeps_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = await Store.open(data_dir=data_dir)
    await first.writer.write(span_table([span("t-restart", "s1")]))
    await first.close()

    again = await Store.open(data_dir=data_dir)
    try:
        rows = await again.backend.query("SELECT count() AS n FROM schema_migrations")
        assert rows[0]["n"] == len(MIGRATIONS)
        assert [s["span_id"] for s in await again.reader.trace("default", "t-restart")] == ["s1"]
        assert len(await again.projects.list_projects()) == 1
    finally:
        await again.close()


async def _create_spans(store: Store) -> str:
    rows = await store.backend.query("SELECT create_table_query AS q FROM system.tables WHERE name = 'spans'")
    return rows[0]["q"]


async def test_a_store_of_version_1_is_brought_to_the_latest_and_keeps_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = await Store.open(data_dir=data_dir)
    await first.writer.write(span_table([span("t-upgrade", "s1")]))
    # Put the store back to what version 1 created: 1 MB compression blocks, one migration row.
    await first.backend.execute("ALTER TABLE spans RESET SETTING max_compress_block_size, min_compress_block_size")
    await first.backend.execute("DELETE FROM schema_migrations WHERE version > 1")
    assert "max_compress_block_size" not in await _create_spans(first)
    await first.close()

    again = await Store.open(data_dir=data_dir)
    try:
        assert await again.schema_version() == LATEST
        assert "max_compress_block_size = 262144" in await _create_spans(again)
        assert [s["span_id"] for s in await again.reader.trace("default", "t-upgrade")] == ["s1"]
    finally:
        await again.close()


async def test_version_3_rebuilds_the_trace_summary_from_the_spans(tmp_path: Path) -> None:
    from storage.schema import render
    from storage.tables import DT, TABLES, TRACES

    data_dir = tmp_path / "data"
    first = await Store.open(data_dir=data_dir)
    await first.writer.write(span_table([span("t-old", "root"), span("t-old", "child", parent="root")]))
    # Put the summary back to what version 2 had: a root key without the version, and no rows.
    await first.backend.execute("DROP VIEW traces_mv SYNC")
    await first.backend.execute("DROP TABLE traces SYNC")
    old = render([TRACES], TABLES)[0].replace(f"Tuple(UInt8, {DT}, Int64)", f"Tuple(UInt8, {DT})")
    assert old != render([TRACES], TABLES)[0]
    await first.backend.execute(old)
    await first.backend.execute("DELETE FROM schema_migrations WHERE version > 2")
    await first.close()

    again = await Store.open(data_dir=data_dir)
    try:
        assert await again.schema_version() == LATEST
        page = await again.reader.list_traces("default", TraceQuery(0, 2**62))
        assert [(t["trace_id"], t["name"], t["span_count"]) for t in page.items] == [("t-old", "span root", 2)]
        await again.writer.write(span_table([span("t-new", "root")]))  # the view feeds the summary again
        page = await again.reader.list_traces("default", TraceQuery(0, 2**62))
        assert sorted(t["trace_id"] for t in page.items) == ["t-new", "t-old"]
    finally:
        await again.close()


async def test_every_cluster_statement_parses(store: Store) -> None:
    statements = cluster_statements("tracehouse_cluster", "tracehouse")
    assert len(statements) > len(ALL_TABLES)
    for statement in statements:
        # formatQuery parses without executing: chDB cannot run Keeper, but it can parse.
        rows = await store.backend.query("SELECT formatQuery({q:String}) AS f", {"q": statement})
        if statement.startswith("INSERT INTO"):
            # A backfill runs once, through the Distributed table, which sends each row to its shard.
            assert rows[0]["f"].split("\n")[0].split(" ")[2] in (
                "traces",
                "split_traces",
                "memberships",
                "trace_index",
            ), statement
        else:
            assert "ON CLUSTER" in rows[0]["f"], statement
    joined = "\n".join(statements)
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tracehouse/spans_local'" in joined
    assert "Distributed('tracehouse_cluster', 'tracehouse', 'spans_local', cityHash64(trace_id))" in joined
    assert "TO traces_local" in joined and "FROM spans_local" in joined
    assert "ALTER TABLE spans_local ON CLUSTER 'tracehouse_cluster' MODIFY SETTING max_compress_block_size" in joined
    for change in ("ADD INDEX IF NOT EXISTS", "MATERIALIZE INDEX"):
        assert f"ALTER TABLE spans_local ON CLUSTER 'tracehouse_cluster' {change} idx_span_attr_arrays" in joined


async def test_cluster_mutations_parse_and_target_the_shard_local_tables(store: Store) -> None:
    from storage.lifecycle import PROJECT_TABLES, TRACE_TABLES, delete_sql, retention_sql
    from storage.schema import Cluster

    cluster = Cluster("tracehouse_cluster", "tracehouse")
    statements = [delete_sql(t, cluster) for t in TRACE_TABLES] + [delete_sql("scores", cluster, "session_id")]
    statements += [s for t in PROJECT_TABLES for s in retention_sql(t, cluster)]
    for statement in statements:
        rows = await store.backend.query("SELECT formatQuery({q:String}) AS f", {"q": statement})
        assert "_local ON CLUSTER tracehouse_cluster" in rows[0]["f"], statement
    assert delete_sql("spans", None).startswith("DELETE FROM spans WHERE")  # one node: the table itself


async def test_version_21_versions_the_trace_index_while_writers_go_on(tmp_path: Path) -> None:
    """The trace index gets each trace's version without a moment at which an insert misses it:
    a writer of the older version may go on during the migration (a rolling upgrade)."""
    import dataclasses

    from storage.migrations import statements
    from storage.schema import render
    from storage.tables import TABLES, TRACE_INDEX, TRACE_INDEX_MV

    data_dir = tmp_path / "data"
    first = await Store.open(data_dir=data_dir)
    # Put the index back to what version 20 had: no version columns, fed by trace_index_mv.
    old_table = dataclasses.replace(
        TRACE_INDEX, columns=[c for c in TRACE_INDEX.columns if c.name not in ("writes", "last_write")]
    )
    old_view = dataclasses.replace(
        TRACE_INDEX_MV,
        name="trace_index_mv",
        select=TRACE_INDEX_MV.select.replace(",\n    toUInt64(count()) AS writes, max(ingested_at) AS last_write", ""),
    )
    assert old_view.select != TRACE_INDEX_MV.select
    await first.backend.execute(f"DROP VIEW {TRACE_INDEX_MV.name} SYNC")
    await first.backend.execute("DROP TABLE trace_index SYNC")
    for statement in render([old_table, old_view], TABLES):
        await first.backend.execute(statement)
    await first.writer.write(span_table([span("t-before", "root")]))
    # Version 21's statements one by one, with a write after each, as a writer that goes on.
    [migration] = [m for m in MIGRATIONS if m.version == 21]
    for i, statement in enumerate(statements(migration)):
        await first.backend.execute(statement)
        await first.writer.write(span_table([span(f"t-during-{i}", "root")]))
    await first.backend.execute("DELETE FROM schema_migrations WHERE version > 20")
    await first.close()

    again = await Store.open(data_dir=data_dir)
    try:
        assert await again.schema_version() == LATEST
        names = await _tables(again)
        assert TRACE_INDEX_MV.name in names and "trace_index_mv" not in names
        await again.writer.write(span_table([span("t-after", "root")]))
        traces = ["t-before", *(f"t-during-{i}" for i in range(len(statements(migration)))), "t-after"]
        for trace_id in traces:
            assert [s["span_id"] for s in await again.reader.trace("default", trace_id)] == ["root"], trace_id
            bounds = await again.reader.trace_bounds("default", trace_id)
            assert bounds is not None and bounds.version.writes > 0 and bounds.version.last_write_us > 0
            # Every trace has a version its spans match: read again, each comes from memory.
            hits = again.trace_cache.hits
            assert [s["span_id"] for s in await again.reader.trace("default", trace_id)] == ["root"]
            assert again.trace_cache.hits == hits + 1, trace_id
    finally:
        await again.close()


async def test_version_25_indexes_which_attributes_are_arrays_in_stored_spans(tmp_path: Path) -> None:
    """The index lets a filter on an array attribute's elements skip granules (storage.traceql_sql);
    a store made before it gets it for the spans it holds, which its filters then find."""
    tagged = {"app.tags": '{"arrayValue":{"values":[{"stringValue":"refund"}]}}'}
    data_dir = tmp_path / "data"
    first = await Store.open(data_dir=data_dir)
    # Put the spans table back to what version 24 had: no index of array attributes.
    await first.backend.execute("ALTER TABLE spans DROP INDEX idx_span_attr_arrays")
    await first.backend.execute("DELETE FROM schema_migrations WHERE version > 24")
    rows = [span("t-array", "s1", span_attributes=tagged, span_attribute_types={"app.tags": "array"})]
    await first.writer.write(span_table([*rows, span("t-plain", "s1", span_attributes={"app.tags": "refund"})]))
    await first.close()

    again = await Store.open(data_dir=data_dir)
    try:
        assert await again.schema_version() == LATEST
        for _ in range(6000):  # the stored parts are indexed by a mutation in the background
            [left] = await again.backend.query("SELECT count() AS n FROM system.mutations WHERE NOT is_done")
            if left["n"] == 0:
                break
        # The stored spans' granules are skipped for a key no span has as an array.
        plan = await again.backend.query(
            f"EXPLAIN indexes = 1 SELECT count() FROM spans WHERE has({array_keys('span_attribute_types')}, 'app.x')"
        )
        lines = [r["explain"].strip("│ ") for r in plan]
        after = lines[lines.index("Name: idx_span_attr_arrays") :]
        assert next(line for line in after if line.startswith("Granules:")).startswith("Granules: 0/"), lines
        # ... and a filter on its elements finds them.
        page = await again.reader.list_traces("default", TraceQuery(0, 2**62, attributes={"app.tags": "refund"}))
        assert sorted(t["trace_id"] for t in page.items) == ["t-array", "t-plain"]
    finally:
        await again.close()


async def test_a_store_of_version_26_merges_spans_vertically_once_migrated(tmp_path: Path) -> None:
    """Migration 27 sets the spans table's vertical merges on a store that had ClickHouse's
    default (from 131,072 rows), and keeps its data."""
    data_dir = tmp_path / "data"
    first = await Store.open(data_dir=data_dir)
    await first.writer.write(span_table([span("t-vertical", "s1")]))
    await first.backend.execute(
        "ALTER TABLE spans RESET SETTING vertical_merge_algorithm_min_rows_to_activate, "
        "vertical_merge_algorithm_min_bytes_to_activate"
    )
    await first.backend.execute("DELETE FROM schema_migrations WHERE version > 26")
    assert "vertical_merge_algorithm_min_rows_to_activate" not in await _create_spans(first)
    await first.close()

    again = await Store.open(data_dir=data_dir)
    try:
        assert await again.schema_version() == LATEST
        create = await _create_spans(again)
        assert "vertical_merge_algorithm_min_rows_to_activate = 1" in create
        assert "vertical_merge_algorithm_min_bytes_to_activate = 0" in create
        assert [s["span_id"] for s in await again.reader.trace("default", "t-vertical")] == ["s1"]
    finally:
        await again.close()
