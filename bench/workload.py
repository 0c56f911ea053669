"""A seeded workload of realistic GenAI traces, as OTLP protobuf export requests.

Each trace is an agent run: an ``invoke_agent`` root with 3-8 children drawn from chat
completions (0.5-4 KB of message JSON each way), tool calls, retrievals and embeddings;
about 5% of spans fail. Half of the traces use the OTel GenAI conventions, half
OpenInference, as mixed fleets do. Spans average about 3 KB.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-20250514", "gemini-2.5-flash", "gpt-4.1-mini", "deepseek-chat"]
TOOLS = ["get_weather", "search_orders", "lookup_customer", "create_ticket", "send_email"]
WORDS = [
    "the",
    "order",
    "customer",
    "shipping",
    "refund",
    "please",
    "account",
    "weather",
    "city",
    "tomorrow",
    "invoice",
    "status",
    "delayed",
    "support",
    "agent",
    "policy",
    "return",
    "within",
    "days",
    "item",
    "package",
    "tracking",
    "number",
    "email",
    "address",
    "help",
    "thanks",
]
SERVICES = ["support-bot", "sales-assistant", "rag-search", "billing-agent"]


def _kv(key: str, value: object) -> KeyValue:
    v = AnyValue()
    if isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, int):
        v.int_value = value
    elif isinstance(value, float):
        v.double_value = value
    elif isinstance(value, list):
        for item in value:
            v.array_value.values.add().string_value = str(item)
    else:
        v.string_value = str(value)
    return KeyValue(key=key, value=v)


@dataclass
class Batch:
    body: bytes
    spans: int
    trace_ids: list[str]
    salt: bytes

    def fresh(self, salt: bytes) -> tuple[bytes, list[str]]:
        """The same request with new trace ids (the salt replaced)."""
        old = self.salt.hex()
        return self.body.replace(self.salt, salt), [t.replace(old, salt.hex()) for t in self.trace_ids]


class Workload:
    def __init__(self, seed: int = 42) -> None:
        self.rng = random.Random(seed)

    def _text(self, size: int) -> str:
        words = []
        total = 0
        while total < size:
            w = self.rng.choice(WORDS)
            words.append(w)
            total += len(w) + 1
        return " ".join(words)

    def _messages(self, size: int) -> str:
        half = max(40, size // 2)
        return json.dumps(
            [
                {"role": "system", "parts": [{"type": "text", "content": self._text(half // 3)}]},
                {"role": "user", "parts": [{"type": "text", "content": self._text(half)}]},
            ]
        )

    def _span(self, span: Span, trace_id: bytes, parent: bytes, start: int, name: str) -> None:
        span.trace_id = trace_id
        span.span_id = self.rng.randbytes(8)
        span.parent_span_id = parent
        span.name = name
        span.start_time_unix_nano = start
        duration = self.rng.randint(20, 4000) * 1_000_000
        span.end_time_unix_nano = start + duration
        if self.rng.random() < 0.05:
            span.status.code = Status.STATUS_CODE_ERROR
            span.status.message = "upstream error: 503 service unavailable"

    def _chat(self, span: Span, openinference: bool) -> None:
        model = self.rng.choice(MODELS)
        tokens_in = self.rng.randint(200, 3000)
        tokens_out = self.rng.randint(20, 600)
        inp = self._messages(self.rng.randint(500, 4000))
        out = json.dumps(
            [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": self._text(self.rng.randint(400, 3000))}],
                    "finish_reason": "stop",
                }
            ]
        )
        span.kind = Span.SPAN_KIND_CLIENT
        if openinference:
            attrs = {
                "openinference.span.kind": "LLM",
                "llm.model_name": model,
                "llm.provider": "openai",
                "llm.token_count.prompt": tokens_in,
                "llm.token_count.completion": tokens_out,
                "llm.token_count.total": tokens_in + tokens_out,
                "llm.invocation_parameters": json.dumps({"temperature": 0.3, "max_tokens": 1024}),
                "input.value": inp,
                "input.mime_type": "application/json",
                "output.value": out,
                "output.mime_type": "application/json",
            }
        else:
            attrs = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": model,
                "gen_ai.response.model": model,
                "gen_ai.response.id": "chatcmpl-" + self.rng.randbytes(8).hex(),
                "gen_ai.request.temperature": 0.3,
                "gen_ai.request.max_tokens": 1024,
                "gen_ai.usage.input_tokens": tokens_in,
                "gen_ai.usage.output_tokens": tokens_out,
                "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.input.messages": inp,
                "gen_ai.output.messages": out,
                "server.address": "api.openai.com",
            }
        span.attributes.extend(_kv(k, v) for k, v in attrs.items())

    def _tool(self, span: Span) -> None:
        tool = self.rng.choice(TOOLS)
        span.attributes.extend(
            [
                _kv("gen_ai.operation.name", "execute_tool"),
                _kv("gen_ai.tool.name", tool),
                _kv("gen_ai.tool.call.id", "call_" + self.rng.randbytes(6).hex()),
                _kv("gen_ai.tool.call.arguments", json.dumps({"query": self._text(60)})),
                _kv("gen_ai.tool.call.result", json.dumps({"result": self._text(self.rng.randint(600, 3000))})),
            ]
        )

    def _retrieval(self, span: Span) -> None:
        span.attributes.extend(
            [
                _kv("openinference.span.kind", "RETRIEVER"),
                _kv("input.value", self._text(80)),
                _kv("output.value", json.dumps([{"id": i, "content": self._text(700)} for i in range(4)])),
                _kv("retrieval.top_k", 4),
            ]
        )

    def _embedding(self, span: Span) -> None:
        span.attributes.extend(
            [
                _kv("gen_ai.operation.name", "embeddings"),
                _kv("gen_ai.request.model", "text-embedding-3-small"),
                _kv("gen_ai.usage.input_tokens", self.rng.randint(10, 400)),
                _kv("gen_ai.embeddings.dimension.count", 1536),
            ]
        )

    def trace(self, scope_spans: object, start: int, salt: bytes) -> tuple[str, int]:
        """Append one agent trace to ``scope_spans``; return its hex id and span count. Trace ids
        end in the request's 8-byte ``salt``, so a replayer can make a request's traces new by
        replacing the salt (one ``bytes.replace``) instead of generating again."""
        trace_id = self.rng.randbytes(8) + salt
        root = scope_spans.spans.add()  # type: ignore[attr-defined]
        self._span(root, trace_id, b"", start, "invoke_agent support")
        openinference = self.rng.random() < 0.5
        root.attributes.extend(
            [
                _kv("gen_ai.operation.name", "invoke_agent"),
                _kv("gen_ai.agent.name", "support"),
                _kv("session.id", f"session-{self.rng.randint(1, 5000)}"),
                _kv("user.id", f"user-{self.rng.randint(1, 800)}"),
                _kv("tag.tags", ["prod", self.rng.choice(["eu", "us", "apac"])]),
                _kv("input.value", self._text(800)),
                _kv("output.value", self._text(1200)),
            ]
        )
        children = self.rng.randint(3, 8)
        t = start + 1_000_000
        for _ in range(children):
            kind = self.rng.choices(["chat", "tool", "retrieval", "embedding"], [5, 3, 1, 1])[0]
            span = scope_spans.spans.add()  # type: ignore[attr-defined]
            self._span(span, trace_id, root.span_id, t, kind)
            if kind == "chat":
                self._chat(span, openinference)
                span.name = "chat " + next(
                    kv.value.string_value
                    for kv in span.attributes
                    if kv.key in ("gen_ai.request.model", "llm.model_name")
                )
            elif kind == "tool":
                self._tool(span)
                span.name = "execute_tool"
            elif kind == "retrieval":
                self._retrieval(span)
            else:
                self._embedding(span)
            t = span.end_time_unix_nano
        root.end_time_unix_nano = t + 1_000_000
        return trace_id.hex(), children + 1

    def batches(self, total_spans: int, spans_per_request: int, start_ns: int) -> Iterator[Batch]:
        """Requests of about ``spans_per_request`` spans (whole traces) until ``total_spans``."""
        made = 0
        t = start_ns
        while made < total_spans:
            request = ExportTraceServiceRequest()
            rs = request.resource_spans.add()
            rs.resource.attributes.extend(
                [
                    _kv("service.name", self.rng.choice(SERVICES)),
                    _kv("service.version", "1.4.2"),
                    _kv("deployment.environment.name", "production"),
                    _kv("telemetry.sdk.language", "python"),
                    _kv("telemetry.sdk.name", "opentelemetry"),
                    _kv("telemetry.sdk.version", "1.45.1"),
                ]
            )
            ss = rs.scope_spans.add()
            ss.scope.name = "bench.agent"
            ss.scope.version = "0.1"
            spans = 0
            ids = []
            salt = self.rng.randbytes(8)
            while spans < spans_per_request and made + spans < total_spans:
                trace_id, n = self.trace(ss, t, salt)
                ids.append(trace_id)
                spans += n
                t += 2_000_000
            made += spans
            yield Batch(request.SerializeToString(), spans, ids, salt)
