"""The real OpenTelemetry SDK exporters (gRPC, HTTP protobuf, HTTP JSON) send a nested GenAI
trace; every span comes back from storage with its parent, typed columns and attributes."""

import json
from decimal import Decimal

import pytest
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.otel import exporter, in_thread, provider
from tracehouse.server import Running

INPUT_MESSAGES = [
    {"role": "system", "parts": [{"type": "text", "content": "You are terse."}]},
    {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris? ☀️"}]},
]
OUTPUT_MESSAGES = [
    {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}],
        "finish_reason": "tool_call",
    },
]


def send_agent_trace(kind: str, live: Running) -> str:
    tp = provider(exporter(kind, live), service="support-bot", **{"deployment.environment.name": "staging"})
    tracer = tp.get_tracer("test.genai", "1.0")
    with tracer.start_as_current_span("invoke_agent support", kind=SpanKind.INTERNAL) as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("gen_ai.agent.name", "support")
        root.set_attribute("session.id", "sess-1")
        root.set_attribute("user.id", "alice")
        root.set_attribute("tag.tags", ["beta", "eu"])
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.provider.name", "openai")
            chat.set_attribute("gen_ai.request.model", "gpt-4o")
            chat.set_attribute("gen_ai.response.model", "gpt-4o-2024-08-06")
            chat.set_attribute("gen_ai.usage.input_tokens", 1200)
            chat.set_attribute("gen_ai.usage.output_tokens", 80)
            chat.set_attribute("gen_ai.usage.cache_read.input_tokens", 1000)
            chat.set_attribute("gen_ai.request.temperature", 0.2)
            chat.set_attribute("gen_ai.response.finish_reasons", ["tool_call"])
            chat.set_attribute("gen_ai.input.messages", json.dumps(INPUT_MESSAGES))
            chat.set_attribute("gen_ai.output.messages", json.dumps(OUTPUT_MESSAGES))
            chat.set_attribute("app.flag", True)
            chat.set_attribute("app.retries", 3)
            chat.add_event("gen_ai.custom", {"k": "v", "n": 2})
        with tracer.start_as_current_span("execute_tool get_weather") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "get_weather")
            tool.set_attribute("gen_ai.tool.call.arguments", '{"city": "Paris"}')
            tool.set_attribute("gen_ai.tool.call.result", '{"temp_c": 21}')
            tool.set_status(Status(StatusCode.ERROR, "upstream timeout"))
        trace_id = format(root.get_span_context().trace_id, "032x")
    tp.force_flush()
    tp.shutdown()
    return trace_id


@pytest.mark.parametrize("kind", ["grpc", "grpc-gzip", "grpc-deflate", "http", "http-gzip", "http-deflate", "json"])
async def test_sdk_exporter_trace_is_stored_typed(live: Running, kind: str) -> None:
    trace_id = await in_thread(lambda: send_agent_trace(kind, live))
    spans = {s["name"]: s for s in await live.store.reader.trace("default", trace_id)}
    assert set(spans) == {"invoke_agent support", "chat gpt-4o", "execute_tool get_weather"}
    root, chat, tool = spans["invoke_agent support"], spans["chat gpt-4o"], spans["execute_tool get_weather"]

    assert root["parent_span_id"] == ""
    assert chat["parent_span_id"] == root["span_id"] and tool["parent_span_id"] == root["span_id"]
    assert root["observation_type"] == "AGENT" and tool["observation_type"] == "TOOL"
    assert root["session_id"] == "sess-1" and root["user_id"] == "alice" and root["tags"] == ["beta", "eu"]
    assert root["service_name"] == "support-bot" and root["environment"] == "staging"

    assert chat["observation_type"] == "GENERATION" and chat["kind"] == "CLIENT"
    assert chat["provider"] == "openai" and chat["operation"] == "chat"
    assert chat["request_model"] == "gpt-4o" and chat["model"] == "gpt-4o-2024-08-06"
    assert (chat["input_tokens"], chat["output_tokens"], chat["total_tokens"]) == (1200, 80, 1280)
    assert chat["cache_read_tokens"] == 1000
    # gpt-4o: 200 uncached input at $2.50/M + 1000 cached at $1.25/M + 80 output at $10/M
    assert chat["total_cost"] == Decimal("0.002550")
    assert chat["cost_details"]["cache_read"] == Decimal("0.00125")
    assert json.loads(chat["input"]) == INPUT_MESSAGES
    assert json.loads(chat["output"]) == OUTPUT_MESSAGES
    assert json.loads(chat["model_parameters"]) == {"temperature": 0.2}

    # untouched attributes keep their values and types
    attrs, types = chat["span_attributes"], chat["span_attribute_types"]
    assert attrs["app.flag"] == "true" and types["app.flag"] == "bool"
    assert attrs["app.retries"] == "3" and types["app.retries"] == "int"
    assert types["gen_ai.request.temperature"] == "double" and float(attrs["gen_ai.request.temperature"]) == 0.2
    assert types["gen_ai.response.finish_reasons"] == "array"
    assert json.loads(attrs["gen_ai.response.finish_reasons"]) == {
        "arrayValue": {"values": [{"stringValue": "tool_call"}]}
    }
    assert "gen_ai.input.messages" in attrs and "gen_ai.input.messages" not in types
    # ... though storage keeps that text once, in the input column
    [raw] = await live.store.backend.query(
        "SELECT span_attributes['gen_ai.input.messages'] AS v, span_attribute_types['gen_ai.input.messages'] AS t "
        "FROM spans WHERE span_id = {s:String}",
        {"s": chat["span_id"]},
    )
    assert raw == {"v": "", "t": "input"}
    assert chat["scope_name"] == "test.genai" and chat["scope_version"] == "1.0"
    assert chat["event_names"] == ["gen_ai.custom"]
    assert json.loads(chat["event_attributes"][0]) == [
        {"key": "k", "value": {"stringValue": "v"}},
        {"key": "n", "value": {"intValue": "2"}},
    ]
    assert chat["resource_attributes"]["service.name"] == "support-bot"

    assert tool["status_code"] == "ERROR" and tool["status_message"] == "upstream timeout"
    assert tool["level"] == "ERROR"
    assert tool["input"] == '{"city": "Paris"}' and tool["output"] == '{"temp_c": 21}'

    summary = (
        await live.store.backend.query(
            "SELECT sum(span_count) AS n, sum(error_count) AS errors, sum(total_cost) AS cost "
            "FROM traces WHERE trace_id = {t:String}",
            {"t": trace_id},
        )
    )[0]
    assert summary == {"n": 3, "errors": 1, "cost": Decimal("0.002550")}


async def test_trace_is_readable_through_the_api_at_once(live: Running) -> None:
    import aiohttp

    trace_id = await in_thread(lambda: send_agent_trace("http", live))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{live.api_url}/api/v1/traces/{trace_id}") as response:
            assert response.status == 200
            doc = await response.json()
        async with session.get(f"{live.api_url}/api/v1/traces/{'0' * 32}") as response:
            assert response.status == 404
            assert (await response.json())["error"]["code"] == "not_found"
        async with session.get(
            f"{live.api_url}/api/v1/traces/{trace_id}", headers={"Authorization": "Basic Zm9vOmJhcg=="}
        ) as response:
            assert response.status == 401
    assert len(doc["spans"]) == 3
    chat = next(s for s in doc["spans"] if s["name"] == "chat gpt-4o")
    assert chat["total_cost"] == "0.002550000000" and chat["input_tokens"] == 1200


async def test_failed_span_without_a_description_gives_its_exceptions_message(live: Running) -> None:
    """A span whose status is an error without a description, its exception recorded as an event
    (BeeAI's): its status message is the exception's message (its type where it has none), as the
    Langfuse API gives it; a span that did not fail keeps none, whatever its events; a description
    wins."""
    tp = provider(exporter("http", live), service="exceptions")
    tracer = tp.get_tracer("test.exceptions")

    def run() -> str:
        with tracer.start_as_current_span("agent run") as root:
            for name, status, event in (
                (
                    "no description",
                    Status(StatusCode.ERROR),
                    {"exception.type": "ValueError", "exception.message": "boom"},
                ),
                ("type only", Status(StatusCode.ERROR), {"exception.type": "TimeoutError"}),
                ("described", Status(StatusCode.ERROR, "upstream timeout"), {"exception.message": "boom"}),
                ("recovered", Status(StatusCode.OK), {"exception.message": "retried"}),
            ):
                with tracer.start_as_current_span(name, record_exception=False, set_status_on_exception=False) as span:
                    span.add_event("exception", event)
                    span.set_status(status)
            trace_id = format(root.get_span_context().trace_id, "032x")
        tp.force_flush()
        tp.shutdown()
        return trace_id

    trace_id = await in_thread(run)
    spans = {s["name"]: s for s in await live.store.reader.trace("default", trace_id)}
    assert {name: spans[name]["status_message"] for name in spans if name != "agent run"} == {
        "no description": "boom",
        "type only": "TimeoutError",
        "described": "upstream timeout",
        "recovered": "",
    }
    assert spans["no description"]["level"] == "ERROR"
