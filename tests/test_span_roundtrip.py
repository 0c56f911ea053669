"""A span with every column filled, written through the writer and read back equal."""

from decimal import Decimal

from storage import Store
from tests.helpers import NOW_NS, SECOND, read_twice, span, span_table

BIG_TEXT = "λ→💡 " * (1024 * 1024 // 9)  # ~1 MB of multi-byte text


def full_span() -> dict:
    big_map = {f"key.{i}": f"value {i} ✓" for i in range(2000)}
    return span(
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
        parent="00f067aa0ba902b7",
        name="chat gpt-4o ✨ 日本語",
        trace_state="vendor=1,other=2",
        kind="CLIENT",
        status_code="ERROR",
        status_message="rate limited: 429 «too many»",
        flags=0x301,
        service_name="checkout-api",
        scope_name="opentelemetry.instrumentation.openai_v2",
        scope_version="2.1b0",
        resource_attributes={"service.name": "checkout-api", "host.cores": "8"},
        resource_attribute_types={"host.cores": "int"},
        scope_attributes={},
        scope_attribute_types={},
        span_attributes=big_map,
        span_attribute_types={"key.1": "int", "key.2": "double", "key.3": "array"},
        dropped_attributes_count=3,
        dropped_events_count=1,
        dropped_links_count=2,
        event_times=[NOW_NS + 1, NOW_NS + 2],
        event_names=["gen_ai.user.message", "exception"],
        event_attributes=['[{"key":"content","value":{"stringValue":"hi"}}]', "[]"],
        link_trace_ids=["5b8efff798038103d269b633813fc60c"],
        link_span_ids=["eee19b7ec3c1b174"],
        link_trace_states=[""],
        link_attributes=['[{"key":"n","value":{"intValue":"3"}}]'],
        observation_type="GENERATION",
        operation="chat",
        provider="openai",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        model="gpt-4o-2024-08-06",
        input_tokens=1200,
        output_tokens=340,
        total_tokens=1540,
        cache_read_tokens=1024,
        cache_write_tokens=7,
        reasoning_tokens=128,
        usage_details={"input": 1200, "output": 340, "input_cached_tokens": 1024},
        cost_details={"input": Decimal("0.000440000000"), "output": Decimal("0.003400000000")},
        total_cost=Decimal("0.003840000000"),
        input=BIG_TEXT,
        output='[{"role":"assistant","parts":[{"type":"text","content":"ok"}]}]',
        model_parameters='{"temperature":0.2}',
        metadata={"customer": '"acme"', "nested": '{"a":[1,2]}'},
        session_id="session-42",
        user_id="user@example.com",
        tags=["prod", "beta", "ünïcode"],
        environment="production",
        release="v1.2.3",
        version="7",
        level="ERROR",
        completion_start_time=NOW_NS + SECOND // 10,
        prompt_name="support-prompt",
        prompt_version="3",
        trace_name="checkout",
        source="otlp",
        retention_days=30,
    )


async def test_every_column_round_trips(store: Store) -> None:
    original = full_span()
    assert await store.writer.write(span_table([original])) == 1
    [stored] = await read_twice(store, "default", original["trace_id"])
    assert set(stored) == set(original)
    for name, value in original.items():
        assert stored[name] == value, name


async def test_empty_values_round_trip(store: Store) -> None:
    minimal = span("t-empty", "s-empty", span_attributes={}, tags=[], event_times=[], input="")
    await store.writer.write(span_table([minimal]))
    [stored] = await read_twice(store, "default", "t-empty")
    assert stored["span_attributes"] == {}
    assert stored["tags"] == []
    assert stored["event_times"] == []
    assert stored["completion_start_time"] is None
    assert stored["kind"] == "INTERNAL" and stored["status_code"] == "UNSET"
    assert stored["observation_type"] == "SPAN" and stored["environment"] == "default"
    assert stored["total_cost"] == Decimal(0)


async def test_retried_spans_are_stored_once(store: Store) -> None:
    batch = span_table([span("t-retry", "a", input_tokens=10), span("t-retry", "b", "a", input_tokens=5)])
    assert await store.writer.write(batch) == 2
    assert await store.writer.write(batch) == 0  # the exporter retried the whole request
    mixed = span_table([span("t-retry", "b", "a", input_tokens=5), span("t-retry", "c", "a", input_tokens=1)])
    assert await store.writer.write(mixed) == 1
    rows = await store.backend.query(
        "SELECT count() AS n, sum(input_tokens) AS tokens FROM spans WHERE trace_id = 't-retry'"
    )
    assert rows == [{"n": 3, "tokens": 16}]
    summary = await store.backend.query(
        "SELECT sum(span_count) AS n, sum(input_tokens) AS tokens FROM traces WHERE trace_id = 't-retry'"
    )
    assert summary == [{"n": 3, "tokens": 16}]


async def test_repeats_inside_one_batch_are_stored_once(store: Store) -> None:
    batch = span_table([span("t-dup", "a"), span("t-dup", "a"), span("t-dup", "b", "a")])
    assert await store.writer.write(batch) == 2


async def test_same_ids_in_two_projects_are_two_spans(store: Store) -> None:
    other = await store.projects.create_project("other")
    batch = span_table([span("t-shared", "a"), span("t-shared", "a", project=other.id)])
    assert await store.writer.write(batch) == 2
    assert len(await store.reader.trace(other.id, "t-shared")) == 1
    assert len(await store.reader.trace("default", "t-shared")) == 1
