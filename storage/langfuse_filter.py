"""Langfuse's ``filter`` query parameter of its trace, observation and score lists: a JSON array of
conditions, as its UI's filter builder and the SDKs write them (``{"type": "number", "column":
"latency", "operator": ">=", "value": 2.5}``), compiled to SQL: over the spans table (alias ``s``)
for observations, over the trace summary (``traces AS t``, grouped by trace) for traces, over the
scores table for scores.

Every column, type and operator the SDKs document for ``GET /api/public/traces``,
``/v2/observations`` and ``/v2/scores`` is applied or refused with a clear error: none is ignored,
which would hand back rows the client asked to leave out. Values are bound parameters; only the
names checked here reach the SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from storage import escapes
from tracehouse.errors import InvalidInput

__all__ = ["observation_conditions", "score_conditions", "trace_conditions"]

MAX_CONDITIONS = 50


@dataclass(frozen=True)
class _Column:
    sql: str
    kind: str  # string, text, datetime, number, boolean, array, object, or a score's (below)
    # Where it is tested: the listed rows themselves ("row"), or beside them: an observation's
    # trace from its summary ("trace"); a trace's root span ("root"), all its spans ("spans") or
    # its scores ("scores").
    scope: str = "row"


_LATENCY_S = "(toUnixTimestamp64Nano(s.end_time) - toUnixTimestamp64Nano(s.start_time)) / 1e9"
_OBSERVATION_COLUMNS: dict[str, _Column] = {
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
    "traceName": _Column("argMinMerge(t.name)", "string", "trace"),
    "traceTags": _Column("groupUniqArrayArray(t.tags)", "array", "trace"),
    "tags": _Column("groupUniqArrayArray(t.tags)", "array", "trace"),
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
# A trace's columns: its summary's aggregates (HAVING over ``traces AS t``), its root span's
# version and metadata, sums over its spans (a Langfuse update's cancel row weighs -1), its scores.
_SEVERITY = "sumIf(s.sign, s.level = '{}' AND s.observation_type != 'TRACE')"
_TRACE_COLUMNS: dict[str, _Column] = {
    "id": _Column("t.trace_id", "string"),
    "name": _Column("argMinMerge(t.name)", "string"),
    "timestamp": _Column("min(t.start_time)", "datetime"),
    "userId": _Column("max(t.user_id)", "string"),
    "sessionId": _Column("max(t.session_id)", "string"),
    "environment": _Column("max(t.environment)", "string"),
    "release": _Column("max(t.release)", "string"),
    "tags": _Column("groupUniqArrayArray(t.tags)", "array"),
    "bookmarked": _Column("false", "boolean"),  # nothing is bookmarked here
    "latency": _Column(
        "(toUnixTimestamp64Nano(max(t.end_time)) - toUnixTimestamp64Nano(min(t.start_time))) / 1e9", "number"
    ),
    "inputTokens": _Column("sum(t.input_tokens)", "number"),
    "outputTokens": _Column("sum(t.output_tokens)", "number"),
    "totalTokens": _Column("sum(t.total_tokens)", "number"),
    "tokens": _Column("sum(t.total_tokens)", "number"),
    "totalCost": _Column("toFloat64(sum(t.total_cost))", "number"),
    "version": _Column("toString(s.version)", "string", "root"),
    "metadata": _Column("s.metadata", "object", "root"),
    "inputCost": _Column("sum(s.sign * toFloat64(s.cost_details['input']))", "number", "spans"),
    "outputCost": _Column("sum(s.sign * toFloat64(s.cost_details['output']))", "number", "spans"),
    "level": _Column(
        f"multiIf({_SEVERITY.format('ERROR')} > 0, 'ERROR', {_SEVERITY.format('WARNING')} > 0, 'WARNING', "
        f"{_SEVERITY.format('DEFAULT')} > 0, 'DEFAULT', 'DEBUG')",
        "string",
        "spans",
    ),
    "warningCount": _Column(_SEVERITY.format("WARNING"), "number", "spans"),
    "errorCount": _Column(_SEVERITY.format("ERROR"), "number", "spans"),
    "defaultCount": _Column(_SEVERITY.format("DEFAULT"), "number", "spans"),
    "debugCount": _Column(_SEVERITY.format("DEBUG"), "number", "spans"),
    "scores_avg": _Column("avg(value)", "score_number", "scores"),
    "scores": _Column("avg(value)", "score_number", "scores"),
    "score_categories": _Column("string_value", "score_category", "scores"),
    "score_booleans": _Column("value", "score_boolean", "scores"),
}
# A score's columns (the scores table, unaliased), and its trace's tags from the trace's summary.
_SCORE_FILTER_COLUMNS: dict[str, _Column] = {
    "id": _Column("id", "string"),
    "name": _Column("toString(name)", "string"),
    "source": _Column("toString(source)", "string"),
    "dataType": _Column("toString(data_type)", "string"),
    "value": _Column("value", "number"),
    "stringValue": _Column("string_value", "string"),
    "timestamp": _Column("timestamp", "datetime"),
    "environment": _Column("toString(environment)", "string"),
    "traceId": _Column("trace_id", "string"),
    "observationId": _Column("observation_id", "string"),
    "sessionId": _Column("session_id", "string"),
    "comment": _Column("comment", "string"),
    "metadata": _Column("metadata", "object"),
    "traceName": _Column("argMinMerge(t.name)", "string", "trace"),
    "traceTags": _Column("groupUniqArrayArray(t.tags)", "array", "trace"),
    "tags": _Column("groupUniqArrayArray(t.tags)", "array", "trace"),
    "userId": _Column("max(t.user_id)", "string", "trace"),
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
    "score_number": {"number", "numberObject"},
    "score_category": {"categoryOptions"},
    "score_boolean": {"booleanObject"},
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
    "booleanObject": {"=", "<>"},
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


def _metadata_test(column: str, kind: str, key: str, operator: str, value: object, p: _Params, where: str) -> str:
    # Metadata values are JSON text (a string quoted) or, from some exporters, the text itself.
    stored = f"{column}[{p.bind(key, 'String')}]"
    if operator in ("contains", "starts with", "ends with") and value == "":
        operator = "is set"  # as Langfuse reads an empty value of these: the key is there
    if operator in ("is set", "is not set"):
        test = f"mapContains({column}, {p.bind(key, 'String')})"
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


def _condition(item: object, n: int, p: _Params, columns: dict[str, _Column]) -> tuple[str, str]:
    """(SQL, scope) of one condition on ``columns``."""
    if not isinstance(item, dict):
        raise InvalidInput(f"filter[{n}] must be an object with type, column, operator and value")
    kind, name, operator = item.get("type"), item.get("column"), item.get("operator")
    where = f"filter[{n}] ({str(name)[:40]})"
    column = columns.get(name) if isinstance(name, str) else None
    if column is None:
        raise InvalidInput(f"filter[{n}]: unknown column {str(name)[:60]!r}; the columns are {', '.join(columns)}")
    if not isinstance(kind, str) or kind not in _TYPES[column.kind]:
        allowed = ", ".join(sorted(_TYPES[column.kind]))
        raise InvalidInput(f"{where}: type {str(kind)[:30]!r} does not apply to this column (it takes {allowed})")
    if not isinstance(operator, str) or operator not in _OPERATORS[kind]:
        allowed = ", ".join(sorted(_OPERATORS[kind]))
        raise InvalidInput(f"{where}: operator {str(operator)[:30]!r} does not apply to {kind} (it takes {allowed})")
    value = item.get("value")
    expr = column.sql
    key = item.get("key")
    keyed = kind in ("stringObject", "numberObject", "booleanObject") or (
        kind == "categoryOptions" and column.kind in ("object", "score_category")
    )
    if keyed and not (isinstance(key, str) and key):
        raise InvalidInput(f"{where}: {kind} needs the key (a metadata key, a score's name) in 'key'")
    if column.scope == "scores":
        return _score_test(column, kind, operator, value, key, p, where), "scores"
    if column.kind == "object":
        return _metadata_test(expr, kind, str(key), operator, value, p, where), column.scope
    if kind == "null":
        empty = f"({expr} IS NULL)" if column.kind in ("datetime", "number") else f"empty({expr})"
        return (empty if operator == "is null" else f"NOT {empty}"), column.scope
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
    return tests[kind](), column.scope


_SCORES = "SELECT trace_id FROM scores FINAL WHERE project_id = {project:String} AND is_deleted = 0"


def _score_test(column: _Column, kind: str, operator: str, value: object, key: object, p: _Params, where: str) -> str:
    """A trace's scores: the average of its numeric ones (of one name with ``key``), the value of
    a categorical or boolean one of the name ``key``."""
    named = f" AND name = {p.bind(key, 'String')}" if isinstance(key, str) and key else ""
    if column.kind == "score_number":
        bound = p.bind(_number(value, where), "Float64")
        return (
            f"t.trace_id IN ({_SCORES} AND data_type = 'NUMERIC'{named} "
            f"GROUP BY trace_id HAVING {column.sql} {_COMPARE[operator]} {bound})"
        )
    if column.kind == "score_category":
        chosen = f"{_SCORES} AND data_type = 'CATEGORICAL'{named} AND string_value IN "
        chosen += p.bind(_texts(value, where), "Array(String)")
        return f"t.trace_id {'IN' if operator == 'any of' else 'NOT IN'} ({chosen})"
    # <> also holds for a trace without a score of that name, as Langfuse's does.
    chosen = f"{_SCORES} AND data_type = 'BOOLEAN'{named} AND value = {p.bind(int(_bool(value, where)), 'Float64')}"
    return f"t.trace_id {'IN' if operator == '=' else 'NOT IN'} ({chosen})"


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


def _items(raw: str) -> list[Any]:
    try:
        items: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("filter must be a JSON array of conditions") from None
    if not isinstance(items, list):
        raise InvalidInput("filter must be a JSON array of conditions")
    if len(items) > MAX_CONDITIONS:
        raise InvalidInput(f"filter holds {len(items)} conditions; at most {MAX_CONDITIONS}")
    return items


def _rows_and_traces(raw: str, params: dict[str, object], columns: dict[str, _Column], trace_id: str) -> list[str]:
    """Conditions on the listed rows, and those on their traces (``trace_id`` is the rows' column
    of it) as one test of the traces' summary."""
    p = _Params(params)
    rows: list[str] = []
    traces: list[str] = []
    for n, item in enumerate(_items(raw)):
        sql, scope = _condition(item, n, p, columns)
        (traces if scope == "trace" else rows).append(sql)
    if traces:
        rows.append(
            f"{trace_id} IN (SELECT t.trace_id FROM traces AS t WHERE t.project_id = {{project:String}} "
            f"GROUP BY t.trace_id HAVING {' AND '.join(traces)})"
        )
    return rows


def observation_conditions(raw: str, params: dict[str, object]) -> list[str]:
    """The SQL conditions (over ``spans AS s``) of Langfuse's ``filter`` parameter ``raw`` on an
    observation list; their values are added to ``params`` (which holds ``project``). Raises
    InvalidInput, naming the condition, for anything it cannot apply."""
    return _rows_and_traces(raw, params, _OBSERVATION_COLUMNS, "s.trace_id")


def score_conditions(raw: str, params: dict[str, object]) -> list[str]:
    """The SQL conditions (over the scores table, unaliased) of Langfuse's ``filter`` parameter
    ``raw`` on a score list: a score's own columns and metadata, and its trace's name, user and
    tags. Values are added to ``params`` (which holds ``project``); raises InvalidInput as
    ``observation_conditions``."""
    return _rows_and_traces(raw, params, _SCORE_FILTER_COLUMNS, "trace_id")


def trace_conditions(raw: str, params: dict[str, object]) -> list[str]:
    """The SQL conditions of Langfuse's ``filter`` parameter ``raw`` on the trace list: each one
    for the HAVING of a query over ``traces AS t`` grouped by trace, of the traces that started in
    the window. Values are added to ``params`` (which holds ``project``, and the window's
    ``start`` and ``end`` in ns); raises InvalidInput as ``observation_conditions``."""
    p = _Params(params)
    by_scope: dict[str, list[str]] = {"row": [], "root": [], "spans": [], "scores": []}
    for n, item in enumerate(_items(raw)):
        sql, scope = _condition(item, n, p, _TRACE_COLUMNS)
        by_scope[scope].append(sql)
    out = by_scope["row"] + by_scope["scores"]
    # The spans of the traces that started in the window (``start``, ``end``): those that started
    # up to a day after it too, as a trace's spans may.
    spans = (
        "SELECT s.trace_id FROM spans AS s WHERE s.project_id = {project:String} "
        "AND s.start_time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC') "
        "AND s.start_time < fromUnixTimestamp64Nano({end:Int64}, 'UTC') + INTERVAL 1 DAY"
    )
    if by_scope["root"]:  # a trace's version and metadata are its root's (the Langfuse trace row)
        out.append(
            f"t.trace_id IN ({spans} AND s.sign = 1 AND s.parent_span_id = '' AND {' AND '.join(by_scope['root'])})"
        )
    if by_scope["spans"]:
        out.append(f"t.trace_id IN ({spans} GROUP BY s.trace_id HAVING {' AND '.join(by_scope['spans'])})")
    return out
