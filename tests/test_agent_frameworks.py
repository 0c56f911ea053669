"""Agent frameworks' spans, from the real frameworks: the Vercel AI SDK (npm ``ai`` 7.x with
``@ai-sdk/otel``, and 6.x) running an agent that calls a tool and answers
(tests/langfuse_clients/ai_sdk_agent.cjs), Pydantic AI with its test model, LangGraph's
prebuilt agent through OpenInference's LangChain instrumentor, smolagents through OpenInference's
and the OpenAI Agents SDK through Logfire: what a trace of theirs reads back
as, its tokens and cost counted once. Then other frameworks' keys (MLflow, Google ADK, Genkit,
OpenLLMetry's LangChain shapes) and garbage from the OTel SDK."""

import asyncio
import json
import time
import warnings
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from opentelemetry.trace import SpanKind

from tests.fake_openai import fake_openai
from tests.langfuse_helpers import ROOT, basic, make_key, run_js, run_python
from tests.otel import exporter, in_thread, provider
from tracehouse.server import Running

AI_SDK = ROOT / ".venv" / "sdk" / "ai-sdk" / "node_modules"  # ai 7.x, @ai-sdk/otel, ai 6.x as ai6, 5.x as ai5
# gpt-4o-mini at $0.15/M input, $0.075/M cached input and $0.60/M output: the two model calls,
# 100 + 20 and 150 + 10 tokens, 100 of the second's input read from the cache.
CALLS_COST = (
    Decimal("0.000015") + Decimal("0.000012") + Decimal("0.0000075") + Decimal("0.0000075") + Decimal("0.000006")
)


async def _trace_of(
    live: Running, pair: Any, service: str, spans: int, name: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The one trace of ``service`` (named ``name``) as the traces list gives it once its ``spans``
    are visible (acked spans are durable at once and visible a moment later), and its spans."""
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(headers=basic(pair)) as http:
        while True:
            async with http.get(
                f"{live.api_url}/api/v1/traces", params={"service": service, **({"name": name} if name else {})}
            ) as r:
                assert r.status == 200, await r.text()
                items = (await r.json())["items"]
            if items and items[0]["span_count"] >= spans:
                break
            assert time.monotonic() < deadline, f"never visible: {items}"
            await asyncio.sleep(0.05)
    assert len(items) == 1, items
    return items[0], await live.store.reader.trace("default", items[0]["trace_id"])


async def _streamed_call_has_its_first_chunk(live: Running, pair: Any, service: str, name: str, spans: int) -> None:
    """The streamed answer's model call (the mock's first chunk 40 ms in): its time to first token."""
    trace, found = await _trace_of(live, pair, service, spans, name)
    [call] = [s for s in found if s["observation_type"] == "GENERATION"]
    assert call["model"] == "gpt-4o" and (call["input_tokens"], call["output_tokens"]) == (30, 5)
    assert call["completion_start_time"] is not None
    assert call["start_time"] + 40_000_000 <= call["completion_start_time"] <= call["end_time"]
    assert trace["total_tokens"] == 35


async def _embedding_counts_once(live: Running, pair: Any, service: str, name: str) -> None:
    """The embedding's provider call: its tokens (7), once in the trace; its function's span, which
    totals them too (ai.usage.tokens in the ai.* spans), not counted."""
    trace, found = await _trace_of(live, pair, service, 2, name)
    [call] = [s for s in found if s["observation_type"] == "EMBEDDING" and s["parent_span_id"]]
    assert (call["model"], call["input_tokens"]) == ("text-embedding-3-small", 7)
    assert call["total_cost"] == Decimal("0.00000014")  # 7 x $0.02/M
    assert trace["total_tokens"] == 7
    if name == "ai.embed":  # the ai.* spans say what was embedded (each value as JSON)
        assert json.loads(call["input"]) == ['"sunny day at the beach"']


async def test_ai_sdk_7_agent_counts_its_calls_once(live: Running) -> None:
    """AI SDK 7's OpenTelemetry integration puts the run's usage on its agent span (invoke_agent)
    as well as on each model call (chat): the trace's tokens and cost are the calls', once."""
    pair = await make_key(live)
    out = await asyncio.to_thread(run_js, "ai_sdk_agent.cjs", live.api_url, pair, "modern", modules=AI_SDK)
    assert out["text"] == "It is sunny in Paris." and out["usage"]["totalTokens"] == 280

    trace, spans = await _trace_of(live, pair, "ai-sdk-modern", 6, "invoke_agent gpt-4o-mini")
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
    await _streamed_call_has_its_first_chunk(live, pair, "ai-sdk-modern", "invoke_agent gpt-4o", 3)
    await _embedding_counts_once(live, pair, "ai-sdk-modern", "embeddings text-embedding-3-small")


async def test_smolagents_agent_counts_its_calls_once(live: Running) -> None:
    """smolagents through OpenInference (a tool-calling agent against the fake OpenAI API: a tool
    call, then its final answer) puts the run's tokens on its AGENT span as well as on each
    model call's: the trace's tokens and cost are its two calls', once (they read back twice)."""
    from openinference.instrumentation.smolagents import SmolagentsInstrumentor
    from smolagents import OpenAIServerModel, ToolCallingAgent, tool

    @tool
    def weather(city: str) -> str:
        """The weather in a city.

        Args:
            city: the city's name
        """
        return f"{city}: sunny, 21°C"

    tp = provider(exporter("http", live), service="smolagents-app")
    instrumentor = SmolagentsInstrumentor()
    instrumentor.instrument(tracer_provider=tp)
    try:
        async with fake_openai() as base_url:
            model = OpenAIServerModel(model_id="gpt-4o-mini", api_base=base_url, api_key="sk-fake")
            agent = ToolCallingAgent(tools=[weather], model=model, max_steps=3, verbosity_level=0)
            assert await in_thread(lambda: agent.run("Weather in Paris?")) == "Paris is sunny, 21°C."
    finally:
        instrumentor.uninstrument()
        tp.force_flush()
        tp.shutdown()

    trace, spans = await _trace_of(live, await make_key(live), "smolagents-app", 6)
    [run] = [s for s in spans if s["observation_type"] == "AGENT"]
    assert run["span_attributes"]["llm.token_count.total"] == "80"  # the run's, as it sent them
    assert run["total_tokens"] == 0
    calls = [s for s in spans if s["observation_type"] == "GENERATION"]
    assert [(c["input_tokens"], c["output_tokens"]) for c in calls] == [(31, 9), (31, 9)]
    assert (trace["input_tokens"], trace["output_tokens"], trace["total_tokens"]) == (62, 18, 80)
    assert Decimal(trace["total_cost"]) == 2 * Decimal("0.00001005")  # 31 x $0.15/M + 9 x $0.60/M
    assert any(s["observation_type"] == "TOOL" and "sunny" in s["output"] for s in spans)


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

    trace, spans = await _trace_of(live, pair, f"ai-sdk-{integration}", 4, "ai.generateText")
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
    # Its cached input, in the SDK's ai.usage.* details beside the GenAI counts (the cost counted
    # all 150 at the full input price); Langfuse's API gives it as Langfuse does.
    assert second["cache_read_tokens"] == 100 and second["usage_details"] == {
        "input": 50, "input_cached_tokens": 100, "output": 10, "total": 160
    }  # fmt: skip

    [tool] = [s for s in spans if s["name"] == "ai.toolCall"]
    assert tool["observation_type"] == "TOOL"
    assert json.loads(tool["input"]) == {"city": "Paris"}
    assert json.loads(tool["output"]) == {"city": "Paris", "sky": "sunny"}
    if integration == "v6":  # AI SDK 6's telemetry metadata: the user, session and tags Langfuse reads there
        assert (trace["user_id"], trace["session_id"], trace["tags"]) == ("ai-user", "ai-session", ["weather"])
        assert function["metadata"]["tenant"] == "acme"
    await _streamed_call_has_its_first_chunk(live, pair, f"ai-sdk-{integration}", "ai.streamText", 2)
    await _embedding_counts_once(live, pair, f"ai-sdk-{integration}", "ai.embed")


@pytest.mark.parametrize("version", [None, 2])
async def test_pydantic_ai_agent_reads_back_with_its_run(live: Running, version: int | None) -> None:
    """Pydantic AI's agent (its test model: no network), instrumented as its docs say: the agent
    run's span holds the run's messages and result, which the trace list shows (it is the root);
    its usage, the run's total, is not counted again. Format 2 (deprecated, still chosen by older
    setups) names the agent span 'agent run', tools' values tool_arguments and tool_response, and
    the run's usage gen_ai.usage.*."""
    from pydantic_ai import Agent
    from pydantic_ai.capabilities import Instrumentation
    from pydantic_ai.models.instrumented import InstrumentationSettings
    from pydantic_ai.models.test import TestModel

    tp = provider(exporter("http", live), service=f"pydantic-ai-{version}")
    extra: dict[str, Any] = {"version": version, "use_aggregated_usage_attribute_names": False} if version else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # format 2 is deprecated, and says so
        settings = InstrumentationSettings(tracer_provider=tp, **extra)
    agent = Agent(
        TestModel(), instructions="You are a weather bot.", name="weather", capabilities=[Instrumentation(settings)]
    )

    @agent.tool_plain
    def weather(city: str) -> str:
        return f"sunny in {city}"

    def run() -> str:
        # Its own loop (closed after), in a thread: the exporter blocks on this test's server.
        output = asyncio.run(agent.run("What is the weather in Paris?")).output
        tp.force_flush()
        tp.shutdown()
        return str(output)

    output = await in_thread(run)
    trace, spans = await _trace_of(live, await make_key(live), f"pydantic-ai-{version}", 4)
    assert output == '{"weather":"sunny in a"}'
    [root] = [s for s in spans if not s["parent_span_id"]]
    assert root["name"] == ("agent run" if version else "invoke_agent weather")
    assert root["observation_type"] == "AGENT" and root["total_tokens"] == 0
    run_messages = json.loads(root["input"])
    assert run_messages[0] == {"role": "system", "parts": [{"type": "text", "content": "You are a weather bot."}]}
    assert run_messages[1] == {"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]}
    assert root["output"] == output and trace["output"] == output and trace["input"] == root["input"]
    # The two model calls' usage, once (the agent's total stays an attribute).
    assert (trace["input_tokens"], trace["output_tokens"]) == (56 + 59, 5 + 11)
    [tool] = [s for s in spans if s["observation_type"] == "TOOL"]
    assert (json.loads(tool["input"]), tool["output"]) == ({"city": "a"}, "sunny in a")


async def _sent_spans(live: Running, service: str, spans: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Send one span per entry of ``spans`` (its name: its attributes) through the OTel SDK, and
    their stored rows by name once visible."""
    tp = provider(exporter("http", live), service=service)
    tracer = tp.get_tracer("app")

    def run() -> None:
        for name, attributes in spans.items():
            with tracer.start_as_current_span(name, attributes=attributes):
                pass
        tp.force_flush()
        tp.shutdown()

    await in_thread(run)
    return {r["name"]: r for r in await _stored_rows(live, service, len(spans))}


async def _stored_rows(live: Running, service: str, count: int) -> list[dict[str, Any]]:
    """The stored rows of ``service``'s spans once ``count`` of them are visible."""
    deadline = time.monotonic() + 60
    query = (
        "SELECT name, input, output, completion_start_time, total_tokens, total_cost, toString(level) AS level, "
        "toString(observation_type) AS observation_type, model, input_tokens, output_tokens, cache_read_tokens, "
        "cache_write_tokens, usage_details, session_id "
        "FROM spans WHERE service_name = {s:String}"
    )
    while len(rows := await live.store.backend.query(query, {"s": service})) < count:
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.05)
    return rows


FRAMEWORK_SPANS = {
    # MLflow's tracing, exported over OTLP: each span's inputs and outputs as JSON.
    "mlflow": {"mlflow.spanInputs": '{"question": "refund?"}', "mlflow.spanOutputs": '"Within 30 days."'},
    # Google ADK: a model call's request and response, as JSON in Gemini's shape.
    "adk": {
        "gcp.vertex.agent.llm_request": '{"model": "gemini-2.0-flash", "contents": '
        '[{"role": "user", "parts": [{"text": "refund?"}]}]}',
        "gcp.vertex.agent.llm_response": '{"content": {"role": "model", "parts": [{"text": "Within 30 days."}]}}',
    },
    # Genkit: an action's input and output.
    "genkit": {"genkit:input": '{"question": "refund?"}', "genkit:output": '"Within 30 days."'},
    # A value under "prompt" that is not the AI SDK's prompt (text or messages): read as an empty
    # user message before, the value lost.
    "prompt object": {"input.value": '{"prompt": {"city": "Paris"}}', "output.value": '{"system": "x", "prompt": 5}'},
}


async def test_other_frameworks_input_and_output(live: Running) -> None:
    """Spans with the input and output keys of MLflow, Google ADK and Genkit (as Langfuse reads
    them), from the OTel SDK: each lands in the input and output columns, as it came; so does a
    "prompt" that is not the AI SDK's."""
    rows = await _sent_spans(live, "frameworks", FRAMEWORK_SPANS)
    for name, attributes in FRAMEWORK_SPANS.items():
        assert (rows[name]["input"], rows[name]["output"]) == tuple(attributes.values()), name


GARBAGE = {
    "not JSON": {"ai.prompt": "{not json", "ai.response.text": "", "ai.response.toolCalls": "[1, {broken"},
    "wrong shapes": {
        "ai.prompt": '{"system": 5, "prompt": {"a": 1}}',
        "ai.prompt.messages": '[{"role": 5}, "x"]',
        "ai.response.toolCalls": '[1, {"toolName": null}, {"toolCallId": "c", "toolName": "f", "input": "{bad"}]',
        "ai.response.finishReason": 7,
        "gen_ai.client.operation.time_to_first_chunk": "soon",
    },
    "langchain shapes": {
        "traceloop.entity.input": '{"inputs": {"messages": [{"lc": 1, "id": [], "kwargs": {"type": 5}}]}}',
        "traceloop.entity.output": '[["nobody", "x"], ["user"]]',
    },
    "out of range": {
        "pydantic_ai.all_messages": "null",
        "final_result": "",
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.usage.input_tokens": -5,
        "gen_ai.client.operation.time_to_first_chunk": 1e300,
        "ai.stream.msToFirstChunk": -1,
    },
    # Logfire's event lists: not JSON (the first key wins: the second is not read), not events,
    # nothing but the assistant's (no request to tell its answer from), odd values.
    "not event lists": {"all_messages_events": "{not json", "events": '[{"event.name": "gen_ai.user.message"}]'},
    "other events": {"events": '[{"event.name": "app.click", "x": 1}, {"y": 2}]'},
    "assistant only": {"events": '[{"event.name": "gen_ai.assistant.message", "content": "hi"}]'},
    "odd events": {"events": '[{"event.name": "gen_ai.user.message", "content": 5}, {"event.name": "gen_ai.x"}]'},
    # Converse blocks of other shapes, a choice's message neither an object nor its content.
    "converse shapes": {
        "events": json.dumps(
            [
                {
                    "event.name": "gen_ai.user.message",
                    "content": [
                        {"toolUse": "x"},
                        {"toolUse": {"name": 3}},
                        {"toolResult": {"content": "text", "toolUseId": "c"}},
                        {"reasoningContent": {}},
                        {"toolResult": {"content": [{"text": "a"}, {"json": 1}]}},
                    ],
                },
                {"event.name": "gen_ai.choice", "message": 7},
            ]
        )
    },
    # Logfire's message where it does not name the span: empty, not text, another template.
    "logfire empty": {"logfire.msg": "", "logfire.msg_template": "logfire empty"},
    "logfire number": {"logfire.msg": 5, "logfire.msg_template": "logfire number"},
    "logfire other": {"logfire.msg": "renamed", "logfire.msg_template": "another {x}"},
    # Logfire's level: not a number, out of its range.
    "logfire loud": {"logfire.level_num": "loud"},
    "logfire huge": {"logfire.level_num": 1e300},
    "logfire negative": {"logfire.level_num": -17},
    # Haystack's keys: a generator's output not JSON, its replies' blocks and usage of other
    # shapes, a component's type and name not text.
    "haystack not json": {"haystack.component.type": "OpenAIChatGenerator", "haystack.component.output": "{oops"},
    "haystack shapes": {
        "haystack.component.type": "OpenAIChatGenerator",
        "haystack.component.output": json.dumps(
            {
                "replies": [
                    {
                        "role": "assistant",
                        "meta": {"model": 5, "usage": {"prompt_tokens": -3, "completion_tokens": "many"}},
                        "content": [
                            {"tool_call": "x"},
                            {"tool_call": {"tool_name": 3}},
                            {"image": {"base64_image": 7}},
                            {"reasoning": {"reasoning_text": None}},
                            {"file": {"base64_data": "Base64 string (9 characters)", "filename": "a.pdf"}},
                            {"tool_call_result": {"result": [{"text": "a"}, {"x": 1}], "origin": 5}},
                        ],
                    }
                ]
            }
        ),
    },
    "haystack type": {"haystack.component.type": 5, "haystack.component.output": '{"replies": 3, "meta": [7]}'},
    "haystack.component.run": {"haystack.component.name": 5},
}


HAYSTACK_CALLS = {
    # Anthropic's usage counts input without the cache it read: added, as the columns count it.
    "claude": {
        "haystack.component.type": "AnthropicChatGenerator",
        "haystack.component.output": json.dumps(
            {
                "replies": [
                    {
                        "role": "assistant",
                        "meta": {
                            "model": "claude-sonnet-4-5",
                            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100},
                        },
                        "content": [{"reasoning": {"reasoning_text": "hm", "extra": {}}}, {"text": "Hi"}],
                    }
                ]
            }
        ),
    },
    # A text generator's replies are strings, their meta beside them.
    "text": {
        "haystack.component.type": "OpenAIGenerator",
        "haystack.component.output": json.dumps(
            {
                "replies": ["Hi"],
                "meta": [{"model": "gpt-4o-mini", "usage": {"prompt_tokens": 3, "completion_tokens": 1}}],
            }
        ),
    },
    # An embedder's meta is one object.
    "embed": {
        "haystack.component.type": "OpenAITextEmbedder",
        "haystack.component.output": json.dumps(
            {"embedding": [0.1], "meta": {"model": "text-embedding-3-small", "usage": {"prompt_tokens": 4}}}
        ),
    },
    # A sender's own keys win over what the output says.
    "own keys": {
        "haystack.component.type": "OpenAIChatGenerator",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 7,
        "haystack.component.output": json.dumps(
            {"replies": [{"role": "assistant", "meta": {"model": "x", "usage": {"prompt_tokens": 99}}, "content": []}]}
        ),
    },
}


async def test_haystack_model_calls_usage_shapes(live: Running) -> None:
    """Haystack's model calls give their model and usage in their output only: a chat generator's
    replies' meta (Anthropic's usage, with its cache read), a text generator's and an embedder's
    meta beside their values. Each read as the call's; a sender's own keys win."""
    got = await _sent_spans(live, "haystack-calls", HAYSTACK_CALLS)
    claude = got["claude"]
    assert (claude["observation_type"], claude["model"]) == ("GENERATION", "claude-sonnet-4-5")
    assert (claude["input_tokens"], claude["output_tokens"], claude["cache_read_tokens"]) == (110, 5, 100)
    assert json.loads(claude["output"])[0]["parts"] == [
        {"type": "reasoning", "content": "hm"},
        {"type": "text", "content": "Hi"},
    ]
    text = got["text"]
    assert (text["observation_type"], text["model"], text["input_tokens"], text["output_tokens"]) == (
        "GENERATION",
        "gpt-4o-mini",
        3,
        1,
    )
    assert text["total_cost"] > 0
    embed = got["embed"]
    assert (embed["observation_type"], embed["model"], embed["input_tokens"]) == (
        "EMBEDDING",
        "text-embedding-3-small",
        4,
    )
    own = got["own keys"]
    assert (own["model"], own["input_tokens"]) == ("gpt-4o", 7)


async def test_garbage_in_the_frameworks_keys_is_stored_as_it_came(live: Running) -> None:
    """Values of these keys that are not what the frameworks send (not JSON, other shapes, out of
    range): each span is stored, its text kept as it came where it is not messages, no time to
    first token made up, its name its own (``_sent_spans`` finds each by it)."""
    got = await _sent_spans(live, "garbage", GARBAGE)
    assert set(got) == set(GARBAGE)
    assert (got["not JSON"]["input"], got["not JSON"]["output"]) == ("{not json", "[1, {broken")
    shapes = got["wrong shapes"]
    assert shapes["input"] == '[{"role": 5}, "x"]'  # not messages: as it came
    assert json.loads(shapes["output"]) == [
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c", "name": "f", "arguments": "{bad"}]}
    ]
    assert all(r["completion_start_time"] is None for r in got.values())
    assert got["out of range"]["input"] == "null" and got["out of range"]["total_tokens"] == 0
    langchain = got["langchain shapes"]  # not messages: as they came
    assert (langchain["input"], langchain["output"]) == tuple(GARBAGE["langchain shapes"].values())
    assert all(got[name]["input"] == got[name]["output"] == "" for name in ("not event lists", "other events"))
    hi = [{"role": "assistant", "parts": [{"type": "text", "content": "hi"}]}]
    assert (json.loads(got["assistant only"]["input"]), got["assistant only"]["output"]) == (hi, "")
    assert all(got[f"logfire {n}"]["level"] == "DEFAULT" for n in ("loud", "huge", "negative"))
    converse = got["converse shapes"]  # blocks of no part skipped, a result not all text as it came
    assert json.loads(converse["input"])[0]["parts"] == [
        {"type": "tool_call_response", "id": "c", "response": "text"},
        {"type": "tool_call_response", "id": None, "response": [{"text": "a"}, {"json": 1}]},
    ]
    assert json.loads(converse["output"]) == [{"role": "assistant", "parts": [{"type": "text", "content": "7"}]}]
    assert (got["haystack not json"]["observation_type"], got["haystack not json"]["output"]) == ("GENERATION", "{oops")
    shapes = got["haystack shapes"]  # no model, no usage; blocks of no part skipped
    assert (shapes["model"], shapes["total_tokens"], shapes["total_cost"]) == ("", 0, 0)
    assert json.loads(shapes["output"])[0]["parts"] == [
        {"type": "text", "content": "[file a.pdf: Base64 string (9 characters)]"},
        {"type": "tool_call_response", "id": None, "response": [{"text": "a"}, {"x": 1}]},
    ]
    assert got["haystack type"]["observation_type"] == "SPAN"
    assert got["haystack type"]["output"] == '{"replies": 3, "meta": [7]}'
    odd = got["odd events"]  # a number as its text; an event of no message skipped
    assert (json.loads(odd["input"]), odd["output"]) == (
        [{"role": "user", "parts": [{"type": "text", "content": "5"}]}],
        "",
    )


async def test_langgraph_agent_through_openinference(live: Running) -> None:
    """LangGraph's prebuilt agent (langgraph, langchain-core; a fake chat model that asks for a
    tool, then answers) instrumented by OpenInference's LangChain instrumentor: its chains' inputs
    and outputs are LangChain's serialized messages ({"type": "ai", "data": ...}), read as chat
    messages; the two model calls' tokens, once."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.prebuilt import create_react_agent
    from openinference.instrumentation.langchain import LangChainInstrumentor

    class FakeChat(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> "FakeChat":
            return self

    @tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    answers = [
        AIMessage(
            content="",
            tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "c1"}],
            usage_metadata={"input_tokens": 100, "output_tokens": 20, "total_tokens": 120},
        ),
        AIMessage(
            content="It is sunny in Paris.",
            usage_metadata={"input_tokens": 150, "output_tokens": 10, "total_tokens": 160},
        ),
    ]
    tp = provider(exporter("http", live), service="langgraph-app")
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=tp)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # moved to langchain.agents in LangGraph 1.0, still shipped
            agent = create_react_agent(FakeChat(messages=iter(answers)), [weather], prompt="You are a weather bot.")

        def run() -> None:
            agent.invoke({"messages": [("user", "What is the weather in Paris?")]})
            tp.force_flush()

        await in_thread(run)
    finally:
        instrumentor.uninstrument()
        tp.shutdown()
    trace, spans = await _trace_of(live, await make_key(live), "langgraph-app", 10, "LangGraph")
    assert (trace["input_tokens"], trace["output_tokens"]) == (250, 30)
    [root] = [s for s in spans if not s["parent_span_id"]]
    question = {"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]}
    call = {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Paris"}}
    assert json.loads(root["input"]) == [question]
    run_messages = json.loads(root["output"])
    assert [m["role"] for m in run_messages] == ["user", "assistant", "tool", "assistant"]
    assert run_messages[0] == question and run_messages[1]["parts"] == [call]
    assert run_messages[2]["parts"] == [{"type": "tool_call_response", "id": "c1", "response": "sunny in Paris"}]
    assert run_messages[3]["parts"] == [{"type": "text", "content": "It is sunny in Paris."}]
    # The list's preview of the run: the question and what came after it.
    assert "It is sunny in Paris." in trace["output"]


async def test_langchain_messages_as_openllmetry_writes_them(live: Running) -> None:
    """OpenLLMetry's LangChain spans wrap a chain's messages ({"inputs": {"messages": [pairs]}},
    {"outputs": {"messages": [dumpd's {"lc": 1, "kwargs": ...}]}}): read as chat messages."""
    spans = {
        "LangGraph.workflow": {
            "traceloop.span.kind": "workflow",
            "traceloop.entity.input": json.dumps(
                {"inputs": {"messages": [["user", "What is the weather?"]]}, "tags": [], "metadata": {}}
            ),
            "traceloop.entity.output": json.dumps(
                {
                    "outputs": {
                        "messages": [
                            {
                                "lc": 1,
                                "type": "constructor",
                                "id": ["langchain", "schema", "messages", "AIMessage"],
                                "kwargs": {"content": "It is sunny.", "type": "ai", "tool_calls": []},
                            }
                        ]
                    },
                    "kwargs": {"tags": []},
                }
            ),
        }
    }
    row = (await _sent_spans(live, "openllmetry-langchain", spans))["LangGraph.workflow"]
    assert json.loads(row["input"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is the weather?"}]}
    ]
    assert json.loads(row["output"]) == [{"role": "assistant", "parts": [{"type": "text", "content": "It is sunny."}]}]


async def test_usage_details_and_cache_left_out_of_the_input(live: Running) -> None:
    """The AI SDK 5 gives a call's cached input only in ``ai.usage.cachedInputTokens``, and with
    Anthropic's provider an input count without it: the input is counted with its cache. Its
    function's span (its calls' totals, in ai.usage.* alone) stays uncounted. A span's usage reads
    back in Langfuse's keys (input without its cached part, output without reasoning). An input
    larger than its cache is exclusive where its total says so, or its provider is Bedrock."""
    exclusive = {
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.usage.input_tokens": 300,
        "gen_ai.usage.output_tokens": 9,
        "gen_ai.usage.cache_read.input_tokens": 200,
        "gen_ai.usage.cache_creation.input_tokens": 5,
    }
    spans = {
        "ai.streamText.doStream": {
            "ai.operationId": "ai.streamText.doStream",
            "ai.model.provider": "anthropic.messages",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 21,
            "gen_ai.usage.output_tokens": 9,
            "ai.usage.cachedInputTokens": 100,
            "ai.usage.reasoningTokens": 0,
        },
        "ai.streamText": {
            "ai.operationId": "ai.streamText",
            "ai.model.id": "claude-sonnet-4-5",
            "ai.usage.inputTokens": 21,
            "ai.usage.cachedInputTokens": 100,
        },
        "garbage details": {
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 30,
            "gen_ai.usage.output_tokens": 5,
            "ai.usage.cachedInputTokens": "lots",
            "ai.usage.outputTokenDetails.reasoningTokens": -4,
        },
        "anthropic through openllmetry": {
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 126,
            "gen_ai.usage.output_tokens": 9,
            "gen_ai.usage.cache_read.input_tokens": 100,
            "gen_ai.usage.cache_creation.input_tokens": 5,
            "gen_ai.usage.reasoning.output_tokens": 4,
        },
        # An input larger than its cache, exclusive by its total (Bedrock's count, and Strands').
        "exclusive by its total": {**exclusive, "gen_ai.usage.total_tokens": 514},
        # An inclusive input beside its total: as sent.
        "inclusive with its total": {**exclusive, "gen_ai.usage.input_tokens": 505, "gen_ai.usage.total_tokens": 514},
        # Neither: the conventions' inclusive count, unless its provider's instrumentations pass
        # Bedrock's on (a provider that is no text is none).
        "no total": exclusive,
        "no total, on bedrock": {**exclusive, "gen_ai.provider.name": "aws.bedrock"},
        "garbage provider": {**exclusive, "gen_ai.system": 7, "gen_ai.usage.total_tokens": "lots"},
        "garbage provider metadata": {
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 30,
            "gen_ai.usage.output_tokens": 5,
            "ai.response.providerMetadata": '{"anthropic": {"usage": {"cache_read_input_tokens": "lots", '
            '"cache_creation_input_tokens": -3}, "cacheReadInputTokens": [1]}, "bedrock": 7, "openai": null}',
        },
        # An output smaller than its reasoning leaves it out (Gemini's count): counted in.
        "output without its reasoning": {
            "gen_ai.request.model": "gemini-2.5-flash",
            "gen_ai.usage.input_tokens": 30,
            "gen_ai.usage.output_tokens": 9,
            "gen_ai.usage.reasoning.output_tokens": 30,
            "gen_ai.usage.total_tokens": 69,
        },
        # The AI SDK 4's provider metadata: Anthropic's cache counts (its input without them),
        # OpenAI's cached prompt and reasoning (inside its counts).
        "ai sdk 4 anthropic": {
            "gen_ai.request.model": "claude-sonnet-4-5",
            "ai.usage.promptTokens": 300,
            "gen_ai.usage.input_tokens": 300,
            "gen_ai.usage.output_tokens": 9,
            "ai.response.providerMetadata": json.dumps(
                {"anthropic": {"cacheCreationInputTokens": 5, "cacheReadInputTokens": 200}}
            ),
        },
        "ai sdk 4 openai": {
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 31,
            "gen_ai.usage.output_tokens": 9,
            "ai.response.providerMetadata": '{"openai": {"cachedPromptTokens": 16, "reasoningTokens": 4}}',
        },
        "provider metadata not json": {
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 30,
            "gen_ai.usage.output_tokens": 5,
            "ai.response.providerMetadata": '{"anthropic": {"usage": ',
        },
    }
    rows = await _sent_spans(live, "usage-details", spans)
    call = rows["ai.streamText.doStream"]
    assert (call["input_tokens"], call["cache_read_tokens"], call["output_tokens"], call["total_tokens"]) == (
        121, 100, 9, 130
    )  # fmt: skip
    # claude-sonnet-4-5: $3/M input, $0.30/M cache reads, $15/M output.
    assert call["total_cost"] == Decimal("0.000063") + Decimal("0.00003") + Decimal("0.000135")
    function = rows["ai.streamText"]
    assert (function["input_tokens"], function["cache_read_tokens"], function["total_cost"]) == (0, 0, 0)
    garbage = rows["garbage details"]
    assert (garbage["input_tokens"], garbage["cache_read_tokens"], garbage["output_tokens"]) == (30, 0, 5)
    assert rows["anthropic through openllmetry"]["usage_details"] == {
        "input": 21, "input_cached_tokens": 100, "input_cache_creation": 5, "output": 5,
        "output_reasoning_tokens": 4, "total": 135,
    }  # fmt: skip
    inputs = {name: rows[name]["input_tokens"] for name in ("exclusive by its total", "inclusive with its total",
              "no total", "no total, on bedrock", "garbage provider")}  # fmt: skip
    assert inputs == {
        "exclusive by its total": 505, "inclusive with its total": 505, "no total": 300,
        "no total, on bedrock": 505, "garbage provider": 300,
    }  # fmt: skip
    assert rows["no total, on bedrock"]["total_tokens"] == 514
    columns = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "total_tokens")
    assert [rows["ai sdk 4 anthropic"][c] for c in columns] == [505, 200, 5, 9, 514]
    assert [rows["ai sdk 4 openai"][c] for c in columns] == [31, 16, 0, 9, 40]
    thinking = rows["output without its reasoning"]
    assert (thinking["output_tokens"], thinking["total_tokens"]) == (39, 69)
    for name in ("garbage provider metadata", "provider metadata not json"):
        row = rows[name]
        assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (30, 0, 5), name


async def test_ai_sdk5_calls_count_their_cache(live: Running) -> None:
    """The AI SDK 5 (its own telemetry; the SDK's mock answering as its Anthropic and Bedrock
    providers do) passes Anthropic's and Bedrock's input count on without the cache, and gives a
    generateText call's cache reads and Anthropic's cache writes only in its provider metadata
    (``ai.response.providerMetadata``): each call reads back with its 300 input tokens, 200 read
    from the cache and 5 written, priced as such (its cache was left out, or taken off its input).
    Gemini's output count leaves its thinking out: counted in, and its cache reads read."""
    pair = await make_key(live)
    await asyncio.to_thread(run_js, "ai_sdk5_providers.cjs", live.api_url, pair, modules=AI_SDK)
    rows = await _stored_rows(live, "ai-sdk-5", 10)
    calls = sorted((r for r in rows if r["observation_type"] == "GENERATION"), key=lambda r: (r["name"], r["model"]))
    gemini = [r for r in calls if r["model"] == "gemini-2.5-flash"]
    calls = [r for r in calls if r["model"] != "gemini-2.5-flash"]
    assert [(r["name"], r["model"]) for r in calls] == [
        ("ai.generateText.doGenerate", "claude-sonnet-4-5"),
        ("ai.streamText.doStream", "claude-sonnet-4-5"),
        ("ai.streamText.doStream", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ]
    # claude-sonnet-4.5: $3/M input, $0.30/M cache reads, $3.75/M cache writes, $15/M output.
    cost = Decimal("0.0009") + Decimal("0.00006") + Decimal("0.00001875") + Decimal("0.000135")
    for call in calls:
        counts = (call["input_tokens"], call["cache_read_tokens"], call["cache_write_tokens"], call["output_tokens"])
        assert counts == (505, 200, 5, 9), call
        assert call["total_tokens"] == 514 and Decimal(call["total_cost"]) == cost, call
    # Gemini's thinking counted in its output (its output count left it out: thinking went unpriced),
    # its cached input read from the provider metadata where the span gives it nowhere else.
    # gemini-2.5-flash: $0.30/M input, $0.03/M cache reads, $2.50/M output (thinking too).
    assert [r["name"] for r in gemini] == ["ai.generateText.doGenerate", "ai.streamText.doStream"]
    for call in gemini:
        counts = (call["input_tokens"], call["cache_read_tokens"], call["output_tokens"], call["total_tokens"])
        assert counts == (300, 200, 39, 339), call
        assert Decimal(call["total_cost"]) == Decimal("0.00003") + Decimal("0.000006") + Decimal("0.0000975"), call
    functions = [r for r in rows if r["observation_type"] != "GENERATION"]
    assert [(r["input_tokens"], r["total_cost"]) for r in functions] == [(0, 0)] * 5  # their calls' totals


async def test_mastra_spans_typed_by_mastra(live: Running) -> None:
    """Mastra's OpenTelemetry exporter (@mastra/otel-exporter 0.3) names its own operations
    (``agent.run``, ``tool.execute``) and types its spans in ``mastra.span.type``, as it sent them:
    its agent's run is an AGENT, its tools TOOLs, its workflows CHAINs (the run was a SPAN); its
    steps and chunks stay SPANs, its model call a GENERATION."""
    mastra = {"span.kind": "server", "input": "Weather in Paris?", "agent.id": "forecaster"}
    spans = {
        "agent.forecaster": {**mastra, "gen_ai.operation.name": "agent.run", "mastra.span.type": "agent_run"},
        "chat gpt-4o-mini": {
            "gen_ai.operation.name": "chat",
            "mastra.span.type": "model_generation",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 62,
            "gen_ai.usage.output_tokens": 18,
        },
        "step: 0": {"gen_ai.operation.name": "model.step", "mastra.span.type": "model_step"},
        "chunk: 'text'": {"gen_ai.operation.name": "model.chunk", "mastra.span.type": "model_chunk"},
        "tool.execute weather": {"gen_ai.operation.name": "tool.execute", "mastra.span.type": "tool_call"},
        "mcp.execute search": {"mastra.span.type": "mcp_tool_call"},
        "workflow.weather-flow": {"gen_ai.operation.name": "workflow.run", "mastra.span.type": "workflow_run"},
        "odd": {"mastra.span.type": "no_such_type"},
    }
    rows = await _sent_spans(live, "mastra-app", spans)
    assert {name: row["observation_type"] for name, row in rows.items()} == {
        "agent.forecaster": "AGENT",
        "chat gpt-4o-mini": "GENERATION",
        "step: 0": "SPAN",
        "chunk: 'text'": "SPAN",
        "tool.execute weather": "TOOL",
        "mcp.execute search": "TOOL",
        "workflow.weather-flow": "CHAIN",
        "odd": "SPAN",
    }
    assert rows["agent.forecaster"]["input"] == "Weather in Paris?"
    assert (rows["chat gpt-4o-mini"]["input_tokens"], rows["chat gpt-4o-mini"]["output_tokens"]) == (62, 18)


async def test_pipecat_conversation_is_the_session(live: Running) -> None:
    """Pipecat 1.x (its keys as its tracing sends them, read from a real run of a pipeline against
    the fake OpenAI API) gives its conversation's id as ``conversation.id`` on the conversation's
    span and each turn's: the session, as its users expect a conversation to be found. Its model
    calls' messages (``input``, OpenAI's) and answer (``output``, text) read as chat; its speech
    services' spans what was said (a TTS request's ``text``) and heard (an STT's ``transcript``)."""
    question = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}]
    spans = {
        "conversation": {"conversation.id": "conv-7", "conversation.type": "voice"},
        "turn": {"turn.number": 1, "turn.type": "conversation", "conversation.id": "conv-7"},
        "llm": {
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.operation.name": "chat",
            "gen_ai.system_instructions": "Be brief.",
            "input": json.dumps(question),
            "output": "Paris is sunny.",
            "gen_ai.usage.input_tokens": 31,
            "gen_ai.usage.output_tokens": 9,
        },
        "elsewhere": {"session.id": "s-1", "conversation.id": "conv-8"},  # a session given wins
        # Its speech services (service_attributes.py): what was said, what was heard.
        "tts": {
            "gen_ai.provider.name": "cartesia",
            "gen_ai.request.model": "sonic-2",
            "gen_ai.operation.name": "tts",
            "gen_ai.output.type": "speech",
            "voice_id": "v-1",
            "text": "Paris is sunny.",
            "metrics.character_count": 15,
        },
        "stt": {
            "gen_ai.provider.name": "deepgram",
            "gen_ai.request.model": "nova-3",
            "gen_ai.operation.name": "stt",
            "transcript": "Weather in Paris?",
            "is_final": True,
        },
        "stt garbage": {"gen_ai.operation.name": "stt", "transcript": ["not", "text"], "text": 5},
    }
    rows = await _sent_spans(live, "pipecat-bot", spans)
    sessions = {name: row["session_id"] for name, row in rows.items() if not name.startswith(("tts", "stt"))}
    assert sessions == {"conversation": "conv-7", "turn": "conv-7", "llm": "", "elsewhere": "s-1"}
    assert (rows["tts"]["input"], rows["tts"]["output"]) == ("Paris is sunny.", "")
    assert (rows["stt"]["input"], rows["stt"]["output"]) == ("", "Weather in Paris?")
    assert (rows["stt garbage"]["input"], rows["stt garbage"]["output"]) == ("", "")
    llm = rows["llm"]
    assert json.loads(llm["input"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
    ]
    assert llm["output"] == "Paris is sunny." and llm["observation_type"] == "GENERATION"


async def test_livekit_keys_before_1_8_and_garbage(live: Running) -> None:
    """LiveKit before 1.8 sent its values without ``pii`` in their keys (``lk.chat_ctx``,
    ``lk.user_input``, ``lk.response.text``, ``lk.user_transcript``, ``lk.input_text``); read alike.
    A context whose items are not LiveKit's is kept as it came; a reply with neither text nor
    calls is no output."""
    context = {"items": [
        {"type": "message", "role": "user", "content": ["Hi", {"type": "cache_breakpoint"}]},
        {"type": "agent_handoff", "old_agent_id": None, "new_agent_id": "a"},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{\"city\": \"Paris\"}"},
        {"type": "function_call", "call_id": "c2", "name": "time", "arguments": "not json"},
        {"type": "function_call_output", "call_id": "c1", "name": "weather", "output": "sunny"},
    ]}  # fmt: skip
    odd = {"items": [{"type": "message", "role": "user", "content": ["Hi"]}, {"type": "surprise"}, 3]}
    spans = {
        "agent_turn": {
            "lk.user_input": "Hello",
            "lk.response.text": "Hi there",
            "gen_ai.operation.name": "invoke_agent",
        },
        "llm_node": {
            "lk.chat_ctx": json.dumps(context),
            "lk.response.text": "",
            "lk.response.function_calls": "[]",
            "gen_ai.request.model": "gpt-4o-mini",
        },
        "odd_node": {"lk.chat_ctx": json.dumps(odd), "lk.response.function_calls": "{not json"},
        "user_turn": {"lk.user_transcript": "Weather in Paris?"},
        "tts_request": {"lk.input_text": "It is sunny."},
    }
    rows = await _sent_spans(live, "livekit-old", spans)
    assert (rows["agent_turn"]["input"], rows["agent_turn"]["observation_type"]) == ("Hello", "AGENT")
    assert json.loads(rows["agent_turn"]["output"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hi there"}]}
    ]
    node = rows["llm_node"]
    assert node["observation_type"] == "SPAN" and node["output"] == ""
    calls = [
        {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Paris"}},
        {"type": "tool_call", "id": "c2", "name": "time", "arguments": "not json"},
    ]
    assert json.loads(node["input"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]},
        {"role": "assistant", "parts": calls},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "sunny"}], "name": "weather"},
    ]
    assert json.loads(rows["odd_node"]["input"]) == odd
    assert rows["odd_node"]["output"] == "{not json"
    assert rows["user_turn"]["input"] == "Weather in Paris?"
    assert rows["tts_request"]["input"] == "It is sunny."


async def test_a_root_without_input_shows_its_first_spans(live: Running) -> None:
    """OpenLLMetry's LangGraph root (``invoke_agent``) carries no input or output; its workflow
    does. The trace's input is then its first span's that has one and its output the last to end
    with one, wherever a trace's input is shown (previews, sessions, the trace's own in its detail
    for the annotation queue, evaluators of traces); Langfuse's
    API gives the root's, as Langfuse does."""
    tp = provider(exporter("http", live), service="openllmetry-langgraph")
    tracer = tp.get_tracer("app")
    question = json.dumps({"inputs": {"messages": [["user", "What is the weather?"]]}})
    answer = json.dumps({"outputs": {"messages": [{"type": "ai", "data": {"content": "It is sunny."}}]}})

    def run() -> None:
        # An empty list of messages is none (Semantic Kernel's agent sends its input so).
        root = {"gen_ai.operation.name": "invoke_agent", "session.id": "lg-session", "gen_ai.input.messages": "[]"}
        with tracer.start_as_current_span("invoke_agent LangGraph", attributes=root) as span:
            workflow = {"traceloop.entity.input": question, "traceloop.entity.output": answer}
            task = {"traceloop.entity.input": '"inner"', "traceloop.entity.output": '"inner"'}
            with (
                tracer.start_as_current_span("LangGraph.workflow", attributes=workflow),
                tracer.start_as_current_span("agent.task", attributes=task),
            ):
                pass
            span.set_attribute("app.done", True)
        tp.force_flush()
        tp.shutdown()

    await in_thread(run)
    pair = await make_key(live)
    trace, spans = await _trace_of(live, pair, "openllmetry-langgraph", 3)
    said = [{"role": "user", "parts": [{"type": "text", "content": "What is the weather?"}]}]
    answered = [{"role": "assistant", "parts": [{"type": "text", "content": "It is sunny."}]}]
    assert (json.loads(trace["input"]), json.loads(trace["output"])) == (said, answered)
    [root] = [s for s in spans if not s["parent_span_id"]]
    assert root["input"] == root["output"] == ""
    async with aiohttp.ClientSession(headers=basic(pair)) as http:
        async with http.get(f"{live.api_url}/api/v1/sessions/lg-session") as r:
            assert r.status == 200, await r.text()
            [turn] = (await r.json())["traces"]
        async with http.get(f"{live.api_url}/api/v1/traces/{trace['trace_id']}") as r:
            assert r.status == 200, await r.text()
            detail = await r.json()  # the annotation queue shows a trace's
        async with http.get(f"{live.api_url}/api/public/traces/{trace['trace_id']}") as r:
            assert r.status == 200, await r.text()
            langfuse = await r.json()
    assert (json.loads(turn["input"]), json.loads(turn["output"])) == (said, answered)
    assert (json.loads(detail["input"]), json.loads(detail["output"])) == (said, answered)
    assert detail["trace_input"] is None  # none set apart
    assert langfuse["input"] is None and langfuse["output"] is None
    facts = await live.store.evaluations.object_facts("default", trace["trace_id"], root["span_id"], trace=True)
    assert facts is not None
    assert (json.loads(facts["f_input"]), json.loads(facts["f_output"])) == (said, answered)


async def test_openai_agents_through_logfire(live: Running) -> None:
    """The OpenAI Agents SDK as Logfire instruments it (Langfuse's guide for the SDK): an agent
    calls a tool, then answers. Each model call's messages come as GenAI events listed in one
    ``events`` attribute (the request's, then the answer's): its input and output; the tool's
    ``input`` and ``output`` attributes are its. The trace's root (a Logfire span around the run)
    has none: the trace shows its first call's input and its answer. Spans are named by the
    message Logfire shows for them, as Logfire and Langfuse show them, not by its template, and
    at Logfire's level (a warning it logs is a span of its own); typed by the kind its template
    names (its tools' spans were SPANs)."""
    pair = await make_key(live)
    async with fake_openai() as base_url:
        out = await asyncio.to_thread(run_python, "openai_agents_logfire.py", live.api_url, pair, base_url)
    assert out == {"output": "Paris is sunny, 21°C."}
    trace, spans = await _trace_of(live, pair, "openai-agents", 10)
    calls = sorted((s for s in spans if s["observation_type"] == "GENERATION"), key=lambda s: s["start_time"])
    assert [(c["input_tokens"], c["output_tokens"]) for c in calls] == [(20, 8), (12, 5)]
    system = {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}
    user = {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}
    call = {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "call_1", "name": "weather", "arguments": {"city": "Paris"}}],
    }
    result = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "sunny in Paris"}]}
    answer = {"role": "assistant", "parts": [{"type": "text", "content": "Paris is sunny, 21°C."}]}
    assert (json.loads(calls[0]["input"]), json.loads(calls[0]["output"])) == ([system, user], [call])
    assert json.loads(calls[1]["input"])[:3] == [system, user, call]
    assert json.loads(calls[1]["input"])[3]["parts"] == result["parts"]
    assert json.loads(calls[1]["output"]) == [answer]
    [tool] = [s for s in spans if s["name"] == "Function: weather"]
    assert (json.loads(tool["input"]), tool["output"]) == ({"city": "Paris"}, "sunny in Paris")
    # Typed by the kind Logfire names them (its templates): the tool a TOOL, the agent's run an AGENT.
    [agent] = [s for s in spans if s["name"] == "Agent run: 'Helper'"]
    assert (tool["observation_type"], agent["observation_type"]) == ("TOOL", "AGENT")
    assert (json.loads(trace["input"]), json.loads(trace["output"])) == ([system, user], [answer])
    # Named by the messages Logfire shows, not their templates ("ask {question}").
    assert trace["name"] == "ask weather" and tool["span_attributes"]["logfire.msg_template"] == "Function: {name}"
    assert all(c["name"].startswith("Responses API with '") for c in calls)
    # Logfire's levels: its warning a span of its own at WARNING, the others at Logfire's info.
    assert [s["level"] for s in spans if s["name"] == "low on umbrellas"] == ["WARNING"]
    assert {s["level"] for s in spans if s["name"] != "low on umbrellas"} == {"DEFAULT"}
    assert trace["total_tokens"] == 45
    # Logfire's scrubbing put "[Scrubbed due to 'session']" for the session: none, rather than
    # one session of every such trace; the user kept.
    assert spans[0]["span_attributes"]["session.id"] == "[Scrubbed due to 'session']"
    assert (trace["session_id"], trace["user_id"]) == ("", "ada")


# OpenLIT 1.45's chat span (openlit.init() with the openai client), as it sent it to a server here:
# its system prompt both in the input messages and apart, and a cost of 0 when its price list (which
# it fetches from GitHub at start) lacks the model or could not be fetched.
OPENLIT_CHAT = {
    "telemetry.sdk.name": "openlit",
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 5,
    "gen_ai.usage.cost": 0.0,
    "gen_ai.input.messages": json.dumps(
        [
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
            {"role": "user", "parts": [{"type": "text", "content": "Weather?"}]},
        ]
    ),
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
    "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Sunny."}]}]),
}


def _text(text: str) -> str:
    return json.dumps([{"text": text}])


# Strands Agents' events (1.62, its default conventions) as it sent them: each message's content
# as Bedrock Converse blocks in JSON text, a choice's message as its content (blocks, or text on
# the agent's span), a tool's arguments as a tool message.
STRANDS_TOOL_USE = json.dumps([{"toolUse": {"toolUseId": "call_w", "name": "weather", "input": {"city": "Paris"}}}])
STRANDS_TOOL_RESULT = json.dumps(
    [{"toolResult": {"toolUseId": "call_w", "status": "success", "content": [{"text": "Paris: sunny"}]}}]
)
STRANDS_ASKED = [
    ("gen_ai.system.message", {"content": _text("Be brief.")}),
    ("gen_ai.user.message", {"content": _text("Weather in Paris?")}),
]


async def test_strands_agent_events_read_back(live: Running) -> None:
    """A Strands agent's run (a tool call, then the answer) as its events came: each call's
    messages with the tool's call and result, the tool's arguments and result, the agent's answer
    (they read back as empty assistant messages), its tokens counted once."""
    tp = provider(exporter("http", live), service="strands-app")
    tracer = tp.get_tracer("strands.telemetry.tracer")
    usage = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 5}

    def span(name: str, attributes: dict[str, Any], events: list[tuple[str, dict[str, Any]]]) -> None:
        with tracer.start_as_current_span(name, attributes=attributes) as current:
            for event, values in events:
                current.add_event(event, values)

    def run() -> None:
        agent = {"gen_ai.operation.name": "invoke_agent", **usage, "gen_ai.usage.input_tokens": 24}
        with tracer.start_as_current_span("invoke_agent Strands Agents", attributes=agent) as root:
            chosen = {"message": STRANDS_TOOL_USE, "finish_reason": "tool_use"}
            span("chat", {"gen_ai.operation.name": "chat", **usage}, [*STRANDS_ASKED, ("gen_ai.choice", chosen)])
            tool = [
                ("gen_ai.tool.message", {"role": "tool", "content": '{"city": "Paris"}', "id": "call_w"}),
                ("gen_ai.choice", {"message": _text("Paris: sunny"), "id": "call_w"}),
            ]
            span("execute_tool weather", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather"}, tool)
            odd = [("gen_ai.tool.message", {"content": ["a", "b"]}), ("gen_ai.choice", {"message": "{broken"})]
            span("execute_tool odd", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "odd"}, odd)
            twice = [("gen_ai.tool.message", {"content": "one", "id": "c1"})] * 2
            span("execute_tool twice", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "twice"}, twice)
            answered = [
                *STRANDS_ASKED,
                ("gen_ai.assistant.message", {"content": STRANDS_TOOL_USE}),
                ("gen_ai.tool.message", {"content": STRANDS_TOOL_RESULT}),
                ("gen_ai.choice", {"finish_reason": "end_turn", "message": _text("It is sunny.")}),
            ]
            span("chat", {"gen_ai.operation.name": "chat", **usage}, answered)
            for event, values in [
                *STRANDS_ASKED,
                ("gen_ai.choice", {"message": "It is sunny.\n", "finish_reason": "end_turn"}),
            ]:
                root.add_event(event, values)
        tp.force_flush()
        tp.shutdown()

    await in_thread(run)
    trace, spans = await _trace_of(live, await make_key(live), "strands-app", 6)
    answer = [
        {"role": "assistant", "parts": [{"type": "text", "content": "It is sunny.\n"}], "finish_reason": "end_turn"}
    ]
    assert json.loads(trace["output"]) == answer
    assert (trace["input_tokens"], trace["output_tokens"]) == (24, 10)  # the two calls', once
    first, second = sorted((s for s in spans if s["name"] == "chat"), key=lambda s: s["start_time"])
    call = {"type": "tool_call", "id": "call_w", "name": "weather", "arguments": {"city": "Paris"}}
    assert json.loads(first["output"]) == [{"role": "assistant", "parts": [call], "finish_reason": "tool_use"}]
    result = {"type": "tool_call_response", "id": "call_w", "response": "Paris: sunny"}
    assert json.loads(second["input"])[2:] == [
        {"role": "assistant", "parts": [call]},
        {"role": "tool", "parts": [result]},
    ]
    assert json.loads(second["output"])[0]["parts"] == [{"type": "text", "content": "It is sunny."}]
    tools = {s["name"]: s for s in spans if s["observation_type"] == "TOOL"}
    tool = tools["execute_tool weather"]
    # The tool's own span: its arguments and its result (they read as a tool's answer holding the
    # arguments, then an assistant's reply).
    assert (json.loads(tool["input"]), tool["output"]) == ({"city": "Paris"}, "Paris: sunny")
    # Arguments that are no JSON text, a result that is no JSON: as they came; two tool messages
    # are a tool's answers, as any span's events.
    assert (tools["execute_tool odd"]["input"], tools["execute_tool odd"]["output"]) == ('["a","b"]', "{broken")
    twice = json.loads(tools["execute_tool twice"]["input"])
    assert [m["parts"][0]["type"] for m in twice] == ["tool_call_response"] * 2


async def test_openlit_chat_reads_back_once_and_priced(live: Running) -> None:
    """OpenLIT's chat span: its system prompt once (it sends it in the messages and apart), and
    the price book's cost where it says 0 (unknown to it); a cost it knows counts as sent."""
    known = {**OPENLIT_CHAT, "gen_ai.usage.cost": 0.25}
    other = {**OPENLIT_CHAT, "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be kind."}])}
    got = await _sent_spans(live, "openlit", {"unknown cost": OPENLIT_CHAT, "known cost": known, "other": other})
    row = got["unknown cost"]
    assert [m["role"] for m in json.loads(row["input"])] == ["system", "user"]
    assert row["total_cost"] == Decimal("0.0000048")  # 12 x $0.15/M + 5 x $0.60/M
    assert got["known cost"]["total_cost"] == Decimal("0.25")
    # Instructions other than the messages' first: put first, as the conventions say.
    assert [m["parts"][0]["content"] for m in json.loads(got["other"]["input"])] == [
        "Be kind.",
        "Be brief.",
        "Weather?",
    ]
