"""LiteLLM's Langfuse callbacks, as LiteLLM's guide sets them up, against a fake of the OpenAI API:
"langfuse" (through the langfuse SDK 4.x) and "langfuse_otel" (LiteLLM's own OpenTelemetry export).
Read back through the Langfuse API: each call's generation with its model, usage and cost, the
trace's name, session, user and tags from LiteLLM's metadata; a call that failed is an error
without tokens or cost (its output, the error's text, was counted as tokens the model wrote)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.fake_openai import fake_openai
from tests.langfuse_helpers import KeyPair, basic, make_key, run_framework
from tracehouse.server import Running


async def _generation(live: Running, pair: KeyPair, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one generation named ``name`` and its trace, once visible (acked is durable at once,
    visible a moment later)."""
    deadline = asyncio.get_running_loop().time() + 60
    async with aiohttp.ClientSession(headers=basic(pair)) as http:
        while True:
            params = {"name": name, "type": "GENERATION"}
            async with http.get(f"{live.api_url}/api/public/observations", params=params) as r:
                assert r.status == 200, await r.text()
                found = (await r.json())["data"]
            if found:
                async with http.get(f"{live.api_url}/api/public/traces/{found[0]['traceId']}") as r:
                    assert r.status == 200, await r.text()
                    return found[0], await r.json()
            assert asyncio.get_running_loop().time() < deadline, f"no generation {name}"
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("mode", ["langfuse", "langfuse_otel"])
async def test_litellm_callbacks_read_back(live: Running, mode: str) -> None:
    pair = await make_key(live)
    async with fake_openai() as base_url:
        sent = await asyncio.to_thread(run_framework, "litellm", "litellm_app.py", live.api_url, pair, base_url, mode)
    answer = "Paris is sunny, 21°C."
    assert sent["answers"] == [answer, answer, "weather", "InternalServerError"]
    answered, trace = await _generation(live, pair, f"{mode}-answer")
    assert (trace["name"], trace["sessionId"], trace["userId"], trace["tags"]) == (
        f"litellm-{mode}",
        f"session-{mode}",
        "lite-user",
        ["lite"],
    )
    assert answered["model"].startswith("gpt-4o-mini")
    assert {k: answered["usageDetails"][k] for k in ("input", "output", "total")} == {
        "input": 31,
        "output": 9,
        "total": 40,
    }
    assert answered["calculatedTotalCost"] == pytest.approx(1.005e-05)
    streamed, _ = await _generation(live, pair, f"{mode}-stream")
    assert streamed["usageDetails"]["output"] > 0 and streamed["calculatedTotalCost"] > 0
    tools, _ = await _generation(live, pair, f"{mode}-tools")
    assert '"weather"' in str(tools["output"]).replace("'", '"')
    failed, _ = await _generation(live, pair, f"{mode}-fail")
    assert failed["level"] == "ERROR" and "Connection error" in failed["statusMessage"]
    assert (failed["usageDetails"], failed["calculatedTotalCost"]) == ({}, 0)
