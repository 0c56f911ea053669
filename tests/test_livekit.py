"""LiveKit Agents' traces as its users send them (LiveKit 1.x's own tracing, set up as Langfuse's
guide for LiveKit does), against a fake of the OpenAI API: a text session's turn with a tool call.
LiveKit keeps a turn's and its model step's values in its own keys (``lk.pii.user_input``,
``lk.pii.chat_ctx``, ``lk.pii.response.text``, ``.function_calls``); they read back as the turn's
input and reply and the step's messages, its model calls counted once. Through the Langfuse API
and in chromium."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.fake_judge import in_thread
from tests.fake_openai import fake_openai
from tests.langfuse_helpers import basic, run_framework
from tests.test_ui_first_run import until_listed
from tests.test_ui_trace_details import _signed_up_with_key

CALL = {"type": "tool_call", "id": "call_weather", "name": "weather", "arguments": {"city": "Paris"}}
RESULT = {"type": "tool_call_response", "id": "call_weather", "response": "sunny in Paris"}


def _text(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def test_livekit_session_reads_back(tmp_path: Path) -> None:
    with in_thread(fake_openai) as base_url, _signed_up_with_key(tmp_path, "livekit") as (srv, page, pair):
        sent = run_framework("livekit", "livekit_app.py", srv.api_url, pair, base_url)
        [trace_id] = sent["trace_ids"]  # the session: one trace
        until_listed(srv.api_url, basic(pair), trace_id)
        request = urllib.request.Request(f"{srv.api_url}/api/public/traces/{trace_id}", headers=basic(pair))
        with urllib.request.urlopen(request) as response:
            trace = json.load(response)
        assert trace["sessionId"] == "room-42"
        named: dict[str, list[dict[str, Any]]] = {}
        for observation in sorted(trace["observations"], key=lambda o: o["startTime"]):
            named.setdefault(observation["name"], []).append(observation)

        # The turn: the user's input and the agent's reply (both were empty).
        [turn] = named["agent_turn"]
        assert turn["type"] == "AGENT"
        assert turn["input"] == "Weather in Paris?"
        assert turn["output"] == [_text("assistant", "Paris is sunny, 21°C.")]
        # Each model step: the context it sent as messages (LiveKit's items; its configuration
        # update left out), its reply as the assistant's message with the tool call or the text.
        first, second = named["llm_node"]
        asked = [_text("system", "Be brief."), _text("user", "Weather in Paris?")]
        assert first["input"] == asked
        assert first["output"] == [{"role": "assistant", "parts": [CALL]}]
        assert second["input"] == [
            *asked,
            {"role": "assistant", "parts": [CALL]},
            {"role": "tool", "parts": [RESULT], "name": "weather"},
        ]
        assert second["output"] == [_text("assistant", "Paris is sunny, 21°C.")]
        # A step is no model call of its own: only its requests are counted (the step's context
        # counted too would double the turn's tokens and cost).
        assert [o["type"] for o in named["llm_node"]] == ["SPAN", "SPAN"]
        requests = named["llm_request"]
        assert [(o["type"], o["usageDetails"]) for o in requests] == [
            ("GENERATION", {"input": 31, "output": 9, "total": 40})
        ] * 2
        counted = [o for o in trace["observations"] if o["usageDetails"]]
        assert sorted(o["name"] for o in counted) == ["llm_request", "llm_request"]
        [tool] = named["function_tool"]
        assert (tool["type"], tool["input"], tool["output"]) == ("TOOL", {"city": "Paris"}, "sunny in Paris")

        # In the browser: the turn's input and reply, a step's messages as chat.
        page.goto(f"{srv.api_url}/project/default/traces/{trace_id}")
        page.locator(".row").filter(has=page.get_by_text("agent_turn", exact=True)).click()
        detail = page.locator(".detail")
        expect(detail.locator("section.io").first).to_contain_text("Weather in Paris?")
        expect(detail.locator("section.io").last).to_contain_text("Paris is sunny, 21°C.")
        page.locator(".row").filter(has=page.get_by_text("llm_node", exact=True)).last.click()
        expect(detail.locator("section.io").first.locator(".msg .role")).to_have_text(
            ["System", "User", "Assistant", "Tool"]
        )
