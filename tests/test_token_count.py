"""Generations of OpenAI models that come without usage (calls streamed without
``stream_options.include_usage``, which report none) get their tokens counted with tiktoken on
their input and output, and so a cost: through OTLP (OpenTelemetry's openai-v2 instrumentation,
langfuse 5.x's OpenAI client) and Langfuse's ingestion API (langfuse 3.x for JavaScript's OpenAI
wrapper). What a sender reports is never replaced; other models, and garbage, are left uncounted.

Counts by hand with OpenAI's o200k_base encoding (gpt-4o-mini): "system" 1, "Be brief." 3, "user"
1, "Weather in Paris?" 4, "Paris is sunny, 21°C." 8; each message 3 more and the answer's priming 3:
input 3 + (3 + 1 + 3) + (3 + 1 + 4) = 18, output 8."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import ROOT, TIKTOKEN_CACHE
from tests.fake_openai import fake_openai
from tests.langfuse_helpers import JS_LANGCHAIN, basic, ingest, make_key, run_framework, run_js, run_sdk
from tests.otel import exporter, in_thread, provider
from tracehouse.server import Running

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}]
COUNTED = (18, 8, 26)
# gpt-4o-mini: 18 input at $0.15/M + 8 output at $0.60/M
COUNTED_COST = Decimal("0.0000075")


@pytest.fixture(autouse=True)
def _encodings() -> None:
    if not any(TIKTOKEN_CACHE.glob("*")):
        pytest.fail(f"tiktoken's encodings are missing from {TIKTOKEN_CACHE}: ./dev test puts them there")


async def _spans(live: Running, where: str, params: dict[str, Any], n: int = 1) -> list[dict[str, Any]]:
    """The spans of the one trace matching ``where``, once ``n`` are visible (acked is durable at
    once, visible a moment later)."""
    sql = f"SELECT DISTINCT trace_id FROM spans WHERE {where}"
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        rows = await live.store.backend.query(sql, params)
        if rows:
            spans: list[dict[str, Any]] = await live.store.reader.trace("default", rows[0]["trace_id"])
            if len(spans) >= n:
                return spans
        assert asyncio.get_running_loop().time() < deadline, f"nothing matches {where}"
        await asyncio.sleep(0.05)


def _usage(span: dict[str, Any]) -> tuple[int, int, int]:
    return span["input_tokens"], span["output_tokens"], span["total_tokens"]


async def test_streamed_calls_without_usage_counted(live: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """openai-v2 traces a call streamed without usage (counted) and one streamed with it (the
    API's own counts kept)."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    answers = []
    for service, options in (("streamed-app", None), ("streamed-usage-app", {"include_usage": True})):
        tp = provider(exporter("http", live), service=service)
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(tracer_provider=tp)
        try:
            async with fake_openai() as base_url:
                with openai.OpenAI(base_url=base_url, api_key="sk-fake") as client:

                    def stream(client: openai.OpenAI = client, options: Any = options) -> str:
                        extra = {"stream_options": options} if options else {}
                        chunks = client.chat.completions.create(
                            model="gpt-4o-mini", messages=MESSAGES, stream=True, **extra
                        )
                        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

                    answers.append(await in_thread(stream))
        finally:
            instrumentor.uninstrument()
            tp.force_flush()
            tp.shutdown()
    assert answers == ["Paris is sunny, 21°C."] * 2

    [span] = await _spans(live, "service_name = 'streamed-app'", {})
    assert span["observation_type"] == "GENERATION" and span["model"] == "gpt-4o-mini-2024-07-18"
    assert "gen_ai.usage.input_tokens" not in span["span_attributes"]  # the sender reported none
    assert _usage(span) == COUNTED
    assert span["usage_details"] == {"input": 18, "output": 8, "total": 26}
    assert span["total_cost"] == COUNTED_COST
    assert span["span_attributes"]["tracehouse.usage.counted"] == "tiktoken o200k_base"
    [reported] = await _spans(live, "service_name = 'streamed-usage-app'", {})
    assert _usage(reported) == (31, 9, 40)
    assert "tracehouse.usage.counted" not in reported["span_attributes"]
    assert reported["total_cost"] == Decimal("0.00001005")


async def test_langfuse_clients_streamed_without_usage_counted(live: Running) -> None:
    """langfuse 5.x's OpenAI client (OTLP) and langfuse 3.x for JavaScript's OpenAI wrapper (the
    ingestion API) stream answers without usage: each generation is counted and priced."""
    pair = await make_key(live)
    async with fake_openai() as base_url:
        python = await asyncio.to_thread(
            run_sdk, "5", "v5_openai_streamed.py", live.api_url, pair, base_url, isolated=False
        )
        js = await asyncio.to_thread(run_js, "js_openai.cjs", live.api_url, pair, base_url, modules=JS_LANGCHAIN)
    assert python["answer"] == "Paris is sunny, 21°C."
    spans = await _spans(live, "trace_id = {t:String}", {"t": python["trace_id"]}, 2)
    [answer] = [s for s in spans if s["name"] == "streamed-answer"]
    assert answer["observation_type"] == "GENERATION"
    assert answer["output"] == "Paris is sunny, 21°C."
    assert _usage(answer) == COUNTED
    assert answer["total_cost"] == COUNTED_COST
    assert answer["span_attributes"]["tracehouse.usage.counted"] == "tiktoken o200k_base"
    # JavaScript: a tool on offer ({"messages", "tools"}) and a streamed call of it. Input: the
    # user's message (3 + 3 + 1 + 4) and the tools' JSON text; output: the calls' JSON text.
    spans = await _spans(live, "trace_id = {t:String}", {"t": js["trace_id"]}, 2)
    [ask] = [s for s in spans if s["name"] == "ask"]
    tools = json.loads(ask["input"])["tools"]
    calls = json.loads(ask["output"])["tool_calls"]
    inp, out = 11 + _tokens(_compact(tools)), _tokens(_compact(calls))
    assert _usage(ask) == (inp, out, inp + out)
    assert ask["total_cost"] > 0
    assert ask["span_attributes"]["tracehouse.usage.counted"] == "tiktoken o200k_base"  # the ingestion API's
    # The Langfuse read API gives the counts as the generation's usage.
    import httpx

    async with httpx.AsyncClient() as http:
        r = await http.get(f"{live.api_url}/api/public/observations/{answer['span_id']}", headers=basic(pair))
    assert r.status_code == 200
    assert r.json()["usageDetails"] == {"input": 18, "output": 8, "total": 26}
    assert r.json()["calculatedTotalCost"] == pytest.approx(7.5e-6)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _tokens(text: str) -> int:
    import tiktoken

    return len(tiktoken.get_encoding("o200k_base").encode_ordinary(text))


async def test_llamaindex_counts_only_its_model_calls(live: Running) -> None:
    """LlamaIndex through OpenInference (Langfuse's guide for it): its agent streams its model
    calls, which report no usage (counted), and OpenInference marks as model calls, without usage,
    the step that prepares each call (its arguments: tools, history) and ``predict`` around a
    call that reports its own. Counted, those added their arguments' text to the trace's tokens
    and cost (ten times the agent's calls'): only the calls are counted."""
    pair = await make_key(live)
    async with fake_openai() as base_url:
        sent = await asyncio.to_thread(run_framework, "llamaindex", "llamaindex_app.py", live.api_url, pair, base_url)
    assert sent["answers"] == ["Paris is sunny, 21°C."] * 2
    spans = await _spans(live, "trace_id = {t:String}", {"t": sent["agent"]}, 12)
    calls = sorted((s for s in spans if s["observation_type"] == "GENERATION"), key=lambda s: s["start_time"])
    assert [c["name"] for c in calls] == ["OpenAI._prepare_chat_with_tools", "OpenAI.astream_chat"] * 2
    prepared, streamed = calls[0::2], calls[1::2]
    assert all(_usage(c) == (0, 0, 0) and c["total_cost"] == 0 for c in prepared)
    assert all(c["span_attributes"]["tracehouse.usage.counted"] == "tiktoken o200k_base" for c in streamed)
    # The first call: "Be brief." and "Weather in Paris?" (3 + (3 + 1 + 3) + (3 + 1 + 4) = 18), its
    # answer the tool's call: its name and arguments (1 + 5).
    assert _usage(streamed[0]) == (18, 6, 24)
    spans = await _spans(live, "trace_id = {t:String}", {"t": sent["predict"]}, 2)
    by_name = {s["name"]: s for s in spans}
    assert _usage(by_name["OpenAI.predict"]) == (0, 0, 0)
    assert _usage(by_name["OpenAI.chat"]) == (31, 9, 40)  # as the API reported it


async def test_what_is_not_counted_and_garbage(live: Running) -> None:
    """Through the ingestion API: reported usage (in tokens or another unit) and a sender's cost
    are kept as sent; a model whose tokenizer is not OpenAI's, a span that is not a generation, a
    generation with nothing to count, one whose input is not a prompt and a failed one stay without
    tokens; garbage in a generation's input and output costs nothing else (stored, counted as text
    where it is text)."""
    headers = basic(await make_key(live))
    trace = "c" * 32
    base = {"traceId": trace, "model": "gpt-4o-mini", "input": MESSAGES, "output": "Paris is sunny, 21°C."}
    bodies: dict[str, dict[str, Any]] = {
        "counted": {},
        "reported": {"usage": {"input": 5, "output": 2, "unit": "TOKENS"}},
        "characters": {"usage": {"input": 50, "output": 20, "unit": "CHARACTERS"}},
        "priced": {"usage": {"totalCost": 0.5}},
        "other-model": {"model": "claude-3-5-sonnet-20241022"},
        "unknown-model": {"model": "my-finetune"},
        "nothing": {"input": None, "output": None},
        "garbage-json": {"input": '[{"role": 5', "output": {"role": None, "content": [1, None, {"type": "x"}]}},
        "garbage-messages": {"input": [{"role": 7, "content": {"a": 1}, "name": 3}, {"role": "u"}], "output": [[]]},
        "deep": {
            "input": [{"role": "user", "content": json.loads("[" * 200 + "]" * 200)}],
            "output": "\ud83d\ude00 <|endoftext|>",
        },
        # A function's arguments, not a prompt (LlamaIndex's _prepare_chat_with_tools, as
        # OpenInference marks it a model call): nothing a model was given to count.
        "arguments": {"input": {"tools": ["<FunctionTool>"], "chat_history": ["ChatMessage(role=user)"]}},
        # A failed call: its output is the error, which no model wrote.
        "failed": {"level": "ERROR", "output": "Connection error.", "statusMessage": "Connection error."},
    }
    events = [{"id": "t", "type": "trace-create", "timestamp": "2026-12-01T10:00:00.000Z", "body": {"id": trace}}]
    events += [
        {"id": f"e-{name}", "type": "generation-create", "timestamp": "2026-12-01T10:00:00.000Z",
         "body": {**base, "id": name, "name": name, **body}}
        for name, body in bodies.items()
    ]  # fmt: skip
    events.append({"id": "e-span", "type": "span-create", "timestamp": "2026-12-01T10:00:00.000Z",
                   "body": {**base, "id": "span", "name": "span"}})  # fmt: skip
    status, doc = await ingest(live, headers, events)
    assert status == 207 and not doc["errors"], doc
    by_name = {s["name"]: s for s in await _spans(live, "trace_id = {t:String}", {"t": trace}, len(bodies) + 2)}
    assert _usage(by_name["counted"]) == COUNTED
    assert by_name["counted"]["total_cost"] == COUNTED_COST
    assert _usage(by_name["reported"]) == (5, 2, 7)
    assert "tracehouse.usage.counted" not in by_name["reported"]["span_attributes"]
    assert _usage(by_name["characters"]) == (0, 0, 0)
    assert _usage(by_name["priced"]) == (0, 0, 0) and by_name["priced"]["total_cost"] == Decimal("0.5")
    for name in ("other-model", "unknown-model", "nothing", "span", "arguments", "failed"):
        assert _usage(by_name[name]) == (0, 0, 0), name
    # Garbage: stored as sent; where it is text, its text is counted.
    assert by_name["garbage-json"]["input"] == '[{"role": 5'
    assert by_name["garbage-json"]["input_tokens"] == _tokens('[{"role": 5')
    assert by_name["garbage-messages"]["input_tokens"] > 0
    assert by_name["deep"]["output_tokens"] == _tokens("\U0001f600 <|endoftext|>")


def test_without_encodings_nothing_is_counted(tmp_path: Path) -> None:
    """Where tiktoken's encodings cannot be had (no cache, no internet), a generation is left
    uncounted, said once in the log, and the next ones are not held up."""
    script = (
        "import logging\n"
        "logging.basicConfig()\n"
        "from otlp_receiver.token_count import counted_usage\n"
        "print(counted_usage('gpt-4o-mini', 'Weather in Paris?', 'Sunny.'))\n"
        "print(counted_usage('gpt-4o', 'Weather in Oslo?', 'Rain.'))\n"
    )
    # A cache directory that is a file: no encoding can be read or written, whether or not this
    # machine has internet access.
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TIKTOKEN_CACHE_DIR": str(blocked), "HTTPS_PROXY": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["None", "None"]
    assert result.stderr.count("generations without usage are not counted") == 1, result.stderr
