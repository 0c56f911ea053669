"""Amazon Bedrock calls as their users trace them: boto3's Converse and ConverseStream, through
each of the three instrumentations people use (OpenTelemetry's botocore, OpenLLMetry's Bedrock,
OpenInference's Bedrock), against a fake of Bedrock's runtime API. Bedrock counts a call's input
without its cached part, and the first two pass that count on as ``gen_ai.usage.input_tokens``
(the GenAI conventions' count includes the cache): each call reads back with its input, cache
reads and writes counted and priced once, the same through all three; its messages as chat, a
tool call once. Through the Langfuse API and in chromium."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fake_bedrock import ANSWER, fake_bedrock
from tests.fake_judge import in_thread
from tests.langfuse_helpers import KeyPair, basic, run_framework
from tests.test_ui_first_run import until_listed
from tests.test_ui_trace_details import _signed_up_with_key, table_of

# The fake's usage: 300 uncached input tokens, 200 read from the cache, 5 written to it, 9 out.
USAGE = {"input": 300, "input_cached_tokens": 200, "input_cache_creation": 5, "output": 9, "total": 514}
# claude-sonnet-4.5: $3/M input, $0.30/M cache reads, $3.75/M cache writes, $15/M output.
COST = Decimal("0.0009") + Decimal("0.00006") + Decimal("0.00001875") + Decimal("0.000135")
CALL = {"type": "tool_call", "id": "tooluse_weather", "name": "weather", "arguments": {"city": "Paris"}}


def _text(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def _generations(url: str, pair: KeyPair, trace_id: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(f"{url}/api/public/traces/{trace_id}", headers=basic(pair))
    with urllib.request.urlopen(request) as response:
        trace = json.load(response)
    observations = sorted(trace["observations"], key=lambda o: o["startTime"])
    return [o for o in observations if o["type"] == "GENERATION"]


def _without_finish(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Each instrumentation names the stop its own way (tool_use, tool_call): kept as sent.
    return [{k: v for k, v in m.items() if k != "finish_reason"} for m in messages]


@pytest.mark.parametrize("instrumentation", ["botocore", "openllmetry", "openinference"])
def test_bedrock_calls_read_back(tmp_path: Path, instrumentation: str) -> None:
    with in_thread(fake_bedrock) as bedrock_url, _signed_up_with_key(tmp_path, "bedrock") as (srv, page, pair):
        sent = run_framework("bedrock", "bedrock_app.py", srv.api_url, pair, bedrock_url, instrumentation)
        until_listed(srv.api_url, basic(pair), sent["trace_id"])
        first, second, streamed = _generations(srv.api_url, pair, sent["trace_id"])

        for call in (first, second, streamed):
            assert call["model"].endswith("claude-sonnet-4-5-20250929-v1:0")
            assert call["usageDetails"] == USAGE, (instrumentation, call["usageDetails"])
            assert Decimal(str(call["calculatedTotalCost"])) == COST, instrumentation

        asked = [_text("system", "Be brief."), _text("user", "Weather in Paris?")]
        assert first["input"] == asked
        [reply] = _without_finish(first["output"])
        assert reply["role"] == "assistant" and reply["parts"][-1] == CALL  # its text, where sent, before
        # The call sent back once: botocore's instrumentation gives it as a Converse block and again
        # in OpenAI's tool_calls.
        assert second["input"][:2] == asked
        assert second["input"][2] == {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Let me check."}, CALL],
        }
        assert [p["response"] for m in second["input"][3:] for p in m["parts"]] in (["sunny"], ["sunny", "sunny"])
        assert _without_finish(second["output"]) == [_text("assistant", ANSWER)]
        assert streamed["input"] == [_text("user", "And Rome?")]
        assert _without_finish(streamed["output"]) == [_text("assistant", ANSWER)]

        # The streamed call's usage in the trace view: input with its cache, its cache reads and
        # writes (the writes' count was not shown), each part priced.
        page.goto(f"{srv.api_url}/project/default/traces/{sent['trace_id']}")
        page.locator(".row").last.click()
        panel = page.locator(".panel")
        usage = table_of(panel.locator("table.usage"))
        counts = (usage["Input tokens"], usage["Cache read"], usage["Cache write"], usage["Output tokens"])
        assert counts == ("505", "200", "5", "9"), usage
        assert usage["Cost: Input"].endswith("at $3.0000 / 1M tokens"), usage
        assert usage["Cost: Cache read"].endswith("at $0.3000 / 1M tokens"), usage
