"""Haystack's traces as its users send them, against a fake of the OpenAI API: by Haystack's own
OpenTelemetry tracer (``haystack.*`` keys only: every component's span named
``haystack.component.run``, a model call's model and usage inside its output, its messages in
Haystack's own shape) and by Langfuse's Haystack integration (its components' messages stored as
Haystack sends them). Read back through the Langfuse API and in chromium: names, types, models,
usage, cost, the pipeline's input as sent, and the messages as chat with their tool calls."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.fake_judge import in_thread
from tests.fake_openai import fake_openai
from tests.langfuse_helpers import KeyPair, basic, run_framework
from tests.test_ui_first_run import until_listed
from tests.test_ui_trace_details import _signed_up_with_key

MODEL = "gpt-4o-mini-2024-07-18"
USAGE = {"input": 31, "output": 9, "total": 40}  # the fake's, at $0.15/M in and $0.60/M out
COST = 0.00001005


def _trace(url: str, pair: KeyPair, trace_id: str) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """A trace through the Langfuse API, and its observations by name (in start order)."""
    request = urllib.request.Request(f"{url}/api/public/traces/{trace_id}", headers=basic(pair))
    with urllib.request.urlopen(request) as response:
        trace = json.load(response)
    named: dict[str, list[dict[str, Any]]] = {}
    for observation in sorted(trace["observations"], key=lambda o: o["startTime"]):
        named.setdefault(observation["name"], []).append(observation)
    return trace, named


def _text(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def test_haystack_traces_read_back(tmp_path: Path) -> None:
    with in_thread(fake_openai) as base_url, _signed_up_with_key(tmp_path, "haystack") as (srv, page, pair):
        sent = run_framework("haystack", "haystack_app.py", srv.api_url, pair, base_url)
        for trace_id in (*sent["otel"].values(), *sent["langfuse"].values()):
            until_listed(srv.api_url, basic(pair), trace_id)

        # Haystack's own tracer. The chat pipeline: its input as sent (a {"prompt": ...} read as
        # the AI SDK's prompt lost it), the prompt builder by its component's name, the chat
        # generator a generation with the model and usage from its output, priced.
        trace, named = _trace(srv.api_url, pair, sent["otel"]["chat"])
        assert trace["input"] == {"prompt": {"city": "Paris"}}
        assert [o["type"] for o in named["prompt"]] == ["SPAN"]
        [llm] = named["llm"]
        assert (llm["type"], llm["model"], llm["usageDetails"]) == ("GENERATION", MODEL, USAGE)
        assert abs(llm["calculatedTotalCost"] - COST) < 1e-12
        assert llm["input"] == [_text("user", "Tell me about Paris")]
        assert llm["output"] == [_text("assistant", "Paris is sunny, 21°C.")]
        # The agent: its run, its model calls (each priced), the tool by its name; the agent's
        # messages with the call and its result.
        trace, named = _trace(srv.api_url, pair, sent["otel"]["agent"])
        assert [o["type"] for o in named["haystack.agent.run"]] == ["AGENT"]
        calls = named["haystack.agent.step.llm"]
        assert [(c["type"], c["model"], c["usageDetails"]) for c in calls] == [("GENERATION", MODEL, USAGE)] * 2
        assert trace["totalCost"] > 2 * COST - 1e-12
        [tool] = named["weather"]
        assert (tool["type"], tool["input"], tool["output"]) == ("TOOL", {"city": "Paris"}, "sunny in Paris")
        call = {"type": "tool_call", "id": "call_weather", "name": "weather", "arguments": {"city": "Paris"}}
        result = {"type": "tool_call_response", "id": "call_weather", "response": "sunny in Paris"}
        assert calls[0]["output"] == [{"role": "assistant", "parts": [call]}]
        [agent] = named["agent"]
        assert agent["output"] == [
            _text("user", "Weather in Paris?"),
            {"role": "assistant", "parts": [call]},
            {"role": "tool", "parts": [result]},
            _text("assistant", "Paris is sunny, 21°C."),
        ]
        # A picture, whose data Haystack's tracing replaces with a note of its size.
        _, named = _trace(srv.api_url, pair, sent["otel"]["picture"])
        [looked] = named["llm"]
        assert looked["input"][0]["parts"] == [
            {"type": "text", "content": "What is this?"},
            {"type": "text", "content": "[image image/png: Base64 string (92 characters)]"},
        ]

        # Langfuse's integration: the agent component's messages as Haystack sends them.
        trace, named = _trace(srv.api_url, pair, sent["langfuse"]["agent"])
        assert trace["name"] == "Haystack agent"
        [agent] = named["agent"]
        assert agent["output"]["messages"][1]["content"] == [
            {"tool_call": {"tool_name": "weather", "arguments": {"city": "Paris"}, "id": "call_weather", "extra": None}}
        ]

        # In chromium: both agents' messages as chat, the call and its result among them.
        detail = page.locator(".detail")
        for trace_id in (sent["otel"]["agent"], sent["langfuse"]["agent"]):
            page.goto(f"{srv.api_url}/project/default/traces/{trace_id}")
            page.locator(".row").filter(has=page.get_by_text("agent", exact=True)).click()
            detail.get_by_role("heading", name=re.compile(r"^\W*agent$")).wait_for()  # after its type's icon
            answered = detail.locator("section.io").nth(1)
            expect(answered.locator(".msg .role")).to_have_text(["User", "Assistant", "Tool", "Assistant"])
            expect(answered.locator(".part.tool strong")).to_have_text(["→ weather", "← result"])
            expect(answered.locator(".part.tool pre").first).to_contain_text('"city": "Paris"')
            expect(answered.locator(".part.tool pre").last).to_have_text("sunny in Paris")
        # The tool's span by its name in Haystack's own trace.
        page.goto(f"{srv.api_url}/project/default/traces/{sent['otel']['agent']}")
        expect(page.locator(".row").filter(has=page.get_by_text("weather", exact=True))).to_have_count(1)
