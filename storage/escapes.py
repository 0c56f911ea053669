"""Stored text that came JSON-escaped: inputs, outputs, log bodies.

Much JSON reaches us with every character beyond ASCII escaped (``\\u4f60\\u597d`` for 你好):
Python's ``json.dumps`` does so by default, and the langfuse SDK 3.x-4.x, OpenLLMetry and many
loggers use it; quotes and backslashes are escaped in any JSON. The text is kept as it came. A
search looks for what the user typed and for its JSON-escaped spelling, in one pass; a preview,
cut short and so no longer JSON a reader could decode, is given those characters back.
"""

from __future__ import annotations

import json
import re

__all__ = ["matches", "needles", "readable"]

# A run of backslashes before u and four hex digits (an escape when the run is odd), and the low
# half of a surrogate pair right after it.
_ESCAPE = re.compile(r"(\\+)u([0-9a-fA-F]{4})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?")


def needles(text: str) -> list[str]:
    """What to look for: ``text``, and its spelling inside a JSON string where that differs."""
    escaped = json.dumps(text)[1:-1]  # ensure_ascii, as the senders above write it
    return [text] if escaped == text else [text, escaped]


def matches(column: str, param: str) -> str:
    """SQL: ``column`` holds any of the needles in ``{param:Array(String)}``, in any case."""
    return f"multiSearchAnyCaseInsensitiveUTF8({column}, {{{param}:Array(String)}})"


def _unescape(m: re.Match[str]) -> str:
    slashes, code, low = m.group(1), int(m.group(2), 16), m.group(3)
    if len(slashes) % 2 == 0 or code < 0x80:  # an escaped backslash, or ASCII (quotes, controls) kept
        return m.group(0)
    if 0xD800 <= code <= 0xDBFF and low:
        return slashes[:-1] + chr(0x10000 + ((code - 0xD800) << 10) + (int(low[2:], 16) - 0xDC00))
    if 0xD800 <= code <= 0xDFFF:  # half a pair: left as it came
        return m.group(0)
    return slashes[:-1] + chr(code) + (low or "")


def readable(text: str) -> str:
    """``text`` with the JSON escapes of characters beyond ASCII written as those characters: the
    same JSON when it is JSON, and legible when it is JSON cut short."""
    return _ESCAPE.sub(_unescape, text) if "\\u" in text else text
