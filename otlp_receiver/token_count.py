"""Token counts for a generation of an OpenAI model that came without usage (a call streamed
without ``stream_options.include_usage`` reports none): counted with tiktoken on its input and
output, as Langfuse does, so that it is priced like any other.

tiktoken's encodings load once, on first need, from its cache (``TIKTOKEN_CACHE_DIR``) or by
download. A load that fails or takes longer than LOAD_WAIT_S (a machine offline) leaves counts
off, said once in the log, and never holds decoding up again."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from storage import ESTIMATED_ATTRIBUTE

log = logging.getLogger("tracehouse.token_count")

__all__ = ["COUNTED_ATTRIBUTE", "ENCODING_URL", "Counted", "counted_usage", "encodings_status"]

# The span attribute that says its tokens were counted here, and with what ("tiktoken o200k_base"):
# a counted figure is told apart from a reported one.
COUNTED_ATTRIBUTE = ESTIMATED_ATTRIBUTE  # storage reads it too (storage.writer)

# Where tiktoken downloads an encoding from; its cache names the file by this URL's SHA-1.
ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"

LOAD_WAIT_S = 10.0
# Text beyond this is not counted (a count would hold its batch up; such a call is rare).
MAX_CHARS = 1_000_000
# OpenAI's chat format: each message costs 3 tokens beside its text, a name 1 more, and every
# answer is primed with 3 (OpenAI's cookbook, as Langfuse counts).
PER_MESSAGE, PER_NAME, PRIMING = 3, 1, 3

_lock = threading.Lock()
_encodings: dict[str, Any] = {}  # encoding name -> tiktoken.Encoding, or None when it failed
_loading: dict[str, threading.Thread] = {}
_waited: set[str] = set()


def _fetch(name: str) -> None:
    try:
        import tiktoken

        encoding: Any = tiktoken.get_encoding(name)
    except Exception as e:  # noqa: BLE001 - any failure (offline, no cache, a bad file) leaves counts off
        log.warning(
            "generations without usage are not counted: tiktoken's %s encoding did not load (%s); "
            "put it in TIKTOKEN_CACHE_DIR on a machine without internet access",
            name,
            e,
        )
        encoding = None
    with _lock:
        _encodings[name] = encoding


def _encoding(model: str) -> Any:
    """The tiktoken encoding of an OpenAI model's name (a provider prefix such as ``openai/``
    ignored); None for other models, or while it cannot be had."""
    try:
        from tiktoken.model import encoding_name_for_model

        name = encoding_name_for_model(model.rsplit("/", 1)[-1])
    except (KeyError, ImportError):
        return None
    with _lock:
        if name in _encodings:
            return _encodings[name]
        thread = _loading.get(name)
        if thread is None:
            thread = threading.Thread(target=_fetch, args=(name,), name=f"tiktoken-{name}", daemon=True)
            _loading[name] = thread
            thread.start()
        wait = 0.0 if name in _waited else LOAD_WAIT_S
        _waited.add(name)
    thread.join(wait)  # a download that hangs delays one batch, once
    with _lock:
        return _encodings.get(name)


def _parse(text: str) -> Any:
    if text[:1] in ("[", "{", '"'):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return text


def _as_text(value: Any) -> str:
    """A value's text: a string as it is, anything else as compact JSON ("" past orjson's depth)."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        return ""


def _content_text(content: Any) -> list[str]:
    """The texts of a message's content: a string, or its text blocks (OpenAI's ``text``, the
    GenAI conventions' ``content``); images and other media are not counted."""
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                texts.append(block)
            elif isinstance(block, dict):
                kind = block.get("type")
                if kind in (None, "text", "input_text", "output_text", "reasoning"):
                    text = block.get("text", block.get("content"))
                    if isinstance(text, str):
                        texts.append(text)
                elif kind == "tool_call":  # a GenAI part: its name and arguments
                    texts += [str(block.get("name") or ""), _as_text(block.get("arguments") or {})]
                elif kind == "tool_call_response":
                    texts.append(_as_text(block.get("response")))
    return texts


def _message_texts(message: dict[str, Any]) -> list[str]:
    texts = _content_text(message.get("content")) + _content_text(message.get("parts"))
    for key in ("tool_calls", "function_call"):
        if message.get(key):
            texts.append(_as_text(message[key]))
    return texts


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def _is_prompt(value: Any) -> bool:
    """Whether an input is what a model is given: text, messages, or a request of messages (as
    Langfuse's OpenAI clients record it). Anything else is a function's arguments: a span that an
    instrumentation marks as a model call around one (LlamaIndex's ``predict``, whose model call
    reports its own usage) or before one (its ``_prepare_chat_with_tools``). Counted, such a span
    would add its arguments' text to the trace's tokens and cost."""
    return (
        isinstance(value, str)
        or _is_messages(value)
        or (isinstance(value, dict) and _is_messages(value.get("messages")))
    )


def _input_tokens(encoding: Any, value: Any) -> int:
    if isinstance(value, dict) and _is_messages(value.get("messages")):
        # A request as Langfuse's OpenAI clients record it: its messages, and its tools as text.
        tools = value.get("tools")
        return _input_tokens(encoding, value["messages"]) + (_count(encoding, _as_text(tools)) if tools else 0)
    if _is_messages(value):
        total = PRIMING
        for message in value:
            total += PER_MESSAGE + _count(encoding, str(message.get("role") or ""))
            if isinstance(message.get("name"), str):
                total += PER_NAME + _count(encoding, message["name"])
            total += sum(_count(encoding, text) for text in _message_texts(message))
        return total
    return _count(encoding, _as_text(value))


def _output_tokens(encoding: Any, value: Any) -> int:
    if isinstance(value, dict) and ("content" in value or "tool_calls" in value or "parts" in value):
        return sum(_count(encoding, text) for text in _message_texts(value))
    if _is_messages(value):
        return sum(_count(encoding, text) for m in value for text in _message_texts(m))
    return _count(encoding, _as_text(value))


def _count(encoding: Any, text: str) -> int:
    return len(encoding.encode_ordinary(text)) if text else 0


class Counted(NamedTuple):
    input_tokens: int
    output_tokens: int
    how: str  # COUNTED_ATTRIBUTE's value: "tiktoken <encoding>"


def counted_usage(model: str, input_text: str, output_text: str) -> Counted | None:
    """The input and output tokens of a generation of ``model`` that came without usage, counted
    on its input and output text; None when the model's tokenizer is not OpenAI's (or not at
    hand), its input is not a prompt (``_is_prompt``), or there is nothing to count."""
    if not (input_text or output_text) or len(input_text) + len(output_text) > MAX_CHARS:
        return None
    encoding = _encoding(model)  # first: most models are not OpenAI's, and then nothing is parsed
    if encoding is None:
        return None
    asked = _parse(input_text) if input_text else ""
    if not _is_prompt(asked):
        return None
    try:
        inp = _input_tokens(encoding, asked) if input_text else 0
        out = _output_tokens(encoding, _parse(output_text)) if output_text else 0
    except Exception as e:  # noqa: BLE001 - a sender's odd text (a lone surrogate...) costs only its count
        log.debug("a generation's tokens were not counted: %s", e)
        return None
    if not (inp or out):
        return None
    return Counted(inp, out, f"tiktoken {encoding.name}")


def encodings_status() -> str:
    """Whether the encoding of OpenAI's current models is in tiktoken's cache, for ``tracehouse
    doctor`` (tiktoken's cache directory, as tiktoken picks it)."""
    cache = next((os.environ[k] for k in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR") if k in os.environ), None)
    if cache == "":  # tiktoken's way to say: no cache
        return "OpenAI's tokenizer downloads each time the server starts and counts (tiktoken's cache is off)"
    directory = Path(cache) if cache else Path(tempfile.gettempdir()) / "data-gym-cache"
    if (directory / hashlib.sha1(ENCODING_URL.format("o200k_base").encode()).hexdigest()).is_file():
        return f"OpenAI's tokenizer (o200k_base) is in {directory}: generations without usage are counted"
    return (
        "OpenAI's tokenizer downloads on the first generation without usage (3.6 MB); without internet "
        f"access, put o200k_base in TIKTOKEN_CACHE_DIR (now {directory}) or such generations stay uncounted"
    )
