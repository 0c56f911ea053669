"""A small local fake of the OpenAI HTTP API (chat completions, the legacy completions, responses),
for instrumentation tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

COMPLETION = {
    "id": "chatcmpl-test123",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris is sunny, 21°C."},
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 31,
        "completion_tokens": 9,
        "total_tokens": 40,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}

# The answer to a request with a ``prompt_cache_key``: 16 of its prompt's 31 tokens read from
# OpenAI's cache, 4 of its 9 output tokens reasoning.
CACHED = {
    **COMPLETION,
    "usage": {
        **COMPLETION["usage"],
        "prompt_tokens_details": {"cached_tokens": 16, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 4, "audio_tokens": 0},
    },
}


def _call(name: str, arguments: dict[str, str]) -> dict[str, Any]:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": f"call_{name}", "type": "function", "function": function}],
    }


async def _chat(request: web.Request) -> web.Response:
    """The answer (31 + 9 tokens; CACHED given a ``prompt_cache_key``); given tools with
    smolagents' ``final_answer``, an agent's run instead: its first tool for Paris on the task
    alone (a system and a user message), then the final answer. Given other tools, a call of the
    first for Paris until a tool's result is in. Streamed when asked (not an agent's run)."""
    body = await request.json()
    names = [tool.get("function", {}).get("name") for tool in body.get("tools") or []]
    if "final_answer" not in names:
        answered = any(m.get("role") == "tool" for m in body.get("messages") or [])
        if not names or answered:
            reply = CACHED if body.get("prompt_cache_key") else COMPLETION
        else:
            choice = {"index": 0, "message": _call(names[0], {"city": "Paris"}), "finish_reason": "tool_calls"}
            reply = {**COMPLETION, "choices": [choice]}
        return await _streamed(request, body, reply) if body.get("stream") else web.json_response(reply)
    if body.get("stream"):
        return web.json_response({"error": {"message": "streaming not faked"}}, status=400)
    if len(body.get("messages") or []) <= 2:
        message = _call(next(name for name in names if name != "final_answer"), {"city": "Paris"})
    else:
        message = _call("final_answer", {"answer": "Paris is sunny, 21°C."})
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
    return web.json_response({**COMPLETION, "choices": [choice]})


async def _streamed(request: web.Request, body: dict[str, Any], reply: dict[str, Any]) -> web.StreamResponse:
    """``reply`` as OpenAI streams it: the text in two chunks, or each tool call (its name, then
    its arguments); then the finish; the usage in a last chunk only when stream_options asks."""
    [choice] = reply["choices"]
    message = choice["message"]
    head = {k: reply[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    deltas: list[dict[str, Any]] = []
    if message.get("tool_calls"):
        for i, call in enumerate(message["tool_calls"]):
            fn = call["function"]
            deltas.append(
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "index": i,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": fn["name"], "arguments": ""},
                        }
                    ],
                }
            )
            deltas.append({"tool_calls": [{"index": i, "function": {"arguments": fn["arguments"]}}]})
    else:
        text = message["content"]
        deltas += [{"role": "assistant", "content": text[:6]}, {"content": text[6:]}]
    chunks = [{**head, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**head, "choices": [], "usage": reply["usage"]})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for chunk in chunks:
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    return response


async def _completions(request: web.Request) -> web.Response:
    """The legacy completions API: "Hello N" for each of the prompts (a string or a list), 3 + 2
    tokens."""
    body = await request.json()
    prompts = body.get("prompt") if isinstance(body.get("prompt"), list) else [body.get("prompt")]
    choices = [
        {"index": i, "text": f"Hello {i}", "finish_reason": "stop", "logprobs": None} for i in range(len(prompts))
    ]
    return web.json_response(
        {
            "id": "cmpl-test123",
            "object": "text_completion",
            "created": 1_700_000_000,
            "model": "gpt-3.5-turbo-instruct",
            "choices": choices,
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }
    )


_RESPONSE_USAGE = {"input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}


async def _responses(request: web.Request) -> web.Response:
    """Responses: given tools and no tool's output yet, a call of the first tool (its city
    Paris, 20 + 8 tokens); else the answer (12 + 5 tokens; given a ``prompt_cache_key``, 8 of its
    input tokens cached and 2 of its output tokens reasoning)."""
    body = await request.json()
    items = body.get("input") if isinstance(body.get("input"), list) else []
    answered = any(isinstance(i, dict) and i.get("type") == "function_call_output" for i in items)
    if body.get("tools") and not answered:
        call = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "status": "completed"}
        output = [{**call, "name": body["tools"][0]["name"], "arguments": '{"city": "Paris"}'}]
        tokens = (20, 8)
    else:
        text = {"type": "output_text", "text": "Paris is sunny, 21°C.", "annotations": []}
        output = [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [text]}]
        tokens = (12, 5)
    usage = {"input_tokens": tokens[0], "output_tokens": tokens[1], "total_tokens": sum(tokens), **_RESPONSE_USAGE}
    if body.get("prompt_cache_key"):  # 8 of its 12 input tokens cached, 2 of its 5 output tokens reasoning
        usage.update(input_tokens_details={"cached_tokens": 8}, output_tokens_details={"reasoning_tokens": 2})
    return web.json_response(
        {
            "id": f"resp_{len(items)}",
            "object": "response",
            "created_at": 1_700_000_000,
            "status": "completed",
            "model": "gpt-4o-mini-2024-07-18",
            "instructions": body.get("instructions"),
            "output": output,
            "usage": usage,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
        }
    )


@contextlib.asynccontextmanager
async def on_loopback(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on an ephemeral loopback port; yields its address (http://127.0.0.1:port).
    The local fakes of outside servers (models, an identity provider) run this way."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def fake_openai() -> AsyncIterator[str]:
    """Serve the fake on an ephemeral loopback port; yields the base URL (…/v1)."""
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/v1/responses", _responses)
    app.router.add_post("/v1/completions", _completions)
    async with on_loopback(app) as address:
        yield address + "/v1"
