"""A trace's details in chromium, beside its messages: the metadata, model parameters, level,
status message and version that the langfuse SDKs send, for a Dify trace (SDK 2.x, the ingestion
API) and an SDK 5.x trace (OTLP); the store's own bookkeeping attribute shown nowhere; the trace's
input and output that SDK 4 sets apart from its spans'; LangChain's values as Langfuse's LangChain
handler stores them, as chat (and its JavaScript handler's tool calls, also in the playground); a
request's tools as Langfuse's OpenAI client records them."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import Server, start_server
from tests.fake_judge import in_thread, threaded_fake_judge
from tests.fake_openai import fake_openai
from tests.langfuse_helpers import JS_LANGCHAIN, KeyPair, basic, run_js, run_sdk
from tests.test_ui import api, browser_page, new_key
from tests.test_ui_first_run import run_program, signed_up, until_listed


def table_of(section) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A detail section's table, key to value."""
    rows = section.locator("tr")
    return {rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("td").inner_text() for i in range(rows.count())}


@contextlib.contextmanager
def _signed_up_with_key(tmp_path: Path, note: str) -> Iterator[tuple[Server, Page, KeyPair]]:
    """A server, its admin's page and a key; no request failed and nothing was logged by the end."""
    srv = start_server(tmp_path / "data")
    try:
        errors: list[str] = []
        with browser_page(errors) as page:
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            signed_up(page, srv.api_url)
            yield srv, page, new_key(page, note)
        assert errors == []
    finally:
        srv.stop()


def test_trace_details_of_langfuse_sdks(tmp_path: Path) -> None:
    with _signed_up_with_key(tmp_path, "sdks") as (srv, page, pair):
        dify = run_sdk("2", "v2_dify.py", srv.api_url, pair)
        v5 = run_sdk("5", "v5_trace_details.py", srv.api_url, pair)

        # Dify's trace: the trace's metadata (merged over its update) and version.
        page.goto(f"{srv.api_url}/project/default/traces/{dify['trace_id']}")
        page.get_by_role("heading", name="message", exact=True).wait_for()
        panel = page.locator(".panel")
        metadata = panel.locator("section", has=page.get_by_role("heading", name="Metadata", exact=True))
        assert table_of(metadata) == {"app_id": "app-1", "nested": '{"a":1,"b":2}'}
        assert "version 1.0" in panel.locator("p.muted").first.inner_text()
        assert "langfuse.state" not in panel.inner_text()
        # Its LLM node: the model parameters Dify sends, and the node's metadata.
        page.locator(".row", has_text="LLM").click()
        panel.get_by_role("heading", name="LLM").wait_for()
        params = panel.locator("section", has=page.get_by_role("heading", name="Model parameters"))
        assert table_of(params) == {"temperature": "0.2", "max_tokens": "512"}
        assert table_of(metadata) == {"node_type": "llm"}
        usage = table_of(panel.locator("table.usage"))
        assert usage["Input tokens"] == "120" and "Cache read" not in usage and "Reasoning" not in usage
        # Each cost by its kind, named in the reader's language, with the rate it implies.
        assert usage["Cost: Input"].endswith("at $2.5000 / 1M tokens"), usage
        assert "Cost: Output" in usage and "Cost: input" not in usage
        assert "langfuse.state" not in panel.inner_text()

        # SDK 5's generation: level, status message and version beside its parameters.
        page.goto(f"{srv.api_url}/project/default/traces/{v5['trace_id']}")
        # A warning is marked in the tree, its message in the mark's title.
        mark = page.locator(".row", has_text="draft-reply").locator(".warn")
        assert mark.get_attribute("title") == "rate limited once, retried"
        assert page.locator(".row .warn").count() == 1 and page.locator(".row .err").count() == 0
        page.locator(".row", has_text="draft-reply").click()
        panel.get_by_role("heading", name="draft-reply").wait_for()
        facts = panel.locator("p.muted").first.inner_text()
        assert "level WARNING" in facts and "version reply-v3" in facts, facts
        assert "rate limited once, retried" in facts
        assert table_of(params) == {"temperature": "0.3", "max_tokens": "200"}
        assert table_of(metadata) == {"ticket": "T-981", "attempt": "2"}
        usage = table_of(panel.locator("table.usage"))
        assert usage["Input tokens"] == "70" and usage["Cache read"] == "30"  # Langfuse's 40 + 30 cached
        # Each rate is the model's price: input is charged for its 40 uncached tokens only.
        assert usage["Cost: Input"].endswith("at $0.1500 / 1M tokens"), usage
        assert usage["Cost: Cache read"].endswith("at $0.0750 / 1M tokens"), usage
        # Its many span attributes (SDK 5 sends them over OTLP) can be filtered.
        attributes = panel.locator("section", has=page.get_by_role("heading", name="Span attributes"))
        assert attributes.locator("tr").count() > 6
        attributes.get_by_placeholder("Filter attributes").fill("status_message")
        visible = attributes.locator("tr:visible")
        assert visible.count() == 1 and "rate limited once" in visible.inner_text()
        page.screenshot(path=str(tmp_path / "details.png"))

        # The REST API gives the same spans without the bookkeeping attribute either.
        token = base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()
        sent = urllib.request.Request(
            f"{srv.api_url}/api/v1/traces/{dify['trace_id']}", headers={"Authorization": f"Basic {token}"}
        )
        with urllib.request.urlopen(sent) as r:
            spans = json.load(r)["spans"]
        assert len(spans) == 3 and not any("langfuse.state" in s["span_attributes"] for s in spans)
        # Metadata as stored: each value's JSON text.
        assert {s["name"]: s["metadata"] for s in spans}["LLM"] == {"node_type": '"llm"'}

        # SDK 4's trace input and output set apart from the spans' (set_trace_io): on the trace's
        # first span, above its own; not on the child that set them.
        io = run_sdk("4", "v4_trace_io.py", srv.api_url, pair)
        page.goto(f"{srv.api_url}/project/default/traces/{io['trace_id']}")
        panel.get_by_role("heading", name="agent").wait_for()
        headings = panel.locator("section.io h3").all_text_contents()
        assert headings == ["Trace input", "Trace output", "Input", "Output"], headings
        trace_input = panel.locator("section.io", has=page.get_by_role("heading", name="Trace input", exact=True))
        assert "What is the capital of France?" in trace_input.inner_text()
        own = panel.locator("section.io", has=page.get_by_role("heading", name="Input", exact=True))
        assert "kwargs" in own.inner_text()
        page.screenshot(path=str(tmp_path / "trace-io.png"))
        page.locator(".row", has_text="retrieve").click()
        panel.get_by_role("heading", name="retrieve").wait_for()
        assert panel.locator("section.io h3").all_text_contents() == ["Input"]
        assert "capital France" in panel.locator("section.io").inner_text()

        # In Chinese, the kinds of cost too, and the trace's input named.
        page.goto(f"{srv.api_url}/project/default/traces/{dify['trace_id']}?lang=zh-CN")
        page.locator(".row", has_text="LLM").click()
        panel.get_by_role("heading", name="LLM").wait_for()
        usage = table_of(panel.locator("table.usage"))
        assert "成本：输入" in usage and "成本：输出" in usage, usage
        assert "用户" in panel.locator(".msg .role").all_text_contents()  # a message's role named in Chinese
        page.goto(f"{srv.api_url}/project/default/traces/{io['trace_id']}?lang=zh-CN")
        panel.get_by_role("heading", name="agent").wait_for()
        assert panel.locator("section.io h3").all_text_contents() == ["追踪输入", "追踪输出", "输入", "输出"]


# The OpenTelemetry SDK's typed attributes: arrays, numbers and booleans, on a span, its resource
# and an event of it (langfuse SDK 3.x to 5.x send trace tags as such an array).
TYPED_PROGRAM = """
import os
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

resource = Resource.create({"service.name": "typed", "host.ips": ["10.0.0.1", "10.0.0.2"]})
provider = TracerProvider(resource=resource)
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=os.environ["ENDPOINT"])))
with provider.get_tracer("typed").start_as_current_span("typed-span") as span:
    span.set_attribute("langfuse.trace.tags", ["sdk-v4", "退货"])
    span.set_attribute("retry.codes", [429, 503])
    span.set_attribute("attempts", 3)
    span.set_attribute("cached", True)
    span.add_event("retried", {"codes": [429, 503], "note": "once"})
provider.shutdown()
"""


EMBEDDING_PROGRAM = """
import os
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=os.environ["ENDPOINT"])))
usage = {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
         "gen_ai.usage.input_tokens": 7}
with provider.get_tracer("embed").start_as_current_span("embed-question", attributes=usage):
    pass
provider.shutdown()
"""


def test_a_cost_below_a_millionth_of_a_dollar_shows(tmp_path: Path) -> None:
    """An embedding of 7 tokens costs $0.00000014: shown by its first digits (six places showed
    $0.000000, a cost that looked like none), in English and in Chinese."""
    with _signed_up_with_key(tmp_path, "tiny") as (srv, page, pair):
        token = base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()
        env = {"ENDPOINT": srv.otlp_http_url + "/v1/traces",
               "OTEL_EXPORTER_OTLP_TRACES_HEADERS": f"Authorization=Basic%20{token}"}  # fmt: skip
        run_program(EMBEDDING_PROGRAM, env)
        until_listed(srv.api_url, basic(pair))
        page.goto(f"{srv.api_url}/project/default/traces")
        row = page.locator("table.traces tbody tr", has_text="embed-question")
        expect(row).to_contain_text("$0.00000014")
        page.goto(f"{srv.api_url}/project/default/traces?lang=zh-CN")
        expect(page.locator("table.traces tbody tr", has_text="embed-question")).to_contain_text("US$0.00000014")


def test_typed_attributes_read_as_values(tmp_path: Path) -> None:
    """Arrays read as JSON arrays, not as the OTLP/JSON AnyValue they are stored as (the tables
    showed {"arrayValue":{"values":[{"stringValue":"sdk-v4"}]}})."""
    srv = start_server(tmp_path / "data")
    try:
        errors: list[str] = []
        with browser_page(errors) as page:
            signed_up(page, srv.api_url)
            pair = new_key(page, "typed")
            token = base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()
            run_program(
                TYPED_PROGRAM,
                {
                    "ENDPOINT": srv.otlp_http_url + "/v1/traces",
                    "OTEL_EXPORTER_OTLP_TRACES_HEADERS": f"Authorization=Basic%20{token}",
                },
            )
            until_listed(srv.api_url, {"Authorization": f"Basic {token}"})
            page.goto(f"{srv.api_url}/project/default/traces")
            page.get_by_role("link", name="typed-span").click()
            panel = page.locator(".panel")
            panel.get_by_role("heading", name="typed-span").wait_for()
            attributes = table_of(panel.locator("section", has=page.get_by_role("heading", name="Span attributes")))
            assert attributes["langfuse.trace.tags"] == '["sdk-v4","退货"]', attributes
            assert attributes["retry.codes"] == "[429,503]"
            assert attributes["attempts"] == "3" and attributes["cached"] == "true"
            resource = table_of(panel.locator("section", has=page.get_by_role("heading", name="Resource attributes")))
            assert resource["host.ips"] == '["10.0.0.1","10.0.0.2"]', resource
            event = panel.locator(".events li", has_text="retried").inner_text()
            assert "[429,503]" in event and "arrayValue" not in event, event
            assert "arrayValue" not in panel.inner_text()

            # The list's filters find it by an element of an array, as the page shows them; each
            # answer differs from the one before, so that each is seen to arrive.
            page.goto(f"{srv.api_url}/project/default/traces")
            page.get_by_text("More filters").click()
            attribute, traceql = page.get_by_label("Attribute key=value"), page.locator("input[name=traceql]")
            for field, value, found in (
                (attribute, "retry.codes=500", False),
                (attribute, "retry.codes=503", True),
                (attribute, "langfuse.trace.tags=sdk", False),  # a whole element, not part of one
                (attribute, "langfuse.trace.tags=退货", True),
                (traceql, '{ span.langfuse.trace.tags != "sdk-v4" }', False),
                (traceql, '{ span.retry.codes >= 500 && span.langfuse.trace.tags = "sdk-v4" }', True),
            ):
                attribute.fill("")
                traceql.fill("")
                field.fill(value)
                page.get_by_role("button", name="Apply").click()
                if found:
                    expect(page.get_by_role("link", name="typed-span")).to_be_visible()
                else:
                    expect(page.get_by_text("No traces match in this range.")).to_be_visible()
        assert errors == []
    finally:
        srv.stop()


def test_langchain_handler_values_read_as_chat(tmp_path: Path) -> None:
    """Langfuse's LangChain callback handler (SDK 5.x) tracing LangGraph's prebuilt agent stores
    LangChain's values: the graph's input as (role, text) pairs (shown as an empty chat), its
    state's messages as LangChain dumps them (shown without roles, the tool call's arguments
    as {}), a model call's tool definitions as tool messages holding them (shown empty). All
    read as chat."""
    with _signed_up_with_key(tmp_path, "langchain") as (srv, page, pair):
        graph = run_sdk("5", "v5_langchain.py", srv.api_url, pair, isolated=False)
        until_listed(srv.api_url, basic(pair))  # acked is stored at once, listed a moment later
        page.goto(f"{srv.api_url}/project/default/traces/{graph['trace_id']}")
        detail = page.locator(".detail")
        sections = detail.locator("section.io")
        expect(sections).to_have_count(2)
        asked, answered = sections.nth(0), sections.nth(1)
        expect(asked.locator(".msg .role")).to_have_text(["User"])
        expect(asked.locator(".msg")).to_contain_text("What is the weather in Paris?")
        expect(answered.locator(".msg .role")).to_have_text(["User", "Assistant", "Tool", "Assistant"])
        expect(answered.locator(".part.tool pre").first).to_contain_text('"city": "Paris"')
        expect(answered.locator(".msg").last).to_contain_text("It is sunny in Paris.")
        # A model call's input: the tools it was given, which the handler lists as tool
        # messages holding each definition (an empty message before).
        page.locator(".row", has_text="FakeChat").first.click()
        call = detail.locator("section.io").first
        expect(call.locator(".msg .role")).to_have_text(["User", "Tool"])
        expect(call.locator(".msg").last.locator("pre")).to_contain_text('"name": "weather"')


def test_openai_wrapper_request_shows_its_tools(tmp_path: Path) -> None:
    """Langfuse's drop-in OpenAI client (SDK 5.x) records a request with tools as
    {"tools": [...], "messages": [...]}: its messages as chat and, before them, the tools it
    offered (only the messages showed)."""
    with in_thread(fake_openai) as base_url, _signed_up_with_key(tmp_path, "openai") as (srv, page, pair):
        asked = run_sdk("5", "v5_openai.py", srv.api_url, pair, base_url, isolated=False)
        until_listed(srv.api_url, basic(pair))
        page.goto(f"{srv.api_url}/project/default/traces/{asked['trace_id']}?lang=zh-CN")
        page.locator(".row", has_text="ask-with-tools").click()
        request = page.locator(".detail section.io").first
        expect(request.locator(".msg .role")).to_have_text(["工具", "系统", "用户"])
        offered = request.locator(".msg.tools")
        expect(offered.locator("strong")).to_have_text(["weather"])
        expect(offered.locator("pre")).to_contain_text("The weather in a city.")


def test_javascript_clients_tool_calls_shown_and_replayed(tmp_path: Path) -> None:
    """Langfuse's LangChain handler for JavaScript (langfuse-langchain 3.x) tracing LangGraph.js's
    prebuilt agent over LangChain's OpenAI model sends the assistant's tool calls inside
    additional_kwargs beside an empty text (shown as an empty message), and the tool's result with
    the tool's name as its role (opened in the playground as a user's message, after a call left
    unanswered). The calls show; the playground gets the call and its result as such. Langfuse's
    OpenAI wrapper for JavaScript records a streamed answer as its tool calls alone: shown as the
    assistant's; its tokens, which it did not report, shown as counted."""
    with (
        in_thread(fake_openai) as base_url,
        threaded_fake_judge() as model,
        _signed_up_with_key(tmp_path, "langchain-js") as (srv, page, pair),
    ):
        graph = run_js("js_langchain.cjs", srv.api_url, pair, base_url, modules=JS_LANGCHAIN)
        until_listed(srv.api_url, basic(pair))
        page.goto(f"{srv.api_url}/project/default/traces/{graph['trace_id']}")
        detail = page.locator(".detail")
        calls = page.locator(".row", has_text="ChatOpenAI")
        expect(calls).to_have_count(2)
        # The first call's answer: the tool it asked for.
        calls.first.click()
        answer = detail.locator("section.io").nth(1)
        expect(answer.locator(".msg .role")).to_have_text(["Assistant"])
        expect(answer.locator(".part.tool strong")).to_have_text(["→ weather"])
        expect(answer.locator(".part.tool pre")).to_contain_text('"city": "Paris"')
        # The second's input: the question, the call, the result under the tool's name.
        calls.nth(1).click()
        asked = detail.locator("section.io").first
        expect(asked.locator(".msg .role")).to_have_text(["User", "Assistant", "weather"])
        expect(asked.locator(".msg").nth(1).locator(".part.tool strong")).to_have_text(["→ weather"])
        expect(asked.locator(".msg").nth(2)).to_contain_text("sunny in Paris")
        connection = {"provider": "local", "secretKey": "sk-play", "baseURL": model.url, "customModels": ["gpt-4o"]}
        assert api(page, "PUT", "/api/v1/llm-connections", connection)[0] == 200
        page.get_by_role("button", name="Open in playground").click()
        page.get_by_role("heading", name="Playground").wait_for()
        expect(page.get_by_label("Tool calls (JSON)")).to_have_value(re.compile(r'"name": "weather"'))
        expect(page.get_by_label("Tool call id")).to_have_value("call_weather")
        expect(page.get_by_label("Tool result")).to_have_value("sunny in Paris")
        page.get_by_role("button", name="Run", exact=True).click()
        page.locator(".playground-output").get_by_text("looks right").wait_for()
        sent = model.requests[-1]["body"]["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "tool"], sent
        assert sent[1]["tool_calls"][0]["function"]["name"] == "weather"
        assert sent[2] == {"role": "tool", "content": "sunny in Paris", "tool_call_id": "call_weather"}
        # Langfuse's OpenAI wrapper for JavaScript records a streamed answer's tool calls alone
        # ({"tool_calls": [...]}, no role): the assistant's call (shown as JSON before).
        streamed = run_js("js_openai.cjs", srv.api_url, pair, base_url, modules=JS_LANGCHAIN)
        until_listed(srv.api_url, basic(pair), streamed["trace_id"])
        page.goto(f"{srv.api_url}/project/default/traces/{streamed['trace_id']}")
        page.locator(".row", has_text="ask").click()
        answer = detail.locator("section.io").nth(1)
        expect(answer.locator(".msg .role")).to_have_text(["Assistant"])
        expect(answer.locator(".part.tool strong")).to_have_text(["→ weather"])
        expect(answer.locator(".part.tool pre")).to_contain_text('"city": "Paris"')
        # It reported no usage (streamed without it): its tokens counted here, and said so.
        expect(detail.locator("table.usage")).to_contain_text("by Tracehouse with tiktoken o200k_base")
