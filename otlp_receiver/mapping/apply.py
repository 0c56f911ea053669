"""Apply the mapping rules to one span: attributes in, typed GenAI fields out.

Pure and table-driven: the rules live in ``rules.py``; this module only walks them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from otlp_receiver.mapping import messages
from otlp_receiver.mapping.rules import (
    COST_DETAILS_JSON,
    COST_RULES,
    INPUT_FIRST,
    INPUT_LAST,
    LANGFUSE_LEVEL,
    LANGFUSE_TYPE,
    LANGFUSE_USAGE_KEYS,
    LEVEL_ALIASES,
    METADATA_JSON,
    METADATA_PREFIXES,
    MODEL_PARAMETER_JSON,
    OBSERVATION_TYPES,
    OPENINFERENCE_KINDS,
    OPERATION_TYPES,
    OUTPUT_FIRST,
    OUTPUT_LAST,
    RESOURCE_FALLBACK,
    STRING_RULES,
    TAG_KEYS,
    TOKEN_RULES,
    TRACELOOP_KINDS,
    TTFT_ISO,
    TTFT_SECONDS,
    TYPE_FROM_PRESENCE,
    USAGE_DETAILS_JSON,
)

__all__ = ["map_span"]

_FLATTENED_INPUT = ("gen_ai.prompt.", "llm.input_messages.", "llm.prompts.")
_FLATTENED_OUTPUT = ("gen_ai.completion.", "llm.output_messages.", "llm.choices.")


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return messages.to_json(value)


def _as_count(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, (int, float)):
        return max(0, int(value))
    if isinstance(value, str):
        try:
            return max(0, int(float(value)))
        except ValueError:
            return 0
    return 0


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


def _observation_type(attrs: dict[str, Any], operation: str) -> str:
    langfuse = attrs.get(LANGFUSE_TYPE)
    if isinstance(langfuse, str) and langfuse.upper() in OBSERVATION_TYPES:
        return langfuse.upper()
    kind = attrs.get("openinference.span.kind")
    if isinstance(kind, str) and kind.upper() in OPENINFERENCE_KINDS:
        return OPENINFERENCE_KINDS[kind.upper()]
    if operation in OPERATION_TYPES:
        return OPERATION_TYPES[operation]
    traceloop = attrs.get("traceloop.span.kind")
    if isinstance(traceloop, str) and traceloop in TRACELOOP_KINDS:
        return TRACELOOP_KINDS[traceloop]
    for key, observation_type in TYPE_FROM_PRESENCE:
        if attrs.get(key) not in (None, ""):
            return observation_type
    return "SPAN"


def _tags(attrs: dict[str, Any]) -> list[str]:
    value = _first(attrs, TAG_KEYS)
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


def _usage(attrs: dict[str, Any], out: dict[str, Any]) -> None:
    counts = {column: _as_count(_first(attrs, keys)) for column, keys in TOKEN_RULES.items()}
    details: dict[str, int] = {}
    langfuse = _json_object(attrs.get(USAGE_DETAILS_JSON))
    if langfuse:
        for key, value in langfuse.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                details[str(key)] = int(value)
        picked = {
            name: next((details[k] for k in keys if k in details), 0) for name, keys in LANGFUSE_USAGE_KEYS.items()
        }
        # Langfuse counts are exclusive (input without cache, output without reasoning).
        if any(picked.values()):
            counts["cache_read_tokens"] = picked["cache_read"]
            counts["cache_write_tokens"] = picked["cache_write"]
            counts["reasoning_tokens"] = picked["reasoning"]
            counts["input_tokens"] = picked["input"] + picked["cache_read"] + picked["cache_write"]
            counts["output_tokens"] = picked["output"] + picked["reasoning"]
            counts["total_tokens"] = picked["total"]
    if not counts["total_tokens"]:
        counts["total_tokens"] = counts["input_tokens"] + counts["output_tokens"]
    if not details:
        details = {name.removesuffix("_tokens"): n for name, n in counts.items() if n}
    out.update(counts)
    out["usage_details"] = details


def _provided_cost(attrs: dict[str, Any]) -> dict[str, str] | None:
    langfuse = _json_object(attrs.get(COST_DETAILS_JSON))
    details: dict[str, str] = {}
    if langfuse:
        for key, value in langfuse.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                details[str(key)] = repr(float(value))
    else:
        for key, name in COST_RULES:
            value = attrs.get(key)
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    continue
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and name not in details:
                details[name] = repr(float(value))
    if not details:
        return None
    if "total" not in details:
        details["total"] = repr(sum(float(v) for v in details.values()))
    return details


def _io(attrs: dict[str, Any], events: list[tuple[str, dict[str, Any]]]) -> tuple[str, str]:
    value = _first(attrs, INPUT_FIRST)
    raw_in = messages.normalize(value) if value is not None else None
    if raw_in is not None and attrs.get("gen_ai.system_instructions") is not None:
        system = messages.system_message(attrs["gen_ai.system_instructions"])
        if system:
            raw_in = messages.prepend(raw_in, system)
    value = _first(attrs, OUTPUT_FIRST)
    raw_out = messages.normalize(value) if value is not None else None
    if (raw_in is None or raw_out is None) and events:
        event_in, event_out = messages.from_events(events)
        raw_in = raw_in if raw_in is not None else event_in
        raw_out = raw_out if raw_out is not None else event_out
    if raw_in is None or raw_out is None:
        has_flattened = any(k.startswith(_FLATTENED_INPUT + _FLATTENED_OUTPUT) for k in attrs)
        if has_flattened:
            for prefix in _FLATTENED_INPUT:
                if raw_in is None:
                    raw_in = messages.from_flattened(attrs, prefix)
            for prefix in _FLATTENED_OUTPUT:
                if raw_out is None:
                    raw_out = messages.from_flattened(attrs, prefix)
    if raw_in is None:
        value = _first(attrs, INPUT_LAST)
        raw_in = messages.normalize(value) if value is not None else ""
    if raw_out is None:
        value = _first(attrs, OUTPUT_LAST)
        raw_out = messages.normalize(value) if value is not None else ""
    return raw_in, raw_out


def _model_parameters(attrs: dict[str, Any]) -> str:
    value = _first(attrs, MODEL_PARAMETER_JSON)
    if value is not None:
        return _as_text(value)
    params = {
        k[len("gen_ai.request.") :]: v
        for k, v in attrs.items()
        if k.startswith("gen_ai.request.") and k != "gen_ai.request.model"
    }
    return messages.to_json(params) if params else ""


def _metadata(attrs: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in METADATA_JSON:
        obj = _json_object(attrs.get(key))
        if obj:
            for k, v in obj.items():
                out[str(k)] = v if isinstance(v, str) else messages.to_json(v)
    for key, value in attrs.items():
        for prefix in METADATA_PREFIXES:
            if key.startswith(prefix):
                out[key[len(prefix) :]] = _as_text(value)
    return out


def _completion_start(attrs: dict[str, Any], start_ns: int) -> int | None:
    seconds = _first(attrs, TTFT_SECONDS)
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 <= seconds < 86400:
        return start_ns + int(seconds * 1e9)
    iso = _first(attrs, TTFT_ISO)
    if isinstance(iso, str):
        text = iso.strip().strip('"')
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return int(moment.timestamp() * 1e9)
    ms = attrs.get("ai.response.msToFirstChunk")
    if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms >= 0:
        return start_ns + int(ms * 1e6)
    return None


def map_span(
    attrs: dict[str, Any],
    resource: dict[str, Any],
    events: list[tuple[str, dict[str, Any]]],
    status_error: bool,
    start_ns: int,
) -> dict[str, Any]:
    """The typed columns of one span (see storage.tables.SPANS), from its attributes, its
    resource's attributes and its GenAI message events."""
    out: dict[str, Any] = {}
    for column, keys in STRING_RULES.items():
        value = _first(attrs, keys)
        if value is None and column in RESOURCE_FALLBACK:
            value = _first(resource, keys)
        out[column] = _as_text(value) if value is not None else ""
    provider = out["provider"]
    out["provider"] = provider.lower()
    out["operation"] = out["operation"].lower()
    out["model"] = out["response_model"] or out["request_model"]
    out["observation_type"] = _observation_type(attrs, out["operation"])
    level = attrs.get(LANGFUSE_LEVEL)
    if isinstance(level, str) and level.upper() in LEVEL_ALIASES:
        out["level"] = LEVEL_ALIASES[level.upper()]
    else:
        out["level"] = "ERROR" if status_error else "DEFAULT"
    out["tags"] = _tags(attrs)
    _usage(attrs, out)
    out["provided_cost"] = _provided_cost(attrs)
    out["input"], out["output"] = _io(attrs, events)
    out["model_parameters"] = _model_parameters(attrs)
    out["metadata"] = _metadata(attrs)
    out["completion_start_time"] = _completion_start(attrs, start_ns)
    return out
