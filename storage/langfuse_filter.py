"""Langfuse's ``filter`` query parameter on the observation lists: a JSON array of conditions, as
its UI's filter builder and the SDKs write them (``{"type": "number", "column": "latency",
"operator": ">=", "value": 2.5}``), compiled to SQL over the spans table (alias ``s``).

Every column, type and operator the SDK 5 documents for ``GET /api/public/v2/observations`` is
applied or refused with a clear error: none is ignored, which would hand back rows the client
asked to leave out. Values are bound parameters; only the names checked here reach the SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from storage import escapes
from tracehouse.errors import InvalidInput

__all__ = ["observation_conditions"]

MAX_CONDITIONS = 50


@dataclass(frozen=True)
class _Column:
    sql: str
    kind: str  # string, text, datetime, number, boolean, array, object
    trace: bool = False  # the trace's, from its summary (traces AS t): tested per trace


_LATENCY_S = "(toUnixTimestamp64Nano(s.end_time) - toUnixTimestamp64Nano(s.start_time)) / 1e9"
_COLUMNS: dict[str, _Column] = {
    "id": _Column("s.span_id", "string"),
    "type": _Column("toString(s.observation_type)", "string"),
    "name": _Column("toString(s.name)", "string"),
    "traceId": _Column("s.trace_id", "string"),
    "startTime": _Column("s.start_time", "datetime"),
    "endTime": _Column("s.end_time", "datetime"),
    "environment": _Column("toString(s.environment)", "string"),
    "level": _Column("toString(s.level)", "string"),
    "statusMessage": _Column("s.status_message", "string"),
    "version": _Column("toString(s.version)", "string"),
    "userId": _Column("s.user_id", "string"),
    "sessionId": _Column("s.session_id", "string"),
    # A Langfuse observation's parent is its trace when it has no parent observation.
    "isRootObservation": _Column("(s.parent_span_id = '' OR s.parent_span_id = s.trace_id)", "boolean"),
    "traceName": _Column("argMinMerge(t.name)", "string", trace=True),
    "traceTags": _Column("groupUniqArrayArray(t.tags)", "array", trace=True),
    "tags": _Column("groupUniqArrayArray(t.tags)", "array", trace=True),
    "latency": _Column(_LATENCY_S, "number"),
    "timeToFirstToken": _Column(
        "(toUnixTimestamp64Nano(s.completion_start_time) - toUnixTimestamp64Nano(s.start_time)) / 1e9", "number"
    ),
    "tokensPerSecond": _Column(f"if(s.end_time > s.start_time, s.output_tokens / {_LATENCY_S}, NULL)", "number"),
    "inputTokens": _Column("s.input_tokens", "number"),
    "outputTokens": _Column("s.output_tokens", "number"),
    "totalTokens": _Column("s.total_tokens", "number"),
    "tokens": _Column("s.total_tokens", "number"),
    "inputCost": _Column("toFloat64(s.cost_details['input'])", "number"),
    "outputCost": _Column("toFloat64(s.cost_details['output'])", "number"),
    "totalCost": _Column("toFloat64(s.total_cost)", "number"),
    "model": _Column("toString(s.model)", "string"),
    "providedModelName": _Column("toString(s.model)", "string"),
    "promptName": _Column("toString(s.prompt_name)", "string"),
    "promptVersion": _Column("toInt64OrNull(toString(s.prompt_version))", "number"),
    "input": _Column("s.input", "text"),
    "output": _Column("s.output", "text"),
    "metadata": _Column("s.metadata", "object"),
}
# Filter types each kind of column takes.
_TYPES = {
    "string": {"string", "stringOptions", "categoryOptions", "null"},
    "text": {"string", "null"},
    "datetime": {"datetime", "null"},
    "number": {"number", "null"},
    "boolean": {"boolean"},
    "array": {"arrayOptions"},
    "object": {"stringObject", "numberObject", "categoryOptions"},
}
_COMPARE = {"=": "=", ">": ">", "<": "<", ">=": ">=", "<=": "<="}
_STRING_OPERATORS = {"=", "contains", "does not contain", "starts with", "ends with", "matches"}
_OPERATORS = {
    "datetime": {">", "<", ">=", "<="},
    "string": _STRING_OPERATORS,
    "stringOptions": {"any of", "none of"},
    "categoryOptions": {"any of", "none of"},
    "arrayOptions": {"any of", "none of", "all of"},
    "number": {"=", ">", "<", ">=", "<="},
    "stringObject": {
        "=",
        "contains",
        "does not contain",
        "starts with",
        "ends with",
        "matches",
        "is set",
        "is not set",
    },
    "numberObject": {"=", ">", "<", ">=", "<="},
    "boolean": {"=", "<>"},
    "null": {"is null", "is not null"},
}


class _Params:
    def __init__(self, params: dict[str, object]) -> None:
        self.params = params

    def name(self, value: object) -> str:
        """A new parameter holding ``value``: its name."""
        name = f"lf{sum(1 for k in self.params if k.startswith('lf'))}"
        self.params[name] = value
        return name

    def bind(self, value: object, kind: str) -> str:
        return f"{{{self.name(value)}:{kind}}}"


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: the value must be a string")
    return value


def _texts(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{where}: the value must be a non-empty list of strings")
    return value


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        raise InvalidInput(f"{where}: the value must be a finite number")
    return float(value)


def _string_test(expr: str, operator: str, value: str, p: _Params, text: bool) -> str:
    if operator == "=":
        return f"{expr} = {p.bind(value, 'String')}"
    if operator == "matches" or (text and operator in ("contains", "does not contain")):
        # As the lists' search: in any case, and as JSON escapes it (inputs often came so).
        found = escapes.matches(expr, p.name(escapes.needles(value)))
        return f"NOT {found}" if operator == "does not contain" else found
    bound = p.bind(value, "String")
    return {
        "contains": f"positionCaseInsensitiveUTF8({expr}, {bound}) > 0",
        "does not contain": f"positionCaseInsensitiveUTF8({expr}, {bound}) = 0",
        "starts with": f"startsWith({expr}, {bound})",
        "ends with": f"endsWith({expr}, {bound})",
    }[operator]


def _metadata_test(kind: str, key: str, operator: str, value: object, p: _Params, where: str) -> str:
    # Metadata values are JSON text (a string quoted) or, from some exporters, the text itself.
    stored = f"s.metadata[{p.bind(key, 'String')}]"
    if operator in ("is set", "is not set"):
        test = f"mapContains(s.metadata, {p.bind(key, 'String')})"
        return test if operator == "is set" else f"NOT {test}"
    if kind == "numberObject":
        number = f"toFloat64OrNull(trim(BOTH '\"' FROM {stored}))"
        return f"{number} {_COMPARE[operator]} {p.bind(_number(value, where), 'Float64')}"
    if kind == "categoryOptions":
        values = _texts(value, where)
        spelled = values + [orjson.dumps(v).decode() for v in values]
        test = f"{stored} IN {p.bind(spelled, 'Array(String)')}"
        return test if operator == "any of" else f"NOT {test}"
    text = _text(value, where)
    if operator == "=":
        return f"{stored} IN {p.bind([text, orjson.dumps(text).decode()], 'Array(String)')}"
    unquoted = f"if(startsWith({stored}, '\"'), JSONExtractString({stored}), {stored})"
    if operator == "matches":  # case-sensitive, as Langfuse's metadata matches are
        return f"position({unquoted}, {p.bind(text, 'String')}) > 0"
    return _string_test(unquoted, operator, text, p, text=False)


def _condition(item: object, n: int, p: _Params) -> tuple[str, bool]:
    """(SQL, whether it tests the trace's summary) of one condition."""
    if not isinstance(item, dict):
        raise InvalidInput(f"filter[{n}] must be an object with type, column, operator and value")
    kind, name, operator = item.get("type"), item.get("column"), item.get("operator")
    where = f"filter[{n}] ({str(name)[:40]})"
    column = _COLUMNS.get(name) if isinstance(name, str) else None
    if column is None:
        raise InvalidInput(f"filter[{n}]: unknown column {str(name)[:60]!r}; the columns are {', '.join(_COLUMNS)}")
    if not isinstance(kind, str) or kind not in _TYPES[column.kind]:
        allowed = ", ".join(sorted(_TYPES[column.kind]))
        raise InvalidInput(f"{where}: type {str(kind)[:30]!r} does not apply to this column (it takes {allowed})")
    if not isinstance(operator, str) or operator not in _OPERATORS[kind]:
        allowed = ", ".join(sorted(_OPERATORS[kind]))
        raise InvalidInput(f"{where}: operator {str(operator)[:30]!r} does not apply to {kind} (it takes {allowed})")
    value = item.get("value")
    expr = column.sql
    if column.kind == "object":
        key = item.get("key")
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"{where}: {kind} needs the metadata key in 'key'")
        return _metadata_test(kind, key, operator, value, p, where), False
    if kind == "null":
        empty = f"({expr} IS NULL)" if column.kind in ("datetime", "number") else f"empty({expr})"
        return (empty if operator == "is null" else f"NOT {empty}"), column.trace
    tests: dict[str, Callable[[], str]] = {
        "datetime": lambda: f"toUnixTimestamp64Nano({expr}) {_COMPARE[operator]} {p.bind(_ns(value, where), 'Int64')}",
        "number": lambda: f"{expr} {_COMPARE[operator]} {p.bind(_number(value, where), 'Float64')}",
        "boolean": lambda: f"{expr} {'=' if operator == '=' else '!='} {p.bind(_bool(value, where), 'Bool')}",
        "string": lambda: _string_test(expr, operator, _text(value, where), p, text=column.kind == "text"),
        "stringOptions": lambda: _options(expr, operator, value, p, where),
        "categoryOptions": lambda: _options(expr, operator, value, p, where),
        "arrayOptions": lambda: {
            "any of": f"hasAny({expr}, {p.bind(_texts(value, where), 'Array(String)')})",
            "all of": f"hasAll({expr}, {p.bind(_texts(value, where), 'Array(String)')})",
            "none of": f"NOT hasAny({expr}, {p.bind(_texts(value, where), 'Array(String)')})",
        }[operator],
    }
    return tests[kind](), column.trace


def _options(expr: str, operator: str, value: object, p: _Params, where: str) -> str:
    test = f"{expr} IN {p.bind(_texts(value, where), 'Array(String)')}"
    return test if operator == "any of" else f"NOT {test}"


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{where}: the value must be true or false")
    return value


def _ns(value: object, where: str) -> int:
    try:
        moment = datetime.fromisoformat(_text(value, where))
    except ValueError:
        raise InvalidInput(f"{where}: the value must be an ISO 8601 time, such as 2026-12-01T00:00:00Z") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{where}: the time needs its offset (Z for UTC)")
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def observation_conditions(raw: str, params: dict[str, object]) -> list[str]:
    """The SQL conditions (over ``spans AS s``) of Langfuse's ``filter`` parameter ``raw``; their
    values are added to ``params`` (which holds ``project``). Raises InvalidInput, naming the
    condition, for anything it cannot apply."""
    try:
        items: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("filter must be a JSON array of conditions") from None
    if not isinstance(items, list):
        raise InvalidInput("filter must be a JSON array of conditions")
    if len(items) > MAX_CONDITIONS:
        raise InvalidInput(f"filter holds {len(items)} conditions; at most {MAX_CONDITIONS}")
    p = _Params(params)
    spans: list[str] = []
    traces: list[str] = []
    for n, item in enumerate(items):
        sql, of_trace = _condition(item, n, p)
        (traces if of_trace else spans).append(sql)
    if traces:
        spans.append(
            "s.trace_id IN (SELECT t.trace_id FROM traces AS t WHERE t.project_id = {project:String} "
            f"GROUP BY t.trace_id HAVING {' AND '.join(traces)})"
        )
    return spans
