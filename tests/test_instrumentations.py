"""Spans from real instrumentations of the real ``openai`` client, calling a local fake of
the OpenAI API, exported with the real OTLP exporter: each convention lands in the typed columns."""

import asyncio
import json
from decimal import Decimal
from typing import Any

import openai
import pytest

from tests.fake_openai import fake_openai
from tests.otel import exporter, in_thread, provider
from tracehouse.server import Running

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}]
EXPECTED_INPUT = [
    {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
    {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
]


def _instrumentor(name: str):
    if name == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    else:
        from openinference.instrumentation.openai import OpenAIInstrumentor
    return OpenAIInstrumentor()


@pytest.mark.parametrize("instrumentation", ["openai-v2", "openinference"])
async def test_instrumented_openai_call(live: Running, instrumentation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # GenAI content on the span itself, in the current (v1.37+) attribute form.
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    tp = provider(exporter("http", live), service="chat-app")
    instrumentor = _instrumentor(instrumentation)
    instrumentor.instrument(tracer_provider=tp)
    try:
        async with fake_openai() as base_url:
            with openai.OpenAI(base_url=base_url, api_key="sk-fake") as client:
                reply = await in_thread(lambda: client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES))
                assert reply.choices[0].message.content.startswith("Paris")
    finally:
        instrumentor.uninstrument()
        tp.force_flush()
        tp.shutdown()

    rows = await live.store.backend.query(
        "SELECT trace_id FROM spans WHERE service_name = 'chat-app' AND observation_type = 'GENERATION'"
    )
    assert len(rows) == 1
    [span] = await live.store.reader.trace("default", rows[0]["trace_id"])
    assert span["model"] == "gpt-4o-mini-2024-07-18"
    assert span["provider"] == "openai"
    assert (span["input_tokens"], span["output_tokens"], span["total_tokens"]) == (31, 9, 40)
    # gpt-4o-mini: 31 input at $0.15/M + 9 output at $0.60/M
    assert span["total_cost"] == Decimal("0.00001005")
    assert json.loads(span["input"]) == EXPECTED_INPUT
    output = json.loads(span["output"])
    assert output[0]["role"] == "assistant"
    assert output[0]["parts"] == [{"type": "text", "content": "Paris is sunny, 21°C."}]
    if instrumentation == "openinference":
        assert span["span_attributes"]["openinference.span.kind"] == "LLM"
        assert span["span_attribute_types"]["llm.token_count.prompt"] == "int"
    else:
        assert span["operation"] == "chat" and span["request_model"] == "gpt-4o-mini"


async def _span_of(live: Running, service: str) -> dict[str, Any]:
    """The one span of ``service``, once visible (acked spans are durable at once, visible a
    moment later)."""
    sql = "SELECT trace_id FROM spans WHERE service_name = {service:String}"
    rows: list[dict[str, Any]] = []

    async def visible() -> bool:
        rows[:] = await live.store.backend.query(sql, {"service": service})
        return bool(rows)

    deadline = asyncio.get_running_loop().time() + 60
    while not await visible():
        assert asyncio.get_running_loop().time() < deadline, f"no span of {service}"
        await asyncio.sleep(0.05)
    [span] = await live.store.reader.trace("default", rows[0]["trace_id"])
    return span


def _text_messages(role: str, *texts: str) -> list[dict[str, Any]]:
    return [{"role": role, "parts": [{"type": "text", "content": text}]} for text in texts]


async def test_openinference_legacy_completions(live: Running) -> None:
    # The completions API's prompts and choices, flattened as llm.prompts.N.prompt.text and
    # llm.choices.N.completion.text: they read back as messages (they came back empty).
    tp = provider(exporter("http", live), service="completions-app")
    instrumentor = _instrumentor("openinference")
    instrumentor.instrument(tracer_provider=tp)
    try:
        async with fake_openai() as base_url:
            with openai.OpenAI(base_url=base_url, api_key="sk-fake") as client:
                reply = await in_thread(
                    lambda: client.completions.create(model="gpt-3.5-turbo-instruct", prompt=["One", "Two"])
                )
                assert [c.text for c in reply.choices] == ["Hello 0", "Hello 1"]
    finally:
        instrumentor.uninstrument()
        tp.force_flush()
        tp.shutdown()

    span = await _span_of(live, "completions-app")
    assert span["span_attributes"]["llm.prompts.1.prompt.text"] == "Two"
    assert span["observation_type"] == "GENERATION" and span["total_tokens"] == 5
    assert json.loads(span["input"]) == _text_messages("user", "One", "Two")
    assert json.loads(span["output"]) == _text_messages("assistant", "Hello 0", "Hello 1")


# Completion spans as other instrumentations send them: OpenLLMetry before its GenAI messages
# (0.40: the prompt keyed by its role), OpenInference's LlamaIndex (the prompts as one list).
SENT_COMPLETIONS = {
    "openllmetry-0.40": {
        "llm.request.type": "completion",
        "gen_ai.request.model": "gpt-3.5-turbo-instruct",
        "gen_ai.prompt.0.user": "Say hi",
        "gen_ai.completion.0.content": "Hello 0",
    },
    "llamaindex": {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini",
        "input.value": '{"args": ["Say hi"]}',
        "llm.prompts": ["Say hi"],
        "output.value": "Hello 0",
    },
}
# Flattened values that hold no message: the span's other input shows, not an empty message.
EMPTY_FLATTENED = {
    "openinference.span.kind": "LLM",
    "input.value": "the request",
    "llm.prompts.0.prompt.tokens": 3,
    "llm.input_messages.0.message.content": "",
    "llm.prompts": ["Say hi", 7],
}


@pytest.mark.parametrize("sender", [*SENT_COMPLETIONS, "empty"])
async def test_completion_prompts_as_sent(live: Running, sender: str) -> None:
    attributes = SENT_COMPLETIONS.get(sender, EMPTY_FLATTENED)
    tp = provider(exporter("http", live), service=f"sent-{sender}")
    await in_thread(lambda: tp.get_tracer("t").start_span("completion", attributes=attributes).end())
    tp.shutdown()
    span = await _span_of(live, f"sent-{sender}")
    if sender == "empty":
        assert (span["input"], span["output"]) == ("the request", "")
        return
    assert json.loads(span["input"]) == _text_messages("user", "Say hi")
    output = span["output"] if sender == "llamaindex" else json.loads(span["output"])
    assert output == ("Hello 0" if sender == "llamaindex" else _text_messages("assistant", "Hello 0"))
