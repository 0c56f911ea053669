"""Langfuse entities (traces, observations, scores): merging events into their state, and the
state as a span row.

Merge rules (Langfuse v3's, see shared/reference/langfuse.md 1.6): per field the last
non-null value wins (an empty object does not count); ``metadata`` deep-merges; ``tags``
union; ``input``/``output`` take the last non-empty value; id, trace id, start time and
environment keep their first value. The merged state is kept in the row itself (the
``langfuse.state`` attribute), so a later update merges into exactly what was stored.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from otlp_receiver.genai_facts import TOKEN_COLUMNS, cost, inclusive_tokens, langfuse_usage, usage_count
from otlp_receiver.token_count import COUNTED_ATTRIBUTE, counted_usage
from pricing import PriceBook
from storage.observation_ids import stored_observation_id

# Where a score's dataset run is kept (a run-level score of an experiment has no trace): a reserved
# key of its metadata map, given back as ``datasetRunId`` and never as metadata.
DATASET_RUN_KEY = "$datasetRunId"

__all__ = [
    "DATASET_RUN_KEY",
    "STATE_KEY",
    "merge",
    "observation_row",
    "provided_cost",
    "provided_usage",
    "score_row",
    "trace_row",
]

STATE_KEY = "langfuse.state"
IMMUTABLE = {
    "trace": ("id", "timestamp", "environment"),
    "observation": ("id", "traceId", "startTime", "environment"),
    "score": ("id", "timestamp", "traceId", "environment"),
}
LAST_TRUTHY = ("input", "output")
_ENV = re.compile(r"^[a-z0-9_-]+$")


def _deep_merge(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        out = dict(old)
        for key, value in new.items():
            out[key] = _deep_merge(out.get(key), value) if value is not None else out.get(key)
        return out
    return new if new is not None else old


def _as_metadata(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    return {"metadata": value}


def merge(kind: str, state: dict[str, Any] | None, body: dict[str, Any]) -> dict[str, Any]:
    """``state`` with one event body applied."""
    out = dict(state or {})
    immutable = IMMUTABLE.get(kind, ())
    for key, value in body.items():
        if value is None or key == "type":
            continue
        if key in immutable and out.get(key) is not None:
            continue
        if key == "metadata":
            out["metadata"] = _deep_merge(out.get("metadata"), _as_metadata(value))
        elif key == "tags":
            out["tags"] = sorted(set(out.get("tags") or []) | set(value))
        elif key in LAST_TRUTHY:
            if value not in ("", 0, False, [], {}):
                out[key] = value
        elif isinstance(value, dict) and not value:
            continue  # an empty object does not overwrite
        else:
            out[key] = value
    return out


def _environment(value: Any) -> str:
    if not isinstance(value, str):
        return "default"
    env = re.sub(r"^(langfuse[-_]?)+", "", value.lower())[:40]
    return env if env and _ENV.match(env) else "default"


def provided_usage(state: dict[str, Any]) -> tuple[dict[str, int], str]:
    """Usage as Langfuse keeps it (exclusive counts by usage type) and its unit."""
    details: dict[str, int] = {}
    unit = "TOKENS"
    usage = state.get("usage") or {}
    if usage:
        if any(k in usage for k in ("promptTokens", "completionTokens", "totalTokens")):
            usage = {
                "input": usage.get("promptTokens"),
                "output": usage.get("completionTokens"),
                "total": usage.get("totalTokens"),
                "unit": "TOKENS",
            }
        for key in ("input", "output", "total"):
            n = usage_count(usage.get(key))
            if n is not None:
                details[key] = n
        if isinstance(usage.get("unit"), str):
            unit = usage["unit"].upper()
    usage_details = state.get("usageDetails") or {}
    if usage_details:
        details.update(langfuse_usage(usage_details))
    if details and "total" not in details and not usage_details:
        details["total"] = details.get("input", 0) + details.get("output", 0)
    return details, unit


def provided_cost(state: dict[str, Any]) -> dict[str, Decimal]:
    """Costs the sender gave, USD by usage type (they win over the price table)."""
    costs: dict[str, Decimal] = {}
    usage = state.get("usage") or {}
    for key, name in (("inputCost", "input"), ("outputCost", "output"), ("totalCost", "total")):
        value = usage.get(key)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            try:
                amount = Decimal(str(value))
            except InvalidOperation:
                continue
            if amount.is_finite() and amount >= 0:
                costs[name] = amount
    for key, value in (state.get("costDetails") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            costs[str(key)] = Decimal(str(value))
    if costs and "total" not in costs:
        costs["total"] = sum((v for v in costs.values()), Decimal(0))
    return {k: v.quantize(Decimal("1e-12")) for k, v in costs.items() if v < Decimal("1e6")}


def _tokens(details: dict[str, int]) -> dict[str, int]:
    return inclusive_tokens(details) or dict.fromkeys(TOKEN_COLUMNS, 0)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


def _metadata_map(metadata: Any) -> dict[str, str]:
    if not isinstance(metadata, dict):
        return {}
    return {str(k): orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS, default=str).decode() for k, v in metadata.items()}


def _state_attr(state: dict[str, Any]) -> dict[str, str]:
    kept = {k: v for k, v in state.items() if k not in ("input", "output")}
    kept["inputIsText"] = isinstance(state.get("input"), str)
    kept["outputIsText"] = isinstance(state.get("output"), str)
    return {STATE_KEY: orjson.dumps(kept, option=orjson.OPT_NON_STR_KEYS, default=str).decode()}


def load_state(row: dict[str, Any]) -> dict[str, Any]:
    """The merged Langfuse state stored with a row (input and output from their columns)."""
    raw = (row.get("span_attributes") or {}).get(STATE_KEY)
    state: dict[str, Any] = orjson.loads(raw) if raw else {}
    for field, flag in (("input", "inputIsText"), ("output", "outputIsText")):
        text = row.get(field) or ""
        if text:
            state[field] = text if state.get(flag) else orjson.loads(text)
        state.pop(flag, None)
    return state


def trace_row(state: dict[str, Any], project: str, retention: int) -> dict[str, Any]:
    start = state.get("timestamp") or 0
    return {
        "project_id": project,
        "trace_id": state["id"],
        "span_id": state["id"],
        "parent_span_id": "",
        "name": state.get("name") or "",
        "trace_name": state.get("name") or "",
        "kind": "INTERNAL",
        "start_time": start,
        "end_time": start,
        "duration_ns": 0,
        "status_code": "UNSET",
        "service_name": "langfuse",
        "span_attributes": _state_attr(state),
        "observation_type": "TRACE",
        "input": _text(state.get("input")),
        "output": _text(state.get("output")),
        "metadata": _metadata_map(state.get("metadata")),
        "session_id": state.get("sessionId") or "",
        "user_id": state.get("userId") or "",
        "tags": state.get("tags") or [],
        "environment": _environment(state.get("environment")),
        "release": state.get("release") or "",
        "version": state.get("version") or "",
        "level": "DEFAULT",
        "source": "langfuse",
        "retention_days": retention,
    }


def observation_row(state: dict[str, Any], project: str, retention: int, prices: PriceBook) -> dict[str, Any]:
    trace_id = state.get("traceId") or state["id"]
    start = state.get("startTime") or 0
    end = max(state.get("endTime") or start, start)  # Langfuse clamps an end before the start
    level = state.get("level") or "DEFAULT"
    details, unit = provided_usage(state)
    model = state.get("model") or ""
    given_cost = provided_cost(state)
    attributes = _state_attr(state)
    if not details and not given_cost and model and state.get("type") == "GENERATION" and level != "ERROR":
        # No usage (a call streamed without it): counted on its input and output, as Langfuse does;
        # not a failed call's (its output is the error: apply.py).
        counted = counted_usage(model, _text(state.get("input")), _text(state.get("output")))
        if counted is not None:
            total = counted.input_tokens + counted.output_tokens
            details = {"input": counted.input_tokens, "output": counted.output_tokens, "total": total}
            attributes[COUNTED_ATTRIBUTE] = counted.how
    tokens = _tokens(details) if unit == "TOKENS" else {}
    costs = cost(prices, project, model, tokens, given_cost)
    # An id that is also its trace's is stored apart from the trace's row (storage.observation_ids).
    parent = stored_observation_id(state.get("parentObservationId") or "", state.get("traceId")) or (
        trace_id if state.get("traceId") else ""
    )
    return {
        "project_id": project,
        "trace_id": trace_id,
        "span_id": stored_observation_id(state["id"], state.get("traceId")),
        "parent_span_id": parent,
        "name": state.get("name") or "",
        "kind": "INTERNAL",
        "start_time": start,
        "end_time": end,
        "duration_ns": end - start,
        "status_code": "ERROR" if level == "ERROR" else "UNSET",
        "status_message": state.get("statusMessage") or "",
        "service_name": "langfuse",
        "span_attributes": attributes,
        "observation_type": state.get("type") or "SPAN",
        "request_model": model,
        "model": model,
        **tokens,
        "usage_details": details,
        "cost_details": costs,
        "total_cost": costs.get("total", Decimal(0)),
        "input": _text(state.get("input")),
        "output": _text(state.get("output")),
        "model_parameters": _text(state.get("modelParameters")) if state.get("modelParameters") else "",
        "metadata": _metadata_map(state.get("metadata")),
        "environment": _environment(state.get("environment")),
        "version": state.get("version") or "",
        "level": level,
        "completion_start_time": state.get("completionStartTime"),
        "prompt_name": state.get("promptName") or "",
        "prompt_version": str(state["promptVersion"]) if state.get("promptVersion") is not None else "",
        "source": "langfuse",
        "retention_days": retention,
    }


def score_row(state: dict[str, Any], project: str, retention: int, now_ns: int) -> dict[str, Any]:
    value = state.get("value")
    data_type = (state.get("dataType") or "").upper()
    # A boolean's text is "True" or "False", as Langfuse stores and gives it back.
    if isinstance(value, bool):
        numeric, text, data_type = float(value), "True" if value else "False", data_type or "BOOLEAN"
    elif isinstance(value, (int, float)):
        numeric, text, data_type = float(value), "", data_type or "NUMERIC"
    else:
        numeric, text, data_type = 0.0, str(value), data_type or "CATEGORICAL"
    if data_type == "BOOLEAN" and not text:
        text = "True" if numeric else "False"
    return {
        "project_id": project,
        "id": state["id"],
        "timestamp": state.get("timestamp") or now_ns,
        "trace_id": state.get("traceId") or "",
        "observation_id": state.get("observationId") or "",
        "session_id": state.get("sessionId") or "",
        "name": state["name"],
        "value": numeric,
        "string_value": text,
        "data_type": data_type,
        "source": (state.get("source") or "API").upper(),
        "comment": state.get("comment") or "",
        "metadata": list(_score_metadata(state).items()),
        "environment": _environment(state.get("environment")),
        "retention_days": retention,
        "is_deleted": 0,
    }


def _score_metadata(state: dict[str, Any]) -> dict[str, str]:
    metadata = {k: v for k, v in _metadata_map(state.get("metadata")).items() if k != DATASET_RUN_KEY}
    if isinstance(state.get("datasetRunId"), str) and state["datasetRunId"]:
        metadata[DATASET_RUN_KEY] = state["datasetRunId"]
    return metadata
