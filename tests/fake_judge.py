"""A local fake of an OpenAI-compatible judge model whose behaviour a test sets: answer well, answer
with malformed JSON, refuse ``response_format`` (as many OpenAI-compatible servers do), time out,
rate-limit, fail, or refuse the key. It records every request."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from tests.fake_openai import on_loopback

T = TypeVar("T")


@dataclass
class Judge:
    url: str = ""
    behaviour: list[str] = field(default_factory=lambda: ["good"])  # consumed in order; the last repeats
    score: Any = 0.8
    requests: list[dict[str, Any]] = field(default_factory=list)
    no_response_format: bool = False

    def next(self) -> str:
        return self.behaviour.pop(0) if len(self.behaviour) > 1 else self.behaviour[0]


def _answer(content: str | None, tool_args: str | None = None, tool: str = "submit_evaluation") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_args is not None:
        message["tool_calls"] = [{"id": "c1", "type": "function", "function": {"name": tool, "arguments": tool_args}}]
    return {
        "id": "x", "object": "chat.completion", "model": "judge-1",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 15, "total_tokens": 135},
    }  # fmt: skip


def _pieces(text: str) -> list[str]:
    """A text in three pieces, as a model streams it."""
    third = max(1, len(text) // 3)
    return [text[:third], text[third : 2 * third], text[2 * third :]]


async def _sse(request: web.Request, events: list[tuple[str, dict[str, Any]]], pause: float) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for name, data in events:
        await response.write(
            (f"event: {name}\n" if name else "").encode() + b"data: " + json.dumps(data).encode() + b"\n\n"
        )
        await asyncio.sleep(pause)
    if not events or events[0][0] == "":
        await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _openai_stream(request: web.Request, body: dict[str, Any], answer: str, slow: bool) -> web.StreamResponse:
    """OpenAI's chat completion chunks: the text (or a tool call's arguments) in pieces, the usage
    in a last chunk when ``stream_options.include_usage`` asks for it."""
    base = {"id": "x", "object": "chat.completion.chunk", "model": "judge-1"}
    events: list[tuple[str, dict[str, Any]]] = []
    if "tools" in body:
        name = body["tools"][0]["function"]["name"]
        first = {"index": 0, "id": "c1", "type": "function", "function": {"name": name, "arguments": ""}}
        events.append(("", {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [first]}}]}))
        for piece in _pieces(answer):
            call = {"index": 0, "function": {"arguments": piece}}
            events.append(("", {**base, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}))
    else:
        for piece in _pieces(answer):
            events.append(("", {**base, "choices": [{"index": 0, "delta": {"content": piece}}]}))
    events.append(("", {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(("", {**base, "choices": [], "usage": {"prompt_tokens": 120, "completion_tokens": 15}}))
    return await _sse(request, events, 1.0 if slow else 0)


async def _anthropic_stream(request: web.Request, body: dict[str, Any], answer: dict[str, Any]) -> web.StreamResponse:
    """Anthropic's message events: the text (or a tool_use block's input JSON) in deltas."""
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {"type": "message_start", "message": {"model": "claude-judge", "usage": {"input_tokens": 90}}},
        )
    ]
    if "tools" in body:
        block = {"type": "tool_use", "id": "t1", "name": body["tools"][0]["name"], "input": {}}
        events.append(("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}))
        for piece in _pieces(json.dumps(answer)):
            delta = {"type": "input_json_delta", "partial_json": piece}
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    else:
        start = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        events.append(("content_block_start", start))
        for piece in _pieces(json.dumps(answer)):
            delta = {"type": "text_delta", "text": piece}
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    events.append(("message_delta", {"type": "message_delta", "usage": {"output_tokens": 12}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return await _sse(request, events, 0)


@contextlib.asynccontextmanager
async def fake_judge() -> AsyncIterator[Judge]:
    judge = Judge()

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        judge.requests.append({"body": body, "authorization": request.headers.get("Authorization", "")})
        what = judge.next()
        if what == "timeout":
            await asyncio.sleep(5)
        if what == "slow":
            await asyncio.sleep(3)
        if what == "429":
            return web.json_response({"error": {"message": "Rate limit reached for requests"}}, status=429)
        if what == "500":
            return web.json_response({"error": {"message": "upstream exploded"}}, status=500)
        if what == "401":
            return web.json_response({"error": {"message": "Incorrect API key provided"}}, status=401)
        if "response_format" in body and judge.no_response_format:
            return web.json_response({"error": {"message": "response_format is not supported"}}, status=400)
        answer = json.dumps({"reasoning": "looks right", "score": judge.score})
        if what == "no-stream-options" and "stream_options" in body:  # an older OpenAI-compatible server
            return web.json_response(
                {"error": {"message": "Unrecognized request argument: stream_options"}}, status=400
            )
        if body.get("stream") and what != "ignores-stream":
            return await _openai_stream(request, body, answer, slow=what == "slow-stream")
        if what == "malformed":
            return web.json_response(_answer("I think it is pretty good, maybe 0.8?"))
        if "tools" in body:  # the first tool called (the judge's own, or a playground's)
            return web.json_response(_answer(None, answer, body["tools"][0]["function"]["name"]))
        return web.json_response(_answer(answer))

    async def messages(request: web.Request) -> web.StreamResponse:
        # Anthropic's Messages API: the key in x-api-key, the system prompt apart, tool_use blocks.
        body = await request.json()
        judge.requests.append({"body": body, "authorization": request.headers.get("x-api-key", ""),
                               "version": request.headers.get("anthropic-version", "")})  # fmt: skip
        answer = {"reasoning": "looks right", "score": judge.score}
        if body.get("stream"):
            return await _anthropic_stream(request, body, answer)
        content = ([{"type": "tool_use", "id": "t1", "name": body["tools"][0]["name"], "input": answer}]
                   if "tools" in body else [{"type": "text", "text": json.dumps(answer)}])  # fmt: skip
        return web.json_response({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-judge",
                                  "content": content, "usage": {"input_tokens": 90, "output_tokens": 12}})  # fmt: skip

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/messages", messages)
    async with on_loopback(app) as address:
        judge.url = address + "/v1"
        yield judge


@contextlib.contextmanager
def in_thread(factory: Callable[[], contextlib.AbstractAsyncContextManager[T]]) -> Iterator[T]:
    """Enter an async context manager (a fake server) on a loop of its own thread, for sync tests."""
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[T] = concurrent.futures.Future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with factory() as value:
            ready.set_result(value)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=10)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()  # its self-pipe sockets, or pytest reports them unclosed in a later test


def threaded_fake_judge() -> contextlib.AbstractContextManager[Judge]:
    """The fake judge on a thread of its own, for tests that drive server subprocesses."""
    return in_thread(fake_judge)
