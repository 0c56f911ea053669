"""Apply the mapping rules to one span: attributes in, typed GenAI fields out.

Pure and table-driven: the rules live in ``rules.py``. The rules are inverted once into
an index (attribute key -> the fields it can fill, with its rank), so a span costs one
pass over its own attributes, however many rules there are.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import orjson

from otlp_receiver.genai_facts import MAX_TOKENS, inclusive_tokens, langfuse_usage
from otlp_receiver.mapping import haystack, messages
from otlp_receiver.mapping.rules import (
    AI_SDK_DETAILS,
    AI_SDK_EMBEDDING_CALLS,
    AI_SDK_EXCLUSIVE_METADATA,
    AI_SDK_EXCLUSIVE_OUTPUT_METADATA,
    AI_SDK_OPERATIONS,
    AI_SDK_PROVIDER_DETAILS,
    EXCLUSIVE_INPUT_PROVIDERS,
    FLATTENED_INPUT,
    FLATTENED_OUTPUT,
    FRAMEWORK_KINDS,
    HAYSTACK_COMPONENT_TYPES,
    HAYSTACK_NAMES,
    LEVEL_ALIASES,
    LOGFIRE_LEVELS,
    LOGFIRE_MESSAGE,
    LOGFIRE_SCRUBBED,
    LOGFIRE_TEMPLATE,
    LOOKUPS,
    METADATA_PREFIXES,
    OBSERVATION_TYPES,
    OPENINFERENCE_KINDS,
    OPERATION_TYPES,
    REQUEST_PARAMETER_PREFIX,
    RESOURCE_FALLBACK,
    ROLLUP_OPENINFERENCE_KINDS,
    ROLLUP_OPERATIONS,
    SCRUBBED_COLUMNS,
    SPEECH_IO,
    STRING_RULES,
    TOKEN_RULES,
    TYPE_FROM_PRESENCE,
    VERBATIM_IO,
)
from otlp_receiver.token_count import counted_usage

__all__ = ["MAX_NS", "map_span", "resource_defaults", "span_name"]

_INDEX: dict[str, tuple[tuple[str, int], ...]] = {}
for _field, _keys in LOOKUPS.items():
    for _rank, _key in enumerate(_keys):
        _INDEX[_key] = (*_INDEX.get(_key, ()), (_field, _rank))

_PREFIXES = (REQUEST_PARAMETER_PREFIX, *METADATA_PREFIXES, *FLATTENED_INPUT, *FLATTENED_OUTPUT)
_STRING_COLUMNS = tuple(STRING_RULES)
_EMPTY: tuple[int, Any] = (1 << 30, None)
MAX_NS = (1 << 63) - 1  # the timestamp columns' last nanosecond (2262)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return messages.to_json(value)


def _as_count(value: Any) -> int:
    """A token count; 0 for what is not one (negative, NaN, infinite, beyond MAX_TOKENS, text)."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return 0
    if isinstance(value, (int, float)) and 0 <= value <= MAX_TOKENS:  # NaN compares false
        return int(value)
    return 0


def _as_number(value: Any) -> float | None:
    """A finite number, or None."""
    if isinstance(value, bool):
        return None
    number: float
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _json_object(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def resource_defaults(resource: dict[str, Any]) -> dict[str, str]:
    """Columns a resource can fill for all its spans (environment, release ...); once per resource."""
    out: dict[str, str] = {}
    for column in RESOURCE_FALLBACK:
        for key in STRING_RULES[column]:
            value = resource.get(key)
            if value is not None and value != "":
                out[column] = _as_text(value)
                break
    return out


def _observation_type(found: dict[str, tuple[int, Any]], operation: str) -> str:
    langfuse = found.get("_lf_type", _EMPTY)[1]
    if isinstance(langfuse, str) and langfuse.upper() in OBSERVATION_TYPES:
        return langfuse.upper()
    kind = found.get("_oi_kind", _EMPTY)[1]
    if isinstance(kind, str) and kind.upper() in OPENINFERENCE_KINDS:
        return OPENINFERENCE_KINDS[kind.upper()]
    if operation in OPERATION_TYPES:
        return OPERATION_TYPES[operation]
    ai_sdk = found.get("_ai_op", _EMPTY)[1]
    if isinstance(ai_sdk, str) and ai_sdk in AI_SDK_OPERATIONS:
        return AI_SDK_OPERATIONS[ai_sdk]
    framework = found.get("_framework_kind", _EMPTY)[1]
    if isinstance(framework, str) and framework in FRAMEWORK_KINDS:
        return FRAMEWORK_KINDS[framework]
    component = found.get("_hs_component", _EMPTY)[1]
    if isinstance(component, str):
        for suffix, kind in HAYSTACK_COMPONENT_TYPES:
            if component.endswith(suffix):
                return kind
    presence = found.get("_presence")
    if presence is not None:
        return TYPE_FROM_PRESENCE[presence[0]][1]
    return "SPAN"


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                value = orjson.loads(stripped)
            except orjson.JSONDecodeError:
                value = [stripped]
        else:
            value = [t.strip() for t in stripped.split(",")]
    if not isinstance(value, list):
        value = [value]
    seen: dict[str, None] = {}
    for tag in value:
        text = _as_text(tag).strip()
        if text:
            seen[text] = None
    return list(seen)


# The token columns as Langfuse's usage keys (its API gives them; inclusive_tokens reads them back).
_LANGFUSE_PARTS = (
    ("cache_read_tokens", "input_cached_tokens"),
    ("cache_write_tokens", "input_cache_creation"),
    ("reasoning_tokens", "output_reasoning_tokens"),
)


def _langfuse_details(counts: dict[str, int]) -> dict[str, int]:
    """The usage as Langfuse keeps a span's: input without its cached part, output without its
    reasoning, each part under Langfuse's key; no key for what is not counted."""
    details: dict[str, int] = {}
    if counts["input_tokens"]:
        details["input"] = max(0, counts["input_tokens"] - counts["cache_read_tokens"] - counts["cache_write_tokens"])
    if counts["output_tokens"]:
        details["output"] = max(0, counts["output_tokens"] - counts["reasoning_tokens"])
    if counts["total_tokens"]:
        details["total"] = counts["total_tokens"]
    for column, key in _LANGFUSE_PARTS:
        if counts[column]:
            details[key] = counts[column]
    return details


def _ai_sdk_provider_details(metadata: Any, counts: dict[str, int]) -> tuple[bool, bool]:
    """Fills a call's uncounted cache and reasoning columns from the AI SDK 4 and 5's provider
    metadata (AI_SDK_PROVIDER_DETAILS); whether the provider's input count leaves its cache out,
    and whether its output count leaves its reasoning out."""
    parsed = _json_object(metadata)
    input_exclusive = output_exclusive = False
    for provider, paths in AI_SDK_PROVIDER_DETAILS.items():
        block = parsed.get(provider) if parsed else None
        if not isinstance(block, dict):
            continue
        input_exclusive = input_exclusive or provider in AI_SDK_EXCLUSIVE_METADATA
        output_exclusive = output_exclusive or provider in AI_SDK_EXCLUSIVE_OUTPUT_METADATA
        for column, path in paths:
            value: Any = block
            for step in path:
                value = value.get(step) if isinstance(value, dict) else None
            if not counts[column]:
                counts[column] = _as_count(value)
    return input_exclusive, output_exclusive


def _input_leaves_cache_out(
    found: dict[str, tuple[int, Any]], counts: dict[str, int], cached: int, from_langfuse: bool
) -> bool:
    """Whether a span's input count leaves its cached part out, which the columns count in: an
    input smaller than its cache (Anthropic's API counts so, and the AI SDK 5 passes its count on),
    a total that adds the cache to input and output (Bedrock's, Strands'), or a provider whose
    instrumentations pass such counts on (EXCLUSIVE_INPUT_PROVIDERS). Langfuse's counts are made
    inclusive before (inclusive_tokens)."""
    if counts["input_tokens"] < cached:
        return True
    if from_langfuse:
        return False
    if counts["total_tokens"] == counts["input_tokens"] + counts["output_tokens"] + cached:
        return True
    provider = found.get("provider", _EMPTY)[1]
    return isinstance(provider, str) and provider.lower() in EXCLUSIVE_INPUT_PROVIDERS


def _usage(found: dict[str, tuple[int, Any]], out: dict[str, Any]) -> None:
    counts = {column: _as_count(found.get(column, _EMPTY)[1]) for column in TOKEN_RULES}
    details: dict[str, int] = {}
    langfuse = _json_object(found.get("_usage_json", _EMPTY)[1])
    if langfuse:
        # Langfuse's OpenAI integration sends OpenAI's usage as it came: read as Langfuse does.
        details = langfuse_usage(langfuse)
        # Langfuse counts are exclusive (input without cache, output without reasoning).
        inclusive = inclusive_tokens(details)
        if inclusive is not None:
            counts.update(inclusive)
    exclusive = output_exclusive = False
    if counts["input_tokens"] or counts["output_tokens"]:  # a call's own usage: the AI SDK's details
        for column in AI_SDK_DETAILS:
            if not counts[column]:
                counts[column] = _as_count(found.get(f"_ai_{column}", _EMPTY)[1])
        metadata = found.get("_ai_provider_metadata")
        if (
            metadata is not None
            and not langfuse
            and "_ai_details" not in found  # the AI SDK 6 and 7 give theirs in their own keys
            and "cache_read_tokens" not in found
            and "cache_write_tokens" not in found
        ):
            exclusive, output_exclusive = _ai_sdk_provider_details(metadata[1], counts)
    cached = counts["cache_read_tokens"] + counts["cache_write_tokens"]
    adjusted = False
    if (
        cached
        and counts["input_tokens"]
        and (exclusive or _input_leaves_cache_out(found, counts, cached, bool(langfuse)))
    ):
        counts["input_tokens"] += cached
        adjusted = True
    reasoning = counts["reasoning_tokens"]
    if reasoning and counts["output_tokens"] and (output_exclusive or counts["output_tokens"] < reasoning):
        # An output smaller than its reasoning leaves it out (Gemini's candidatesTokenCount, which
        # the AI SDK 5 passes on): the columns count it in, so that thinking is priced.
        counts["output_tokens"] += reasoning
        adjusted = True
    counted = counts["input_tokens"] + counts["output_tokens"]
    if adjusted and counts["total_tokens"] and counts["total_tokens"] < counted:
        counts["total_tokens"] = counted
    if not counts["total_tokens"]:
        counts["total_tokens"] = counts["input_tokens"] + counts["output_tokens"]
    if not details:
        details = _langfuse_details(counts)
    out.update(counts)
    out["usage_details"] = details


def _haystack_call(found: dict[str, tuple[int, Any]], out: dict[str, Any], output: Any) -> None:
    """A Haystack model call's model and usage, which it sends in its output only (haystack.py);
    where an attribute gives either, that wins."""
    model, tokens = haystack.call_facts(output)
    if model and not out["model"]:
        out["response_model"] = out["model"] = model
    if not any(column in found for column in TOKEN_RULES):
        for column, count in tokens.items():
            found[column] = (0, count)


def _count_usage(out: dict[str, Any]) -> None:
    """A generation without usage (a call streamed without it): its tokens counted on its input
    and output where its model's tokenizer is OpenAI's (token_count.py), so that it is priced."""
    counted = counted_usage(out["model"], out["input"], out["output"])
    if counted is not None:
        total = counted.input_tokens + counted.output_tokens
        out.update(input_tokens=counted.input_tokens, output_tokens=counted.output_tokens, total_tokens=total)
        out["usage_details"] = {"input": counted.input_tokens, "output": counted.output_tokens, "total": total}
        out["counted_with"] = counted.how  # an attribute, not a column (decode.py)


def _provided_cost(found: dict[str, tuple[int, Any]]) -> dict[str, str] | None:
    details: dict[str, str] = {}
    langfuse = _json_object(found.get("_cost_json", _EMPTY)[1])
    if langfuse:
        for key, value in langfuse.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                details[str(key)] = repr(float(value))
    else:  # a zero here means unknown (OpenLIT's for a model its price list lacks): the price book's
        for name in ("total", "input", "output"):
            number = _as_number(found.get(f"_cost_{name}", _EMPTY)[1])
            if number is not None and number > 0:
                details[name] = repr(number)
    if not details:
        return None
    if "total" not in details:
        details["total"] = repr(sum(float(v) for v in details.values()))
    return details


def _verbatim_key(found: dict[str, tuple[int, Any]], name: str, result: str) -> str | None:
    """The attribute whose string value *is* ``result`` (taken as it came), if any."""
    hit = found.get(name)
    if hit is not None and hit[1] is result:
        return LOOKUPS[name][hit[0]]
    return None


def _whole(found: dict[str, tuple[int, Any]], name: str) -> tuple[str | None, bool]:
    """The input or output held whole by the first key of ``name`` found: as messages JSON where
    it holds messages, verbatim for Langfuse's own keys; and whether it was kept verbatim."""
    rank, value = found.get(name, _EMPTY)
    if value is None:
        return None, False
    if LOOKUPS[name][rank] in VERBATIM_IO:
        return (value if isinstance(value, str) else messages.to_json(value)), True
    if value == "[]" or value == []:  # no messages (Semantic Kernel's agent input): the span's others
        return None, False
    return messages.normalize(value), False


def _trace_io(found: dict[str, tuple[int, Any]], name: str) -> str | None:
    value = found.get(name, _EMPTY)[1]
    if value is None:
        return None
    return value if isinstance(value, str) else messages.to_json(value)


def _io(
    found: dict[str, tuple[int, Any]],
    attrs: dict[str, Any],
    events: list[tuple[str, dict[str, Any]]],
    flattened: bool,
    root: bool,
    tool: bool,
) -> tuple[str, str]:
    raw_in, verbatim = _whole(found, "_in_first")
    raw_out, _ = _whole(found, "_out_first")
    if root:  # the trace's own input and output, where the root has none of its own (rules.py)
        if raw_in is None:
            raw_in = _trace_io(found, "_trace_in")
            verbatim = raw_in is not None
        if raw_out is None:
            raw_out = _trace_io(found, "_trace_out")
    instructions = found.get("_system_instructions", _EMPTY)[1]
    if raw_in is not None and not verbatim and instructions is not None:
        system = messages.system_message(instructions)
        if system:
            raw_in = messages.prepend(raw_in, system)
    if (raw_in is None or raw_out is None) and events:
        event_in, event_out = (tool and messages.tool_events(events)) or messages.from_events(events)
        raw_in = raw_in if raw_in is not None else event_in
        raw_out = raw_out if raw_out is not None else event_out
    listed = found.get("_event_list", _EMPTY)[1]
    if listed is not None and (raw_in is None or raw_out is None):
        listed_in, listed_out = messages.from_event_list(listed)
        raw_in = raw_in if raw_in is not None else listed_in
        raw_out = raw_out if raw_out is not None else listed_out
    if flattened and (raw_in is None or raw_out is None):
        for prefix in FLATTENED_INPUT:
            if raw_in is None:
                raw_in = messages.from_flattened(attrs, prefix, "user")
        for prefix in FLATTENED_OUTPUT:
            if raw_out is None:
                raw_out = messages.from_flattened(attrs, prefix, "assistant")
    if raw_in is None:
        raw_in = messages.from_prompt_list(found.get("_prompt_list", _EMPTY)[1])
    if raw_out is None:  # the AI SDK's or LiveKit's text and tool calls, one message
        raw_out = messages.assistant_response(
            found.get("_response_text", _EMPTY)[1],
            found.get("_response_calls", _EMPTY)[1],
            found.get("_ai_finish", _EMPTY)[1],
        )
    if raw_in is None:
        value = found.get("_in_last", _EMPTY)[1]
        raw_in = messages.normalize(value) if value is not None else ""
    if raw_out is None:
        value = found.get("_out_last", _EMPTY)[1]
        raw_out = messages.normalize(value) if value is not None else ""
    return raw_in, raw_out


def _completion_start(found: dict[str, tuple[int, Any]], start_ns: int) -> int | None:
    seconds = _as_number(found.get("_ttft_s", _EMPTY)[1])
    if seconds is not None and 0 <= seconds < 86400:
        return _within_range(start_ns + int(seconds * 1e9))
    iso = found.get("_ttft_iso", _EMPTY)[1]
    if isinstance(iso, str):
        text = iso.strip().strip('"')
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            return _within_range(int(moment.timestamp() * 1e9))
        except (ValueError, OverflowError):  # not a date, or one past what a timestamp holds
            return None
    ms = _as_number(found.get("_ttft_ms", _EMPTY)[1])
    if ms is not None and 0 <= ms < 86_400_000:
        return _within_range(start_ns + int(ms * 1e6))
    return None


def _within_range(ns: int) -> int | None:
    return ns if 0 <= ns <= MAX_NS else None


def _logfire_level(number: Any) -> str:
    """The observation level of Logfire's level number (a warning logged with ``logfire.warn`` is
    a span of its own); DEFAULT without one."""
    value = _as_number(number)
    if value is None or not 0 <= value <= 24:  # fatal is 21
        return "DEFAULT"
    return next(level for floor, level in LOGFIRE_LEVELS if value >= floor)


def span_name(name: str, attrs: dict[str, Any]) -> str:
    """The span's name, or the name its sender shows for it: Logfire names a span by its message's
    template (``Responses API with {gen_ai.request.model!r}``) and sends the message apart, which
    its UI and Langfuse show as the name; Haystack names every component's span
    ``haystack.component.run`` and gives the component's name apart (its Langfuse integration
    shows that), a tool's alike."""
    message = attrs.get(LOGFIRE_MESSAGE)
    if isinstance(message, str) and message and attrs.get(LOGFIRE_TEMPLATE) == name:
        return message
    named_by = HAYSTACK_NAMES.get(name)
    if named_by is not None:
        given = attrs.get(named_by)
        if isinstance(given, str) and given:
            return given
    return name


def map_span(
    attrs: dict[str, Any],
    resource: dict[str, str],
    events: list[tuple[str, dict[str, Any]]],
    status_error: bool,
    start_ns: int,
    root: bool,
    client: bool = False,
) -> dict[str, Any]:
    """The typed columns of one span (see storage.tables.SPANS), from its attributes, the
    defaults of its resource (``resource_defaults``) and its GenAI message events; ``root``:
    the span has no parent; ``client``: its kind is CLIENT."""
    found: dict[str, tuple[int, Any]] = {}
    params: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    flattened = False
    index = _INDEX
    for key, value in attrs.items():
        hits = index.get(key)
        if hits is not None and value is not None and value != "":
            for name, rank in hits:
                current = found.get(name)
                if current is None or rank < current[0]:
                    found[name] = (rank, value)
        if key.startswith(_PREFIXES):
            if key.startswith(REQUEST_PARAMETER_PREFIX):
                if key != "gen_ai.request.model":
                    params[key[15:]] = value
            elif key.startswith(METADATA_PREFIXES):
                metadata[key.split(".metadata.", 1)[1]] = _as_text(value)
            else:
                flattened = True

    out: dict[str, Any] = {}
    for column in _STRING_COLUMNS:
        hit = found.get(column)
        out[column] = _as_text(hit[1]) if hit is not None else resource.get(column, "")
    for column in SCRUBBED_COLUMNS:
        if out[column].startswith(LOGFIRE_SCRUBBED):
            out[column] = ""
    out["provider"] = out["provider"].lower()
    operation = out["operation"] = out["operation"].lower()
    out["model"] = out["response_model"] or out["request_model"]
    out["observation_type"] = _observation_type(found, operation)
    haystack_call = found.get("_hs_call_out")
    if haystack_call is not None and out["observation_type"] in ("GENERATION", "EMBEDDING"):
        _haystack_call(found, out, haystack_call[1])
    level = found.get("_lf_level", _EMPTY)[1]
    if isinstance(level, str) and level.upper() in LEVEL_ALIASES:
        out["level"] = LEVEL_ALIASES[level.upper()]
    else:
        out["level"] = "ERROR" if status_error else _logfire_level(found.get("_logfire_level", _EMPTY)[1])
    out["tags"] = _tags(found.get("_tags", _EMPTY)[1])
    kind = found.get("_oi_kind", _EMPTY)[1]
    rollup = operation in ROLLUP_OPERATIONS or (isinstance(kind, str) and kind.upper() in ROLLUP_OPENINFERENCE_KINDS)
    countable = False
    if rollup and not client:  # its calls' usage, counted on them (rules.py)
        _usage({}, out)
        out["provided_cost"] = None
    else:
        embedded = found.get("_ai_tokens")
        if (
            embedded is not None
            and "input_tokens" not in found
            and found.get("_ai_op", _EMPTY)[1] in AI_SDK_EMBEDDING_CALLS
        ):
            found["input_tokens"] = embedded
        _usage(found, out)
        out["provided_cost"] = _provided_cost(found)
        countable = not (out["input_tokens"] or out["output_tokens"] or out["provided_cost"])
    out["input"], out["output"] = _io(found, attrs, events, flattened, root, out["observation_type"] == "TOOL")
    speech = SPEECH_IO.get(operation)
    if speech is not None and not out[speech[0]]:
        said = attrs.get(speech[1])
        if isinstance(said, str) and said:
            out[speech[0]] = said
    # A failed call is not counted: its output is the error (LiteLLM's), which no model wrote and
    # no one paid for.
    if countable and out["observation_type"] == "GENERATION" and out["model"] and out["level"] != "ERROR":
        _count_usage(out)
    # Where input/output is an attribute's text unchanged, storage keeps it once (see decode.py).
    out["input_key"] = _verbatim_key(found, "_in_first", out["input"]) or _verbatim_key(found, "_in_last", out["input"])
    out["output_key"] = _verbatim_key(found, "_out_first", out["output"]) or _verbatim_key(
        found, "_out_last", out["output"]
    )
    explicit = found.get("_params_json")
    out["model_parameters"] = (
        _as_text(explicit[1]) if explicit is not None else (messages.to_json(params) if params else "")
    )
    for i in range(2):
        obj = _json_object(found.get(f"_metadata_json{i}", _EMPTY)[1])
        if obj:
            for k, v in obj.items():
                metadata.setdefault(str(k), v if isinstance(v, str) else messages.to_json(v))
    out["metadata"] = metadata
    out["completion_start_time"] = _completion_start(found, start_ns)
    return out
