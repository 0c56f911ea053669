"""Agent frameworks' spans, from the real frameworks: the Vercel AI SDK (npm ``ai`` 7.x with
``@ai-sdk/otel``, and 6.x) running an agent that calls a tool and answers
(tests/langfuse_clients/ai_sdk_agent.cjs): what a trace of theirs reads back as, its tokens and
cost counted once."""

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from opentelemetry.trace import SpanKind

from tests.langfuse_helpers import ROOT, basic, make_key, run_js
from tests.otel import exporter, in_thread, provider
from tracehouse.server import Running

AI_SDK = ROOT / ".venv" / "sdk" / "ai-sdk" / "node_modules"  # ai 7.x, @ai-sdk/otel, ai 6.x as ai6
# gpt-4o-mini at $0.15/M input and $0.60/M output: the two model calls, 100 + 20 and 150 + 10 tokens.
CALLS_COST = Decimal("0.000015") + Decimal("0.000012") + Decimal("0.0000225") + Decimal("0.000006")


async def _trace_of(live: Running, pair: Any, service: str, spans: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The one trace of ``service`` as the traces list gives it once its ``spans`` are visible (acked
    spans are durable at once and visible a moment later), and its spans."""
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(headers=basic(pair)) as http:
        while True:
            async with http.get(f"{live.api_url}/api/v1/traces", params={"service": service}) as r:
                assert r.status == 200, await r.text()
                items = (await r.json())["items"]
            if items and items[0]["span_count"] >= spans:
                break
            assert time.monotonic() < deadline, f"never visible: {items}"
            await asyncio.sleep(0.05)
    assert len(items) == 1, items
    return items[0], await live.store.reader.trace("default", items[0]["trace_id"])


async def test_ai_sdk_7_agent_counts_its_calls_once(live: Running) -> None:
    """AI SDK 7's OpenTelemetry integration puts the run's usage on its agent span (invoke_agent)
    as well as on each model call (chat): the trace's tokens and cost are the calls', once."""
    pair = await make_key(live)
    out = await asyncio.to_thread(run_js, "ai_sdk_agent.cjs", live.api_url, pair, "modern", modules=AI_SDK)
    assert out["text"] == "It is sunny in Paris." and out["usage"]["totalTokens"] == 280

    trace, spans = await _trace_of(live, pair, "ai-sdk-modern", 6)
    assert (trace["input_tokens"], trace["output_tokens"], trace["total_tokens"]) == (250, 30, 280)
    assert Decimal(trace["total_cost"]) == CALLS_COST
    by_name = {s["name"]: s for s in spans}
    agent = by_name["invoke_agent gpt-4o-mini"]
    assert agent["observation_type"] == "AGENT" and agent["total_tokens"] == 0 and agent["total_cost"] == 0
    # What the agent reported stays readable, as it came.
    assert agent["span_attributes"]["gen_ai.usage.input_tokens"] == "250"
    calls = sorted((s["input_tokens"], s["output_tokens"]) for s in spans if s["observation_type"] == "GENERATION")
    assert calls == [(100, 20), (150, 10)]
    assert by_name["step 1"]["total_tokens"] == 0
    tool = by_name["execute_tool weather"]
    assert tool["observation_type"] == "TOOL"
    assert json.loads(tool["input"]) == {"city": "Paris"} and json.loads(tool["output"]) == {
        "city": "Paris",
        "sky": "sunny",
    }


async def test_a_remote_agents_usage_counts(live: Running) -> None:
    """An agent invoked remotely (span kind CLIENT, as the GenAI conventions give it) is the one
    record of what its run spent: its usage counts; an in-process agent's beside it does not."""
    tp = provider(exporter("http", live), service="remote-agent-app")
    tracer = tp.get_tracer("app")
    usage = {
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 100,
    }

    def run() -> None:
        with tracer.start_as_current_span("handle", kind=SpanKind.SERVER):
            with tracer.start_as_current_span(
                "invoke_agent booking",
                kind=SpanKind.CLIENT,
                attributes={"gen_ai.operation.name": "invoke_agent", **usage},
            ):
                pass
            with tracer.start_as_current_span(
                "invoke_agent local", attributes={"gen_ai.operation.name": "invoke_agent", **usage}
            ):
                pass
        tp.force_flush()
        tp.shutdown()

    await in_thread(run)
    trace, spans = await _trace_of(live, await make_key(live), "remote-agent-app", 3)
    assert (trace["input_tokens"], trace["output_tokens"]) == (1000, 100)
    assert Decimal(trace["total_cost"]) == Decimal("0.00021")  # 1,000 x $0.15/M + 100 x $0.60/M
    assert {s["name"]: s["total_tokens"] for s in spans} == {
        "handle": 0,
        "invoke_agent booking": 1100,
        "invoke_agent local": 0,
    }


@pytest.mark.parametrize("integration", ["legacy", "v6"])
async def test_ai_sdk_spans_read_back_with_their_messages(live: Running, integration: str) -> None:
    """The AI SDK's own ai.* spans (AI SDK 6, and 7's LegacyOpenTelemetry): each call's messages and
    answer, the tool's arguments and result, the function's prompt and answer; types; tokens once
    (the function's span totals its calls in ai.usage.*, which is not counted)."""
    pair = await make_key(live)
    out = await asyncio.to_thread(run_js, "ai_sdk_agent.cjs", live.api_url, pair, integration, modules=AI_SDK)
    assert out["text"] == "It is sunny in Paris."

    trace, spans = await _trace_of(live, pair, f"ai-sdk-{integration}", 4)
    assert (trace["input_tokens"], trace["output_tokens"], trace["total_tokens"]) == (250, 30, 280)
    assert Decimal(trace["total_cost"]) == CALLS_COST
    system = {"role": "system", "parts": [{"type": "text", "content": "You are a weather bot."}]}
    question = {"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]}
    call = {"type": "tool_call", "id": "call-1", "name": "weather", "arguments": {"city": "Paris"}}
    answer = {"type": "text", "content": "It is sunny in Paris."}

    [function] = [s for s in spans if s["name"] == "ai.generateText"]
    assert function["observation_type"] == "SPAN" and function["total_tokens"] == 0
    assert json.loads(function["input"]) == [system, question]  # ai.prompt: {"system", "messages"|"prompt"}
    # Its text, and its tool calls where the SDK gives them on this span (7 does, 6 does not).
    [message] = json.loads(function["output"])
    assert message["role"] == "assistant" and message["parts"][0] == answer and message["finish_reason"] == "stop"
    assert trace["input"] == function["input"]  # the trace's, in the list

    first, second = sorted(
        (s for s in spans if s["name"] == "ai.generateText.doGenerate"), key=lambda s: s["start_time"]
    )
    assert first["observation_type"] == second["observation_type"] == "GENERATION"
    assert json.loads(first["input"]) == [system, question]
    assert json.loads(first["output"]) == [{"role": "assistant", "parts": [call], "finish_reason": "tool-calls"}]
    assert json.loads(second["input"]) == [
        system,
        question,
        {"role": "assistant", "parts": [call]},
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call-1", "response": {"city": "Paris", "sky": "sunny"}}],
        },
    ]
    assert json.loads(second["output"]) == [{"role": "assistant", "parts": [answer], "finish_reason": "stop"}]
    assert (second["model"], second["input_tokens"], second["output_tokens"]) == ("gpt-4o-mini", 150, 10)

    [tool] = [s for s in spans if s["name"] == "ai.toolCall"]
    assert tool["observation_type"] == "TOOL"
    assert json.loads(tool["input"]) == {"city": "Paris"}
    assert json.loads(tool["output"]) == {"city": "Paris", "sky": "sunny"}
    if integration == "v6":  # AI SDK 6's telemetry metadata: the user, session and tags Langfuse reads there
        assert (trace["user_id"], trace["session_id"], trace["tags"]) == ("ai-user", "ai-session", ["weather"])
        assert function["metadata"]["tenant"] == "acme"
