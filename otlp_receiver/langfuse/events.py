"""Langfuse ingestion events: the envelope, each event, and each body field, checked leniently.

Lenient where Langfuse SDKs and Dify need it (unknown keys ignored, explicit nulls, naive
timestamps taken as UTC, integers sent as strings); strict where a wrong type would store
garbage: such an event fails alone, with a message naming the field.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "OBSERVATION_TYPES",
    "Event",
    "EventError",
    "parse_envelope",
    "parse_event",
    "parse_time",
]

# event type -> (entity kind, observation type or None, is an update)
EVENT_TYPES: dict[str, tuple[str, str | None, bool]] = {
    "trace-create": ("trace", None, False),
    "span-create": ("observation", "SPAN", False),
    "span-update": ("observation", "SPAN", True),
    "generation-create": ("observation", "GENERATION", False),
    "generation-update": ("observation", "GENERATION", True),
    "event-create": ("observation", "EVENT", False),
    "agent-create": ("observation", "AGENT", False),
    "tool-create": ("observation", "TOOL", False),
    "chain-create": ("observation", "CHAIN", False),
    "retriever-create": ("observation", "RETRIEVER", False),
    "evaluator-create": ("observation", "EVALUATOR", False),
    "embedding-create": ("observation", "EMBEDDING", False),
    "guardrail-create": ("observation", "GUARDRAIL", False),
    "observation-create": ("observation", None, False),
    "observation-update": ("observation", None, True),
    "score-create": ("score", None, False),
    "sdk-log": ("log", None, False),
}
OBSERVATION_TYPES = {t for _, t, _ in EVENT_TYPES.values() if t}
LEVELS = {"DEBUG", "DEFAULT", "WARNING", "ERROR"}
# A namespace for ids derived from event ids, so that a re-sent event derives the same id.
_ID_NAMESPACE = uuid.UUID("7f1c3c2e-2b7a-4f8e-9a57-3d1d6b0f5a11")

STRING_FIELDS = (
    "id",
    "traceId",
    "name",
    "parentObservationId",
    "sessionId",
    "userId",
    "statusMessage",
    "version",
    "release",
    "environment",
    "model",
    "promptName",
    "externalId",
    "observationId",
    "comment",
    "source",
    "dataType",
    "configId",
    "datasetRunId",
    "queueId",
)
TIME_FIELDS = ("timestamp", "startTime", "endTime", "completionStartTime")


class EventError(Exception):
    """One event is invalid; the rest of the batch goes on."""

    def __init__(self, status: int, message: str, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.message = message
        self.error = error


@dataclass
class Event:
    id: str
    type: str
    entity: str  # trace | observation | score | log
    observation_type: str | None
    is_update: bool
    timestamp: int  # ns
    body: dict[str, Any]
    body_id: str


def parse_time(value: Any, field: str) -> int | None:
    """An ISO-8601 time as epoch nanoseconds (naive means UTC); None for null."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(400, "Invalid request data", f"{field} must be an ISO-8601 string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise EventError(400, "Invalid request data", f"{field} is not an ISO-8601 time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    seconds = int(moment.timestamp())
    return seconds * 1_000_000_000 + moment.microsecond * 1000


def parse_envelope(doc: Any) -> list[Any]:
    """The batch list, or ValueError when the envelope itself is malformed (a 400 for all)."""
    if not isinstance(doc, dict):
        raise ValueError("the body must be a JSON object with a 'batch' array")
    batch = doc.get("batch")
    if not isinstance(batch, list):
        raise ValueError("'batch' must be an array of events")
    return batch


def _check_body(body: dict[str, Any]) -> None:
    for field in STRING_FIELDS:
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            if field in ("version", "release") and isinstance(value, (int, float)) and not isinstance(value, bool):
                body[field] = str(value)
                continue
            raise EventError(400, "Invalid request data", f"{field} must be a string, got {type(value).__name__}")
    for field in TIME_FIELDS:
        if field in body:
            body[field] = parse_time(body[field], field)
    level = body.get("level")
    if level is not None and (not isinstance(level, str) or level.upper() not in LEVELS):
        raise EventError(400, "Invalid request data", f"level must be one of {sorted(LEVELS)}")
    if level is not None:
        body["level"] = level.upper()
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise EventError(400, "Invalid request data", "tags must be an array of strings")
    for field in ("usage", "usageDetails", "costDetails", "modelParameters"):
        value = body.get(field)
        if value is not None and not isinstance(value, dict):
            raise EventError(400, "Invalid request data", f"{field} must be an object")
    prompt_version = body.get("promptVersion")
    if prompt_version is not None and (isinstance(prompt_version, bool) or not isinstance(prompt_version, int)):
        raise EventError(400, "Invalid request data", "promptVersion must be an integer")
    public = body.get("public")
    if public is not None and not isinstance(public, bool):
        raise EventError(400, "Invalid request data", "public must be true or false")


def _check_depth(body: dict[str, Any]) -> None:
    """Refuse a body nested too deep to store: the state kept beside each observation is its JSON
    (orjson's limit, 254 levels, less one for the wrapping). Checked here, one event fails alone;
    at write time, it failed the writes of every request flushed with it."""
    try:
        orjson.dumps([body], option=orjson.OPT_NON_STR_KEYS, default=str)
    except TypeError:
        raise EventError(400, "Invalid request data", "body nests too deep to store (over 250 levels)") from None


def parse_event(raw: Any, now_ns: int) -> Event:
    """One event, validated; raises EventError (its id is ``event_id_of(raw)``)."""
    if not isinstance(raw, dict):
        raise EventError(400, "Invalid request data", "an event must be a JSON object")
    event_id = raw.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 800 or "\r" in event_id:
        raise EventError(400, "Invalid request data", "event id must be a non-empty string (max 800 characters)")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise EventError(400, "Invalid request data", f"unknown event type {str(kind)[:60]!r}")
    entity, observation_type, is_update = EVENT_TYPES[kind]
    body = raw.get("body")
    if not isinstance(body, dict):
        raise EventError(400, "Invalid request data", "body must be a JSON object")
    timestamp = parse_time(raw.get("timestamp"), "timestamp") or now_ns
    body = dict(body)
    if entity != "log":
        _check_body(body)
        _check_depth(body)
    if entity == "observation" and observation_type is None:
        legacy = body.get("type")
        if not isinstance(legacy, str) or legacy.upper() not in OBSERVATION_TYPES:
            raise EventError(400, "Invalid request data", "observation type must be SPAN, GENERATION or EVENT")
        observation_type = legacy.upper()
    if entity == "score":
        if not isinstance(body.get("name"), str) or not body["name"]:
            raise EventError(400, "Invalid request data", "score name is required")
        value = body.get("value")
        if value is None or isinstance(value, (dict, list)):
            raise EventError(400, "Invalid request data", "score value must be a number, boolean or string")
    body_id = body.get("id")
    if not body_id:
        # Langfuse rejects these; Dify sends some of its entries this way and would lose them.
        body_id = str(uuid.uuid5(_ID_NAMESPACE, event_id))
        body["id"] = body_id
    return Event(event_id, kind, entity, observation_type, is_update, timestamp, body, body_id)


def event_id_of(raw: Any) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"]:
        return raw["id"]
    return "unknown"
