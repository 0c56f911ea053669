"""Prompt management driven by the real langfuse SDKs from PyPI (2.x, 4.x and 5.x, each in its own
environment): what each creates, fetches and compiles, and the generations linked to the prompt
version they used, as the store holds them."""

from __future__ import annotations

import asyncio

import pytest

from tests.langfuse_helpers import make_key, run_sdk
from tracehouse.server import Running


async def _linked(live: Running, trace_id: str) -> list[tuple[str, str, str]]:
    spans = await live.store.reader.trace("default", trace_id)
    return [(s["name"], s["prompt_name"], s["prompt_version"]) for s in spans if s["prompt_name"]]


async def test_sdk2_prompts_and_linked_generation(live: Running) -> None:
    out = await asyncio.to_thread(run_sdk, "2", "v2_prompts.py", live.api_url, await make_key(live))
    assert out["created_version"] == 1 and out["chat_version"] == 1
    assert out["production"][:3] == [1, "Answer {{question}} briefly.", {"temperature": 0.1}]
    assert "production" in out["production"][3]
    assert (out["staging"], out["first"]) == (2, 1)
    assert out["compiled"] == "Answer why briefly."
    assert out["chat"] == [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "hi"}]
    assert out["fallback"] == [True, "Fallback y"]
    # Stored: both versions of the folder prompt, and the generation linked to version 1.
    versions = await live.store.prompts.versions("default", "dify/answer")
    assert [(v.version, v.labels) for v in versions] == [(1, ("production",)), (2, ("staging",))]
    assert await _linked(live, out["trace_id"]) == [("llm", "dify/answer", "1")]
    usage, _ = await live.store.prompts.usage("default", "dify/answer", 0)
    assert [(u["used_version"], u["observations"], u["total_tokens"]) for u in usage] == [("1", 1, 15)]


@pytest.mark.parametrize("sdk", ["4", "5"])
async def test_sdk4_and_5_prompts_labels_placeholders_and_observe(live: Running, sdk: str) -> None:
    out = await asyncio.to_thread(run_sdk, sdk, "v4_prompts.py", live.api_url, await make_key(live))
    assert out["versions"] == [1, 2, 1]
    # update_prompt moved production to version 2.
    assert out["production"] == [2, "Summarise {{text}} in one line.", "shorter"]
    assert out["chat"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "yo"},
        {"role": "user", "content": "why?"},
    ]
    assert out["chat_config"] == {"model": "gpt-4o"}
    versions = await live.store.prompts.versions("default", "sdk4/summarise")
    assert [(v.version, v.labels, v.commit_message) for v in versions] == [(1, (), ""), (2, ("production",), "shorter")]
    assert await _linked(live, out["trace_id"]) == [("summarise-llm", "sdk4/summarise", "2")]
