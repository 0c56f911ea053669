"""A small local fake of Amazon Bedrock's runtime API (Converse and ConverseStream, the stream in
AWS's event-stream framing), for instrumentation tests: boto3 points its endpoint_url here. A
request with tools and no tool result yet gets a tool call; any other the text ``Sunny in Paris.``
Usage as Bedrock counts it: the input without its cached part (totalTokens adds the cache)."""

from __future__ import annotations

import contextlib
import json
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from tests.fake_openai import on_loopback

# 300 input tokens beside 200 read from the cache and 5 written to it: an input larger than its
# cached part, which only the provider (or the total) says is exclusive.
USAGE = {
    "inputTokens": 300,
    "outputTokens": 9,
    "totalTokens": 514,
    "cacheReadInputTokens": 200,
    "cacheWriteInputTokens": 5,
}
ANSWER = "Sunny in Paris."


def _content(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    last = body["messages"][-1]
    answered = any("toolResult" in block for block in last.get("content", []))
    tools = (body.get("toolConfig") or {}).get("tools")
    if tools and not answered:
        call = {"toolUseId": "tooluse_weather", "name": tools[0]["toolSpec"]["name"], "input": {"city": "Paris"}}
        return [{"text": "Let me check."}, {"toolUse": call}], "tool_use"
    return [{"text": ANSWER}], "end_turn"


async def _converse(request: web.Request) -> web.Response:
    content, stop = _content(await request.json())
    reply = {"role": "assistant", "content": content}
    return web.json_response(
        {"output": {"message": reply}, "stopReason": stop, "usage": USAGE, "metrics": {"latencyMs": 120}}
    )


def _header(name: str, value: str) -> bytes:
    key, text = name.encode(), value.encode()
    return bytes([len(key)]) + key + bytes([7]) + struct.pack(">H", len(text)) + text  # 7: a string


def _frame(event: str, payload: dict[str, Any]) -> bytes:
    """One event-stream message: prelude (lengths, CRC), headers, JSON payload, CRC of it all."""
    headers = _header(":event-type", event) + _header(":content-type", "application/json")
    headers += _header(":message-type", "event")
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 16 + len(headers) + len(body), len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


async def _converse_stream(request: web.Request) -> web.StreamResponse:
    content, stop = _content(await request.json())
    response = web.StreamResponse(headers={"Content-Type": "application/vnd.amazon.eventstream"})
    await response.prepare(request)
    await response.write(_frame("messageStart", {"role": "assistant"}))
    for index, block in enumerate(content):
        if "text" in block:
            for piece in (block["text"][:5], block["text"][5:]):
                await response.write(
                    _frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}})
                )
        else:
            call = block["toolUse"]
            start = {"toolUse": {"toolUseId": call["toolUseId"], "name": call["name"]}}
            await response.write(_frame("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            delta = {"toolUse": {"input": json.dumps(call["input"])}}
            await response.write(_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        await response.write(_frame("contentBlockStop", {"contentBlockIndex": index}))
    await response.write(_frame("messageStop", {"stopReason": stop}))
    await response.write(_frame("metadata", {"usage": USAGE, "metrics": {"latencyMs": 120}}))
    return response


@contextlib.asynccontextmanager
async def fake_bedrock() -> AsyncIterator[str]:
    """Serve the fake on an ephemeral loopback port; yields its endpoint URL."""
    app = web.Application()
    app.router.add_post("/model/{model}/converse", _converse)
    app.router.add_post("/model/{model}/converse-stream", _converse_stream)
    async with on_loopback(app) as address:
        yield address
