"""A trace's input and output in a list (the REST list, a session's turns): a preview.

Cutting the text at so many characters leaves a chat's messages as JSON no reader can decode, and a
long system prompt, first in the list, fills the preview before the user's question. A preview of
messages is the newest user message and those after it (a turn's question, and the tool calls and
answers that followed), each cut short, as valid JSON. Other text is cut as it is.
"""

from __future__ import annotations

from typing import Any

import orjson

from storage import escapes

__all__ = ["SOURCE_CHARS", "preview"]

SOURCE_CHARS = 32_768  # of the text read for a preview: longer is cut as text
_MIN_CHARS = 100  # less room than this left for a message: older ones are left out


def _messages(value: Any) -> list[dict[str, Any]] | None:
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    elif isinstance(value, dict) and isinstance(value.get("role"), str):
        value = [value]
    if isinstance(value, list) and value and all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in value):
        return value
    return None


def _words(message: dict[str, Any]) -> str:
    content = message.get("content", message.get("parts"))
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p if isinstance(p, str) else p.get("text") or p.get("content") if isinstance(p, dict) else None
                 for p in content]  # fmt: skip
        return "\n".join(p for p in parts if isinstance(p, str))
    if content:
        return orjson.dumps(content).decode()
    calls = message.get("tool_calls")  # an assistant's turn that only calls tools
    return orjson.dumps(calls).decode() if calls else ""


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(chars - 1, 0)] + "…"


def preview(text: str, chars: int) -> str:
    """``text`` in at most about ``chars`` characters: messages as the newest user message and
    those after it (role and words, each cut short), anything else cut."""
    if len(text) <= chars:
        return escapes.readable(text)
    try:
        messages = _messages(orjson.loads(text))
    except orjson.JSONDecodeError:
        messages = None
    if messages is None:
        return escapes.readable(text)[:chars]
    asked = [i for i, m in enumerate(messages) if m["role"] == "user"]
    room = chars
    kept: list[dict[str, str]] = []
    for message in messages[asked[-1] :] if asked else messages[-1:]:
        if kept and room < _MIN_CHARS:
            break
        kept.append({"role": message["role"], "content": _cut(_words(message), max(room, _MIN_CHARS))})
        room -= len(kept[-1]["content"])
    return orjson.dumps(kept).decode()
