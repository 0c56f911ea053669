"""One chat call to a model: OpenAI-compatible ``/chat/completions`` (OpenAI, Azure OpenAI, DeepSeek,
Qwen/DashScope, vLLM, Ollama, LiteLLM) or Anthropic's ``/v1/messages``. Errors come back as
``ModelError`` with the provider's own message and whether a retry may help."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

__all__ = ["ChatResult", "ModelError", "TextSink", "chat"]

TIMEOUT_S = 60.0
MAX_ANSWER_BYTES = 4 * 2**20


# Where a streamed answer's text goes, piece by piece.
TextSink = Callable[[str], Awaitable[None]]


class ModelError(Exception):
    """A failed model call: ``status`` is the HTTP status (0: no answer), ``retryable`` whether
    trying again later may succeed (rate limits, overload, timeouts)."""

    def __init__(self, message: str, status: int = 0, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable


@dataclass
class ChatResult:
    text: str
    model: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    raw_usage: dict[str, Any] = field(default_factory=dict)
    tool_calls: list[dict[str, str]] = field(default_factory=list)  # each {id, name, arguments (JSON text)}

    @property
    def tool_arguments(self) -> str | None:
        """The arguments of the first tool call, as JSON text (a judge's structured answer)."""
        return self.tool_calls[0]["arguments"] if self.tool_calls else None


def _error_message(doc: Any, fallback: str) -> str:
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if doc.get("message"):
            return str(doc["message"])
    return fallback


# A message's content: its text, or (OpenAI's parts) text and images.
Content = str | list[dict[str, Any]]
_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+);base64,(.*)", re.DOTALL)


def _anthropic_part(part: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI content part as Anthropic's: an image by URL, or its bytes from a data URL."""
    if part.get("type") != "image_url":
        return part
    url = str((part.get("image_url") or {}).get("url", ""))
    data = _DATA_URL.fullmatch(url)
    if data:
        return {"type": "image", "source": {"type": "base64", "media_type": data[1], "data": data[2]}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _anthropic_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI function tool as Anthropic's."""
    fn = tool.get("function", tool)
    return {"name": fn["name"], "description": fn.get("description", ""),
            "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}  # fmt: skip


def _anthropic_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI's chat messages (system ones left out) as Anthropic's: image parts as image blocks,
    an assistant's tool calls as tool_use blocks, tool results as tool_result blocks of a user
    message (results in a row in one message, as Anthropic wants)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "system":
            continue
        content = m.get("content")
        blocks = [_anthropic_part(p) for p in content] if isinstance(content, list) else None
        if m["role"] == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": m.get("tool_call_id", ""),
                "content": _text_of(content or ""),
            }
            if (
                out
                and out[-1]["role"] == "user"
                and isinstance(out[-1]["content"], list)
                and all(b.get("type") == "tool_result" for b in out[-1]["content"])
            ):
                out[-1]["content"].append(result)
            else:
                out.append({"role": "user", "content": [result]})
            continue
        if m.get("tool_calls"):
            blocks = ([{"type": "text", "text": _text_of(content)}] if content else []) + [
                {
                    "type": "tool_use",
                    "id": c["id"],
                    "name": c["function"]["name"],
                    "input": _json_object(c["function"].get("arguments")),
                }
                for c in m["tool_calls"]
            ]
        out.append({"role": m["role"], "content": blocks if blocks is not None else content})
    return out


def _call(call_id: Any, name: Any, arguments: Any) -> dict[str, str]:
    """A tool call the model made: its id, the tool's name and the arguments as JSON text."""
    return {"id": str(call_id or ""), "name": str(name or ""), "arguments": str(arguments)}


def _json_object(text: Any) -> dict[str, Any]:
    """A tool call's arguments (JSON text) as the object Anthropic takes; {} if they are not one."""
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _text_of(content: Content) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")


async def chat(
    adapter: str,
    base_url: str,
    api_key: str,
    model: str,
    messages: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    timeout_s: float = TIMEOUT_S,
    on_text: TextSink | None = None,
) -> ChatResult:
    """Send ``messages`` to ``model`` and return its answer; ModelError otherwise. With
    ``on_text`` the answer is streamed: each piece of its text is given to it as it comes, and the
    whole answer (tool calls and usage too) is returned at the end, as without."""
    extra = dict(headers or {})
    body: dict[str, Any] = {"model": model, **(params or {})}
    if on_text is not None:
        body["stream"] = True
        if adapter != "anthropic":
            body["stream_options"] = {"include_usage": True}  # the usage comes in a last chunk
    if adapter == "anthropic":
        url = base_url.rstrip("/") + ("/messages" if base_url.rstrip("/").endswith("/v1") else "/v1/messages")
        system = "\n".join(_text_of(m["content"]) for m in messages if m["role"] == "system")
        body["messages"] = _anthropic_messages(messages)
        if body.get("tools"):
            body["tools"] = [_anthropic_tool(t) for t in body["tools"]]
        if system:
            body["system"] = system
        body.setdefault("max_tokens", 1024)
        request_headers = {"x-api-key": api_key, "anthropic-version": "2023-06-01", **extra}
    else:
        url = base_url.rstrip("/") + "/chat/completions"
        body["messages"] = messages
        request_headers = {"Authorization": f"Bearer {api_key}", **extra}
    started = time.monotonic()
    try:
        doc = await _post(url, body, request_headers, timeout_s, adapter, on_text)
        if on_text is not None and "stream_options" in body and doc == _NO_STREAM_OPTIONS:
            # An OpenAI-compatible server that knows no stream_options: the answer, without usage.
            doc = await _post(url, {k: v for k, v in body.items() if k != "stream_options"}, request_headers,
                              timeout_s, adapter, on_text)  # fmt: skip
    except TimeoutError:
        raise ModelError(f"no answer from {url} within {timeout_s:.0f} s", 0, True) from None
    except aiohttp.ClientError as exc:
        raise ModelError(f"cannot reach {url}: {exc}", 0, True) from None
    result = _result(adapter, url, model, doc, (time.monotonic() - started) * 1000)
    if on_text is not None and not doc.get(_STREAMED) and result.text:
        await on_text(result.text)  # a server that answered in one piece, though asked to stream
    return result


# Marks an answer read from a stream (its text went to on_text already), and the refusal of
# stream_options by a server that does not know it (then asked again without).
_STREAMED = "__streamed__"
_NO_STREAM_OPTIONS: dict[str, Any] = {"__no_stream_options__": True}


async def _post(
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    timeout_s: float,
    adapter: str,
    on_text: TextSink | None,
) -> Any:
    """One request: the answer's JSON (a stream put together as if it were one), or ModelError."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
        session.post(url, json=body, headers=headers) as r,
    ):
        if on_text is not None and r.status < 400 and r.content_type == "text/event-stream":
            return {**await _read_stream(r, adapter, url, on_text), _STREAMED: True}
        raw = await r.content.read(MAX_ANSWER_BYTES)
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        if r.status >= 400:
            text = raw.decode(errors="replace")[:300]
            message = _error_message(doc, text or r.reason or "error")
            if r.status == 400 and "stream_options" in body and "stream_options" in message:
                return _NO_STREAM_OPTIONS
            raise ModelError(
                f"{r.status} from {url}: {message}", r.status, r.status in (408, 409, 429) or r.status >= 500
            )
        return doc


def _result(adapter: str, url: str, model: str, doc: Any, latency: float) -> ChatResult:
    """The answer in a provider's JSON (or a streamed answer put together in that shape)."""
    if not isinstance(doc, dict):
        raise ModelError(f"{url} answered something that is not JSON")
    try:
        if adapter == "anthropic":
            text = "".join(part.get("text", "") for part in doc["content"] if part.get("type") == "text")
            tools = [part for part in doc["content"] if part.get("type") == "tool_use"]
            usage = doc.get("usage") or {}
            calls = [_call(t.get("id"), t.get("name"), json.dumps(t.get("input"))) for t in tools]
            return ChatResult(text, str(doc.get("model", model)), int(usage.get("input_tokens", 0)),
                              int(usage.get("output_tokens", 0)), latency, usage, calls)  # fmt: skip
        message = doc["choices"][0]["message"]
        usage = doc.get("usage") or {}
        calls = [
            _call(c.get("id"), c["function"]["name"], c["function"]["arguments"])
            for c in message.get("tool_calls") or []
        ]
        return ChatResult(str(message.get("content") or ""), str(doc.get("model", model)),
                          int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), latency, usage,
                          calls)  # fmt: skip
    except (KeyError, IndexError, TypeError, AttributeError):
        raise ModelError(f"{url} answered without a message (is it an {adapter} endpoint?)") from None


async def _events(r: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, Any]]:
    """Server-sent events: (event name, JSON data) until ``[DONE]`` or the end, within
    MAX_ANSWER_BYTES in all."""
    event, read = "", 0
    async for raw_line in r.content:
        read += len(raw_line)
        if read > MAX_ANSWER_BYTES:
            raise ModelError(f"the streamed answer passed {MAX_ANSWER_BYTES} bytes")
        line = raw_line.decode(errors="replace").rstrip("\r\n")
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                yield event, json.loads(data)
            except ValueError:
                raise ModelError(f"a streamed chunk is not JSON: {data[:200]}") from None
        elif not line:
            event = ""


async def _read_stream(r: aiohttp.ClientResponse, adapter: str, url: str, on_text: TextSink) -> dict[str, Any]:
    """A streamed answer, its text given to ``on_text`` piece by piece, put together as the
    provider's non-streamed JSON (so that one reader makes the result of both)."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    usage: dict[str, Any] = {}
    model = ""
    async for event, chunk in _events(r):
        if not isinstance(chunk, dict):
            continue
        if adapter == "anthropic":
            kind = chunk.get("type", event)
            if kind == "error":
                raise ModelError(f"{url} stopped: {_error_message(chunk, 'error')}", 0, True)
            if kind == "message_start":
                message = chunk.get("message") or {}
                model = str(message.get("model", ""))
                usage.update(message.get("usage") or {})
            elif kind == "content_block_start" and (chunk.get("content_block") or {}).get("type") == "tool_use":
                block = chunk["content_block"]
                calls[int(chunk.get("index", len(calls)))] = {
                    "id": block.get("id"),
                    "name": block.get("name"),
                    "args": [],
                }
            elif kind == "content_block_delta":
                delta = chunk.get("delta") or {}
                if delta.get("type") == "text_delta" and delta.get("text"):
                    text.append(str(delta["text"]))
                    await on_text(str(delta["text"]))
                elif delta.get("type") == "input_json_delta":
                    calls.setdefault(int(chunk.get("index", 0)), {"id": "", "name": "", "args": []})["args"].append(
                        str(delta.get("partial_json", ""))
                    )
            elif kind == "message_delta":
                usage.update(chunk.get("usage") or {})
            continue
        if chunk.get("error"):
            raise ModelError(f"{url} stopped: {_error_message(chunk, 'error')}", 0, True)
        model = str(chunk.get("model") or model)
        usage.update(chunk.get("usage") or {})
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                text.append(str(delta["content"]))
                await on_text(str(delta["content"]))
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(int(call.get("index", 0)), {"id": "", "name": "", "args": []})
                fn = call.get("function") or {}
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] = fn.get("name") or slot["name"]
                slot["args"].append(str(fn.get("arguments") or ""))
    joined = [calls[i] for i in sorted(calls)]
    if adapter == "anthropic":
        content: list[dict[str, Any]] = [{"type": "text", "text": "".join(text)}]
        for c in joined:
            content.append(
                {"type": "tool_use", "id": c["id"], "name": c["name"], "input": _json_object("".join(c["args"]))}
            )
        return {"model": model, "content": content, "usage": usage}
    tool_calls = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": "".join(c["args"])}}
                  for c in joined]  # fmt: skip
    message = {"role": "assistant", "content": "".join(text), **({"tool_calls": tool_calls} if tool_calls else {})}
    return {"model": model, "choices": [{"message": message}], "usage": usage}
