"""Text search in stored text that is often JSON: inputs, outputs, log bodies.

Much JSON reaches us with every character beyond ASCII escaped (``\\u4f60\\u597d`` for 你好):
Python's ``json.dumps`` does so by default, and the langfuse SDK 3.x-4.x, OpenLLMetry and many
loggers use it; quotes and backslashes are escaped in any JSON. The text is kept as it came, so a
search looks for what the user typed and for its JSON-escaped spelling, in one pass.
"""

from __future__ import annotations

import json

__all__ = ["matches", "needles"]


def needles(text: str) -> list[str]:
    """What to look for: ``text``, and its spelling inside a JSON string where that differs."""
    escaped = json.dumps(text)[1:-1]  # ensure_ascii, as the senders above write it
    return [text] if escaped == text else [text, escaped]


def matches(column: str, param: str) -> str:
    """SQL: ``column`` holds any of the needles in ``{param:Array(String)}``, in any case."""
    return f"multiSearchAnyCaseInsensitiveUTF8({column}, {{{param}:Array(String)}})"
