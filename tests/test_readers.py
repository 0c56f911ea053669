"""Readers on a small seeded data set: trace by id, list with filters and pages, spans, series."""

from decimal import Decimal

import pytest

from storage import SpanQuery, Store, TraceQuery
from tests.helpers import NOW_NS, SECOND, span, span_table
from tracehouse.errors import InvalidInput

HOUR = 3600 * SECOND


async def seed(store: Store) -> str:
    other = await store.projects.create_project("other")
    rows = []
    for i in range(12):
        trace = f"trace-{i:02d}"
        start = NOW_NS - i * 60 * SECOND
        model = "gpt-4o" if i % 2 == 0 else "claude-sonnet-4"
        rows += [
            span(
                trace,
                f"{trace}-root",
                start=start,
                duration_ms=1000 + i * 100,
                name=f"agent {i % 3}",
                input=f"root input {i}",
                service_name="svc-a" if i < 6 else "svc-b",
                user_id=f"user-{i % 4}",
                session_id=f"session-{i % 2}",
                tags=["prod"] if i % 3 == 0 else ["dev"],
                environment="production",
                observation_type="AGENT",
                trace_name=f"agent {i % 3}",
            ),
            span(
                trace,
                f"{trace}-llm",
                f"{trace}-root",
                start=start + SECOND // 10,
                duration_ms=500,
                name=f"chat {model}",
                service_name="svc-a",
                model=model,
                observation_type="GENERATION",
                input_tokens=100 * (i + 1),
                output_tokens=10 * (i + 1),
                total_tokens=110 * (i + 1),
                total_cost=Decimal("0.001") * (i + 1),
                status_code="ERROR" if i == 5 else "UNSET",
            ),
        ]
    rows.append(span("trace-other", "o-root", project=other.id, name="secret agent"))
    await store.writer.write(span_table(rows))
    return other.id


def window() -> tuple[int, int]:
    return NOW_NS - 2 * HOUR, NOW_NS + HOUR


async def test_trace_by_id_without_time_range(store: Store) -> None:
    await seed(store)
    spans = await store.reader.trace("default", "trace-03")
    assert [s["span_id"] for s in spans] == ["trace-03-root", "trace-03-llm"]
    assert spans[1]["parent_span_id"] == "trace-03-root"
    assert await store.reader.trace("default", "no-such-trace") == []
    assert (await store.reader.span("default", "trace-03-llm"))["model"] == "claude-sonnet-4"


async def test_projects_are_isolated(store: Store) -> None:
    other = await seed(store)
    assert await store.reader.trace("default", "trace-other") == []
    assert len(await store.reader.trace(other, "trace-other")) == 1
    assert await store.reader.trace(other, "trace-01") == []
    assert await store.reader.span(other, "trace-01-llm") is None
    start, end = window()
    names = {t["name"] for t in (await store.reader.list_traces("default", TraceQuery(start, end))).items}
    assert "secret agent" not in names
    assert len((await store.reader.list_traces(other, TraceQuery(start, end))).items) == 1


async def test_trace_summary_fields(store: Store) -> None:
    await seed(store)
    start, end = window()
    page = await store.reader.list_traces("default", TraceQuery(start, end, limit=100))
    assert len(page.items) == 12 and page.next_cursor is None
    first = page.items[0]  # newest first
    assert first["trace_id"] == "trace-00"
    assert first["name"] == "agent 0"
    assert first["span_count"] == 2
    assert first["input_tokens"] == 100 and first["output_tokens"] == 10
    assert first["total_cost"] == Decimal("0.001")
    assert first["latency_ms"] == 1000
    assert first["models"] == ["gpt-4o"]
    assert first["tags"] == ["prod"]
    assert first["input"] == "root input 0" and first["output"] == ""


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"name": "agent 1"}, ["trace-01", "trace-04", "trace-07", "trace-10"]),
        ({"service": "svc-b"}, ["trace-06", "trace-07", "trace-08", "trace-09", "trace-10", "trace-11"]),
        ({"user_id": "user-1"}, ["trace-01", "trace-05", "trace-09"]),
        (
            {"session_id": "session-0", "model": "gpt-4o"},
            ["trace-00", "trace-02", "trace-04", "trace-06", "trace-08", "trace-10"],
        ),
        ({"tags": ["prod"]}, ["trace-00", "trace-03", "trace-06", "trace-09"]),
        ({"has_error": True}, ["trace-05"]),
        ({"min_latency_ms": 1900}, ["trace-09", "trace-10", "trace-11"]),
        ({"max_latency_ms": 1100, "environment": "production"}, ["trace-00", "trace-01"]),
        ({"min_cost": Decimal("0.011")}, ["trace-10", "trace-11"]),
        ({"max_cost": Decimal("0.001")}, ["trace-00"]),
        ({"name": "agent 1", "has_error": False, "service": "svc-b"}, ["trace-07", "trace-10"]),
        ({"name": "'; DROP TABLE spans; --"}, []),
    ],
)
async def test_trace_filters(store: Store, filters: dict, expected: list[str]) -> None:
    await seed(store)
    start, end = window()
    page = await store.reader.list_traces("default", TraceQuery(start, end, limit=100, **filters))
    assert sorted(t["trace_id"] for t in page.items) == expected


@pytest.mark.parametrize("sort", ["start_time", "latency", "total_cost", "total_tokens"])
async def test_pagination_visits_every_trace_once(store: Store, sort: str) -> None:
    await seed(store)
    start, end = window()
    seen, cursor = [], None
    for _ in range(10):
        page = await store.reader.list_traces(
            "default",
            TraceQuery(start, end, limit=5, sort=sort, cursor=cursor),  # type: ignore[arg-type]
        )
        seen += [t["trace_id"] for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == [f"trace-{i:02d}" for i in range(12)]
    assert len(seen) == 12


async def test_bad_list_input_is_a_clear_error(store: Store) -> None:
    start, end = window()
    with pytest.raises(InvalidInput, match="cursor"):
        await store.reader.list_traces("default", TraceQuery(start, end, cursor="not-a-cursor"))
    with pytest.raises(InvalidInput, match="empty"):
        await store.reader.list_traces("default", TraceQuery(end, start))
    with pytest.raises(InvalidInput, match="limit"):
        await store.reader.list_traces("default", TraceQuery(start, end, limit=0))
    with pytest.raises(InvalidInput, match="group"):
        await store.reader.timeseries("default", start, end, 60, group_by="1; DROP")


async def test_spans_by_type_and_model(store: Store) -> None:
    await seed(store)
    start, end = window()
    page = await store.reader.list_spans(
        "default", SpanQuery(start, end, observation_type="GENERATION", model="gpt-4o", limit=4)
    )
    assert len(page.items) == 4 and page.next_cursor
    assert all(s["model"] == "gpt-4o" for s in page.items)
    rest = await store.reader.list_spans(
        "default", SpanQuery(start, end, observation_type="GENERATION", model="gpt-4o", cursor=page.next_cursor)
    )
    ids = [s["span_id"] for s in page.items + rest.items]
    assert sorted(ids) == sorted(f"trace-{i:02d}-llm" for i in range(0, 12, 2))


async def test_timeseries_by_model(store: Store) -> None:
    await seed(store)
    start, end = window()
    rows = await store.reader.timeseries(
        "default", start, end, 3 * HOUR // SECOND, group_by="model", observation_type="GENERATION"
    )
    by_model = {}
    for r in rows:
        agg = by_model.setdefault(r["key"], {"spans": 0, "input": 0, "cost": Decimal(0), "errors": 0})
        agg["spans"] += r["spans"]
        agg["input"] += r["input_tokens"]
        agg["cost"] += r["total_cost"]
        agg["errors"] += r["errors"]
    assert by_model["gpt-4o"] == {
        "spans": 6,
        "input": 100 * (1 + 3 + 5 + 7 + 9 + 11),
        "cost": Decimal("0.036"),
        "errors": 0,
    }
    assert by_model["claude-sonnet-4"]["errors"] == 1
    assert all(len(r["latency_ms"]) == 4 and r["latency_ms"][0] == pytest.approx(500) for r in rows)


async def _walk(store: Store, q: TraceQuery) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.reader.list_traces("default", TraceQuery(**{**q.__dict__, "cursor": cursor}))
        seen += [t["trace_id"] for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return seen


async def _seed_many(store: Store) -> None:
    """60 traces 37 s apart (the last five named "old job"), each in five summary rows, and a long
    trace that started 50 minutes ago whose last span is the newest row of all."""
    roots, children = [], []
    for i in range(60):
        trace, start = f"t-{i:02d}", NOW_NS - i * 37 * SECOND
        name = "old job" if i >= 55 else "job"
        roots.append(span(trace, f"{trace}-r", start=start, duration_ms=2000, name=name, trace_name=name))
        for c in range(4):
            children.append(span(trace, f"{trace}-c{c}", f"{trace}-r", start=start + SECOND, name=f"step {c}"))
    # Started 50 minutes ago, its last span is the newest row of the summary.
    roots.append(span("t-long", "long-r", start=NOW_NS - 50 * 60 * SECOND, duration_ms=3000 * 1000, name="job",
                      trace_name="job"))  # fmt: skip
    children.append(span("t-long", "long-c", "long-r", start=NOW_NS + 10 * SECOND, name="step"))
    # Five inserts: most traces have five summary rows until the merge.
    await store.writer.write(span_table(roots))
    for c in range(4):
        await store.writer.write(span_table([s for s in children if s["span_id"].endswith(f"-c{c}")]))


async def test_newest_first_pages_are_those_of_the_whole_window(store: Store) -> None:
    """The newest-first list summarises only recent traces, widening when it must: its pages are
    exactly the whole window's, with traces in several summary rows, a long trace whose last
    spans are the newest of all, and a filter that only old traces match."""
    await _seed_many(store)
    start, end = window()
    expected = sorted(
        [(NOW_NS - i * 37 * SECOND, f"t-{i:02d}") for i in range(60)] + [(NOW_NS - 50 * 60 * SECOND, "t-long")],
        reverse=True,
    )
    asked: list[int] = []  # the candidates of each summary asked for a page
    query = store.backend.query

    async def spy(sql: str, params: dict | None = None) -> list:  # type: ignore[type-arg]
        if params and "{candidates:Array(String)}" in sql:
            asked.append(len(params["candidates"]))
        return await query(sql, params)

    store.backend.query = spy  # type: ignore[method-assign]
    newest = await _walk(store, TraceQuery(start, end, limit=3))
    assert newest == [t for _, t in expected]
    # The candidates path ran, and widened when a page's traces were not all after its cutoff.
    pages = -(-len(expected) // 3)
    assert asked and len(asked) > pages and max(asked) > min(asked), asked
    old = [f"t-{i:02d}" for i in range(55, 60)]
    assert await _walk(store, TraceQuery(start, end, limit=2, name="old job")) == old
    # A window that ends inside the data: the same as the whole list, cut.
    mid = NOW_NS - 20 * 37 * SECOND
    assert await _walk(store, TraceQuery(start, mid, limit=4)) == [t for s, t in expected if s < mid]


async def test_langfuse_newest_pages_are_those_of_the_whole_window(store: Store) -> None:
    """Langfuse's numbered pages, newest first (what the SDKs and Dify ask), through the same
    candidates path: every page and the total are the whole window's."""
    await _seed_many(store)
    start, end = window()
    expected = sorted(
        [(NOW_NS - i * 37 * SECOND, f"t-{i:02d}") for i in range(60)] + [(NOW_NS - 50 * 60 * SECOND, "t-long")],
        reverse=True,
    )
    seen: list[str] = []
    for page in range(1, 30):
        rows, total = await store.langfuse.traces("default", start, end, {}, page, 4)
        assert total == len(expected)
        seen += [r["trace_id"] for r in rows]
        if not rows:
            break
    assert seen == [t for _, t in expected]
    rows, total = await store.langfuse.traces("default", start, end, {"name": "old job"}, 2, 2)
    assert [r["trace_id"] for r in rows] == ["t-57", "t-58"] and total == 5


async def test_spans_list_gives_each_span_once_as_last_written(store: Store) -> None:
    """A span written again (a Langfuse update) is listed once, as its newest version,
    on every page, whether pages follow a cursor or are numbered."""
    start, end = window()
    first = [span("v-trace", f"v-{i}", start=start + i * SECOND, output="old") for i in range(5)]
    await store.writer.write(span_table(first))
    replaced, _ = await store.langfuse_writer.current_spans("default", ["v-3"])
    newer = span_table([span("v-trace", "v-3", start=start + 3 * SECOND, output="new 0")])
    await store.langfuse_writer.write_versions(newer, list(replaced.values()))  # as a Langfuse update writes it
    await store.backend.execute("SYSTEM STOP MERGES spans")  # all versions stay, as before a merge
    for n in range(1, 12):  # versions not yet cancelled: more than a page asks for spare
        newer = span_table([span("v-trace", "v-3", start=start + 3 * SECOND, output=f"new {n}")])
        await store.langfuse_writer.write_versions(newer, [])
    listed, cursor = [], None
    while True:
        page = await store.reader.list_spans("default", SpanQuery(start, end, limit=2, cursor=cursor))
        listed += [(s["span_id"], s["output"]) for s in page.items]
        if not (cursor := page.next_cursor):
            break
    # Langfuse's numbered pages: a deeper page is read by the keys of the spans before it.
    numbered = []
    for number in (1, 2, 3):
        rows, total = await store.langfuse.observations("default", start, end, {}, number, 2)
        assert total == 5
        numbered += [(s["span_id"], s["output"]) for s in rows]
    await store.backend.execute("SYSTEM START MERGES spans")
    assert listed == [("v-4", "old"), ("v-3", "new 11"), ("v-2", "old"), ("v-1", "old"), ("v-0", "old")]
    assert numbered == listed


async def test_a_users_or_sessions_traces_are_those_the_trace_names(store: Store) -> None:
    """The list of a user's or a session's traces groups only the traces with a summary row that
    names them, and keeps the trace's own rule: a trace whose later spans name another session (the
    greater) is that session's, not the first's; newest first or oldest, every page."""
    start, end = window()
    first = [span(f"u-{i}", f"u-{i}-r", start=NOW_NS - i * SECOND, user_id="ann", session_id="s-a") for i in range(7)]
    await store.writer.write(span_table([*first, span("moved", "m-r", start=NOW_NS - 30 * SECOND,
                                                      user_id="ann", session_id="s-a")]))  # fmt: skip
    # The trace "moved" later names session s-b and user bob (the greater values win).
    await store.writer.write(span_table([span("moved", "m-c", "m-r", start=NOW_NS - 29 * SECOND,
                                              user_id="bob", session_id="s-b")]))  # fmt: skip
    await store.writer.write(span_table([span("other", "o-r", start=NOW_NS, user_id="cy", session_id="s-c")]))
    ann = [f"u-{i}" for i in range(7)]
    assert await _walk(store, TraceQuery(start, end, limit=3, user_id="ann")) == ann
    assert await _walk(store, TraceQuery(start, end, limit=3, session_id="s-a", descending=False)) == ann[::-1]
    assert await _walk(store, TraceQuery(start, end, limit=3, user_id="bob")) == ["moved"]
    assert await _walk(store, TraceQuery(start, end, limit=3, session_id="s-b", user_id="bob")) == ["moved"]
    assert await _walk(store, TraceQuery(start, end, limit=3, session_id="s-b", user_id="ann")) == []
    # Langfuse's trace list (SDKs' fetch_traces(user_id=...), a session by id) by the same rule.
    rows, total = await store.langfuse.traces("default", start, end, {"user_id": "ann"}, 1, 50)
    assert ([r["trace_id"] for r in rows], total) == (ann, 7)
    rows, total = await store.langfuse.traces("default", start, end, {"session_id": "s-b"}, 1, 50, True)
    assert ([r["trace_id"] for r in rows], total) == (["moved"], 1)
    totals = await store.reader.session_totals("default", "s-a")
    assert totals is not None and totals["traces"] == 7 and totals["users"] == ["ann"]
    assert await store.reader.session_totals("default", "nobody") is None
