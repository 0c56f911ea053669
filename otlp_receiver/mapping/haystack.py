"""Haystack's own tracing (its ``haystack.*`` keys, sent by its OpenTelemetry tracer): a model
call's model and usage, which Haystack sends only inside the call's output, in its replies'
``meta`` (a chat generator's), or the output's own ``meta`` (an embedder's, a text generator's)."""

from __future__ import annotations

from typing import Any

import orjson

from otlp_receiver.genai_facts import MAX_TOKENS

__all__ = ["call_facts"]


def _count(container: Any, key: str) -> int | None:
    value = container.get(key) if isinstance(container, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS:
        return value
    return None


def _tokens(usage: Any) -> dict[str, int]:
    """Token columns from a reply's usage: OpenAI's (``prompt_tokens`` with its details), else
    Anthropic's (``input_tokens`` without the cache it read or wrote: added, as the columns count
    input inclusive of cache)."""
    if not isinstance(usage, dict):
        return {}
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        found = {
            "input_tokens": _count(usage, "prompt_tokens"),
            "output_tokens": _count(usage, "completion_tokens"),
            "total_tokens": _count(usage, "total_tokens"),
            "cache_read_tokens": _count(usage.get("prompt_tokens_details"), "cached_tokens"),
            "reasoning_tokens": _count(usage.get("completion_tokens_details"), "reasoning_tokens"),
        }
    else:
        base, read = _count(usage, "input_tokens"), _count(usage, "cache_read_input_tokens")
        write = _count(usage, "cache_creation_input_tokens")
        found = {
            "input_tokens": None if base is None else min(base + (read or 0) + (write or 0), MAX_TOKENS),
            "output_tokens": _count(usage, "output_tokens"),
            "cache_read_tokens": read,
            "cache_write_tokens": write,
        }
    return {column: n for column, n in found.items() if n is not None}


def call_facts(output: Any) -> tuple[str, dict[str, int]]:
    """(model, token columns) of a Haystack model call from its output (JSON text or a value);
    ("", {}) where it has none."""
    value = output
    if isinstance(output, str):
        if not output.lstrip().startswith("{"):
            return "", {}
        try:
            value = orjson.loads(output)
        except orjson.JSONDecodeError:
            return "", {}
    if not isinstance(value, dict):
        return "", {}
    meta: Any = None
    replies = value.get("replies")
    if isinstance(replies, list) and replies and isinstance(replies[0], dict):
        meta = replies[0].get("meta")  # every reply of a call carries the call's usage
    if not isinstance(meta, dict):
        meta = value.get("meta")
        if isinstance(meta, list):
            meta = meta[0] if meta else None
    if not isinstance(meta, dict):
        return "", {}
    model = meta.get("model")
    return (model if isinstance(model, str) else ""), _tokens(meta.get("usage"))
