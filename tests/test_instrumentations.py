"""Spans from real instrumentations of the real ``openai`` client, calling a local fake of
the OpenAI API, exported with the real OTLP exporter: each convention lands in the typed columns."""

import json
from decimal import Decimal

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
